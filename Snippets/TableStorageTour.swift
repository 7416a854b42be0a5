// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/TableStorage.md: the typed layer over a file store. CI builds and runs it in a scratch directory.
import Foundation
import TableStorage

struct Tweet: Codable, Equatable {
    var twitterId: UInt64
    var text: String
    var isReply: Bool
}
let tweets = (1...40).map { Tweet(twitterId: UInt64($0), text: "tweet \($0)", isReply: $0 % 4 == 0) }
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tablestorage-tour-\(UUID())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
_ = FileManager.default.changeCurrentDirectoryPath(scratch.path)
defer { try? FileManager.default.removeItem(at: scratch) }
// snippet.show
let store = try await FileTableStore(directory: URL(fileURLWithPath: "harvest-data"))
let updates = store.table("Updates")
try await updates.create(uniqueKey: "twitterId", indexes: ["date"])
let summary = try await updates.insert(tweets, onConflict: .ignore)  // [Tweet], Codable
let newest = try await updates.newest(by: "twitterId", as: Tweet.self)
let page = try await updates.filter(TableColumn("isReply") == false)
    .orderBy(.descending("twitterId")).skip(20).take(10).read(as: Tweet.self)
// snippet.hide
precondition(summary.inserted.count == 40 && summary.duplicates.isEmpty)
precondition(newest == tweets.last)
// 30 of the 40 are not replies (multiples of 4 are); newest first, after 20 of them come these 10:
precondition(page.map(\.twitterId) == [13, 11, 10, 9, 7, 6, 5, 3, 2, 1], "\(page.map(\.twitterId))")
