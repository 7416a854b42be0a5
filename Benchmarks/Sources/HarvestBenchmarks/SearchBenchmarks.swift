import Foundation
import TwitterSearch

/// `search`: decode + classify + dedupe of the 100-tweet pages of the shared corpus, as
/// `../shared/anchors/parse_pipeline.py` does with orjson: drop retweets and replies, keep each id once,
/// build (id, text, author, date) rows. The kept rows are checked against the corpus manifest.
var searchBenchmarks: BenchmarkGroup {
    BenchmarkGroup(name: "search", run: runSearchBenchmarks)
}

func runSearchBenchmarks() async throws {
    let manifestData = try Data(contentsOf: corpusDirectory.appendingPathComponent("manifest.json"))
    let manifest = try JSONSerialization.jsonObject(with: manifestData) as? [String: Any] ?? [:]
    for (api, directory, tag) in [(APIVersion.v2, "v2", "v2"), (.v1_1, "v1.1", "v1.1")] {
        let folder = corpusDirectory.appendingPathComponent(directory)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
            .sorted()
        let pages = try names.map { try Data(contentsOf: folder.appendingPathComponent($0)) }
        let bytes = Double(pages.reduce(0) { $0 + $1.count })

        struct Row { var id: UInt64; var text: String; var author: String?; var date: Date? }
        func pipeline() throws -> (statuses: Int, rows: [Row]) {
            var seen = Set<UInt64>(minimumCapacity: 12_000)
            var rows: [Row] = []
            rows.reserveCapacity(10_000)
            var statuses = 0
            for page in pages {
                let response = try SearchResponse(decoding: page, api: api)
                statuses += response.tweets.count
                for tweet in response.tweets where !tweet.isRetweet && !tweet.isReply {
                    if seen.insert(tweet.id).inserted {
                        rows.append(
                            Row(id: tweet.id, text: tweet.text, author: tweet.authorUsername, date: tweet.createdAt))
                    }
                }
            }
            return (statuses, rows)
        }

        let (statuses, rows) = try pipeline()
        let expected = manifest[directory] as? [String: Any] ?? [:]
        let maxID = rows.map(\.id).max().map(String.init)
        guard statuses == expected["statuses"] as? Int, rows.count == expected["kept_unique"] as? Int,
            maxID == expected["max_kept_id_str"] as? String, rows.allSatisfy({ $0.author != nil && $0.date != nil })
        else {
            throw SearchBenchmarkError(
                description:
                    "\(directory): \(statuses) in / \(rows.count) kept, manifest says \(expected["statuses"] ?? "?") / \(expected["kept_unique"] ?? "?")"
            )
        }
        let seconds = try medianSeconds { try pipeline().rows.count }
        report("search.decode.\(tag)", Double(statuses) / seconds, "tweets/s")
        report("search.decode.\(tag).mb", bytes / 1e6 / seconds, "MB/s")
    }
}

struct SearchBenchmarkError: Error, CustomStringConvertible {
    var description: String
}
