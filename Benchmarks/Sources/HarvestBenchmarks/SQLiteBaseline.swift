import Foundation
import GRDBSQLite
import TableStorage

/// SQLite through its C API with nothing on top: the fastest a program could store the benchmark's batches in
/// SQLite, and so the strictest baseline for the file store's durable inserts.
///
/// As the anchor (`store_insert.py`): `Updates(twitterId INTEGER PRIMARY KEY, text, author, date)`, WAL with
/// `synchronous=FULL`, one prepared `INSERT OR IGNORE` and one transaction per batch. The rows' values are taken
/// out of the records before timing starts.
enum SQLiteBaseline {
    struct Row {
        var id: Int64
        var text: String
        var author: String
        var date: Double
    }

    /// The batches as plain values.
    static func rows(_ batches: [[TableRow]]) -> [[Row]] {
        batches.map { batch in
            batch.map { record in
                var row = Row(id: 0, text: "", author: "", date: 0)
                if case .int(let id)? = record["twitterId"] { row.id = id }
                if case .string(let text)? = record["text"] { row.text = text }
                if case .string(let author)? = record["author"] { row.author = author }
                if case .date(let date)? = record["date"] { row.date = date.timeIntervalSinceReferenceDate }
                return row
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Inserts the batches into a new database at `path`, one durable transaction each.
    static func fill(path: String, batches: [[Row]]) throws {
        var database: OpaquePointer?
        guard sqlite3_open(path, &database) == SQLITE_OK, let database else {
            throw Failure(description: "cannot open \(path)")
        }
        defer { sqlite3_close(database) }
        func execute(_ sql: String) throws {
            guard sqlite3_exec(database, sql, nil, nil, nil) == SQLITE_OK else {
                throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(database)))")
            }
        }
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("CREATE TABLE Updates(twitterId INTEGER PRIMARY KEY, text TEXT, author TEXT, date REAL)")
        var statement: OpaquePointer?
        let sql = "INSERT OR IGNORE INTO Updates(twitterId, text, author, date) VALUES (?, ?, ?, ?)"
        guard sqlite3_prepare_v2(database, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: "prepare: \(String(cString: sqlite3_errmsg(database)))")
        }
        defer { sqlite3_finalize(statement) }
        // SQLITE_STATIC: the bytes outlive each step (the strings are alive and unchanged until reset).
        let staticBytes = unsafeBitCast(0, to: sqlite3_destructor_type.self)
        for batch in batches {
            try execute("BEGIN")
            for var row in batch {
                sqlite3_bind_int64(statement, 1, row.id)
                let stepped = row.text.withUTF8 { text in
                    row.author.withUTF8 { author in
                        sqlite3_bind_text(statement, 2, text.baseAddress, Int32(text.count), staticBytes)
                        sqlite3_bind_text(statement, 3, author.baseAddress, Int32(author.count), staticBytes)
                        sqlite3_bind_double(statement, 4, row.date)
                        return sqlite3_step(statement)
                    }
                }
                guard stepped == SQLITE_DONE else {
                    throw Failure(description: "insert: \(String(cString: sqlite3_errmsg(database)))")
                }
                sqlite3_reset(statement)
            }
            try execute("COMMIT")
        }
    }
}
