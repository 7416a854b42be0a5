import Foundation
import TableStorage

/// A conformance suite any `TableStore` implementation can run against itself.
///
/// Each check gets a fresh store from the factory you give, exercises one behaviour of the protocol
/// (atomic batches, unique keys and conflict policies, typed errors, every filter operator, ordering,
/// paging, updates, deletes, `newest`, the typed `Codable` layer, concurrent writers) and compares what the
/// store returns with the values the protocol's documentation specifies. Failures are thrown as a
/// ``Failures`` error listing every failed check with a description, so the suite works under Swift Testing
/// and XCTest alike.
///
/// ```swift
/// @Test("my store conforms") func conforms() async throws {
///     try await TableStoreConformance { MyStore() }.run()
/// }
/// ```
public struct TableStoreConformance: Sendable {
    /// One failed check.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The check's name, such as `uniqueKeyIgnore`.
        public var check: String
        /// What the store did wrong.
        public var message: String
        /// `check: message`.
        public var description: String { "\(check): \(message)" }
    }

    /// Every failed check of a run.
    public struct Failures: Error, Sendable, CustomStringConvertible {
        /// The failures, in check order.
        public var failures: [Failure]
        /// One line per failure.
        public var description: String {
            "\(failures.count) conformance check(s) failed:\n" + failures.map { "  \($0)" }.joined(separator: "\n")
        }
    }

    private let makeStore: @Sendable () async throws -> any TableStore

    /// Creates the suite with a factory of fresh, empty stores (one per check).
    public init(makeStore: @escaping @Sendable () async throws -> any TableStore) {
        self.makeStore = makeStore
    }

    /// The names of the checks, in the order ``run(_:)`` runs them.
    public static var checkNames: [String] { checks.map(\.name) }

    /// Runs the checks (all of them by default).
    ///
    /// - Parameter names: The checks to run, from ``checkNames``; `nil` runs all.
    /// - Throws: ``Failures`` listing every check that failed.
    public func run(_ names: [String]? = nil) async throws {
        var failures: [Failure] = []
        for check in Self.checks where names?.contains(check.name) ?? true {
            do {
                let store = try await makeStore()
                try await check.body(Checker(store: store))
            } catch let failure as Failure {
                failures.append(Failure(check: check.name, message: failure.message))
            } catch {
                failures.append(Failure(check: check.name, message: "unexpected error: \(error)"))
            }
        }
        if !failures.isEmpty { throw Failures(failures: failures) }
    }

    private struct Check: Sendable {
        var name: String
        var body: @Sendable (Checker) async throws -> Void
    }

    private static let checks: [Check] = [
        Check(name: "createTableIsIdempotent", body: { try await $0.createTableIsIdempotent() }),
        Check(name: "insertAndReadBack", body: { try await $0.insertAndReadBack() }),
        Check(name: "missingTable", body: { try await $0.missingTable() }),
        Check(name: "uniqueKeyIgnore", body: { try await $0.uniqueKeyIgnore() }),
        Check(name: "uniqueKeyReplace", body: { try await $0.uniqueKeyReplace() }),
        Check(name: "uniqueKeyFailIsAtomic", body: { try await $0.uniqueKeyFailIsAtomic() }),
        Check(name: "badRowsAreAtomic", body: { try await $0.badRowsAreAtomic() }),
        Check(name: "queryErrors", body: { try await $0.queryErrors() }),
        Check(name: "comparisonFilters", body: { try await $0.comparisonFilters() }),
        Check(name: "stringAndSetFilters", body: { try await $0.stringAndSetFilters() }),
        Check(name: "logicalFilters", body: { try await $0.logicalFilters() }),
        Check(name: "ordering", body: { try await $0.ordering() }),
        Check(name: "pagingAndCount", body: { try await $0.pagingAndCount() }),
        Check(name: "selectColumns", body: { try await $0.selectColumns() }),
        Check(name: "update", body: { try await $0.update() }),
        Check(name: "delete", body: { try await $0.delete() }),
        Check(name: "newest", body: { try await $0.newest() }),
        Check(name: "indexedOrderWithFilter", body: { try await $0.indexedOrderWithFilter() }),
        Check(name: "definitionReportsTypes", body: { try await $0.definitionReportsTypes() }),
        Check(name: "typedLayer", body: { try await $0.typedLayer() }),
        Check(name: "concurrentWriters", body: { try await $0.concurrentWriters() }),
    ]
}

