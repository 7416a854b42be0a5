import Foundation
import TableStorage
import Testing

/// Logs whose every line has a valid checksum but that describe a state the writer never makes: a row number
/// far beyond the table, a unique key stored twice, a put over or a delete of a row that is not live. Opening
/// one is a `malformedStore` error naming the file and the line's byte, or, with salvage, drops the batch and
/// what follows; it never allocates for the row number written, and never shows a key twice.
@Suite("FileTableStore refuses impossible states")
struct FileTableStoreImpossibleStateTests {
    private static let logName = FileTableStore.logFileName

    /// A store with `Updates` (unique key `twitterId`) holding rows 0 and 1, ids 100 and 101; returns the
    /// log's committed bytes.
    private static func twoRows(in directory: URL) async throws -> [UInt8] {
        let store = try await FileTableStore(directory: directory)
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        _ = try await store.insert(
            [["twitterId": .int(100), "text": .string("a")], ["twitterId": .int(101), "text": .string("b")]],
            into: "Updates", onConflict: .fail)
        let size = Int(store.logSize)
        store.close()
        return Array(try [UInt8](Data(contentsOf: directory.appending(path: logName)))[..<size])
    }

    /// One framed line with a valid checksum around `body`, as the writer frames its operations.
    private static func line(_ body: String) -> [UInt8] {
        var encoder = LogEncoder()
        let frame = encoder.beginFrame()
        encoder.append(Array(body.utf8))
        encoder.endFrame(frame)
        return encoder.bytes
    }

