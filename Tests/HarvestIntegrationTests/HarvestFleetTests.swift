import Foundation
import HarvestClock
import HarvestDemo
import HarvestTestServer
import HarvestTesting
import PostgresNIO
import TableStorage
import TableStoragePostgres
import Testing
import TwitterSearch

@testable import TweetHarvester

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Three `harvest run` processes on one PostgreSQL store, every second, against one demo search API served over HTTP
/// on 127.0.0.1 (so that all see one timeline); the process that ran the latest occurrence is killed with `kill -9`
/// at random moments and restarted. Afterwards the database and the server's request log must show each occurrence
/// run once, no gap longer than the failover bound, no tweet stored twice and every tweet the API showed stored.
@Suite("harvest fleet on PostgreSQL", .enabled(if: PostgresServer.runs, PostgresServer.skipNote), .serialized)
struct HarvestFleetTests {
    /// The lease of `--lease`, and the schedule's period (`--every 1s`).
    static let lease = 2.0
    static let period = 1.0
    /// The failover bound the docs state: a lease plus one period; the test allows this much more for process and
    /// database latency, and three times as much again as its own sleeps woke late (a loaded machine).
    static let slack = 2.5

    @Test(
        "kill -9 of the holder, again and again: each occurrence runs once, no gap beyond the bound, every tweet once")
    func killTheHolder() async throws {
        try await PostgresServer.withDatabase { spec, password in
            var configuration = DemoTransport.Configuration()
            configuration.rateLimit = 1_000_000
            let demo = DemoTransport(configuration: configuration, clock: SystemClock())
            // Aimed kills hold a request of a run and kill its process while the run waits for the answer.
            let hold = RequestHold { _ in true }
            defer { hold.release() }
            // Every request's arrival, by the bearer token that names the process's generation.
            let arrivals = Arrivals()
            let route = TestHTTPServer.Route("GET", "/2/tweets/search/recent") { request in
                arrivals.add(request.headers["authorization"] ?? "")
                hold.pass(request)
                return DemoOverHTTP.answer(request, from: demo)
            }
            let url = try PostgresURL(spec, password: password)
            let client = PostgresClient(configuration: url.client())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await TestHTTPServer.withServer([route], idleLimit: 120) { server in
                    try await Self.runFleet(
                        spec: spec, password: password, server: server, client: client, demo: demo, hold: hold,
                        arrivals: arrivals)
                }
            }
        }
    }

    /// The most a 100 ms sleep woke late, in seconds, until the task is cancelled.
    private static func worstSleepLateness() async -> Double {
        var worst = 0.0
        while !Task.isCancelled {
            let before = ContinuousClock.now
            try? await Task.sleep(for: .milliseconds(100))
            let late = ContinuousClock.now - before - .milliseconds(100)
            worst = max(worst, Double(late.components.seconds) + Double(late.components.attoseconds) / 1e18)
        }
        return worst
    }

    private static func runFleet(
        spec: String, password: String, server: TestHTTPServer, client: PostgresClient, demo: DemoTransport,
        hold: RequestHold, arrivals: Arrivals
    ) async throws {
        let started = Date()
        // How late this process's sleeps wake while the fleet runs: on a loaded machine the fleet's processes are
        // late by as much, and the gap bound below allows for it.
        let probe = Task { await Self.worstSleepLateness() }
        defer { probe.cancel() }
        var generation = 0
        var generations: [Int32: Int] = [:]
        func launch() throws -> FleetProcess {
            generation += 1
            let process = try FleetProcess(
                generation: generation, store: spec, password: password, server: server.baseURL)
            generations[process.pid] = generation
            return process
        }
        var fleet = try (0..<3).map { _ in try launch() }
        var killed = Set<Int>()
        // When each killed process was killed, by pid (the second part of a holder's name).
        var killedAt: [Int32: Double] = [:]
        var random = SystemRandomNumberGenerator()
        do {
            try await Task.sleep(for: .seconds(3))
            for kill in 0..<6 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1_500...4_000, using: &random)))
                let holder: String?
                if kill.isMultiple(of: 2) {
                    // Aimed: the next request of any run is held, and the process whose run holds the lease is
                    // killed while it waits; its lease must expire before another process takes the job over.
                    hold.arm(atMatch: 1)
                    let deadline = Date().addingTimeInterval(10)
                    let arrived = await offThePool { hold.waitForArrival { Date() < deadline } }
                    #expect(arrived, "a run sent a request within 10 s")
                    holder = try await client.query(
                        "SELECT holder FROM \"_th_leases\" WHERE expires_at > clock_timestamp()"
                    ).collect().first?.decode(String.self)
                } else {
                    // At a random moment: the holder of the latest granted occurrence, in a run or between two.
                    holder = try await client.query(
                        "SELECT holder FROM \"_th_occurrences\" ORDER BY fence DESC LIMIT 1"
                    ).collect().first?.decode(String.self)
                }
                let pid = holder.flatMap { $0.split(separator: "/").dropFirst().first }.flatMap { Int32($0) }
                guard let index = fleet.firstIndex(where: { $0.pid == pid }) else {
                    hold.release()
                    continue
                }
                killedAt[fleet[index].pid] = Date().timeIntervalSince1970
                fleet[index].kill(SIGKILL)
                await fleet[index].wait()
                hold.release()
                killed.insert(fleet[index].generation)
                try await Task.sleep(for: .milliseconds(Int.random(in: 200...1_500, using: &random)))
                fleet[index] = try launch()
            }
            try await Task.sleep(for: .seconds(4))
        } catch {
            for process in fleet { process.kill(SIGKILL) }
            throw error
        }
        // A graceful stop: the runs in progress finish.
        for process in fleet { process.kill(SIGTERM) }
        for process in fleet {
            await process.wait(atMost: 40)
            #expect(process.status == 0, "generation \(process.generation): \(process.errorOutput)")
        }
        let stopped = Date()

        // Each occurrence once, in order: granted scheduled instants only grow with the fencing token.
        let granted = try await client.query(
            """
            SELECT extract(epoch FROM scheduled_at)::double precision, holder, fence,
              extract(epoch FROM claimed_at)::double precision, extract(epoch FROM ended_at)::double precision
            FROM "_th_occurrences" WHERE NOT manual ORDER BY fence
            """
        ).collect().map { try $0.decode((Double, String, Int64, Double, Double?).self) }
        let instants = granted.map(\.0)
        #expect(instants == instants.sorted() && Set(instants).count == instants.count, "\(instants)")
        let span = stopped.timeIntervalSince(started)
        #expect(granted.count >= Int(span / 2), "\(granted.count) occurrences ran in \(span) s")
        // No gap beyond the failover bound (a lease plus one period) from the moment the job was free to run again
        // (its last run ended, or its holder was killed) to the next grant. A run itself may last longer than the
        // period (the first one creates the tables and fetches the whole window); the bound is not about that.
        let claimed = granted.map(\.3)
        let freed = granted.map { occurrence -> Double in
            if let ended = occurrence.4 { return ended }
            let pid = occurrence.1.split(separator: "/").dropFirst().first.flatMap { Int32($0) }
            return pid.flatMap { killedAt[$0] } ?? occurrence.3
        }
        let gaps = zip(claimed.dropFirst(), freed).map { $0 - $1 }
        probe.cancel()
        let lateness = await probe.value
        let bound = Self.lease + Self.period + Self.slack + 3 * lateness
        print("HarvestFleetTests: largest gap \(gaps.max() ?? 0) s; sleeps woke up to \(lateness) s late")
        for (index, gap) in gaps.enumerated() where gap > Self.lease + Self.period {
            let (before, after) = (granted[index], granted[index + 1])
            let ran = before.4.map { "ran \($0 - before.3) s" } ?? "killed"
            print("HarvestFleetTests: gap \(gap) s after \(before.1) (fence \(before.2), \(ran)), then \(after.1)")
        }
        #expect(gaps.allSatisfy { $0 <= bound }, "largest gap \(gaps.max() ?? 0) s, bound \(bound) s")

        // The runs killed in the middle (their occurrence never ended) passed on only when their lease expired:
        // not before the lease minus one renewal interval (the last renewal may have come just before the kill).
        let interrupted = granted.indices.dropLast().filter { granted[$0].4 == nil }
        #expect(interrupted.count >= 2, "aimed kills interrupt runs: \(interrupted.count)")
        for index in interrupted {
            let takeover = claimed[index + 1] - claimed[index]
            #expect(takeover >= Self.lease * 2 / 3 - 0.1, "a killed holder's job passed on after \(takeover) s")
        }

        // Every HarvestRuns row names the occurrence it ran and the process; no occurrence has two rows.
        let store = PostgresTableStore(client: client)
        let runs = try await store.read(Query("HarvestRuns"))
        var seen = Set<Double>()
        let grantedBy = Dictionary(uniqueKeysWithValues: granted.map { ($0.2, ($0.0, $0.1)) })
        for row in runs {
            guard case .date(let at)? = row["scheduledAt"], case .string(let process)? = row["process"],
                case .int(let fence)? = row["fence"]
            else {
                Issue.record("a run row without its occurrence: \(row)")
                continue
            }
            let instant = at.timeIntervalSince1970
            #expect(seen.insert(instant).inserted, "occurrence \(at) has two HarvestRuns rows")
            #expect(grantedBy[fence].map { abs($0.0 - instant) < 0.001 && $0.1 == process } == true, "\(row)")
        }
        #expect(runs.count >= granted.count - 7, "runs \(runs.count), granted \(granted.count)")

        // The server's log: every request arrived while its process held the job (between the grant of its
        // occurrence and the next grant), so no two processes ever ran the job at once and no occurrence ran twice.
        func generationOf(holder: String) -> Int? {
            holder.split(separator: "/").dropFirst().first.flatMap { Int32($0) }.flatMap { generations[$0] }
        }
        let log = arrivals.all
        #expect(!log.isEmpty)
        var strays: [String] = []
        for (arrived, token) in log {
            let sender = Int(token.split(separator: "-").last ?? "")
            // The occurrence granted last before the request (50 ms allowed for the two clocks' reading).
            guard let index = claimed.lastIndex(where: { $0 <= arrived.timeIntervalSince1970 + 0.05 }) else {
                strays.append("\(token) before any grant")
                continue
            }
            let holder = generationOf(holder: granted[index].1)
            if holder != sender { strays.append("\(token) at \(arrived) in fence \(granted[index].2)'s run") }
        }
        #expect(strays.isEmpty, "requests outside their process's runs: \(strays)")

        // No tweet stored twice, and every tweet the API showed up to the watermark is stored.
        let ids = try await store.read(Query("Updates")).compactMap(HarvestTables.tweetID(of:))
        #expect(ids.count == Set(ids).count)
        let state = try #require(try await store.read(Query("HarvestState")).first)
        let covered = try #require(HarvestTables.watermark(from: state).covered)
        let window = DemoTransport.Configuration().window.timeInterval
        // The first run walks the whole ten-minute window, 24 pages, newest first; on a loaded machine its last
        // pages come tens of seconds after the first, and the tweets at the window's old edge have aged out of the
        // API by then (the API no longer shows them: no harvester could store them). A minute of that edge is left
        // out; everything newer, up to the watermark, must be stored.
        let first = try #require(log.first?.0)
        let shown = demo.timeline(after: first.addingTimeInterval(60 - window), through: stopped)
        let expected = Set(shown.filter { $0.kind != .retweet && $0.kind != .reply && $0.id <= covered }.map(\.id))
        let stored = Set(ids)
        #expect(!expected.isEmpty)
        #expect(expected.subtracting(stored).isEmpty, "\(expected.subtracting(stored).count) tweets not stored")
    }
}

