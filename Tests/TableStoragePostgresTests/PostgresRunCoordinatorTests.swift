import CronScheduler
import Foundation
import HarvestTesting
import Logging
import PostgresNIO
import TableStorage
import TableStoragePostgres
import Testing

/// `PostgresRunCoordinator` against a real server: coordinators with different holders stand for the processes of
/// a fleet (each claim is a round trip to the database, as between processes).
@Suite("PostgresRunCoordinator", .enabled(if: PostgresTestServer.runs, PostgresTestServer.skipNote))
struct PostgresRunCoordinatorTests {
    static let t0 = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    static func coordinator(
        _ client: PostgresClient, schema: String, holder: String, lease: Duration = .seconds(30)
    ) -> PostgresRunCoordinator {
        var configuration = PostgresRunCoordinator.Configuration()
        configuration.schema = schema
        configuration.holder = holder
        configuration.leaseDuration = lease
        return PostgresRunCoordinator(client: client, configuration: configuration)
    }

    /// Runs `body` with a running client and a new schema, dropped afterwards (also when `body` throws).
    static func withSchema(_ body: (PostgresClient, String) async throws -> Void) async throws {
        try await PostgresTestServer.withClient { client in
            let schema = PostgresTestServer.newSchema()
            do {
                try await body(client, schema)
            } catch {
                try? await PostgresTestServer.dropSchemas([schema], client: client)
                throw error
            }
            try await PostgresTestServer.dropSchemas([schema], client: client)
        }
    }

    static func at(_ seconds: Double) -> ScheduledOccurrence {
        ScheduledOccurrence(job: "harvest Updates q", scheduledAt: t0.addingTimeInterval(seconds))
    }

    static func granted(_ decision: RunClaimDecision) -> RunClaim? {
        if case .granted(let claim) = decision { return claim }
        return nil
    }

    static func reason(_ decision: RunClaimDecision) -> String? {
        if case .declined(let reason) = decision { return reason }
        return nil
    }

    static func record(_ claim: RunClaim, _ outcome: RunRecord.Outcome = .succeeded) -> RunRecord {
        RunRecord(
            job: claim.occurrence.job, scheduledAt: claim.occurrence.scheduledAt, startedAt: t0, endedAt: t0,
            outcome: outcome, isManual: false)
    }

