import Foundation
import HarvestClock
import HarvestDemo
import HarvestLocking
import HarvestTesting
import Logging
import TableStorage
import TwitterSearch

@testable import TweetHarvester

/// A mutable value that concurrent test tasks share.
final class Locked<Value: Sendable>: Sendable {
    private let storage: HarvestLocking.Locked<Value>

    init(_ value: Value) {
        storage = HarvestLocking.Locked(value)
    }

    var value: Value {
        storage.withLock { $0 }
    }

    func mutate<R: Sendable>(_ body: (inout Value) -> R) -> R {
        storage.withLock { body(&$0) }
    }
}

/// The error the fault-injecting wrappers throw.
struct InjectedFault: Error, CustomStringConvertible {
    var description: String { "injected fault" }
}

/// Wraps the demo API; request number `failing` (1-based, counted over the transport's life) throws, or with
/// `blocks` sleeps on the clock until its task is cancelled.
struct InterruptingTransport: HTTPTransport {
    let base: DemoTransport
    let failing: Int?
    var blocks = false
    let clock: ManualClock
    let count = Locked(0)

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        let number = count.mutate { count -> Int in
            count += 1
            return count
        }
        if number == failing {
            if blocks {
                try await clock.sleep(until: .distantFuture)
            }
            throw InjectedFault()
        }
        return try await base.send(request)
    }
}

/// A fixed scene for harvest tests: a manual clock at a round date, the demo API on it, an in-memory store.
/// The demo's defaults (240 tweets a minute, pages of 100) with a two-minute window, so a first run is five pages.
struct Scene {
    static let start = Date(timeIntervalSince1970: 1_790_000_000)
    /// The demo API's search window in these tests.
    static let window: TimeInterval = 120
    /// The start of the window the first run at ``start`` sees.
    static let windowStart = start.addingTimeInterval(-window)
    let clock = ManualClock(now: Scene.start)
    let demo: DemoTransport
    let store: any TableStore
    /// Tests' harvesters log nowhere; the secrets test brings its own logger.
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init(store: any TableStore = InMemoryTableStore()) {
        var configuration = DemoTransport.Configuration()
        configuration.window = .seconds(Scene.window)
        demo = DemoTransport(configuration: configuration, clock: clock)
        self.store = store
    }

    func harvester(
        _ settings: HarvestSettings = .demo, transport: (any HTTPTransport)? = nil
    ) throws -> Harvester {
        try Harvester(
            settings: settings.withoutRetries, store: store, transport: transport ?? demo, clock: clock,
            logger: Scene.quiet)
    }

    /// The window of the first run at ``start``, newest first.
    var firstWindow: [DemoTweet] { demo.timeline(after: Scene.windowStart, through: Scene.start) }

    /// The tweets a complete harvest has stored by now: every tweet in the demo window since `start`'s window,
    /// less retweets and replies.
    func expectedIDs(since origin: Date = Scene.windowStart) -> Set<UInt64> {
        Set(
            demo.timeline(after: origin, through: clock.now).filter { $0.kind != .retweet && $0.kind != .reply }.map(
                \.id))
    }

    /// The `twitterId`s stored in `Updates`, as a list (so that a duplicate would show).
    func storedIDs(table: String = "Updates") async throws -> [UInt64] {
        try await store.read(Query(table)).compactMap(HarvestTables.tweetID(of:))
    }
}

/// Wraps a store; its `n`th write (insert, counted over all tables once armed) throws ``InjectedFault``.
final class FaultyStore: TableStore {
    private let base: any TableStore
    private let state = Locked<(failing: Int?, writes: Int)>((nil, 0))

    init(base: any TableStore) {
        self.base = base
    }

    /// Arms the store to fail on the `n`th write from now, or disarms it with `nil`.
    func failOnWrite(_ n: Int?) {
        state.mutate { $0 = (n, 0) }
    }

    private func write() throws {
        let fails = state.mutate { state -> Bool in
            state.writes += 1
            return state.writes == state.failing
        }
        if fails { throw InjectedFault() }
    }

    func createTable(_ definition: TableSchema) async throws {
        try await base.createTable(definition)
    }

    func definition(of table: String) async throws -> TableSchema {
        try await base.definition(of: table)
    }

    func tableNames() async throws -> [String] {
        try await base.tableNames()
    }

    func update(_ query: Query, set changes: [String: Value]) async throws -> Int {
        try write()
        return try await base.update(query, set: changes)
    }

    func insert(_ rows: [TableRow], into table: String, onConflict: ConflictPolicy) async throws -> InsertSummary {
        try write()
        return try await base.insert(rows, into: table, onConflict: onConflict)
    }

    func delete(_ query: Query) async throws -> Int {
        try write()
        return try await base.delete(query)
    }

    func read(_ query: Query) async throws -> [TableRow] {
        try await base.read(query)
    }

    func count(_ query: Query) async throws -> Int {
        try await base.count(query)
    }

    func newest(in table: String, by column: String) async throws -> TableRow? {
        try await base.newest(in: table, by: column)
    }
}

extension HarvestSettings {
    /// These settings with one attempt per request: an injected fault ends the run at once instead of being
    /// retried after a backoff on a manual clock that no one moves.
    var withoutRetries: HarvestSettings {
        var settings = self
        settings.search.policy.maxAttempts = 1
        return settings
    }
}
