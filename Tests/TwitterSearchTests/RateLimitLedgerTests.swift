import Foundation
import HarvestClock
import HarvestLocking
import HarvestTesting
import Logging
import OAuthSigning
import Testing
import TwitterSearch

@Suite("RateLimitLedger")
struct RateLimitLedgerTests {
    private static let start = Date(timeIntervalSince1970: 1_700_000_000)
    private static let bearer = SearchCredentials.bearer(BearerCredentials(token: Secret("bearer-SECRET-token")))
    private static let endpoint = "/2/tweets/search/recent"
    private static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    private static func client(
        _ transport: any HTTPTransport, ledger: any RateLimitLedger, clock: any WallClock,
        credentials: SearchCredentials = bearer, logger: Logger = quiet,
        events: Locked<[SearchEvent]>? = nil
    ) throws -> SearchClient {
        var configuration = SearchClient.Configuration()
        configuration.policy.random = .fixed(0)
        configuration.rateLimits = ledger
        if let events { configuration.eventHandler = { event in events.withLock { $0.append(event) } } }
        return try SearchClient(
            credentials: credentials, configuration: configuration, transport: transport, clock: clock, logger: logger)
    }

    private static func at(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: seconds) }

    private static let page = MockTransport.Reply.json(
        v2Page([(5, "a", [])], next: nil),
        headers: ["x-rate-limit-remaining": "449", "x-rate-limit-limit": "450", "x-rate-limit-reset": "1700000960"])

    private static let tooMany = MockTransport.Reply.status(
        429, headers: ["x-rate-limit-reset": "1700000060", "x-rate-limit-remaining": "0", "x-rate-limit-limit": "450"])

    @Test("merging: a later reset replaces, the same reset keeps the fewer remaining, an earlier one is ignored")
    func merging() async {
        let held = RateLimit(limit: 450, remaining: 10, reset: Self.at(1_700_000_900))
        #expect(held.merged(with: RateLimit(remaining: 3, reset: Self.at(1_700_000_900))).remaining == 3)
        #expect(held.merged(with: RateLimit(remaining: 3, reset: Self.at(1_700_000_900))).limit == 450)
        #expect(held.merged(with: RateLimit(remaining: 40, reset: Self.at(1_700_000_900))).remaining == 10)
        let later = RateLimit(limit: 450, remaining: 449, reset: Self.at(1_700_001_800))
        #expect(held.merged(with: later) == later)
        #expect(held.merged(with: RateLimit(remaining: 0, reset: Self.at(1_699_999_000))) == held)
        #expect(RateLimit(limit: 450).merged(with: held) == held)

        let ledger = InMemoryRateLimitLedger()
        let key = RateLimitKey(credential: "bearer-0", endpoint: Self.endpoint)
        #expect(await ledger.state(for: key) == nil)
        await ledger.record(RateLimit(remaining: 0, reset: Self.at(1_700_000_060)), for: key)
        // A response to a request sent before the 429 arrives after it: it does not undo the pause.
        await ledger.record(RateLimit(limit: 450, remaining: 7, reset: Self.at(1_700_000_060)), for: key)
        #expect(await ledger.state(for: key) == RateLimit(limit: 450, remaining: 0, reset: Self.at(1_700_000_060)))
        #expect(await ledger.state(for: RateLimitKey(credential: "bearer-0", endpoint: "/other")) == nil)
        #expect(await ledger.keys == [key])
    }

    @Test("a 429 answered to one client pauses another on the same ledger until the reset; then both proceed")
    func sharedPause() async throws {
        let clock = ManualClock(now: Self.start)
        let ledger = InMemoryRateLimitLedger()
        let first = MockTransport([Self.tooMany, Self.page])
        let second = MockTransport([Self.page])
        let events = Locked<[SearchEvent]>([])
        async let one = Self.client(first, ledger: ledger, clock: clock).search(SearchQuery("x"))
        await clock.waitForSleepers(1)
        #expect(first.requests.count == 1)
        async let two = Self.client(second, ledger: ledger, clock: clock, events: events).search(SearchQuery("x"))
        await clock.waitForSleepers(2)
        #expect(second.requests.isEmpty, "the second client learnt the 429 from the ledger, not from the API")
        #expect(
            events.withLock { $0 }
                == [.rateLimitWait(until: Self.at(1_700_000_061), reason: "rate limit exhausted")])
        clock.advance(to: Self.at(1_700_000_061))
        #expect(try await one.map(\.id) == [5])
        #expect(try await two.map(\.id) == [5])
        #expect(first.requests.count == 2)
        #expect(second.requests.count == 1)
        let key = RateLimitKey(credential: Self.bearer.rateLimitIdentity, endpoint: Self.endpoint)
        #expect(await ledger.state(for: key) == RateLimit(limit: 450, remaining: 449, reset: Self.at(1_700_000_960)))
    }

    @Test("copies of one configuration share its default ledger; separate configurations do not")
    func defaultLedger() async throws {
        let clock = ManualClock(now: Self.start)
        var configured = SearchClient.Configuration()
        configured.policy.random = .fixed(0)
        let configuration = configured
        let first = MockTransport([Self.tooMany, Self.page])
        async let one = SearchClient(
            credentials: Self.bearer, configuration: configuration, transport: first, clock: clock, logger: Self.quiet
        ).search(SearchQuery("x"))
        await clock.waitForSleepers(1)
        // A client of its own configuration goes at once.
        let apart = MockTransport([Self.page])
        let alone = try SearchClient(
            credentials: Self.bearer, configuration: SearchClient.Configuration(), transport: apart, clock: clock,
            logger: Self.quiet)
        #expect(try await alone.search(SearchQuery("x")).map(\.id) == [5])
        // A client of a copy waits with the first.
        let copy = configuration
        let second = MockTransport([Self.page])
        async let two = SearchClient(
            credentials: Self.bearer, configuration: copy, transport: second, clock: clock, logger: Self.quiet
        ).search(SearchQuery("x"))
        await clock.waitForSleepers(2)
        #expect(second.requests.isEmpty)
        clock.advance(to: Self.at(1_700_000_061))
        #expect(try await one.count == 1)
        #expect(try await two.count == 1)
    }

    @Test("other credentials and other endpoints keep budgets of their own")
    func separateBudgets() async throws {
        let clock = ManualClock(now: Self.start)
        let ledger = InMemoryRateLimitLedger()
        let key = RateLimitKey(credential: Self.bearer.rateLimitIdentity, endpoint: "/1.1/search/tweets.json")
        await ledger.record(RateLimit(remaining: 0, reset: Self.at(1_700_000_600)), for: key)
        let other = SearchCredentials.bearer(BearerCredentials(token: Secret("another-SECRET-token")))
        await ledger.record(
            RateLimit(remaining: 0, reset: Self.at(1_700_000_600)),
            for: RateLimitKey(credential: other.rateLimitIdentity, endpoint: Self.endpoint))
        let transport = MockTransport([Self.page])
        // v2 with the first credentials: neither the v1.1 window nor the other credentials' window applies.
        #expect(try await Self.client(transport, ledger: ledger, clock: clock).search(SearchQuery("x")).count == 1)
        #expect(clock.now == Self.start)
    }

    @Test("a client on a used-up window waits until its reset, on the injected clock, and the wait is cancellable")
    func waitIsCancellable() async throws {
        let clock = ManualClock(now: Self.start)
        let ledger = InMemoryRateLimitLedger()
        let key = RateLimitKey(credential: Self.bearer.rateLimitIdentity, endpoint: Self.endpoint)
        await ledger.record(RateLimit(limit: 450, remaining: 0, reset: Self.at(1_700_000_300)), for: key)
        let transport = MockTransport([Self.page])
        let client = try Self.client(transport, ledger: ledger, clock: clock)
        let search = Task { try await client.search(SearchQuery("x")) }
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Self.at(1_700_000_301))
        search.cancel()
        await #expect(throws: CancellationError.self) { try await search.value }
        #expect(transport.requests.isEmpty)
    }

    @Test("a ledger that fails is logged at warning and passed over: the client goes by what it learnt itself")
    func failingLedger() async throws {
        struct Unavailable: Error, CustomStringConvertible {
            var description: String { "ledger unavailable" }
        }
        struct FailingLedger: RateLimitLedger {
            func state(for key: RateLimitKey) async throws -> RateLimit? { throw Unavailable() }
            func record(_ state: RateLimit, for key: RateLimitKey) async throws { throw Unavailable() }
        }
        let (logger, box) = CapturingLogHandler.logger()
        let clock = ManualClock(now: Self.start)
        let transport = MockTransport([Self.tooMany, Self.page])
        async let tweets = Self.client(transport, ledger: FailingLedger(), clock: clock, logger: logger)
            .search(SearchQuery("x"))
        await clock.waitForSleepers(1)
        clock.advance(to: Self.at(1_700_000_061))
        #expect(try await tweets.map(\.id) == [5])
        let warnings = box.all.filter { $0.level == .warning }.map(\.message)
        #expect(warnings.contains("rate-limit ledger not read"))
        #expect(warnings.contains("rate-limit ledger not written"))
        #expect(transport.requests.count == 2)
    }

    @Test("no secret is in a ledger's keys, a key's description or the log of a walk that hit a 429")
    func noSecretInKeys() async throws {
        let (logger, box) = CapturingLogHandler.logger()
        let secrets = ["cs-SECRET-1", "ts-SECRET-2", "bearer-SECRET-3", "appsecret-SECRET-4", "AAAA-TOKEN-SECRET-5"]
        let oauth = OAuth1Credentials(
            consumerKey: "ck", consumerSecret: Secret(secrets[0]), token: "t", tokenSecret: Secret(secrets[1]))
        let ledger = InMemoryRateLimitLedger()
        let all: [SearchCredentials] = [
            .oauth1(oauth), .bearer(BearerCredentials(token: Secret(secrets[2]))),
            .appOnly(consumerKey: "k", consumerSecret: Secret(secrets[3])),
        ]
        for credentials in all {
            var replies: [MockTransport.Reply] = [Self.tooMany, Self.page]
            if case .appOnly = credentials {
                replies.insert(.json(#"{"token_type":"bearer","access_token":"AAAA-TOKEN-SECRET-5"}"#), at: 0)
            }
            let transport = MockTransport(replies)
            let clock = ImmediateClock(now: Self.start)
            let client = try Self.client(
                transport, ledger: ledger, clock: clock, credentials: credentials, logger: logger)
            #expect(try await client.search(SearchQuery("x")).count == 1)
        }
        let identities = all.map(\.rateLimitIdentity)
        #expect(Set(identities).count == 3)
        #expect(identities.allSatisfy { $0.wholeMatch(of: /(oauth1|bearer|app)-[0-9a-f]{16}/) != nil }, "\(identities)")
        // The same credentials give the same name (in every process); another token secret does not change it.
        let resigned = OAuth1Credentials(
            consumerKey: "ck", consumerSecret: Secret("other"), token: "t", tokenSecret: Secret("other"))
        #expect(SearchCredentials.oauth1(resigned).rateLimitIdentity == identities[0])
        let keys = await ledger.keys
        #expect(keys.count == 3, "\(keys)")
        let text = box.text + keys.map { "\($0) \(String(reflecting: $0)) \($0.credential)" }.joined()
        #expect(box.all.contains { $0.level == .warning && $0.message == "waiting for rate limit" })
        for secret in secrets { #expect(!text.contains(secret), "\(secret) leaked") }
    }
}