    @Test("one occurrence is granted once; a held lease declines the next; a process behind is declined")
    func onceAndInOrder() async throws {
        try await Self.withSchema { client, schema in
            let a = Self.coordinator(client, schema: schema, holder: "host-a/1/aaaa")
            let b = Self.coordinator(client, schema: schema, holder: "host-b/2/bbbb")

            let first = try #require(Self.granted(try await a.claim(Self.at(60))))
            #expect(first.fence == 1 && first.holder == "host-a/1/aaaa")
            #expect(Self.reason(try await b.claim(Self.at(60))) == "ran in host-a/1/aaaa")
            // The next occurrence while A's run still holds the lease.
            #expect(Self.reason(try await b.claim(Self.at(120))) == "running in host-a/1/aaaa")
            await a.release(first, record: Self.record(first))

            let second = try #require(Self.granted(try await b.claim(Self.at(120))))
            #expect(second.fence == 2 && second.holder == "host-b/2/bbbb")
            await b.release(second, record: Self.record(second))
            // A is behind (its clock is slow, or it slept): the occurrence B ran, and an older one, are declined.
            #expect(Self.reason(try await a.claim(Self.at(120))) == "ran in host-b/2/bbbb")
            #expect(Self.reason(try await a.claim(Self.at(90))) == "a later occurrence ran already")
            // A renewal of a claim that passed to another holder says it is lost.
            #expect(try await a.renew(first) == false)
            #expect(try await b.renew(second) == true)

            let history = try await a.occurrences(of: "harvest Updates q")
            #expect(history.map(\.holder) == ["host-a/1/aaaa", "host-b/2/bbbb"])
            #expect(
                history.map(\.occurrence.scheduledAt) == [
                    Self.t0.addingTimeInterval(60), Self.t0.addingTimeInterval(120),
                ])
            #expect(history.map(\.outcome) == ["succeeded", "succeeded"])
            #expect(history.allSatisfy { $0.endedAt != nil })
        }
    }

    @Test("a release that cannot record its outcome does not free the lease either: the two change together")
    func releaseIsWhole() async throws {
        try await Self.withSchema { client, schema in
            let a = Self.coordinator(client, schema: schema, holder: "a")
            let b = Self.coordinator(client, schema: schema, holder: "b")
            let claim = try #require(Self.granted(try await a.claim(Self.at(60))))
            // Recording how a run ended fails (a trigger refuses every change to the occurrences), as when the
            // process dies or the connection drops between freeing the lease and recording the outcome.
            let occurrences = PostgresTestServer.quote(schema) + ".\"_th_occurrences\""
            let refuse = PostgresTestServer.quote(schema) + ".refuse"
            try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE FUNCTION \(refuse)() RETURNS trigger LANGUAGE plpgsql AS
                        $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$
                        """))
            try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE TRIGGER refuse BEFORE UPDATE ON \(occurrences) FOR EACH ROW EXECUTE FUNCTION \(refuse)()
                        """))
            await a.release(claim, record: Self.record(claim))
            // The lease is still A's: had it been freed, B would be granted the next occurrence while the history
            // shows A's run as interrupted (never ended), and the lease rule would look broken.
            let declined = try await b.claim(Self.at(120))
            #expect(Self.reason(declined) == "running in a")
            let history = try await b.occurrences(of: "harvest Updates q")
            #expect(history.map(\.endedAt) == [nil])

            try await client.query(PostgresQuery(unsafeSQL: "DROP TRIGGER refuse ON \(occurrences)"))
            await a.release(claim, record: Self.record(claim))
            let next = try await b.claim(Self.at(120))
            #expect(Self.granted(next) != nil)
            let recorded = try await b.occurrences(of: "harvest Updates q")
            #expect(recorded.first?.outcome == "succeeded")
        }
    }

    @Test("a lease that is not renewed expires: another holder is granted the job after the lease time, not before")
    func expiredLeasePasses() async throws {
        try await Self.withSchema { client, schema in
            let a = Self.coordinator(client, schema: schema, holder: "a", lease: .seconds(2))
            let b = Self.coordinator(client, schema: schema, holder: "b", lease: .seconds(2))
            // A is granted and then "killed": no renewal, no release. Its lease began after `granted` was read.
            let granted = ContinuousClock.now
            let dead = try #require(Self.granted(try await a.claim(Self.at(1))))
            var taken: RunClaim?
            var tick = 2.0
            while taken == nil {
                try await Task.sleep(for: .milliseconds(100))
                taken = Self.granted(try await b.claim(Self.at(tick)))
                tick += 1
                // On a loaded machine one round trip can take many seconds; only a lease that never expires fails.
                #expect(ContinuousClock.now - granted < .seconds(120), "the lease never expired")
                if ContinuousClock.now - granted > .seconds(120) { break }
            }
            // B was declined until the lease expired: however slow the machine, never granted before the lease time.
            let waited = ContinuousClock.now - granted
            #expect(waited >= .milliseconds(1_950), "not before the lease expired: \(waited)")
            let claim = try #require(taken)
            #expect(claim.fence == dead.fence.map { $0 + 1 })
            #expect(try await a.renew(dead) == false)
        }
    }

    @Test(
        "fencing: a holder paused past its lease cannot write once another holder has the job; nothing it wrote stays")
    func pausedHolderIsFenced() async throws {
        try await Self.withSchema { client, schema in
            let store = PostgresTestServer.store(client, schema: schema)
            try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
            let a = Self.coordinator(client, schema: schema, holder: "a", lease: .seconds(1))
            let b = Self.coordinator(client, schema: schema, holder: "b", lease: .seconds(1))

            let old = try #require(Self.granted(try await a.claim(Self.at(1))))
            let oldFence = WriteFence(job: old.occurrence.job, token: try #require(old.fence))
            // While A holds the job its fenced writes go through.
            let written = try await WriteFence.$current.withValue(oldFence) {
                try await store.insert([["twitterId": 1, "text": "by a"]], into: "Updates")
            }
            #expect(written.inserted.count == 1)
            // A "pauses" past its lease; B is granted the job.
            try await Task.sleep(for: .milliseconds(1_300))
            let new = try #require(Self.granted(try await b.claim(Self.at(2))))
            let newFence = WriteFence(job: new.occurrence.job, token: try #require(new.fence))
            // A resumes: every kind of write is refused, with the typed error, and stores nothing.
            await WriteFence.$current.withValue(oldFence) {
                await #expect {
                    _ = try await store.insert([["twitterId": 2, "text": "by a, late"]], into: "Updates")
                } throws: { ($0 as? StorageError)?.code == .fenced }
                await #expect {
                    _ = try await store.insert(
                        [["twitterId": 3, "text": "by a, late", "newColumn": 1]], into: "Updates")
                } throws: { ($0 as? StorageError)?.code == .fenced }
                await #expect {
                    _ = try await store.update(Query("Updates"), set: ["text": "overwritten by a"])
                } throws: { ($0 as? StorageError)?.code == .fenced }
                await #expect {
                    _ = try await store.delete(Query("Updates"))
                } throws: { ($0 as? StorageError)?.code == .fenced }
            }
            // B's writes go through.
            try await WriteFence.$current.withValue(newFence) {
                _ = try await store.insert([["twitterId": 4, "text": "by b"]], into: "Updates")
            }
            let rows = try await store.read(Query("Updates", order: [.ascending("twitterId")]))
            #expect(rows.map { $0["text"] } == [.string("by a"), .string("by b")])
            // Without a fence (a process outside the fleet's runs) the store writes as before.
            _ = try await store.insert([["twitterId": 5, "text": "unfenced"]], into: "Updates")
            #expect(try await store.count(Query("Updates")) == 3)
        }
    }

    @Test("a fenced insert (one statement) reports new and repeated rows as an unfenced one does, under every policy")
    func fencedInsertReportsLikeUnfenced() async throws {
        try await Self.withSchema { client, schema in
            let store = PostgresTestServer.store(client, schema: schema)
            try await store.createTable(TableSchema(name: "Fenced", uniqueKey: "twitterId"))
            try await store.createTable(TableSchema(name: "Plain", uniqueKey: "twitterId"))
            try await store.createTable(TableSchema(name: "FencedLog"))
            try await store.createTable(TableSchema(name: "PlainLog"))
            let a = Self.coordinator(client, schema: schema, holder: "a")
            let claim = try #require(Self.granted(try await a.claim(Self.at(1))))
            let fence = WriteFence(job: claim.occurrence.job, token: try #require(claim.fence))
            let batches: [([TableRow], ConflictPolicy)] = [
                ([["twitterId": 1, "text": "a"], ["twitterId": 2, "text": "b"]], .ignore),
                ([["twitterId": 2, "text": "b again"], ["twitterId": 3, "text": "c"], ["twitterId": 3]], .ignore),
                (
                    [["twitterId": 3, "text": "c2"], ["twitterId": 4, "text": "d"], ["twitterId": 4, "text": "d2"]],
                    .replace
                ),
                ([["twitterId": 2, "text": "repeated"]], .ignore),
                ([["twitterId": 9, "text": "new"]], .fail),
            ]
            for (rows, policy) in batches {
                let plain = try await store.insert(rows, into: "Plain", onConflict: policy)
                let fenced = try await WriteFence.$current.withValue(fence) {
                    try await store.insert(rows, into: "Fenced", onConflict: policy)
                }
                #expect(fenced == plain, "\(rows) under \(policy)")
            }
            // A table without a key, and rows without a column.
            for rows: [TableRow] in [[["text": "no key"], [:]], [[:]]] {
                let log = try await WriteFence.$current.withValue(fence) {
                    try await store.insert(rows, into: "FencedLog")
                }
                #expect(log == (try await store.insert(rows, into: "PlainLog")))
                #expect(log.inserted == Array(rows.indices))
            }
            await WriteFence.$current.withValue(fence) {
                await #expect {
                    _ = try await store.insert([["twitterId": 9, "text": "again"]], into: "Fenced", onConflict: .fail)
                } throws: { ($0 as? StorageError)?.code == .duplicateKey }
            }
            let order = Query("Fenced", order: [.ascending("twitterId")])
            let fencedRows = try await store.read(order)
            let plainRows = try await store.read(Query("Plain", order: [.ascending("twitterId")]))
            #expect(fencedRows.map { $0["text"] } == plainRows.map { $0["text"] })
            #expect(fencedRows.count == 5)
            #expect(try await store.count(Query("FencedLog")) == 3)
        }
    }

    @Test("three holders racing for the same twenty occurrences: each is granted exactly once")
    func racingHolders() async throws {
        try await Self.withSchema { client, schema in
            let holders = (0..<3).map { Self.coordinator(client, schema: schema, holder: "p\($0)") }
            var grants: [Double: [String]] = [:]
            for tick in 1...20 {
                let seconds = Double(tick)
                let claims = try await withThrowingTaskGroup(of: RunClaim?.self) { group in
                    for holder in holders {
                        group.addTask {
                            guard let claim = Self.granted(try await holder.claim(Self.at(seconds))) else { return nil }
                            await holder.release(claim, record: Self.record(claim))
                            return claim
                        }
                    }
                    return try await group.reduce(into: [RunClaim]()) { if let claim = $1 { $0.append(claim) } }
                }
                grants[seconds] = claims.map(\.holder)
            }
            #expect(grants.values.allSatisfy { $0.count == 1 }, "\(grants)")
            let fences = try await holders[0].occurrences(of: "harvest Updates q").map(\.fence)
            #expect(fences == Array(1...20))
        }
    }

    @Test(
        "after a hand-over, occurrences the new holder's scheduler missed follow the job's misfire policy",
        .timeLimit(.minutes(1)),
        arguments: [JobOptions.MisfirePolicy.runOnce, .runAll, .skip])
    func misfiresAfterHandOver(policy: JobOptions.MisfirePolicy) async throws {
        try await Self.withSchema { client, schema in
            let clock = ManualClock(now: Self.t0)
            var options = JobOptions()
            options.misfire = policy
            // Two processes' schedulers on one database and one clock; every record they finish, in order.
            let (records, sink) = AsyncStream.makeStream(of: (String, RunRecord).self)
            func scheduler(_ holder: String) throws -> JobScheduler {
                var configuration = JobScheduler.Configuration()
                configuration.coordinator = Self.coordinator(client, schema: schema, holder: holder)
                configuration.onRunFinished = { sink.yield((holder, $0)) }
                return JobScheduler(configuration: configuration, clock: clock)
            }
            let first = try scheduler("first")
            let second = try scheduler("second")
            let minute = Schedule.every(.seconds(60), startingAt: Self.t0)
            try await first.add("h", schedule: minute, options: options) {}
            var finished = records.makeAsyncIterator()
            // The first process runs the occurrence at one minute, then stops (its lease released).
            let running = Task { try await first.run() }
            await clock.waitForSleepers(1)
            clock.advance(to: Self.t0.addingTimeInterval(60))
            let ran = try #require(await finished.next())
            #expect(ran.0 == "first" && ran.1.outcome == .succeeded)
            try await second.add("h", schedule: minute, options: options) {}
            running.cancel()
            _ = await running.result
            await withThrowingTaskGroup(of: Void.self) { group in
                defer { group.cancelAll() }
                group.addTask { try await second.run() }
                await clock.waitForSleepers(1)
                // The second process's timer wakes five occurrences late (two to six minutes).
                clock.advance(to: Self.t0.addingTimeInterval(360))
                var seen: [(String, RunRecord)] = []
                let expected = policy == .runAll ? 5 : policy == .runOnce ? 1 : 5
                while seen.count < expected, let next = await finished.next() { seen.append(next) }
                #expect(seen.allSatisfy { $0.0 == "second" })
                let times = seen.map { $0.1.scheduledAt.timeIntervalSince(Self.t0) }
                switch policy {
                case .runAll:
                    #expect(times == [120, 180, 240, 300, 360])
                    #expect(seen.allSatisfy { $0.1.outcome == .succeeded })
                case .runOnce:
                    #expect(times == [360])
                    #expect(seen.first?.1.outcome == .succeeded)
                default:
                    #expect(times == [120, 180, 240, 300, 360])
                    #expect(seen.allSatisfy { if case .skipped = $0.1.outcome { true } else { false } })
                }
            }
            // The database granted each occurrence that ran once, in order, and nothing else.
            let history = try await Self.coordinator(client, schema: schema, holder: "reader").occurrences(of: "h")
            let granted = history.map { ($0.holder, $0.occurrence.scheduledAt.timeIntervalSince(Self.t0)) }
            let ranBySecond: [Double] = policy == .runAll ? [120, 180, 240, 300, 360] : policy == .runOnce ? [360] : []
            #expect(granted.map(\.0) == ["first"] + ranBySecond.map { _ in "second" })
            #expect(granted.map(\.1) == [60] + ranBySecond)
            #expect(history.map(\.fence) == history.map(\.fence).sorted())
        }
    }

    @Test("the documented set-up: a JobScheduler whose coordinator is on the database runs its job under a grant")
    func documentedSetup() async throws {
        try await Self.withSchema { client, schema in
            let logger = Logger(label: "fleet-sample")
            var fleet = PostgresRunCoordinator.Configuration()
            fleet.schema = schema
            let ran = Names()
            // sample: FleetScheduler
            var scheduling = JobScheduler.Configuration()
            scheduling.coordinator = PostgresRunCoordinator(client: client, configuration: fleet, logger: logger)
            let scheduler = JobScheduler(configuration: scheduling, logger: logger)
            try await scheduler.add("harvest", schedule: .every(.seconds(1), startingAt: .now)) {
                // The job's work, such as one harvest run.
                // snippet.hide
                ran.add(RunClaim.current?.holder ?? "no claim")
                // snippet.show
            }
            // sample: end
            let coordinator = PostgresRunCoordinator(client: client, configuration: fleet, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await scheduler.run() }
                defer { group.cancelAll() }
                let deadline = ContinuousClock.now + .seconds(60)
                while try await coordinator.occurrences(of: "harvest").allSatisfy({ $0.endedAt == nil }),
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            let history = try await coordinator.occurrences(of: "harvest")
            #expect(history.first?.outcome == "succeeded")
            #expect(ran.all.first == fleet.holder)
        }
    }
}
