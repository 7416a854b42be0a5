import Foundation
import HarvestClock
import HarvestTestServer
import HarvestTesting
import OAuthSigning
import PostgresNIO
import TableStoragePostgres
import Testing
import TwitterSearch

/// One rate-limit budget for a fleet of processes on one PostgreSQL database (`TH_POSTGRES_URL`; without it the
/// tests are skipped and say so, unless `CI` is set).
@Suite("one rate-limit budget for the fleet", .enabled(if: PostgresServer.runs, PostgresServer.skipNote))
struct FleetRateLimitTests {
    private static let start = Date(timeIntervalSince1970: 1_700_000_000)
    private static let page = #"""
        {"data":[{"id":"5","text":"hi","author_id":"42","created_at":"2023-11-14T22:00:00.000Z"}],\#
        "includes":{"users":[{"id":"42","username":"alice"}]},\#
        "meta":{"result_count":1,"newest_id":"5","oldest_id":"5"}}
        """#

    /// Runs `body` with a ledger on a client of its own (standing for a process of its own) on `url`.
    private static func withLedger<T: Sendable>(
        _ url: PostgresURL, clock: any WallClock, _ body: (PostgresRateLimitLedger) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: url.client())
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(PostgresRateLimitLedger(client: client, clock: clock))
        }
    }

    private static func client(
        _ ledger: PostgresRateLimitLedger, _ base: URL, _ transport: any HTTPTransport, _ clock: any WallClock
    )
        throws -> SearchClient
    {
        var configuration = SearchClient.Configuration()
        configuration.baseURL = base
        configuration.rateLimits = ledger
        configuration.policy.random = .fixed(0)
        // On a manual clock a retry's backoff would wait for good: a failed request fails the test at once.
        configuration.policy.maxAttempts = 1
        return try SearchClient(
            credentials: .bearer(BearerCredentials(token: Secret("fleet-SECRET-token"))),
            configuration: configuration, transport: transport, clock: clock)
    }

    @Test("a 429 answered to one process pauses the others until the reset (counted by the server); then all proceed")
    func sharedPause() async throws {
        try await PostgresServer.withDatabase { spec, password in
            let url = try PostgresURL(spec, password: password)
            let clock = ManualClock(now: Self.start)
            let answered = RequestCounter()
            let route = TestHTTPServer.Route("GET", "/2/tweets/search/recent") { _ in
                if answered.next() == 1 {
                    return .json(
                        #"{"title":"Too Many Requests","status":429}"#, status: 429,
                        headers: [
                            ("x-rate-limit-limit", "450"), ("x-rate-limit-remaining", "0"),
                            ("x-rate-limit-reset", "1700000060"),
                        ])
                }
                return .json(
                    Self.page,
                    headers: [
                        ("x-rate-limit-limit", "450"), ("x-rate-limit-remaining", "440"),
                        ("x-rate-limit-reset", "1700000960"),
                    ])
            }
            try await TestHTTPServer.withServer([route], idleLimit: 60) { server in
                let transports = [AsyncHTTPClientTransport(configuration: .init()), .init(configuration: .init())]
                let outcome: Result<Void, any Error>
                do {
                    try await Self.withLedger(url, clock: clock) { first in
                        try await Self.withLedger(url, clock: clock) { second in
                            let one = try Self.client(first, server.baseURL, transports[0], clock)
                            let two = try Self.client(second, server.baseURL, transports[1], clock)
                            async let tweetsOne = one.search(SearchQuery("x"))
                            // The first process got its 429, recorded it and sleeps until the reset.
                            await clock.waitForSleepers(1)
                            #expect(server.requests.count == 1)
                            async let tweetsTwo = two.search(SearchQuery("x"))
                            // The second reads the 429 from the database and sleeps too, without asking the API.
                            await clock.waitForSleepers(2)
                            #expect(server.requests.count == 1, "the second process sent nothing before the reset")
                            #expect(clock.nextSleeperDeadline == Date(timeIntervalSince1970: 1_700_000_061))
                            clock.advance(to: Date(timeIntervalSince1970: 1_700_000_061))
                            #expect(try await tweetsOne.map(\.id) == [5])
                            #expect(try await tweetsTwo.map(\.id) == [5])
                            #expect(server.requests.count == 3)
                            let key = RateLimitKey(
                                credential: SearchCredentials.bearer(
                                    BearerCredentials(token: Secret("fleet-SECRET-token"))
                                ).rateLimitIdentity, endpoint: "/2/tweets/search/recent")
                            #expect(
                                try await second.state(for: key)
                                    == RateLimit(
                                        limit: 450, remaining: 440, reset: Date(timeIntervalSince1970: 1_700_000_960)))
                        }
                    }
                    outcome = .success(())
                } catch {
                    outcome = .failure(error)
                }
                for transport in transports { try await transport.shutdown() }
                try outcome.get()
            }
        }
    }

    @Test("the table holds one row per credentials and endpoint, merged, and no secret")
    func storedRows() async throws {
        try await PostgresServer.withDatabase { spec, password in
            let url = try PostgresURL(spec, password: password)
            let clock = ManualClock(now: Self.start)
            try await Self.withLedger(url, clock: clock) { ledger in
                let credentials = SearchCredentials.oauth1(
                    OAuth1Credentials(
                        consumerKey: "ck", consumerSecret: Secret("cs-SECRET-1"), token: "t",
                        tokenSecret: Secret("ts-SECRET-2")))
                let key = RateLimitKey(credential: credentials.rateLimitIdentity, endpoint: "/2/tweets/search/recent")
                let reset = Date(timeIntervalSince1970: 1_700_000_900)
                try await ledger.record(RateLimit(limit: 450, remaining: 0, reset: reset), for: key)
                // A response to an older request, seen later, does not undo the 429.
                try await ledger.record(RateLimit(limit: 450, remaining: 12, reset: reset), for: key)
                try await Self.withLedger(url, clock: clock) { other in
                    let state = try await other.state(for: key)
                    #expect(state == RateLimit(limit: 450, remaining: 0, reset: reset))
                }
                let later = RateLimit(limit: 450, remaining: 449, reset: reset.addingTimeInterval(900))
                try await ledger.record(later, for: key)
                try await Self.withLedger(url, clock: clock) { other in
                    let state = try await other.state(for: key)
                    #expect(state == later)
                }
            }
            let client = PostgresClient(configuration: url.client())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                let rows = try await client.query(
                    PostgresQuery(unsafeSQL: "SELECT credential, endpoint FROM public._th_rate_limits")
                ).collect().map { try $0.decode((String, String).self) }
                #expect(rows.count == 1)
                for (credential, _) in rows {
                    #expect(!credential.contains("SECRET") && !credential.contains("ck"), "\(credential)")
                }
            }
        }
    }
}

/// Counts the requests a route answered, from the server's threads.
private final class RequestCounter: @unchecked Sendable {
    // @unchecked: `count` is only read and written under `lock`.
    private let lock = NSLock()
    private var count = 0

    /// The number of this request, from 1.
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }
}