    /// A put of `row` with `id`, and a commit of it as batch `sequence`.
    private static func put(row: String, id: Int, sequence: Int) -> [UInt8] {
        line(#"{"op":"put","t":"Updates","row":\#(row),"v":{"twitterId":\#(id),"text":"x"}}"#)
            + line(#"{"op":"commit","seq":\#(sequence),"ops":1}"#)
    }

    /// Writes `bytes` as the log of a new store directory.
    private static func store(_ bytes: [UInt8], in root: TemporaryDirectory, name: String) throws -> URL {
        let directory = root.url.appending(path: name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: directory.appending(path: logName))
        return directory
    }

    /// Opens `directory` and expects `malformedStore` at `offset` of its log.
    private static func expectMalformed(_ directory: URL, at offset: Int, _ comment: Comment) async throws {
        let error = await #expect(throws: StorageError.self, comment) {
            let store = try await FileTableStore(directory: directory)
            store.close()
        }
        #expect(error?.code == .malformedStore, comment)
        #expect(error?.offset == Int64(offset), comment)
        #expect(error?.file?.hasSuffix(logName) == true, comment)
        #expect(error.map { String(describing: $0) }?.contains("\n") == false, comment)
    }

    @Test(
        "a put whose row number is beyond the next new row is malformedStore at its line, whatever the number",
        arguments: ["3", "100000000", "1000000000000000", "9223372036854775807", "-1"])
    func rowOutOfRange(row: String) async throws {
        let root = try TemporaryDirectory()
        let base = try await Self.twoRows(in: root.url.appending(path: "original"))
        let directory = try Self.store(base + Self.put(row: row, id: 200, sequence: 3), in: root, name: "crafted")
        try await Self.expectMalformed(directory, at: base.count, "row \(row)")
        // The file is left as it was: refusing never cuts data off.
        let after = try [UInt8](Data(contentsOf: directory.appending(path: Self.logName)))
        #expect(after.count == base.count + Self.put(row: row, id: 200, sequence: 3).count)
    }

    @Test("the next new row number itself is accepted (the writer's own form)")
    func nextRowIsAccepted() async throws {
        let root = try TemporaryDirectory()
        let base = try await Self.twoRows(in: root.url.appending(path: "original"))
        let directory = try Self.store(base + Self.put(row: "2", id: 200, sequence: 3), in: root, name: "crafted")
        let store = try await FileTableStore(directory: directory)
        defer { store.close() }
        #expect(try await store.count(Query("Updates")) == 3)
    }

    @Test("a committed put of a unique key another row holds is malformedStore; salvage drops it; never shown twice")
    func duplicateKey() async throws {
        let root = try TemporaryDirectory()
        let base = try await Self.twoRows(in: root.url.appending(path: "original"))
        let crafted = base + Self.put(row: "2", id: 101, sequence: 3)
        let directory = try Self.store(crafted, in: root, name: "crafted")
        try await Self.expectMalformed(directory, at: base.count, "duplicate key")
        let error = await #expect(throws: StorageError.self) { try await FileTableStore(directory: directory) }
        #expect(error?.description.contains("twitterId") == true)

        var configuration = FileTableStore.Configuration()
        configuration.recovery = .salvage
        let store = try await FileTableStore(directory: directory, configuration: configuration)
        defer { store.close() }
        let ids = try await store.read(Query("Updates")).compactMap { $0["twitterId"] }
        #expect(ids == [.int(100), .int(101)])
        let aside = directory.appending(path: "\(Self.logName).salvaged-\(base.count)")
        #expect(try [UInt8](Data(contentsOf: aside)) == Array(crafted[base.count...]))
    }

    @Test("two puts of one new key in one batch are malformedStore at the second")
    func duplicateKeyInOneBatch() async throws {
        let root = try TemporaryDirectory()
        let base = try await Self.twoRows(in: root.url.appending(path: "original"))
        let first = Self.line(#"{"op":"put","t":"Updates","row":2,"v":{"twitterId":300,"text":"x"}}"#)
        let second = Self.line(#"{"op":"put","t":"Updates","row":3,"v":{"twitterId":300,"text":"y"}}"#)
        let commit = Self.line(#"{"op":"commit","seq":3,"ops":2}"#)
        let directory = try Self.store(base + first + second + commit, in: root, name: "crafted")
        try await Self.expectMalformed(directory, at: base.count + first.count, "same key twice in a batch")
    }

    @Test("a put over a deleted row, and a delete of a row that is not live, are malformedStore")
    func deadRows() async throws {
        let root = try TemporaryDirectory()
        let base = try await Self.twoRows(in: root.url.appending(path: "original"))
        let delete = Self.line(#"{"op":"del","t":"Updates","row":0}"#) + Self.line(#"{"op":"commit","seq":3,"ops":1}"#)
        let overDeleted = try Self.store(
            base + delete + Self.put(row: "0", id: 400, sequence: 4), in: root, name: "put-over-deleted")
        try await Self.expectMalformed(overDeleted, at: base.count + delete.count, "put over a deleted row")
        let deleteTwice =
            base + delete + Self.line(#"{"op":"del","t":"Updates","row":0}"#)
            + Self.line(#"{"op":"commit","seq":4,"ops":1}"#)
        let twice = try Self.store(deleteTwice, in: root, name: "delete-twice")
        try await Self.expectMalformed(twice, at: base.count + delete.count, "a row deleted twice")
        let missing =
            base + Self.line(#"{"op":"del","t":"Updates","row":7}"#)
            + Self.line(#"{"op":"commit","seq":3,"ops":1}"#)
        try await Self.expectMalformed(
            try Self.store(missing, in: root, name: "delete-missing"), at: base.count, "a row that never was")
    }

    @Test("what the writer does write still opens: replace, update, delete and compaction, reopened")
    func writerFormsStillOpen() async throws {
        let root = try TemporaryDirectory()
        do {
            let store = try await FileTableStore(directory: root.url)
            try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
            _ = try await store.insert(
                [["twitterId": .int(1), "text": .string("a")], ["twitterId": .int(2), "text": .string("b")]],
                into: "Updates", onConflict: .fail)
            // One batch replacing a stored key twice, and a new key then replaced within the batch.
            _ = try await store.insert(
                [
                    ["twitterId": .int(1), "text": .string("a2")], ["twitterId": .int(1), "text": .string("a3")],
                    ["twitterId": .int(3), "text": .string("c")], ["twitterId": .int(3), "text": .string("c2")],
                ], into: "Updates", onConflict: .replace)
            #expect(
                try await store.update(
                    Query("Updates", filter: TableColumn("twitterId") == 2), set: ["twitterId": .int(5)])
                    == 1)
            #expect(try await store.delete(Query("Updates", filter: TableColumn("twitterId") == 3)) == 1)
            store.close()
        }
        let reopened = try await FileTableStore(directory: root.url)
        let rows = try await reopened.read(Query("Updates", order: [.ascending("twitterId")]))
        #expect(rows.map { $0["twitterId"] } == [.int(1), .int(5)])
        #expect(rows.map { $0["text"] } == [.string("a3"), .string("b")])
        try await reopened.compact()
        reopened.close()
        let compacted = try await FileTableStore(directory: root.url)
        defer { compacted.close() }
        #expect(try await compacted.read(Query("Updates", order: [.ascending("twitterId")])) == rows)
    }
}
