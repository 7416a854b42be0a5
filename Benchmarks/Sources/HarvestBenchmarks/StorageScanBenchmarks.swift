import Foundation
import TableStorage
import TableStorageSQLite

/// Queries that no index answers, so each store reads every row: a `count` of one author's rows and a read of
/// the texts containing a word, over 200,000 tweet-shaped rows (the rows of the "storage" group).
///
///     swift run -c release --package-path Benchmarks harvest-bench storage-scan
///
/// Reported per row scanned, for the file store and for the SQLite store (where `author` has no index either
/// and `contains` is `instr`), and the ratio of the two.
var storageScanGroup: BenchmarkGroup {
    BenchmarkGroup(name: "storage-scan", run: { try await runStorageScanBenchmarks() })
}

private func runStorageScanBenchmarks() async throws {
    let rows = 200_000
    let batches = StorageBench.batches(rows: rows, texts: StorageBench.corpusTexts())
    let scratch = FileManager.default.temporaryDirectory.appending(path: "th-scan-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }

    let file = try await FileTableStore(directory: scratch.appending(path: "file"))
    try await StorageBench.fill(file, batches: batches)
    let sqlite = try SQLiteTableStore(path: scratch.appending(path: "store.sqlite").path)
    try await StorageBench.fill(sqlite, batches: batches)

    // `user5` wrote one row in 997; "the" is in many of the corpus's texts.
    let byAuthor = Query("Updates", filter: TableColumn("author") == .string("user5"))
    let byWord = Query("Updates", filter: TableColumn("text").contains("the"))
    var seconds: [String: Double] = [:]
    for (label, store) in [("file", file as any TableStore), ("sqlite", sqlite as any TableStore)] {
        let counted = try await store.count(byAuthor)
        let count = try await medianSeconds(repetitions: 5) { try await store.count(byAuthor) }
        seconds["\(label).count"] = count
        report("storage.\(label).scan-count.200k", count / Double(rows) * 1e9, "ns/row")
        let matched = try await store.read(byWord).count
        let read = try await medianSeconds(repetitions: 5) { try await store.read(byWord).count }
        seconds["\(label).read"] = read
        report("storage.\(label).scan-read.200k", read / Double(rows) * 1e9, "ns/row")
        print("#   \(label): \(counted) rows by user5, \(matched) rows contain \"the\"")
    }
    if let file = seconds["file.count"], let sqlite = seconds["sqlite.count"] {
        report("storage.file-vs-sqlite.scan-count", sqlite / file, "x")
    }
    if let file = seconds["file.read"], let sqlite = seconds["sqlite.read"] {
        report("storage.file-vs-sqlite.scan-read", sqlite / file, "x")
    }
    file.close()
}
