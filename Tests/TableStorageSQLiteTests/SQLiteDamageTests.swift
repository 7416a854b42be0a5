import Foundation
import TableStorage
import TableStorageSQLite
import Testing

/// Damage SQLite itself would not report, one writer per database, and readers beside it.
@Suite("SQLiteTableStore under damage and beside other processes")
struct SQLiteDamageTests {
    typealias TemporaryDirectory = SQLiteTableStoreTests.TemporaryDirectory

    static let table = TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["twitterId"])

    /// A store at `path` holding `batches` committed batches of ten rows each.
    static func filledStore(at path: String, batches: Int) async throws -> SQLiteTableStore {
        let store = try SQLiteTableStore(path: path)
        try await store.createTable(table)
        for batch in 0..<batches {
            let rows: [TableStorage.TableRow] = (0..<10).map { index in
                ["twitterId": .int(Int64(batch * 10 + index + 1)), "text": .string(String(repeating: "x", count: 300))]
            }
            _ = try await store.insert(rows, into: table.name, onConflict: .ignore)
        }
        return store
    }

    /// Copies the database and its write-ahead log as they are on disk while `store` is open: what a crash or a
    /// power cut would leave, with the committed batches still in the log.
    static func snapshot(_ path: String, to copy: String) throws {
        let manager = FileManager.default
        try manager.copyItem(atPath: path, toPath: copy)
        try manager.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
    }

    static func flip(_ path: String, at offset: Int) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[offset] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    @Test("a flipped byte 18 of the header is malformedStore at byte 18, not readOnly")
    func headerWriteVersion() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "store.sqlite").path
        let store = try await Self.filledStore(at: path, batches: 1)
        store.close()
        try Self.flip(path, at: 18)
        let error = #expect(throws: StorageError.self) { try SQLiteTableStore(path: path) }
        #expect(error?.code == .malformedStore)
        #expect(error?.offset == 18)
        #expect(error?.description.contains("write version") == true)
    }

    @Test("a log whose early frame fails its checksum, with commits after it, is malformedStore naming the byte")
    func damagedWriteAheadLog() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "store.sqlite").path
        let store = try await Self.filledStore(at: path, batches: 20)
        let intact = root.url.appending(path: "intact.sqlite").path
        let damaged = root.url.appending(path: "damaged.sqlite").path
        try Self.snapshot(path, to: intact)
        try Self.snapshot(path, to: damaged)
        _ = store

        // The intact copy opens with every row: the check does not cry wolf over a live log.
        let reopened = try SQLiteTableStore(path: intact)
        #expect(try await reopened.count(Query("Updates")) == 200)

        // A byte inside the page of the log's second frame: SQLite alone would drop every later batch.
        let walSize = try FileManager.default.attributesOfItem(atPath: damaged + "-wal")[.size] as? Int ?? 0
        #expect(walSize > 32 + 2 * (24 + 4096))
        try Self.flip(damaged + "-wal", at: 32 + (24 + 4096) + 24 + 100)
        let error = #expect(throws: StorageError.self) { try SQLiteTableStore(path: damaged) }
        #expect(error?.code == .malformedStore)
        #expect(error?.file == damaged + "-wal")
        #expect(error?.offset == Int64(32 + 24 + 4096))
    }

    @Test("a torn last frame, as a power cut leaves it, is what SQLite expects: the store opens")
    func tornLastFrame() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "store.sqlite").path
        let store = try await Self.filledStore(at: path, batches: 5)
        let copy = root.url.appending(path: "copy.sqlite").path
        try Self.snapshot(path, to: copy)
        _ = store
        let handle = try #require(FileHandle(forUpdatingAtPath: copy + "-wal"))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - 1000)
        try handle.close()
        let reopened = try SQLiteTableStore(path: copy)
        let count = try await reopened.count(Query("Updates"))
        #expect(count == 40)  // the last batch's commit frame was cut: that batch, and only it, is gone
    }

    @Test("a second writer is refused with locked until the first closes")
    func oneWriter() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "store.sqlite").path
        let first = try await Self.filledStore(at: path, batches: 1)
        let error = #expect(throws: StorageError.self) { try SQLiteTableStore(path: path) }
        #expect(error?.code == .locked)
        first.close()
        let second = try SQLiteTableStore(path: path)
        #expect(try await second.count(Query("Updates")) == 10)
    }

    @Test("a reader opens beside the writer, sees each committed batch, and cannot write")
    func readerBesideWriter() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "store.sqlite").path
        let writer = try await Self.filledStore(at: path, batches: 2)
        var configuration = SQLiteTableStore.Configuration()
        configuration.access = .readOnly
        let reader = try SQLiteTableStore(path: path, configuration: configuration)
        #expect(try await reader.count(Query("Updates")) == 20)
        _ = try await writer.insert(
            [["twitterId": .int(1000), "text": .string("later")]], into: "Updates", onConflict: .ignore)
        #expect(try await reader.newest(in: "Updates", by: "twitterId")?["twitterId"] == .int(1000))
        let error = await #expect(throws: StorageError.self) {
            _ = try await reader.insert([["twitterId": .int(1001)]], into: "Updates", onConflict: .ignore)
        }
        #expect(error?.code == .readOnly)
    }

    @Test("quickCheckOnOpen passes a healthy database")
    func quickCheck() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "store.sqlite").path
        try await Self.filledStore(at: path, batches: 3).close()
        var configuration = SQLiteTableStore.Configuration()
        configuration.quickCheckOnOpen = true
        let store = try SQLiteTableStore(path: path, configuration: configuration)
        #expect(try await store.count(Query("Updates")) == 30)
    }
}
