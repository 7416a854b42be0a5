import Foundation
import TableStorage

/// The "filestore" group (issue #15): the file store at `TH_FILESTORE_ROWS` rows (default 1,000,000) in
/// `TH_FILESTORE_DIR` (default a temporary directory, removed after): fill, open (from the checkpoint, and a
/// full replay at up to 1M rows), the first `newest` after the open, `browse` of the newest 20, a durable batch
/// of 100, the resident memory an open adds per row, and the process's peak RSS. `Benchmarks/filestore/run.sh`
/// runs it at 1M and 10M rows beside a naive C replay of the same log.
var fileStoreGroup: BenchmarkGroup {
    BenchmarkGroup(name: "filestore", onlyByName: true, run: { try await runFileStoreBenchmarks() })
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

private func runFileStoreBenchmarks() async throws {
    let environment = ProcessInfo.processInfo.environment
    let rows = environment["TH_FILESTORE_ROWS"].flatMap(Int.init) ?? 1_000_000
    let directory =
        environment["TH_FILESTORE_DIR"].map { URL(fileURLWithPath: $0) }
        ?? FileManager.default.temporaryDirectory.appending(path: "th-filestore-\(UUID().uuidString)")
    let removeAfter = environment["TH_FILESTORE_DIR"] == nil
    defer { if removeAfter { try? FileManager.default.removeItem(at: directory) } }
    let label = rows >= 1_000_000 ? "\(rows / 1_000_000)M" : "\(rows / 1000)k"
    let texts = StorageBench.corpusTexts()
    let definition = TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["date"])

    // Fill: batches of 10,000 rows, each one durable commit, made as they go (10M rows do not fit in memory).
    var milliseconds: Int64 = 1_704_067_200_000
    func batch(_ start: Int, _ count: Int) -> [TableRow] {
        (start..<start + count).map { index in
            milliseconds += Int64(50 + index % 3_950)
            let id = ((milliseconds - StorageBench.twitterEpochMilliseconds) << 22) | Int64(index & 0xFFF)
            return [
                "twitterId": .int(id), "text": .string(texts[index % texts.count]),
                "author": .string("user\(index % 997)"),
                "date": .date(Date(timeIntervalSince1970: Double(milliseconds / 1000))),
            ]
        }
    }
    do {
        let store = try await FileTableStore(directory: directory)
        try await store.createTable(definition)
        let start = ContinuousClock.now
        var done = 0
        while done < rows {
            let count = min(10_000, rows - done)
            _ = try await store.insert(batch(done, count), into: "Updates", onConflict: .ignore)
            done += count
        }
        report("filestore.fill.\(label)", seconds(ContinuousClock.now - start), "s")
        store.close()
    }
    let logSize =
        try FileManager.default.attributesOfItem(atPath: directory.appending(path: FileTableStore.logFileName).path)[
            .size] as? Int ?? 0
    report("filestore.log-size.\(label)", Double(logSize) / 1_048_576, "MiB")
    let checkpointSize =
        (try? FileManager.default.attributesOfItem(atPath: directory.appending(path: "store.checkpoint").path)[.size]
            as? Int) ?? 0
    report("filestore.checkpoint-size.\(label)", Double(checkpointSize) / 1_048_576, "MiB")

    if rows <= 1_000_000 {
        var replay = FileTableStore.Configuration()
        replay.checkpointInterval = 0
        let start = ContinuousClock.now
        let store = try await FileTableStore(directory: directory, configuration: replay)
        report("filestore.open-full-replay.\(label)", seconds(ContinuousClock.now - start), "s")
        store.close()
    }

    // Open from the checkpoint (median of three), the memory it adds, and the first newest after it.
    var opens: [Double] = []
    var firsts: [Double] = []
    var growth: Double?
    for _ in 0..<3 {
        StorageBench.trimHeap()
        let before = StorageBench.residentMiB()
        let start = ContinuousClock.now
        let store = try await FileTableStore(directory: directory)
        opens.append(seconds(ContinuousClock.now - start))
        let firstStart = ContinuousClock.now
        blackHole(try await store.newest(in: "Updates", by: "twitterId"))
        firsts.append(seconds(ContinuousClock.now - firstStart))
        if let before, let after = StorageBench.residentMiB() { growth = after - before }
        store.close()
    }
    report("filestore.open.\(label)", opens.sorted()[1], "s")
    report("filestore.first-newest.\(label)", firsts.sorted()[1] * 1e6, "µs")
    if let growth {
        report("filestore.open.rss-growth.\(label)", growth, "MiB")
        report("filestore.open.rss-growth-per-row.\(label)", growth * 1_048_576 / Double(rows), "B")
    }

    let store = try await FileTableStore(directory: directory)
    report("filestore.newest.\(label)", try await StorageBench.newestMicroseconds(store), "µs")
    let browse = try await medianSeconds(repetitions: 5) {
        try await store.read(Query("Updates", order: [.descending("twitterId")], take: 20)).count
    }
    report("filestore.browse-20.\(label)", browse * 1e6, "µs")
    var next = rows
    let insert = try await medianSeconds(repetitions: 5) {
        defer { next += 100 }
        return try await store.insert(batch(next, 100), into: "Updates", onConflict: .ignore).inserted.count
    }
    report("filestore.insert-100-durable.\(label)", insert * 1e3, "ms")
    store.close()
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    report("filestore.peak-rss.\(label)", Double(usage.ru_maxrss) / 1024, "MiB")
}
