// snippet.hide
// swift-format-ignore-file: OrderedImports
// Issue #14: a file that imports Foundation, TableStorage and TweetHarvester names every public type of TableStorage
// and the facade unqualified (Foundation has a `Predicate`, GRDB a `Record`, `Column` and `TableDefinition`: the
// store's types are `RowPredicate`, `TableRow`, `TableColumn` and `TableSchema`). CI builds it; running it checks
// that the names mean what they should.
// snippet.show
import Foundation
import TableStorage
import TweetHarvester

let schema: TableSchema = TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["date"])
let row: TableRow = ["twitterId": .int(1), "text": .string("hello"), "date": .date(Date(timeIntervalSince1970: 0))]
let predicate: RowPredicate = TableColumn("text").contains("hell") && TableColumn("twitterId") > 0
let query = Query("Updates", filter: predicate, order: [SortKey.descending("twitterId")], take: 1)
let types: [ValueType] = [.int, .string, .date]
let policy: ConflictPolicy = .ignore
let store: any TableStore = InMemoryTableStore()
try await store.createTable(schema)
let summary: InsertSummary = try await store.insert([row], into: "Updates", onConflict: policy)
let table: TableHandle = store.table("Updates")
let encoded = try RecordEncoder().encode(["twitterId": 2] as [String: Int])
_ = try RecordDecoder().decode([String: Int].self, from: encoded)
let found = try await store.read(query)
guard summary.inserted.count == 1, found == [row], try await table.count() == 1,
    types.count == 3
else {
    throw StorageError(.invalidQuery, message: "the unqualified names did not mean the store's types")
}
let settings: HarvestSettings = .demo
let mapping: TweetRow = settings.row
let filters: [TweetFilter] = settings.filters
_ = (mapping, filters, HarvestError.Code.invalidSetting, Value.null)
