// snippet.hide
// swift-format-ignore-file: OrderedImports
// The TableStorageSQLite catalog's sample. CI builds and runs it in a scratch directory.
import Foundation
import TableStorage

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-tour-\(UUID())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
_ = FileManager.default.changeCurrentDirectoryPath(scratch.path)
defer { try? FileManager.default.removeItem(at: scratch) }
// snippet.show
import TableStorageSQLite

let store = try SQLiteTableStore(path: "tweets.sqlite")
try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
_ = try await store.insert([["twitterId": 1_578_516_068_309_794_817, "text": "hello"]], into: "Updates")
let newest = try await store.newest(in: "Updates", by: "twitterId")
// snippet.hide
precondition(newest?["twitterId"] == .int(1_578_516_068_309_794_817), "\(String(describing: newest))")
store.close()
