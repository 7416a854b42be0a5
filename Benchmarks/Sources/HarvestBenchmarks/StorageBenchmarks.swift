import Foundation
import TableStorage
import TableStorageSQLite

/// The "storage" group: durable batched inserts, `newest` lookups and opening a large file store.
///
///     swift run -c release --package-path Benchmarks harvest-bench storage
///
/// The rows are shaped like the anchor's (`/tmp/anchors/store_insert.py`): `Updates(twitterId unique,
/// text, author, date)`, increasing snowflake ids above 2^53, texts from the corpus, batches of 100 with
/// insert-or-ignore, one durable commit per batch.
var storageGroup: BenchmarkGroup {
    BenchmarkGroup(name: "storage", run: { try await runStorageBenchmarks() })
}

/// Only the durable insert lines of the "storage" group, for quick comparisons:
///
///     swift run -c release --package-path Benchmarks harvest-bench storage-insert
///
/// `TH_BENCH_FILE_ONLY=1` skips SQLite; with `TMPDIR=/dev/shm` (tmpfs, where `fdatasync` returns at once) the
/// file store's line then measures its CPU path alone.
var storageInsertGroup: BenchmarkGroup {
    BenchmarkGroup(name: "storage-insert", onlyByName: true, run: { try await runStorageBenchmarks(insertsOnly: true) })
}

