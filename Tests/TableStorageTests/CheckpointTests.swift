import Foundation
import InMemoryLogging
import Logging
import TableStorage
import Testing

/// The index checkpoint (`store.checkpoint`): an open that finds one that holds for the log replays only the log
/// after it; one that does not hold (torn, damaged, stale, of another version) is ignored and removed, and the
/// open replays the whole log. Either way the store holds exactly what the log says.
@Suite("FileTableStore index checkpoint")
struct CheckpointTests {
    private static let table = TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["date"])

    private static func configuration(checkpointEvery interval: Int64) -> FileTableStore.Configuration {
        var configuration = FileTableStore.Configuration()
        configuration.checkpointInterval = interval
        configuration.preallocationSize = 4096
        return configuration
    }

    private static func rows(_ range: Range<Int>) -> [TableRow] {
        range.map { number in
            [
                "twitterId": .int(1_700_000_000_000_000_000 + Int64(number) * 7919),
                "date": .date(Date(timeIntervalSince1970: 1_700_000_000 + Double(number % 97) * 60)),
                "text": .string("tweet \(number) " + String(repeating: "é", count: number % 5)),
                "author": number % 3 == 0 ? .null : .string("user\(number % 11)"),
            ]
        }
    }

    /// Opens, capturing logs.
    private static func open(
        _ directory: URL, checkpointEvery interval: Int64 = 64 << 20
    ) async throws -> (FileTableStore, InMemoryLogHandler) {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .trace
        let store = try await FileTableStore(
            directory: directory, configuration: configuration(checkpointEvery: interval), logger: logger)
        return (store, handler)
    }

    /// Writes 300 rows with a checkpoint after every batch and at close, then 40 more rows, some deletes and
    /// replacements, and a new table, without one.
    private static func makeStore(_ directory: URL) async throws {
        let (store, _) = try await open(directory, checkpointEvery: 1)
        try await store.createTable(table)
        for start in stride(from: 0, to: 300, by: 50) {
            _ = try await store.insert(rows(start..<start + 50), into: "Updates", onConflict: .ignore)
        }
        store.close()
        let (later, _) = try await open(directory, checkpointEvery: 1 << 40)
        _ = try await later.insert(rows(300..<340), into: "Updates", onConflict: .ignore)
        _ = try await later.delete(
            Query("Updates", filter: .compare("twitterId", .less, .int(1_700_000_000_000_200_000))))
        var replaced = rows(100..<105)
        for index in replaced.indices { replaced[index]["text"] = .string("replaced \(index)") }
        _ = try await later.insert(replaced, into: "Updates", onConflict: .replace)
        try await later.createTable(TableSchema(name: "Other", indexes: ["n"]))
        _ = try await later.insert([["n": 1], ["n": 2]], into: "Other", onConflict: .fail)
        later.close()
    }

    /// Everything a reader can ask, for comparing two opens.
    private static func contents(_ store: FileTableStore) async throws -> [String] {
        var lines: [String] = []
        for name in try await store.tableNames() {
            lines.append("table \(name)")
            for record in try await store.read(Query(name)) { lines.append("\(record)") }
        }
        let byDate = try await store.read(
            Query(
                "Updates", filter: .compare("date", .greaterOrEqual, .date(Date(timeIntervalSince1970: 1_700_003_000))))
        ).map { "\($0["twitterId"] ?? .null)" }
        lines.append("date ≥: \(byDate)")
        let newest = try await store.read(Query("Updates", order: [.descending("twitterId")], take: 5))
        lines.append("newest: \(newest.map { "\($0["twitterId"] ?? .null)" })")
        lines.append("newest date: \(String(describing: try await store.newest(in: "Updates", by: "date")))")
        lines.append("count: \(try await store.count(Query("Updates")))")
        return lines
    }

    /// What a full replay gives (checkpoints off: the checkpoint is neither read nor removed).
    private static func replayed(_ directory: URL) async throws -> [String] {
        let (store, _) = try await open(directory, checkpointEvery: 0)
        defer { store.close() }
        return try await contents(store)
    }

    private static func checkpoint(_ directory: URL) -> URL { directory.appending(path: "store.checkpoint") }

    @Test("an open reads the checkpoint, replays the rest of the log, and holds what a full replay holds")
    func usesCheckpoint() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        #expect(FileManager.default.fileExists(atPath: Self.checkpoint(root.url).path))
        let expected = try await Self.replayed(root.url)
        let (store, logs) = try await Self.open(root.url)
        let got = try await Self.contents(store)
        #expect(got == expected)
        #expect(logs.entries.contains { $0.message.description == "index checkpoint read" })
        #expect(!logs.entries.contains { $0.message.description.hasPrefix("index checkpoint ignored") })
        // The store keeps working from there: a write, a reopen.
        _ = try await store.insert(Self.rows(400..<410), into: "Updates", onConflict: .fail)
        store.close()
        let (reopened, _) = try await Self.open(root.url)
        let reopenedContents = try await Self.contents(reopened)
        reopened.close()
        #expect(reopenedContents == (try await Self.replayed(root.url)))
    }

    /// Opens with the checkpoint as `damage` left it: the open must ignore it, remove it, and hold what a full
    /// replay holds.
    private static func expectIgnored(_ root: URL, expected: [String], _ comment: Comment) async throws {
        let (store, logs) = try await open(root)
        defer { store.close() }
        #expect(try await contents(store) == expected, comment)
        #expect(logs.entries.contains { $0.message.description.hasPrefix("index checkpoint ignored") }, comment)
        #expect(!FileManager.default.fileExists(atPath: checkpoint(root).path), comment)
    }

    @Test("a torn checkpoint (cut at any length) is ignored")
    func tornCheckpoint() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        let expected = try await Self.replayed(root.url)
        let original = try Data(contentsOf: Self.checkpoint(root.url))
        #expect(original.count > 100)
        // Every cut in the first bytes (magic and block header), then cuts spread over the rest.
        let cuts =
            Array(0..<40) + Array(stride(from: 40, to: original.count, by: max(1, original.count / 37)))
            + [original.count - 1]
        for cut in cuts {
            try original.prefix(cut).write(to: Self.checkpoint(root.url))
            try await Self.expectIgnored(root.url, expected: expected, "cut at \(cut) of \(original.count)")
        }
    }

    @Test("a checkpoint with any byte changed is ignored")
    func damagedCheckpoint() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        let expected = try await Self.replayed(root.url)
        let original = try Data(contentsOf: Self.checkpoint(root.url))
        for position in stride(from: 0, to: original.count, by: max(1, original.count / 41)) {
            var damaged = original
            damaged[position] ^= 0x20
            try damaged.write(to: Self.checkpoint(root.url))
            try await Self.expectIgnored(root.url, expected: expected, "byte \(position) changed")
        }
        // Bytes after the end marker.
        try (original + Data([0])).write(to: Self.checkpoint(root.url))
        try await Self.expectIgnored(root.url, expected: expected, "a byte appended")
    }

    @Test("a checkpoint of another format version is ignored, even with valid checksums")
    func otherVersion() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        let expected = try await Self.replayed(root.url)
        var bytes = [UInt8](try Data(contentsOf: Self.checkpoint(root.url)))
        // magic (8), block length (4), block crc (4), then the version (UInt32, little-endian).
        let length = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        bytes[16] = 0
        let crc = CRC32.checksum(Array(bytes[16..<16 + length]))
        for byte in 0..<4 { bytes[12 + byte] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(byte))) }
        try Data(bytes).write(to: Self.checkpoint(root.url))
        try await Self.expectIgnored(root.url, expected: expected, "version 0")
    }

    @Test("a stale checkpoint (the log compacted, or replaced, without it) is ignored")
    func staleCheckpoint() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        let saved = try Data(contentsOf: Self.checkpoint(root.url))
        // An older version of this library compacts without knowing of the checkpoint.
        let (store, _) = try await Self.open(root.url, checkpointEvery: 0)
        try await store.compact()
        store.close()
        try saved.write(to: Self.checkpoint(root.url))
        try await Self.expectIgnored(root.url, expected: try await Self.replayed(root.url), "after compaction")
        // Another store's log in its place.
        let other = try TemporaryDirectory()
        try await Self.makeStore(other.url)
        let (third, _) = try await Self.open(other.url, checkpointEvery: 0)
        _ = try await third.insert(Self.rows(900..<901), into: "Updates", onConflict: .fail)
        third.close()
        try FileManager.default.removeItem(at: root.url.appending(path: "store.jsonl"))
        try FileManager.default.copyItem(
            at: other.url.appending(path: "store.jsonl"), to: root.url.appending(path: "store.jsonl"))
        try saved.write(to: Self.checkpoint(root.url))
        try await Self.expectIgnored(root.url, expected: try await Self.replayed(root.url), "another log")
        // A log cut shorter than the checkpoint covers.
        try saved.write(to: Self.checkpoint(root.url))
        let handle = try FileHandle(forWritingTo: root.url.appending(path: "store.jsonl"))
        try handle.truncate(atOffset: 1000)
        try handle.close()
        let expected = try await Self.replayed(root.url)
        try saved.write(to: Self.checkpoint(root.url))
        try await Self.expectIgnored(root.url, expected: expected, "a shorter log")
    }

    @Test("an older checkpoint of the same log still holds: the open replays the log after it")
    func olderCheckpointOfSameLog() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        let saved = try Data(contentsOf: Self.checkpoint(root.url))
        let (store, _) = try await Self.open(root.url, checkpointEvery: 1)
        _ = try await store.insert(Self.rows(500..<520), into: "Updates", onConflict: .fail)
        store.close()
        try saved.write(to: Self.checkpoint(root.url))
        let expected = try await Self.replayed(root.url)
        let (reopened, logs) = try await Self.open(root.url)
        defer { reopened.close() }
        #expect(try await Self.contents(reopened) == expected)
        #expect(logs.entries.contains { $0.message.description == "index checkpoint read" })
    }

    @Test("compaction replaces the checkpoint with one of the new log")
    func compactionWritesCheckpoint() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        let (store, _) = try await Self.open(root.url, checkpointEvery: 1)
        try await store.compact()
        store.close()
        let expected = try await Self.replayed(root.url)
        let (reopened, logs) = try await Self.open(root.url)
        defer { reopened.close() }
        #expect(try await Self.contents(reopened) == expected)
        #expect(logs.entries.contains { $0.message.description == "index checkpoint read" })
    }

    @Test("salvage recovery reads the whole log, never the checkpoint, and removes it")
    func salvageIgnoresCheckpoint() async throws {
        let root = try TemporaryDirectory()
        try await Self.makeStore(root.url)
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .trace
        var configuration = Self.configuration(checkpointEvery: 64 << 20)
        configuration.recovery = .salvage
        let store = try await FileTableStore(directory: root.url, configuration: configuration, logger: logger)
        store.close()
        #expect(!handler.entries.contains { $0.message.description == "index checkpoint read" })
        #expect(!FileManager.default.fileExists(atPath: Self.checkpoint(root.url).path))
    }

    @Test("a store written by the previous release (no checkpoint) opens and gets one")
    func storeFromMain() async throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appending(path: "Fixtures/main-store/store.jsonl")
        let root = try TemporaryDirectory()
        try FileManager.default.copyItem(at: fixture, to: root.url.appending(path: "store.jsonl"))
        let (store, _) = try await Self.open(root.url, checkpointEvery: 1)
        let records = try await store.read(Query("Log"))
        #expect(records.count == 492)
        let newest = try await store.newest(in: "Log", by: "batch")
        #expect(newest?["batch"] == .int(7))
        let expected = try await Self.contentsOfLog(store)
        store.close()
        #expect(FileManager.default.fileExists(atPath: Self.checkpoint(root.url).path))
        let (reopened, logs) = try await Self.open(root.url)
        defer { reopened.close() }
        #expect(logs.entries.contains { $0.message.description == "index checkpoint read" })
        #expect(try await Self.contentsOfLog(reopened) == expected)
    }

    private static func contentsOfLog(_ store: FileTableStore) async throws -> [String] {
        try await store.read(Query("Log", order: [.descending("batch")])).map { "\($0)" }
    }
}
