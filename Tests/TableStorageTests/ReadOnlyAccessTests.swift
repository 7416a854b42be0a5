import Foundation
import TableStorage
import Testing

/// A read-only file store beside a writer and on a read-only copy (#13 item 6).
@Suite("FileTableStore read-only access")
struct ReadOnlyAccessTests {
    private static var readOnly: FileTableStore.Configuration {
        var configuration = FileTableStore.Configuration()
        configuration.access = .readOnly
        return configuration
    }

    private static func rows(_ ids: ClosedRange<Int64>) -> [TableRow] {
        ids.map { ["twitterId": .int($0), "text": .string("tweet \($0)")] }
    }

    @Test("a reader opens beside the writer and sees what was committed then; a second writer is still refused")
    func readerBesideWriter() async throws {
        let root = try TemporaryDirectory()
        let writer = try await FileTableStore(directory: root.url)
        try await writer.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: []))
        _ = try await writer.insert(Self.rows(1...50), into: "Updates")
        let reader = try await FileTableStore(directory: root.url, configuration: Self.readOnly)
        #expect(try await reader.count(Query("Updates")) == 50)
        #expect(try await reader.newest(in: "Updates", by: "twitterId")?["twitterId"] == .int(50))
        // The writer goes on; the reader shows its snapshot until it is opened again.
        _ = try await writer.insert(Self.rows(51...60), into: "Updates")
        #expect(try await reader.count(Query("Updates")) == 50)
        let again = try await FileTableStore(directory: root.url, configuration: Self.readOnly)
        #expect(try await again.count(Query("Updates")) == 60)
        let error = await #expect(throws: StorageError.self) { try await FileTableStore(directory: root.url) }
        #expect(error?.code == .locked)
        // Every write of a reader is refused, and nothing of the log changes.
        let size = writer.logSize
        let refused = await #expect(throws: StorageError.self) {
            try await reader.insert(Self.rows(61...61), into: "Updates")
        }
        #expect(refused?.code == .readOnly)
        await #expect(throws: StorageError.self) { try await reader.delete(Query("Updates")) }
        await #expect(throws: StorageError.self) { try await reader.compact() }
        #expect(writer.logSize == size)
        reader.close()
        again.close()
        writer.close()
    }

    @Test("a batch the writer has only half written is left out by a reader and kept by the writer")
    func halfWrittenBatch() async throws {
        let root = try TemporaryDirectory()
        let writer = try await FileTableStore(directory: root.url)
        try await writer.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: []))
        _ = try await writer.insert(Self.rows(1...10), into: "Updates")
        writer.close()
        // A batch cut in the middle, as a reader sees one that a writer is appending.
        let log = root.url.appending(path: FileTableStore.logFileName)
        let handle = try FileHandle(forWritingTo: log)
        let committed = try handle.seekToEnd()
        let partial = #"{"crc":"00000000","len":        99,"rec":{"op":"put","t":"Updates","row":10,"v":{"twit"#
        try handle.write(contentsOf: Data(partial.utf8))
        try handle.close()
        let reader = try await FileTableStore(directory: root.url, configuration: Self.readOnly)
        #expect(try await reader.count(Query("Updates")) == 10)
        reader.close()
        // The reader cut nothing off: the file still ends with the partial batch.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int)
        #expect(size > Int(committed))
    }

    @Test("a store on a read-only copy can be browsed; opening it for writing says readOnly")
    func readOnlyCopy() async throws {
        let root = try TemporaryDirectory()
        let writer = try await FileTableStore(directory: root.url)
        try await writer.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: []))
        _ = try await writer.insert(Self.rows(1...20), into: "Updates")
        writer.close()
        // Take write permission away (a copy on a read-only mount, as far as the store can tell). Root ignores
        // permissions, so there the check is only that a read-only open does not need them.
        let attributes: [FileAttributeKey: Any] = [.posixPermissions: 0o555]
        let files = [FileTableStore.logFileName, "LOCK"]
        for file in files {
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o444], ofItemAtPath: root.url.appending(path: file).path)
        }
        try FileManager.default.setAttributes(attributes, ofItemAtPath: root.url.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root.url.path) }
        let reader = try await FileTableStore(directory: root.url, configuration: Self.readOnly)
        #expect(try await reader.read(Query("Updates", order: [.descending("twitterId")], take: 3)).count == 3)
        reader.close()
        if getuid() != 0 {
            let error = await #expect(throws: StorageError.self) { try await FileTableStore(directory: root.url) }
            #expect(error?.code == .readOnly)
        }
    }
}
