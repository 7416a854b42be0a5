import Foundation
import HTTPTypes
import HarvestDemo
import HarvestTestServer
import HarvestTesting
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

/// The whole stack over real HTTP: the default transport (`AsyncHTTPClientTransport.shared`) to a server on
/// 127.0.0.1 that serves the demo search API.
@Suite("Harvesting over HTTP")
struct HarvestOverHTTPTests {
    private static let start = Date(timeIntervalSince1970: 1_790_000_000)

    @Test(
        "v2 and v1.1 runs over the default transport store the window, then only what arrived, nothing twice",
        arguments: [APIVersion.v2, .v1_1])
    func harvestOverHTTP(api: APIVersion) async throws {
        let clock = ManualClock(now: Self.start)
        var configuration = DemoTransport.Configuration()
        configuration.window = .seconds(120)
        let demo = DemoTransport(configuration: configuration, clock: clock)
        let routes = [
            DemoOverHTTP.route("/2/tweets/search/recent", demo), DemoOverHTTP.route("/1.1/search/tweets.json", demo),
        ]
        try await TestHTTPServer.withServer(routes, idleLimit: 120) { server in
            var settings = HarvestSettings.demo
            settings.api = api
            settings.baseURL = server.baseURL
            let store = InMemoryTableStore()
            // A client of its own: no connection pooled by another test (to a port this server now reuses) can
            // stand in for one to this server. On a manual clock a retry's backoff would wait for good, so a
            // failed request fails the test at once instead.
            let transport = AsyncHTTPClientTransport(configuration: .init())
            settings.search.policy.maxAttempts = 1
            let harvester = try Harvester(settings: settings, store: store, transport: transport, clock: clock)
            let runs: Result<(HarvestReport, HarvestReport), any Error>
            do {
                let first = try await harvester.runOnce()
                clock.advance(by: .seconds(60))
                runs = .success((first, try await harvester.runOnce()))
            } catch {
                runs = .failure(error)
            }
            try await transport.shutdown()
            let (first, second) = try runs.get()
            let truth = demo.timeline(after: Self.start.addingTimeInterval(-120), through: clock.now)
            let expected = Set(truth.filter { $0.kind != .retweet && $0.kind != .reply }.map(\.id))
            let stored = try await store.read(Query("Updates")).compactMap(HarvestTables.tweetID(of:))
            #expect(stored.count == Set(stored).count)
            #expect(Set(stored) == expected)
            #expect(first.pages >= 5)
            #expect(second.pages == 3)
            #expect(second.newestBefore == first.newestAfter)
            #expect(server.requests.allSatisfy { $0.headers.keys.contains { $0.lowercased() == "authorization" } })
        }
    }
}
