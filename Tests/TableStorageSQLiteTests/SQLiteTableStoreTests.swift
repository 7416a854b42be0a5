import Foundation
import GRDB
import HarvestTesting
import TableStorage
import TableStorageSQLite
import Testing

@Suite("SQLiteTableStore")
struct SQLiteTableStoreTests {
    /// A directory under the system's temporary directory, removed when the value is released.
    final class TemporaryDirectory: Sendable {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appending(path: "th-sqlite-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    @Test("passes the TableStore conformance suite")
    func conformance() async throws {
        let root = try TemporaryDirectory()
        try await TableStoreConformance {
            try SQLiteTableStore(path: root.url.appending(path: "\(UUID().uuidString).sqlite").path)
        }.run()
    }

    @Test("tables, columns, the unique key and indexes are real SQLite schema, in WAL mode")
    func realSchema() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "store.sqlite").path
        let store = try SQLiteTableStore(path: path)
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["author"]))
        _ = try await store.insert(
            [["twitterId": 1_800_000_000_000_000_001, "text": "hi", "author": "a", "isReply": false]], into: "Updates",
            onConflict: .ignore)
        let queue = try DatabaseQueue(path: path)
        try await queue.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            let columns = try db.columns(in: "Updates").map { "\($0.name) \($0.type)" }
            #expect(columns.contains("text TEXT"))
            #expect(columns.contains("isReply INTEGER"))
            let indexes = try db.indexes(on: "Updates")
            #expect(indexes.contains { $0.columns == ["twitterId"] && $0.isUnique })
            #expect(indexes.contains { $0.columns == ["author"] && !$0.isUnique })
            #expect(try Int64.fetchOne(db, sql: "SELECT twitterId FROM Updates") == 1_800_000_000_000_000_001)
            let plan = try Row.fetchAll(
                db,
                sql:
                    "EXPLAIN QUERY PLAN SELECT * FROM Updates WHERE twitterId IS NOT NULL ORDER BY twitterId DESC LIMIT 1"
            ).map { $0["detail"] as String }
            #expect(plan.joined().contains("INDEX"), "newest is answered from the index: \(plan)")
        }
        store.close()  // one writer per database: the reopen below would be refused while it holds the lock
        let reopened = try SQLiteTableStore(path: path)
        #expect(try await reopened.definition(of: "Updates").columns["isReply"] == .bool)
        #expect(try await reopened.read(Query("Updates")).first?["isReply"] == false)
    }

    @Test("integrityCheck reports nothing for a sound database with rows, indexes and a unique key")
    func integrityCheckOfSoundDatabase() async throws {
        let root = try TemporaryDirectory()
        let store = try SQLiteTableStore(path: root.url.appending(path: "store.sqlite").path)
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["author"]))
        let rows: [TableStorage.TableRow] = (0..<500).map {
            ["twitterId": .int(Int64($0)), "author": .string("a\($0 % 7)")]
        }
        _ = try await store.insert(rows, into: "Updates", onConflict: .fail)
        _ = try await store.delete(Query("Updates", filter: TableColumn("author") == "a3"))
        #expect(try await store.integrityCheck() == [])
    }

    @Test("values that look like SQL are stored as values")
    func boundArguments() async throws {
        let root = try TemporaryDirectory()
        let store = try SQLiteTableStore(path: root.url.appending(path: "store.sqlite").path)
        try await store.createTable(TableSchema(name: "Odd \"name\"; DROP TABLE x", uniqueKey: "key'"))
        let hostile: TableStorage.TableRow = ["key'": "'); DROP TABLE _th_tables; --", "col\"umn": "x"]
        _ = try await store.insert([hostile], into: "Odd \"name\"; DROP TABLE x", onConflict: .fail)
        let read = try await store.read(
            Query("Odd \"name\"; DROP TABLE x").filter(TableColumn("key'") == "'); DROP TABLE _th_tables; --"))
        #expect(read == [hostile])
    }

    @Test("a file that is not a database is refused with malformedStore; an unwritable place with readOnly")
    func badFiles() async throws {
        let root = try TemporaryDirectory()
        let path = root.url.appending(path: "garbage.sqlite").path
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StorageError.self) { try SQLiteTableStore(path: path) }
        #expect(error?.code == .malformedStore)
        let readOnly = #expect(throws: StorageError.self) { try SQLiteTableStore(path: "/sys/th-test.sqlite") }
        #expect(readOnly?.code == .readOnly)
    }
}
