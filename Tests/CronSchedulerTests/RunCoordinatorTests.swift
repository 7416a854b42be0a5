import CronScheduler
import Foundation
import HarvestClock
import HarvestTesting
import Testing

/// The scheduler's coordination seam: what it does with a coordinator's grants, refusals, errors and lost claims.
@Suite("RunCoordinator seam")
struct RunCoordinatorTests {
    static let t0 = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// A coordinator that grants every other occurrence, counts renewals, and can be told to lose a claim.
    final class ScriptedCoordinator: RunCoordinator {
        let renewalInterval: Duration?
        let claims = Locked<[ScheduledOccurrence]>([])
        let released = Locked<[RunRecord]>([])
        let renewals = Locked(0)
        let loseAfterRenewals: Int?
        let failClaims: Bool

        init(renewalInterval: Duration? = nil, loseAfterRenewals: Int? = nil, failClaims: Bool = false) {
            self.renewalInterval = renewalInterval
            self.loseAfterRenewals = loseAfterRenewals
            self.failClaims = failClaims
        }

        struct Unreachable: Error, CustomStringConvertible { var description: String { "database unreachable" } }

        func claim(_ occurrence: ScheduledOccurrence) async throws -> RunClaimDecision {
            if failClaims { throw Unreachable() }
            let count = claims.mutate { claims -> Int in
                claims.append(occurrence)
                return claims.count
            }
            if count.isMultiple(of: 2) { return .declined("ran in other/1") }
            return .granted(RunClaim(occurrence: occurrence, holder: "here/1", fence: Int64(count)))
        }

        func renew(_ claim: RunClaim) async throws -> Bool {
            let count = renewals.mutate { renewals -> Int in
                renewals += 1
                return renewals
            }
            return loseAfterRenewals.map { count < $0 } ?? true
        }

        func release(_ claim: RunClaim, record: RunRecord) async {
            released.mutate { $0.append(record) }
        }
    }

    private static func recorder() -> (AsyncStream<RunRecord>, JobScheduler.Configuration) {
        let (stream, sink) = AsyncStream.makeStream(of: RunRecord.self)
        var configuration = JobScheduler.Configuration()
        configuration.onRunFinished = { sink.yield($0) }
        return (stream, configuration)
    }

    @Test("a declined occurrence is recorded as skipped with the coordinator's reason and does not run")
    func declinedIsSkipped() async throws {
        let clock = ManualClock(now: Self.t0)
        let coordinator = ScriptedCoordinator()
        var (records, configuration) = Self.recorder()
        configuration.coordinator = coordinator
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        let seen = Locked<[RunClaim?]>([])
        try await scheduler.add("m", schedule: .every(.minutes(1), startingAt: Self.t0)) {
            seen.mutate { $0.append(RunClaim.current) }
        }
        let running = Task { try await scheduler.run() }
        var iterator = records.makeAsyncIterator()
        var outcomes: [RunRecord.Outcome] = []
        for minute in 1...4 {
            await clock.waitForSleepers(1)
            clock.advance(to: Self.t0.addingTimeInterval(Double(60 * minute)))
            outcomes.append(try #require(await iterator.next()).outcome)
        }
        running.cancel()
        _ = await running.result
        #expect(outcomes == [.succeeded, .skipped("ran in other/1"), .succeeded, .skipped("ran in other/1")])
        // The work ran only for granted claims, and saw each one as RunClaim.current.
        let claims = seen.value.compactMap { $0 }
        #expect(claims.map(\.fence) == [1, 3])
        #expect(claims.map(\.occurrence.scheduledAt) == [60, 180].map { Self.t0.addingTimeInterval($0) })
        #expect(claims.allSatisfy { $0.holder == "here/1" && $0.occurrence.job == "m" })
        // Only granted claims are released, with their run's record.
        #expect(coordinator.released.value.map(\.outcome) == [.succeeded, .succeeded])
    }

    @Test("a coordinator that cannot decide fails the occurrence, and the job does not run")
    func undecidedDoesNotRun() async throws {
        let clock = ManualClock(now: Self.t0)
        var (records, configuration) = Self.recorder()
        configuration.coordinator = ScriptedCoordinator(failClaims: true)
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        let ran = Locked(false)
        try await scheduler.add("m", schedule: .every(.minutes(1), startingAt: Self.t0)) { ran.mutate { $0 = true } }
        let running = Task { try await scheduler.run() }
        await clock.waitForSleepers(1)
        clock.advance(to: Self.t0.addingTimeInterval(60))
        var iterator = records.makeAsyncIterator()
        let record = try #require(await iterator.next())
        running.cancel()
        _ = await running.result
        #expect(record.outcome == .failed("not claimed: database unreachable"))
        #expect(record.startedAt == nil)
        #expect(!ran.value)
    }

    @Test("a claim is renewed while its run goes on, and a lost claim cancels the run")
    func lostClaimCancels() async throws {
        let clock = ManualClock(now: Self.t0)
        let coordinator = ScriptedCoordinator(renewalInterval: .seconds(10), loseAfterRenewals: 3)
        var (records, configuration) = Self.recorder()
        configuration.coordinator = coordinator
        let scheduler = JobScheduler(configuration: configuration, clock: clock)
        let cancelled = Locked(false)
        try await scheduler.add("slow", schedule: .every(.minutes(1), startingAt: Self.t0)) {
            // Waits "forever" on the clock; only a cancellation ends it.
            do {
                try await clock.sleep(until: Self.t0.addingTimeInterval(86_400))
            } catch {
                cancelled.mutate { $0 = true }
                throw error
            }
        }
        let running = Task { try await scheduler.run() }
        await clock.waitForSleepers(1)
        clock.advance(to: Self.t0.addingTimeInterval(60))
        // The work's sleep, the renewal's sleep and the scheduler's timer.
        for renewal in 1...3 {
            await clock.waitForSleepers(3)
            clock.advance(to: Self.t0.addingTimeInterval(60 + 10 * Double(renewal)))
        }
        var iterator = records.makeAsyncIterator()
        let record = try #require(await iterator.next())
        running.cancel()
        _ = await running.result
        #expect(coordinator.renewals.value == 3)
        #expect(cancelled.value)
        guard case .failed(let text) = record.outcome else {
            Issue.record("outcome \(record.outcome)")
            return
        }
        #expect(text.hasPrefix("the claim was lost to another process: slow @"))
        #expect(coordinator.released.value.count == 1)
    }

    @Test("the local coordinator grants every occurrence, without a fence, in this process's name")
    func localGrantsAll() async throws {
        let local = LocalRunCoordinator()
        let occurrence = ScheduledOccurrence(job: "j", scheduledAt: Self.t0)
        guard case .granted(let claim) = try await local.claim(occurrence) else {
            Issue.record("declined")
            return
        }
        #expect(claim.fence == nil)
        #expect(claim.holder == "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)")
        #expect(try await local.renew(claim))
        #expect(local.renewalInterval == nil)
    }
}