extension HarvestFleetTests {
    @Test("a holder paused with SIGSTOP past its lease, then continued, stores nothing after the new holder took over")
    func pausedHolder() async throws {
        try await PostgresServer.withDatabase { spec, password in
            var configuration = DemoTransport.Configuration()
            configuration.rateLimit = 1_000_000
            let demo = DemoTransport(configuration: configuration, clock: SystemClock())
            // The paused process's held request is answered from a day ahead: had it stored that page, ids from the
            // future would be in the table.
            let ahead = DemoTransport(configuration: configuration, clock: ManualClock(now: Date() + 86_400))
            let hold = RequestHold { $0.headers["authorization"] == "Bearer fleet-1" }
            defer { hold.release() }
            let answeredAhead = Arrivals()
            let route = TestHTTPServer.Route("GET", "/2/tweets/search/recent") { request in
                hold.pass(request)
                if request.headers["authorization"] == "Bearer fleet-1" && answeredAhead.all.isEmpty {
                    answeredAhead.add("fleet-1")
                    return DemoOverHTTP.answer(request, from: ahead)
                }
                return DemoOverHTTP.answer(request, from: demo)
            }
            let client = PostgresClient(configuration: try PostgresURL(spec, password: password).client())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await TestHTTPServer.withServer([route], idleLimit: 120) { server in
                    hold.arm(atMatch: 1)
                    let paused = try FleetProcess(
                        generation: 1, store: spec, password: password, server: server.baseURL)
                    var fresh: FleetProcess?
                    defer {
                        paused.kill(SIGKILL)
                        fresh?.kill(SIGKILL)
                    }
                    let deadline = Date().addingTimeInterval(20)
                    let arrived = await offThePool { hold.waitForArrival { paused.isRunning && Date() < deadline } }
                    try #require(arrived, "the first process's run sent its request: \(paused.errorOutput)")
                    paused.kill(SIGSTOP)
                    let pausedFence = try #require(
                        try await client.query("SELECT fence FROM \"_th_leases\"").collect().first?.decode(Int64.self))
                    fresh = try FleetProcess(generation: 2, store: spec, password: password, server: server.baseURL)
                    // The second process is granted the job once the paused one's lease has expired, and runs it.
                    var taken = 0
                    while taken < 2 && Date() < deadline {
                        try await Task.sleep(for: .milliseconds(200))
                        taken =
                            try await client.query(
                                "SELECT count(*) FROM \"_th_occurrences\" WHERE fence > \(pausedFence) AND outcome = 'succeeded'"
                            ).collect().first?.decode(Int.self) ?? 0
                    }
                    #expect(taken >= 2, "the second process took the job over")
                    // The paused process continues and receives its page.
                    hold.release()
                    paused.kill(SIGCONT)
                    try await Task.sleep(for: .seconds(3))
                    paused.kill(SIGTERM)
                    fresh?.kill(SIGTERM)
                    await paused.wait(atMost: 40)
                    await fresh?.wait(atMost: 40)
                    #expect(answeredAhead.all.count == 1, "the paused process's held request was answered")

                    let store = PostgresTableStore(client: client)
                    let ids = try await store.read(Query("Updates")).compactMap(HarvestTables.tweetID(of:))
                    let now = demo.timeline(after: Date() - 600, through: Date()).map(\.id).max() ?? 0
                    #expect(!ids.isEmpty)
                    #expect(ids.allSatisfy { $0 <= now }, "a page the paused process received was stored")
                    let state = try #require(try await store.read(Query("HarvestState")).first)
                    let covered = try #require(HarvestTables.watermark(from: state).covered)
                    #expect(covered <= now, "the paused process moved the watermark")
                    let runs = try await store.read(Query("HarvestRuns"))
                    #expect(!runs.contains { $0["fence"] == .int(pausedFence) }, "the paused run stored its report")
                    let outcome = try await client.query(
                        "SELECT outcome FROM \"_th_occurrences\" WHERE fence = \(pausedFence)"
                    ).collect().first?.decode(String?.self)
                    #expect(outcome != "succeeded", "the paused run did not succeed: \(outcome ?? "none")")
                }
            }
        }
    }
}

