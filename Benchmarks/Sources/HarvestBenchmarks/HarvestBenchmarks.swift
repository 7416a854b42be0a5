import Foundation
import HarvestClock
import HarvestDemo
import Logging
import TableStorage
import TweetHarvester

/// A clock that stands still: the demo API's stream is fixed for the whole measurement, and nothing waits.
private struct FrozenClock: WallClock {
    let now: Date
    func sleep(until deadline: Date) async throws {}
}

/// `harvest`: one complete harvest run of N pages from the demo search API into a store — generating and
/// serialising the API's JSON, decoding it, filtering, batched insert-or-ignore, watermark and report — in tweets
/// fetched per second.
let harvestGroup = BenchmarkGroup(name: "harvest") {
    let quiet = Logger(label: "harvest-bench") { _ in SwiftLogNoOpLogHandler() }
    let start = Date(timeIntervalSince1970: 1_790_000_000)
    let clock = FrozenClock(now: start)
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("harvest-bench-\(getpid())")
    defer { try? FileManager.default.removeItem(at: scratch) }
    for pages in [10, 50] {
        var configuration = DemoTransport.Configuration()
        // 240 tweets a minute: a window of `pages * 25` seconds holds `pages` pages of 100.
        configuration.window = .seconds(pages * 25)
        // One demo API serves every repetition: no rate limit.
        configuration.rateLimit = .max
        let demo = DemoTransport(configuration: configuration, clock: clock)
        for api in [APIChoice.v2, .v1_1] {
            var fetched = 0
            var run = 0
            let memory = try await medianSeconds {
                let harvester = try Harvester(
                    settings: api.settings, store: InMemoryTableStore(), transport: demo, clock: clock, logger: quiet)
                fetched = try await harvester.runOnce().fetched
                return fetched
            }
            report("harvest \(api.name) \(pages) pages InMemory", Double(fetched) / memory, "tweets/s")
            let file = try await medianSeconds {
                run += 1
                let store = try await FileTableStore(
                    directory: scratch.appendingPathComponent("\(api.name)-\(pages)-\(run)"))
                let harvester = try Harvester(
                    settings: api.settings, store: store, transport: demo, clock: clock, logger: quiet)
                fetched = try await harvester.runOnce().fetched
                return fetched
            }
            report("harvest \(api.name) \(pages) pages File", Double(fetched) / file, "tweets/s")
        }
    }
}

private enum APIChoice {
    case v2, v1_1

    var name: String { self == .v2 ? "v2" : "v1.1" }

    var settings: HarvestSettings {
        var settings = HarvestSettings.demo
        settings.api = self == .v2 ? .v2 : .v1_1
        return settings
    }
}
