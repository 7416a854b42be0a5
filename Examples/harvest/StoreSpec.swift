import Foundation
import Logging
import TableStorage
import TableStorageSQLite

/// `--store SPEC`: `memory`, `file:PATH` or `sqlite:PATH`.
enum StoreSpec: Equatable, CustomStringConvertible {
    case memory
    case file(String)
    case sqlite(String)

    /// The default store of `once`, `run` and `browse`: a file store in `.harvest` under the current directory.
    static let defaultText = "file:.harvest"

    init(parsing text: String) throws {
        if text == "memory" {
            self = .memory
        } else if text.hasPrefix("file:"), text.count > 5 {
            self = .file(String(text.dropFirst(5)))
        } else if text.hasPrefix("sqlite:"), text.count > 7 {
            self = .sqlite(String(text.dropFirst(7)))
        } else {
            throw UsageError("unknown store \"\(text)\": use memory, file:PATH or sqlite:PATH")
        }
    }

    var description: String {
        switch self {
        case .memory: "memory"
        case .file(let path): "file:\(path)"
        case .sqlite(let path): "sqlite:\(path)"
        }
    }

    /// Opens (creating when needed) the store; a store that cannot be opened is a one-line ``UsageError``.
    ///
    /// With `readOnly`, an SQLite store opens beside a writer in another process (`harvest run`) and on a
    /// read-only copy, taking no lock.
    func open(logger: Logger, readOnly: Bool = false) async throws -> any TableStore {
        do {
            switch self {
            case .memory: return InMemoryTableStore()
            case .file(let path): return try await FileTableStore(directory: URL(fileURLWithPath: path), logger: logger)
            case .sqlite(let path):
                var configuration = SQLiteTableStore.Configuration()
                if readOnly { configuration.access = .readOnly }
                return try SQLiteTableStore(path: path, configuration: configuration, logger: logger)
            }
        } catch {
            throw UsageError("cannot open store \(self): \(error)")
        }
    }
}

/// `DUR`: a whole number and a unit, `30s`, `15m`, `1h` or `1d`.
struct DurationText: Equatable {
    enum Unit: Character { case seconds = "s", minutes = "m", hours = "h", days = "d" }
    var count: Int
    var unit: Unit

    init(parsing text: String) throws {
        guard let last = text.last, let unit = Unit(rawValue: last), let count = Int(text.dropLast()), count > 0 else {
            throw UsageError(
                "bad duration \"\(text)\": use a positive whole number and a unit, such as 30s, 15m, 1h or 1d")
        }
        self.count = count
        self.unit = unit
    }
}

/// The queries `browse` and `once` read with.
enum RecordQuery {
    /// Any one record of `table`.
    static func first(in table: String) -> Query {
        Query(table, take: 1)
    }

    /// The newest `limit` records of `table` by `column` (descending), or the first `limit` without a column.
    static func newest(_ limit: Int, in table: String, by column: String?) -> Query {
        Query(table, order: column.map { [.descending($0)] } ?? [], take: limit)
    }
}
