import Foundation
import HarvestClock
import HarvestTesting
import OAuthSigning
import Testing
import TwitterSearch

/// An in-memory search API over a fixed corpus, answering v2 and v1.1 requests as the real ones do.
private struct FakeSearchAPI: HTTPTransport {
    let ids: [UInt64]  // newest first

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        let items = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        func value(_ name: String) -> UInt64? { items.first { $0.name == name }?.value.flatMap { UInt64($0) } }
        let since = value("since_id") ?? 0
        if request.url.path.hasPrefix("/2/") {
            let bound = value("next_token") ?? value("until_id").map { $0 - 1 } ?? .max
            let count = Int(value("max_results") ?? 10)
            let eligible = ids.filter { $0 > since && $0 <= bound }
            let page = eligible.prefix(count)
            let next = eligible.count > count ? page.last.map { $0 - 1 } : nil
            let body = v2Page(
                page.map { ($0, "t\($0)", $0 % 5 == 0 ? ["retweeted"] : []) }, next: next.map(String.init))
            return TransportResponse(status: .ok, body: body)
        }
        let bound = value("max_id") ?? .max
        let count = Int(value("count") ?? 15)
        let eligible = ids.filter { $0 > since && $0 <= bound }
        let page = eligible.prefix(count)
        let body = v1Page(
            page.map { ($0, "t\($0)", $0 % 5 == 0, $0 % 7 == 0) },
            nextResults: eligible.count > count ? "?max_id=\((page.last ?? 1) - 1)" : nil)
        return TransportResponse(status: .ok, body: body)
    }
}

@Suite("Interrupted and faulty walks")
struct WalkTests {
    private static let corpus: [UInt64] = (1...95).reversed().map { (1 << 60) + UInt64($0) * 3 }
    private static let sinceID: UInt64 = (1 << 60) + 4 * 3

    private static func client(_ transport: any HTTPTransport, api: APIVersion) throws -> SearchClient {
        var configuration = SearchClient.Configuration()
        configuration.api = api
        configuration.policy.random = .fixed(0)
        configuration.policy.maxAttempts = 10
        return try SearchClient(
            credentials: .bearer(BearerCredentials(token: Secret("t"))), configuration: configuration,
            transport: transport, clock: ImmediateClock(now: Date(timeIntervalSince1970: 1_700_000_000)))
    }

    private static func query(untilID: UInt64? = nil) -> SearchQuery {
        var query = SearchQuery("x", sinceID: sinceID, untilID: untilID)
        query.pageSize = 10
        return query
    }

    @Test(
        "a walk stopped after any page and resumed with untilID loses and repeats nothing",
        arguments: APIVersion.allCases)
    func resumesAfterEveryPage(api: APIVersion) async throws {
        let client = try Self.client(FakeSearchAPI(ids: Self.corpus), api: api)
        let expected = Self.corpus.filter { $0 > Self.sinceID }
        let full = try await client.search(Self.query()).map(\.id)
        #expect(full == expected)
        for stopAfter in 1...9 {
            var stored: [UInt64] = []
            var oldest: UInt64?
            var number = 0
            for try await page in client.pages(Self.query()) {
                stored += page.tweets.map(\.id)
                oldest = page.oldestID
                number += 1
                if number == stopAfter { break }
            }
            let rest = try await client.search(Self.query(untilID: oldest)).map(\.id)
            #expect(stored + rest == expected, "stopped after page \(stopAfter)")
        }
    }

    @Test(
        "seeded random faults of every kind never change the tweets a walk returns",
        arguments: [1, 2, 3, 4, 5] as [UInt64])
    func faultsNeverChangeTheResult(seed: UInt64) async throws {
        for api in APIVersion.allCases {
            let faulty = FaultTransport(
                wrapping: FakeSearchAPI(ids: Self.corpus), seed: seed, probability: 0.3,
                choices: [
                    .timeout, .connectionReset, .rateLimited(resetAfter: .seconds(5)), .serverError(503),
                    .serverError(500), .truncatedBody, .malformedBody,
                ])
            let tweets = try await Self.client(faulty, api: api).search(Self.query())
            #expect(tweets.map(\.id) == Self.corpus.filter { $0 > Self.sinceID })
            #expect(!faulty.injected.isEmpty)
        }
    }
}