private func runStorageBenchmarks(insertsOnly: Bool = false) async throws {
    let texts = StorageBench.corpusTexts()
    let rows = 200_000
    let batches = StorageBench.batches(rows: rows, texts: texts)
    let scratch = FileManager.default.temporaryDirectory.appending(path: "th-storage-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    var run = 0
    func fresh() -> URL {
        run += 1
        return scratch.appending(path: "run\(run)")
    }

    var cpuSeconds: [(user: Double, system: Double)] = []
    let fileSeconds = try await medianSeconds(repetitions: 3) {
        let store = try await FileTableStore(directory: fresh())
        let cpuBefore = StorageBench.processCPUSeconds()
        try await StorageBench.fill(store, batches: batches)
        let cpuAfter = StorageBench.processCPUSeconds()
        cpuSeconds.append((cpuAfter.user - cpuBefore.user, cpuAfter.system - cpuBefore.system))
        store.close()
    }
    report("storage.file.insert-durable", Double(rows) / fileSeconds, "rows/s")
    // The CPU time of the process (user and system, the kernel's part of write and fdatasync included) per
    // row; the rest of the wall time is waiting for the disk.
    let cpu = cpuSeconds.sorted { $0.user + $0.system < $1.user + $1.system }[cpuSeconds.count / 2]
    report("storage.file.insert-durable.cpu-user", cpu.user / Double(rows) * 1e6, "µs/row")
    report("storage.file.insert-durable.cpu-system", cpu.system / Double(rows) * 1e6, "µs/row")
    if ProcessInfo.processInfo.environment["TH_BENCH_FILE_ONLY"] != nil { return }
    let sqliteSeconds = try await medianSeconds(repetitions: 3) {
        let store = try SQLiteTableStore(path: fresh().path + ".sqlite")
        try await StorageBench.fill(store, batches: batches)
    }
    report("storage.sqlite.insert-durable", Double(rows) / sqliteSeconds, "rows/s")
    report("storage.file-vs-sqlite.insert-durable", sqliteSeconds / fileSeconds, "x")
    let plain = SQLiteBaseline.rows(batches)
    let cSeconds = try medianSeconds(repetitions: 3) {
        try SQLiteBaseline.fill(path: fresh().path + ".c.sqlite", batches: plain)
    }
    report("storage.sqlite-c-api.insert-durable", Double(rows) / cSeconds, "rows/s")
    report("storage.file-vs-sqlite-c-api.insert-durable", cSeconds / fileSeconds, "x")
    if insertsOnly { return }

    for (label, count) in [("10k", 10_000), ("1M", 1_000_000)] {
        let directory = fresh()
        let file = try await FileTableStore(directory: directory)
        try await StorageBench.fill(file, batches: StorageBench.batches(rows: count, texts: texts))
        report("storage.file.newest.\(label)", try await StorageBench.newestMicroseconds(file), "µs")
        file.close()
        let sqlite = try SQLiteTableStore(path: fresh().path + ".sqlite")
        try await StorageBench.fill(sqlite, batches: StorageBench.batches(rows: count, texts: texts))
        report("storage.sqlite.newest.\(label)", try await StorageBench.newestMicroseconds(sqlite), "µs")
        if count == 1_000_000 {
            // Give the memory the fill freed back to the system first, so that the growth is the open's own.
            StorageBench.trimHeap()
            let before = StorageBench.residentMiB()
            let start = ContinuousClock.now
            let reopened = try await FileTableStore(directory: directory)
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            report("storage.file.open.1M", seconds, "s")
            if let before, let after = StorageBench.residentMiB() {
                report("storage.file.open.1M.rss-growth", after - before, "MiB")
            }
            let size =
                try FileManager.default.attributesOfItem(
                    atPath: directory.appending(path: FileTableStore.logFileName).path)[.size] as? Int ?? 0
            report("storage.file.log-size.1M", Double(size) / 1_048_576, "MiB")
            report("storage.file.newest.1M.reopened", try await StorageBench.newestMicroseconds(reopened), "µs")
            reopened.close()
        }
    }
}

enum StorageBench {
    static let twitterEpochMilliseconds: Int64 = 1_288_834_974_657

    /// Tweet texts from the corpus (or a fixed text when there is none).
    static func corpusTexts() -> [String] {
        let directory = corpusDirectory.appending(path: "v2")
        var texts: [String] = []
        for index in 0..<10 {
            let url = directory.appending(path: String(format: "page_%05d.json", index))
            guard let data = try? Data(contentsOf: url),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let tweets = object["data"] as? [[String: Any]]
            else { continue }
            texts += tweets.compactMap { $0["text"] as? String }
        }
        return texts.isEmpty ? ["Schrödinger’s deploy ✈️ #mobileservices is back, and another one"] : texts
    }

    /// `rows` tweet-shaped rows in batches of 100, made before any timing starts (as the anchor does).
    static func batches(rows: Int, texts: [String]) -> [[TableRow]] {
        var milliseconds: Int64 = 1_704_067_200_000
        var batches: [[TableRow]] = []
        var batch: [TableRow] = []
        batch.reserveCapacity(100)
        for index in 0..<rows {
            milliseconds += Int64(50 + index % 3_950)
            let id = ((milliseconds - twitterEpochMilliseconds) << 22) | Int64(index & 0xFFF)
            batch.append([
                "twitterId": .int(id), "text": .string(texts[index % texts.count]),
                "author": .string("user\(index % 997)"),
                "date": .date(Date(timeIntervalSince1970: Double(milliseconds / 1000))),
            ])
            if batch.count == 100 {
                batches.append(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }

    /// Creates `Updates` and inserts the batches, each one durable commit with insert-or-ignore.
    static func fill(_ store: any TableStore, batches: [[TableRow]]) async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        for batch in batches {
            _ = try await store.insert(batch, into: "Updates", onConflict: .ignore)
        }
    }

    /// The median time of one `newest(in:by:)` call, in microseconds.
    static func newestMicroseconds(_ store: any TableStore) async throws -> Double {
        let calls = 20_000
        let seconds = try await medianSeconds(repetitions: 5) {
            var found = 0
            for _ in 0..<calls where try await store.newest(in: "Updates", by: "twitterId") != nil { found += 1 }
            return found
        }
        return seconds / Double(calls) * 1e6
    }

    /// The CPU time this process has used, user and system, in seconds.
    static func processCPUSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return (
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        )
    }

    /// Returns the heap's free memory to the system (glibc's `malloc_trim`, looked up at run time).
    static func trimHeap() {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }

    /// The resident set size of this process, from /proc/self/status, in MiB.
    static func residentMiB() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes / 1024
    }
}