/// The checks, each against a fresh store.
private struct Checker: Sendable {
    let store: any TableStore

    // MARK: Helpers

    func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw TableStoreConformance.Failure(check: "", message: message()) }
    }

    func expectEqual<T: Equatable>(_ found: T, _ expected: T, _ what: String) throws {
        try expect(found == expected, "\(what): expected \(expected), found \(found)")
    }

    /// Runs `body` and checks it throws a ``StorageError`` of `code`.
    @discardableResult
    func expectError<T>(_ code: StorageError.Code, _ what: String, _ body: () async throws -> T) async throws
        -> StorageError
    {
        do {
            let result = try await body()
            throw TableStoreConformance.Failure(check: "", message: "\(what): expected \(code), got \(result)")
        } catch let error as StorageError {
            try expect(error.code == code, "\(what): expected \(code), got \(error)")
            return error
        }
    }

    /// The `id` column of records, in order.
    func ids(_ records: [TableRow]) -> [Int64] {
        records.map { record in
            if case .int(let id)? = record["id"] { return id }
            return -1
        }
    }

    func ids(_ query: Query) async throws -> [Int64] { ids(try await store.read(query)) }

    /// A table `People(id unique, name, age, score, team, joined, active)` with ten rows, ids 1…10.
    func people() async throws -> String {
        try await store.createTable(TableSchema(name: "People", uniqueKey: "id", indexes: ["team"]))
        let teams: [Value] = ["red", "blue", "red", nil, "green", "blue", "red", nil, "blue", "red"]
        let names = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo"]
        let ages: [Int64] = [30, 25, 35, 25, 41, 30, 19, 52, 25, 30]
        var rows: [TableRow] = []
        for index in 0..<10 {
            var record: TableRow = [
                "id": .int(Int64(index + 1)), "name": .string(names[index]), "age": .int(ages[index]),
                "score": .double(Double(index) * 1.5), "active": .bool(index % 2 == 0),
                "joined": .date(Date(timeIntervalSince1970: 1_700_000_000 + Double(index) * 86_400.25)),
            ]
            record["team"] = teams[index]
            rows.append(record)
        }
        let summary = try await store.insert(rows, into: "People", onConflict: .fail)
        try expectEqual(summary.inserted, Array(0..<10), "rows inserted")
        return "People"
    }

    // MARK: Checks

    func createTableIsIdempotent() async throws {
        let definition = TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["date"])
        try await store.createTable(definition)
        try await store.createTable(definition)
        try expectEqual(try await store.tableNames(), ["Updates"], "table names")
        try await expectError(.conflictingDefinition, "a second definition with another unique key") {
            try await store.createTable(TableSchema(name: "Updates", uniqueKey: "text"))
        }
        try await expectError(.invalidDefinition, "an empty table name") {
            try await store.createTable(TableSchema(name: ""))
        }
        try await store.createTable(TableSchema(name: "Notes"))
        try expectEqual(try await store.tableNames(), ["Notes", "Updates"], "table names")
    }

    func insertAndReadBack() async throws {
        try await store.createTable(TableSchema(name: "Things"))
        let rows: [TableRow] = [
            [
                "int": .int(Int64(1) << 62 + 1), "double": .double(-2.5e-7),
                "string": "quote \" slash \\ newline \n tab \t é 🐦",
                "bool": true, "date": .date(Date(timeIntervalSince1970: 1_700_000_000.25)),
            ],
            ["int": .int(Int64.min), "double": .double(1e300), "string": "", "bool": false],
            ["int": .int(Int64.max), "string": "\u{1}control\u{7f}", "double": .double(3)],
        ]
        let summary = try await store.insert(rows, into: "Things", onConflict: .fail)
        try expectEqual(summary.inserted, [0, 1, 2], "inserted rows")
        try expectEqual(summary.duplicates, [], "duplicate rows")
        try expectEqual(try await store.read(Query("Things")), rows, "records read back in insertion order")
        try expectEqual(try await store.count(Query("Things")), 3, "count")
        let empty = try await store.insert([], into: "Things", onConflict: .fail)
        try expectEqual(empty.inserted, [], "an empty batch inserts nothing")
    }

    func missingTable() async throws {
        try await expectError(.missingTable, "insert") {
            try await store.insert([["a": 1]], into: "Nope", onConflict: .ignore)
        }
        try await expectError(.missingTable, "read") { try await store.read(Query("Nope")) }
        try await expectError(.missingTable, "count") { try await store.count(Query("Nope")) }
        try await expectError(.missingTable, "newest") { try await store.newest(in: "Nope", by: "a") }
        try await expectError(.missingTable, "update") { try await store.update(Query("Nope"), set: ["a": 1]) }
        try await expectError(.missingTable, "delete") { try await store.delete(Query("Nope")) }
        try await expectError(.missingTable, "definition") { try await store.definition(of: "Nope") }
    }

    func uniqueKeyIgnore() async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        _ = try await store.insert(
            [["twitterId": 1, "text": "one"], ["twitterId": 2, "text": "two"]], into: "Updates", onConflict: .ignore)
        let summary = try await store.insert(
            [["twitterId": 2, "text": "TWO"], ["twitterId": 3, "text": "three"], ["twitterId": 3, "text": "THREE"]],
            into: "Updates", onConflict: .ignore)
        try expectEqual(summary.inserted, [1], "new rows")
        try expectEqual(summary.duplicates, [0, 2], "duplicates (stored and earlier in the batch)")
        let texts = try await store.read(Query("Updates").orderBy(.ascending("twitterId"))).map { $0["text"] }
        try expectEqual(texts, ["one", "two", "three"], "stored rows keep their first values")
    }

    func uniqueKeyReplace() async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        _ = try await store.insert(
            [["twitterId": 1, "text": "one"], ["twitterId": 2, "text": "two", "author": "x"]], into: "Updates",
            onConflict: .replace)
        let summary = try await store.insert(
            [["twitterId": 2, "text": "TWO"], ["twitterId": 3, "text": "three"], ["twitterId": 3, "text": "THREE"]],
            into: "Updates", onConflict: .replace)
        try expectEqual(summary.inserted, [1], "new rows")
        try expectEqual(summary.duplicates, [0, 2], "replacing rows")
        try expectEqual(try await store.count(Query("Updates")), 3, "row count")
        let rows = try await store.read(Query("Updates").orderBy(.ascending("twitterId")))
        try expectEqual(
            rows,
            [["twitterId": 1, "text": "one"], ["twitterId": 2, "text": "TWO"], ["twitterId": 3, "text": "THREE"]],
            "replaced rows hold the new values only")
    }

    func uniqueKeyFailIsAtomic() async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        _ = try await store.insert([["twitterId": 1]], into: "Updates", onConflict: .fail)
        let error = try await expectError(.duplicateKey, "a stored key under .fail") {
            try await store.insert([["twitterId": 4], ["twitterId": 1]], into: "Updates", onConflict: .fail)
        }
        try expectEqual(error.row, 1, "the failing row's index")
        try await expectError(.duplicateKey, "a key repeated in the batch under .fail") {
            try await store.insert([["twitterId": 5], ["twitterId": 5]], into: "Updates", onConflict: .fail)
        }
        try expectEqual(try await ids(Query("Updates").select(["twitterId"])).count, 1, "rows after failed batches")
        try expectEqual(
            try await store.read(Query("Updates")), [["twitterId": 1]], "nothing of a failed batch is stored")
    }

    func badRowsAreAtomic() async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        _ = try await store.insert([["twitterId": 1, "text": "one"]], into: "Updates", onConflict: .ignore)
        let mismatch = try await expectError(.typeMismatch, "a string in an int column") {
            try await store.insert(
                [["twitterId": 2, "text": "two"], ["twitterId": "3", "text": "three"]], into: "Updates",
                onConflict: .ignore)
        }
        try expectEqual(mismatch.column, "twitterId", "the mismatching column")
        try expectEqual(mismatch.row, 1, "the mismatching row")
        try await expectError(.typeMismatch, "a type differing within one batch") {
            try await store.insert(
                [["twitterId": 7, "extra": 1], ["twitterId": 8, "extra": "x"]], into: "Updates", onConflict: .ignore)
        }
        try await expectError(.missingUniqueKey, "a row without the unique key") {
            try await store.insert([["twitterId": 2], ["text": "keyless"]], into: "Updates", onConflict: .ignore)
        }
        try await expectError(.invalidValue, "a NaN double") {
            try await store.insert([["twitterId": 2, "score": .double(.nan)]], into: "Updates", onConflict: .ignore)
        }
        let lateNaN = try await expectError(.invalidValue, "a NaN double after ordinary ones in one batch") {
            try await store.insert(
                [
                    ["twitterId": 2, "score": 0.5], ["twitterId": 3, "score": 1.5],
                    ["twitterId": 4, "score": .double(.nan)],
                ],
                into: "Updates", onConflict: .ignore)
        }
        try expectEqual(lateNaN.row, 2, "the row of the NaN")
        let lateKeyless = try await expectError(.missingUniqueKey, "a keyless row after keyed ones in one batch") {
            try await store.insert(
                [["twitterId": 2, "text": "a"], ["twitterId": 3, "text": "b"], ["text": "c"]], into: "Updates",
                onConflict: .ignore)
        }
        try expectEqual(lateKeyless.row, 2, "the row without the key")
        try expectEqual(try await store.read(Query("Updates")), [["twitterId": 1, "text": "one"]], "rows stored")
        // The column 'extra' of the failed batch must not have established a type.
        _ = try await store.insert([["twitterId": 9, "extra": "text"]], into: "Updates", onConflict: .fail)
        try expectEqual(try await store.count(Query("Updates")), 2, "the store stays usable")
    }

    func queryErrors() async throws {
        let table = try await people()
        try await expectError(.unknownColumn, "a filter on an unknown column") {
            try await store.read(Query(table).filter(TableColumn("nope") == 1))
        }
        try await expectError(.unknownColumn, "an order on an unknown column") {
            try await store.read(Query(table).orderBy(.ascending("nope")))
        }
        try await expectError(.unknownColumn, "a select of an unknown column") {
            try await store.read(Query(table).select(["nope"]))
        }
        try await expectError(.unknownColumn, "a count on an unknown column") {
            try await store.count(Query(table).filter(TableColumn("nope") == 1))
        }
        try await expectError(.typeMismatch, "a string compared with an int column") {
            try await store.read(Query(table).filter(TableColumn("age") > "30"))
        }
        try await expectError(.typeMismatch, "contains on an int column") {
            try await store.read(Query(table).filter(TableColumn("age").contains("3")))
        }
        try await expectError(.invalidQuery, "a negative take") { try await store.read(Query(table).take(-1)) }
        try await expectError(.notIndexed, "newest by a column without an index") {
            try await store.newest(in: table, by: "age")
        }
        try await expectError(.unknownColumn, "newest by an unknown column") {
            try await store.newest(in: table, by: "nope")
        }
    }

    func comparisonFilters() async throws {
        let table = try await people()
        let query = Query(table)
        try expectEqual(try await ids(query.filter(TableColumn("age") == 25)), [2, 4, 9], "age == 25")
        try expectEqual(try await ids(query.filter(TableColumn("age") != 25)), [1, 3, 5, 6, 7, 8, 10], "age != 25")
        try expectEqual(try await ids(query.filter(TableColumn("age") < 25)), [7], "age < 25")
        try expectEqual(try await ids(query.filter(TableColumn("age") <= 25)), [2, 4, 7, 9], "age <= 25")
        try expectEqual(try await ids(query.filter(TableColumn("age") > 35)), [5, 8], "age > 35")
        try expectEqual(try await ids(query.filter(TableColumn("age") >= 35)), [3, 5, 8], "age >= 35")
        try expectEqual(try await ids(query.filter(TableColumn("score") > 10.0)), [8, 9, 10], "score > 10.0")
        try expectEqual(try await ids(query.filter(TableColumn("active") == true)), [1, 3, 5, 7, 9], "active == true")
        let day3 = Date(timeIntervalSince1970: 1_700_000_000 + 3 * 86_400.25)
        try expectEqual(
            try await ids(query.filter(TableColumn("joined") <= .date(day3))), [1, 2, 3, 4], "joined <= day 3")
        try expectEqual(try await ids(query.filter(TableColumn("team") == nil)), [4, 8], "team == nil (null-safe)")
        try expectEqual(
            try await ids(query.filter(TableColumn("team") != "red")), [2, 4, 5, 6, 8, 9],
            "team != red includes rows without a team")
        try expectEqual(try await ids(query.filter(TableColumn("team") == "blue")), [2, 6, 9], "indexed team == blue")
        try expectEqual(try await ids(query.filter(TableColumn("team") < "green")), [2, 6, 9], "indexed team < green")
        try expectEqual(try await ids(query.filter(TableColumn("id") > 8)), [9, 10], "unique key id > 8")
        try expectEqual(try await ids(query.filter(TableColumn("id") == 11)), [], "id == 11")
    }

    func stringAndSetFilters() async throws {
        let table = try await people()
        let query = Query(table)
        try expectEqual(try await ids(query.filter(TableColumn("name").contains("y"))), [3, 6, 9], "name contains y")
        try expectEqual(
            try await ids(query.filter(TableColumn("name").contains("a"))), [1, 6, 8], "contains is case-sensitive")
        try expectEqual(
            try await ids(query.filter(TableColumn("team").contains("e"))), [1, 2, 3, 5, 6, 7, 9, 10],
            "contains never matches a row without the column")
        try expectEqual(try await ids(query.filter(TableColumn("name").hasPrefix("Iv"))), [9], "hasPrefix")
        try expectEqual(try await ids(query.filter(TableColumn("name").hasPrefix(""))).count, 10, "empty prefix")
        try expectEqual(try await ids(query.filter(TableColumn("age").in([25, 41]))), [2, 4, 5, 9], "age in [25, 41]")
        try expectEqual(
            try await ids(query.filter(TableColumn("team").in(["red", "green"]))), [1, 3, 5, 7, 10], "indexed team in")
        try expectEqual(try await ids(query.filter(TableColumn("age").in([]))), [], "in an empty list")
    }

    func logicalFilters() async throws {
        let table = try await people()
        let query = Query(table)
        try expectEqual(
            try await ids(query.filter(TableColumn("age") == 25 && TableColumn("team") == "blue")), [2, 9], "and")
        try expectEqual(
            try await ids(query.filter(TableColumn("age") > 40 || TableColumn("name") == "Ada")), [1, 5, 8], "or")
        try expectEqual(try await ids(query.filter(!(TableColumn("age") >= 30))), [2, 4, 7, 9], "not")
        try expectEqual(
            try await ids(
                query.filter(
                    !(TableColumn("team") == "red") && (TableColumn("active") == true || TableColumn("id") == 8))),
            [5, 8, 9], "nested")
        try expectEqual(try await ids(query.filter(.and([]))).count, 10, "an empty and matches every row")
        try expectEqual(try await ids(query.filter(.or([]))), [], "an empty or matches no row")
        try expectEqual(
            try await ids(query.filter(!(TableColumn("team") < "green"))), [1, 3, 4, 5, 7, 8, 10],
            "not of a comparison includes rows without the column")
    }

    func ordering() async throws {
        let table = try await people()
        let query = Query(table)
        try expectEqual(
            try await ids(query.orderBy(.ascending("age"), .descending("id"))), [7, 9, 4, 2, 10, 6, 1, 3, 5, 8],
            "age ascending, then id descending")
        try expectEqual(
            try await ids(query.orderBy(.descending("age"))), [8, 5, 3, 1, 6, 10, 2, 4, 9, 7],
            "age descending, ties in insertion order")
        try expectEqual(
            try await ids(query.orderBy(.ascending("team"), .ascending("name"))), [4, 8, 2, 6, 9, 5, 1, 3, 7, 10],
            "team (nulls first) then name")
        try expectEqual(
            try await ids(query.orderBy(.descending("team"))), [1, 3, 7, 10, 5, 2, 6, 9, 4, 8],
            "team descending (nulls last), ties in insertion order")
        try expectEqual(
            try await ids(query.orderBy(.descending("joined")).take(3)), [10, 9, 8], "dates descending")
        try expectEqual(
            try await ids(query.orderBy(.ascending("name"))), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "names ascending")
    }

    func pagingAndCount() async throws {
        let table = try await people()
        let page = Query(table).orderBy(.descending("id"))
        try expectEqual(try await ids(page.take(3)), [10, 9, 8], "first page")
        try expectEqual(try await ids(page.skip(3).take(3)), [7, 6, 5], "second page")
        try expectEqual(try await ids(page.skip(9).take(3)), [1], "last page")
        try expectEqual(try await ids(page.skip(12)), [], "past the end")
        try expectEqual(try await ids(page.take(0)), [], "take 0")
        try expectEqual(try await ids(Query(table).skip(8)), [9, 10], "skip without order or take")
        try expectEqual(try await store.count(Query(table)), 10, "count of all")
        try expectEqual(
            try await store.count(Query(table).filter(TableColumn("team") == "red").take(1).skip(1)), 4,
            "count ignores take and skip")
    }

    func selectColumns() async throws {
        let table = try await people()
        let rows = try await store.read(Query(table).filter(TableColumn("id") <= 4).select(["id", "team"]))
        try expectEqual(
            rows, [["id": 1, "team": "red"], ["id": 2, "team": "blue"], ["id": 3, "team": "red"], ["id": 4]],
            "selected columns only")
    }

    func update() async throws {
        let table = try await people()
        let changed = try await store.update(
            Query(table).filter(TableColumn("team") == "red"), set: ["team": "pink", "age": 1])
        try expectEqual(changed, 4, "rows updated")
        try expectEqual(
            try await ids(Query(table).filter(TableColumn("team") == "pink")), [1, 3, 7, 10], "updated rows")
        try expectEqual(try await ids(Query(table).filter(TableColumn("team") == "red")), [], "old index values gone")
        try expectEqual(try await ids(Query(table).filter(TableColumn("age") == 1)), [1, 3, 7, 10], "second column")
        _ = try await store.update(Query(table).filter(TableColumn("id") == 2), set: ["name": nil, "nickname": "B"])
        try expectEqual(
            try await store.read(
                Query(table).filter(TableColumn("id") == 2).select(["id", "name", "nickname", "team"])),
            [["id": 2, "nickname": "B", "team": "blue"]], "null removes a column; new columns are added")
        try await expectError(.duplicateKey, "an update to a stored key") {
            try await store.update(Query(table).filter(TableColumn("id") == 3), set: ["id": 4])
        }
        try await expectError(.typeMismatch, "an update with a mismatching type") {
            try await store.update(Query(table), set: ["age": "old"])
        }
        try expectEqual(
            try await ids(Query(table).filter(TableColumn("age") == 1)), [1, 3, 7, 10], "failed updates change nothing")
        _ = try await store.update(Query(table).filter(TableColumn("id") == 10), set: ["id": 20])
        try expectEqual(try await store.newest(in: table, by: "id")?["name"], "Jo", "an updated key is indexed")
        try expectEqual(
            try await store.update(Query(table).filter(TableColumn("id") == 99), set: ["age": 2]), 0, "no match")
    }

    func delete() async throws {
        let table = try await people()
        try expectEqual(try await store.delete(Query(table).filter(TableColumn("age") == 25)), 3, "rows deleted")
        try expectEqual(try await ids(Query(table)), [1, 3, 5, 6, 7, 8, 10], "rows left")
        try expectEqual(
            try await store.delete(Query(table).orderBy(.descending("id")).take(2)), 2, "ordered, limited delete")
        try expectEqual(try await ids(Query(table)), [1, 3, 5, 6, 7], "rows left")
        try expectEqual(try await store.newest(in: table, by: "id")?["id"], 7, "newest after deletes")
        try expectEqual(try await ids(Query(table).filter(TableColumn("team") == "blue")), [6], "index after deletes")
        _ = try await store.insert([["id": 2, "name": "Bob again"]], into: table, onConflict: .fail)
        try expectEqual(try await ids(Query(table).filter(TableColumn("id") == 2)), [2], "a deleted key can be reused")
        try expectEqual(try await store.delete(Query(table)), 6, "delete all")
        try expectEqual(try await store.count(Query(table)), 0, "empty")
        try expectEqual(try await store.newest(in: table, by: "id"), nil, "newest of an empty table")
    }

    func newest() async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["date"]))
        try expectEqual(try await store.newest(in: "Updates", by: "twitterId"), nil, "newest of an empty table")
        let big = Int64(1_800_000_000_000_000_000)
        var rows: [TableRow] = []
        for offset in [5, 1, 9, 3, 7] as [Int64] {
            rows.append([
                "twitterId": .int(big + offset), "date": .date(Date(timeIntervalSince1970: Double(10 - offset))),
            ])
        }
        rows.append(["twitterId": .int(big - 1)])
        _ = try await store.insert(rows, into: "Updates", onConflict: .ignore)
        try expectEqual(
            try await store.newest(in: "Updates", by: "twitterId")?["twitterId"], .int(big + 9),
            "newest by the unique key, exact above 2^53")
        try expectEqual(
            try await store.newest(in: "Updates", by: "date")?["twitterId"], .int(big + 1),
            "newest by an index, ignoring rows without a value")
        try expectEqual(
            try await ids(Query("Updates").orderBy(.descending("twitterId")).take(2).select(["twitterId"])).count, 2,
            "take on an ordered key")
        let top = try await store.read(Query("Updates").orderBy(.descending("twitterId")).take(2))
        try expectEqual(top.map { $0["twitterId"] }, [.int(big + 9), .int(big + 7)], "orderBy(key).take(2)")
        // A column that first appears after an earlier `newest` is part of the next one's record.
        let later: TableRow = ["twitterId": .int(big + 11), "text": "a later column", "isReply": false]
        _ = try await store.insert([later], into: "Updates", onConflict: .ignore)
        try expectEqual(
            try await store.newest(in: "Updates", by: "twitterId"), later, "newest after the table gained columns")
    }

    func indexedOrderWithFilter() async throws {
        let table = try await people()
        try expectEqual(
            try await ids(
                Query(table).filter(TableColumn("active") == false).orderBy(.descending("team"), .ascending("age"))
                    .take(3)),
            [10, 2, 6], "indexed order, filter, second key, take")
        try expectEqual(
            try await ids(Query(table).filter(TableColumn("team") == "red").orderBy(.descending("id")).skip(1).take(2)),
            [7, 3], "indexed filter and indexed order with skip")
    }

    func definitionReportsTypes() async throws {
        let table = try await people()
        let definition = try await store.definition(of: table)
        try expectEqual(definition.uniqueKey, "id", "unique key")
        try expectEqual(Set(definition.indexes), ["team"], "indexes")
        try expectEqual(
            definition.columns,
            [
                "id": .int, "name": .string, "age": .int, "score": .double, "active": .bool, "joined": .date,
                "team": .string,
            ],
            "established column types")
        try await store.createTable(
            TableSchema(name: "Declared", uniqueKey: "id", columns: ["id": .int, "note": .string]))
        try await expectError(.typeMismatch, "a value against a declared type") {
            try await store.insert([["id": 1, "note": 5]], into: "Declared", onConflict: .ignore)
        }
        try expectEqual(
            try await store.read(Query("Declared").filter(TableColumn("note") == "x")), [], "declared columns are known"
        )
    }

    func typedLayer() async throws {
        struct Tweet: Codable, Equatable {
            enum Kind: String, Codable { case original, quote }
            var twitterId: UInt64
            var text: String
            var author: String?
            var date: Date
            var kind: Kind
            var retweets: Int
            var isReply: Bool
        }
        let updates = store.table("Updates")
        try await updates.create(uniqueKey: "twitterId")
        let tweets = [
            Tweet(
                twitterId: 1_800_000_000_000_000_001, text: "first", author: "ada",
                date: Date(timeIntervalSince1970: 1_700_000_000.5),
                kind: .original, retweets: 3, isReply: false),
            Tweet(
                twitterId: 1_800_000_000_000_000_002, text: "second", author: nil,
                date: Date(timeIntervalSince1970: 1_700_000_100),
                kind: .quote, retweets: 0, isReply: true),
        ]
        let summary = try await updates.insert(tweets)
        try expectEqual(summary.inserted, [0, 1], "typed insert")
        try expectEqual(try await updates.orderBy(.ascending("twitterId")).read(as: Tweet.self), tweets, "typed read")
        try expectEqual(try await updates.newest(by: "twitterId", as: Tweet.self), tweets[1], "typed newest")
        try expectEqual(
            try await updates.filter(TableColumn("kind") == "quote").read(),
            [
                [
                    "twitterId": 1_800_000_000_000_000_002, "text": "second",
                    "date": .date(Date(timeIntervalSince1970: 1_700_000_100)),
                    "kind": "quote", "retweets": 0, "isReply": true,
                ]
            ], "the record behind a typed value")
        try expectEqual(try await updates.filter(TableColumn("isReply") == false).count(), 1, "fluent count")
        struct Nested: Codable { var id: Int; var inner: [Int] }
        try await expectError(.unsupportedType, "a nested array") {
            try await updates.insert([Nested(id: 1, inner: [1])])
        }
        struct Huge: Codable { var twitterId: UInt64 }
        try await expectError(.unsupportedType, "an id beyond Int64") {
            try await updates.insert([Huge(twitterId: .max)])
        }
        struct Wrong: Codable { var twitterId: String }
        try await expectError(.typeMismatch, "decoding a column as another type") {
            try await updates.read(as: Wrong.self)
        }
    }

    func concurrentWriters() async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["writer"]))
        let store = self.store
        let inserted = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var total = 0
                    for batch in 0..<10 {
                        // Writers overlap: keys repeat across writers.
                        let rows: [TableRow] = (0..<10).map { index in
                            [
                                "twitterId": .int(Int64((writer % 4) * 100 + batch * 10 + index)),
                                "writer": .int(Int64(writer)),
                            ]
                        }
                        total += try await store.insert(rows, into: "Updates", onConflict: .ignore).inserted.count
                        _ = try await store.newest(in: "Updates", by: "twitterId")
                        _ = try await store.count(Query("Updates").filter(TableColumn("writer") == .int(Int64(writer))))
                    }
                    return total
                }
            }
            var sum = 0
            for try await count in group { sum += count }
            return sum
        }
        try expectEqual(inserted, 400, "rows reported new across writers")
        try expectEqual(try await store.count(Query("Updates")), 400, "rows stored")
        try expectEqual(try await store.newest(in: "Updates", by: "twitterId")?["twitterId"], 399, "newest")
    }
}