/// The arrival time and `Authorization` header of every request the test server answered.
final class Arrivals: @unchecked Sendable {
    // @unchecked: the lock guards `entries`.
    private let lock = NSLock()
    private var entries: [(Date, String)] = []

    func add(_ token: String) {
        lock.withLock { entries.append((Date(), token)) }
    }

    var all: [(Date, String)] { lock.withLock { entries } }
}

/// One `harvest run` of the fleet: `--every 1s --lease 2s` on the store, against the test server, with a bearer
/// token that names its generation (so the server's log says which process sent what).
private struct FleetProcess: Sendable {
    let generation: Int
    let child: HarvestProcess

    init(generation: Int, store: String, password: String, server: URL) throws {
        self.generation = generation
        child = try HarvestProcess(
            [
                "run", "--api", "v2", "--api-base", server.absoluteString, "--store", store, "--every", "1s",
                "--lease", "\(Int(HarvestFleetTests.lease))s", "--log-level", "warning",
            ], environment: ["TWITTER_BEARER_TOKEN": "fleet-\(generation)", "PGPASSWORD": password])
    }

    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }
    func kill(_ signal: Int32) { child.kill(signal) }
    func wait() async { await child.wait() }
    func wait(atMost seconds: Double) async { await child.wait(atMost: seconds) }
    var status: Int32 { child.status }
    var errorOutput: String { child.errorOutput }
}
