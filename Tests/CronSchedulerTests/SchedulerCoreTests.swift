import Foundation
import Testing

@testable import CronScheduler

/// The scheduler's decisions without time or I/O: what starts, what is skipped, when to wake.
@Suite("Scheduler decisions")
struct SchedulerCoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z, a Thursday

    private static func cron(_ text: String) throws -> Schedule {
        .cron(try CronExpression(text), timeZone: .gmt)
    }

    private static func options(
        overlap: JobOptions.OverlapPolicy = .skip, misfire: JobOptions.MisfirePolicy = .runOnce
    ) -> JobOptions {
        var options = JobOptions()
        options.overlap = overlap
        options.misfire = misfire
        return options
    }

    @Test("a job starts at its instant, not before, and each occurrence once")
    func onTimeOnce() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "a", schedule: Self.cron("*/5 * * * *"), options: .init(), now: Self.t0)
        #expect(core.nextWake() == Self.t0.addingTimeInterval(300))
        #expect(core.tick(now: Self.t0.addingTimeInterval(299.999)).starts.isEmpty)
        let due = core.tick(now: Self.t0.addingTimeInterval(300))
        #expect(due.starts.map(\.occurrence.scheduledAt) == [Self.t0.addingTimeInterval(300)])
        core.finished("a")
        #expect(core.tick(now: Self.t0.addingTimeInterval(300)).starts.isEmpty)
        #expect(core.nextWake() == Self.t0.addingTimeInterval(600))
    }

    @Test("a wall clock stepped back never repeats an occurrence")
    func clockStepsBack() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "a", schedule: Self.cron("0 * * * *"), options: .init(), now: Self.t0)
        #expect(core.tick(now: Self.t0.addingTimeInterval(3600)).starts.count == 1)
        core.finished("a")
        #expect(core.tick(now: Self.t0.addingTimeInterval(1800)).starts.isEmpty)  // set back half an hour
        #expect(core.tick(now: Self.t0.addingTimeInterval(3600)).starts.isEmpty)  // the 01:00 run happened
        #expect(core.tick(now: Self.t0.addingTimeInterval(7200)).starts.count == 1)
    }

    @Test("the concurrency limit: one at a time on the free tier, both with ten")
    func concurrencyLimit() throws {
        for (limit, expected) in [(1, 1), (10, 2)] {
            var core = SchedulerCore(maxConcurrentRuns: limit)
            try core.add(name: "a", schedule: Self.cron("0 * * * *"), options: .init(), now: Self.t0)
            try core.add(name: "b", schedule: Self.cron("0 * * * *"), options: .init(), now: Self.t0)
            let actions = core.tick(now: Self.t0.addingTimeInterval(3600))
            #expect(actions.starts.count == expected)
            if limit == 1 {
                #expect(actions.starts[0].job == "a")
                core.finished("a")
                #expect(core.tick(now: Self.t0.addingTimeInterval(3601)).starts.map(\.job) == ["b"])
            }
        }
    }

    @Test("overlap .skip records a skipped run; .queueOne runs it after, and at most one waits")
    func overlap() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(
            name: "skip", schedule: Self.cron("* * * * *"), options: Self.options(overlap: .skip), now: Self.t0)
        #expect(core.tick(now: Self.t0.addingTimeInterval(60)).starts.count == 1)
        let second = core.tick(now: Self.t0.addingTimeInterval(120))
        #expect(second.starts.isEmpty)
        #expect(second.skipped.map(\.outcome) == [.skipped("the previous run is still running")])

        var queue = SchedulerCore(maxConcurrentRuns: 1)
        try queue.add(
            name: "q", schedule: Self.cron("* * * * *"), options: Self.options(overlap: .queueOne), now: Self.t0)
        #expect(queue.tick(now: Self.t0.addingTimeInterval(60)).starts.count == 1)
        #expect(queue.tick(now: Self.t0.addingTimeInterval(120)).skipped.isEmpty)
        #expect(queue.tick(now: Self.t0.addingTimeInterval(180)).skipped.count == 1)  // one waits already
        queue.finished("q")
        let next = queue.tick(now: Self.t0.addingTimeInterval(181))
        #expect(next.starts.map(\.occurrence.scheduledAt) == [Self.t0.addingTimeInterval(120)])
    }

    @Test("misfire .runOnce: a weekly job three weeks late runs once, for the latest occurrence")
    func misfireRunOnce() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "weekly", schedule: Self.cron("0 9 * * MON"), options: .init(), now: Self.t0)
        let late = Self.t0.addingTimeInterval(25 * 86_400)  // Jan 26 00:00: Mondays 5, 12 and 19 at 09:00 were missed
        let actions = core.tick(now: late)
        #expect(actions.starts.count == 1)
        #expect(actions.starts[0].occurrence.scheduledAt == Date(timeIntervalSince1970: 1_768_813_200))  // Jan 19 09:00
        #expect(actions.coalesced.map(\.count) == [3])
        #expect(core.nextWake() == Date(timeIntervalSince1970: 1_769_418_000))  // Jan 26 09:00
    }

    @Test("misfire .runAll runs every missed occurrence, one after the other")
    func misfireRunAll() throws {
        var core = SchedulerCore(maxConcurrentRuns: 10)
        try core.add(name: "h", schedule: Self.cron("0 * * * *"), options: Self.options(misfire: .runAll), now: Self.t0)
        var started: [Date] = []
        var actions = core.tick(now: Self.t0.addingTimeInterval(3 * 3600 + 10))
        while let start = actions.starts.first {
            #expect(actions.starts.count == 1)  // never two runs of one job
            started.append(start.occurrence.scheduledAt)
            core.finished("h")
            actions = core.tick(now: Self.t0.addingTimeInterval(3 * 3600 + 20))
        }
        #expect(started == [1, 2, 3].map { Self.t0.addingTimeInterval(Double($0) * 3600) })
    }

    @Test("misfire .skip drops runs later than the grace period, with records, but runs a slightly late one")
    func misfireSkip() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "h", schedule: Self.cron("0 * * * *"), options: Self.options(misfire: .skip), now: Self.t0)
        let late = core.tick(now: Self.t0.addingTimeInterval(2 * 3600 + 600))
        #expect(late.starts.isEmpty)
        #expect(late.skipped.count == 2)
        let onTime = core.tick(now: Self.t0.addingTimeInterval(3 * 3600 + 30))  // 30 s late, within 60 s
        #expect(onTime.starts.count == 1)
    }

    @Test("a disabled job runs only when asked; enabling it does not count the disabled time as missed")
    func enableDisable() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "a", schedule: Self.cron("0 * * * *"), options: .init(), now: Self.t0)
        try core.setEnabled("a", false, now: Self.t0)
        #expect(core.nextWake() == nil)
        #expect(core.tick(now: Self.t0.addingTimeInterval(7200)).starts.isEmpty)
        try core.requestRun("a", now: Self.t0.addingTimeInterval(7200))
        let manual = core.tick(now: Self.t0.addingTimeInterval(7200))
        #expect(manual.starts.map(\.occurrence.isManual) == [true])
        core.finished("a")
        try core.setEnabled("a", true, now: Self.t0.addingTimeInterval(7300))
        #expect(core.nextWake() == Self.t0.addingTimeInterval(3 * 3600))
        #expect(core.tick(now: Self.t0.addingTimeInterval(7300)).starts.isEmpty)
    }

    @Test("unknown and duplicate names, and schedules that never fire, are typed errors")
    func errors() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "a", schedule: .once(at: Self.t0), options: .init(), now: Self.t0)
        #expect { try core.add(name: "a", schedule: .once(at: Self.t0), options: .init(), now: Self.t0) } throws: {
            ($0 as? SchedulerError)?.code == .duplicateJob
        }
        #expect { try core.requestRun("nope", now: Self.t0) } throws: { ($0 as? SchedulerError)?.code == .unknownJob }
        #expect(SchedulerCore.unknown("x").description == "scheduler: job \"x\": no job has this name")
    }

    @Test("a .once date already past runs at once (a misfire), then never again")
    func onceInThePast() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "o", schedule: .once(at: Self.t0.addingTimeInterval(-3600)), options: .init(), now: Self.t0)
        #expect(core.tick(now: Self.t0).starts.count == 1)
        core.finished("o")
        #expect(core.nextWake() == nil)
        #expect(core.tick(now: Self.t0.addingTimeInterval(86_400)).starts.isEmpty)
    }

    @Test("every N months from January 31 falls on the last day of shorter months; days keep local time")
    func intervals() {
        let start = Date(timeIntervalSince1970: 1_769_817_600)  // 2026-01-31T00:00:00Z
        let monthly = Schedule.every(.months(1), startingAt: start)
        let february = monthly.nextFire(after: start)
        #expect(february == Date(timeIntervalSince1970: 1_772_236_800))  // 2026-02-28
        #expect(monthly.nextFire(after: february!) == Date(timeIntervalSince1970: 1_774_915_200))  // 2026-03-31
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        // From March 28 02:00+01:00, daily in Berlin.
        let daily = Schedule.every(.days(1, in: berlin), startingAt: Date(timeIntervalSince1970: 1_774_659_600))
        #expect(
            daily.nextFire(after: Date(timeIntervalSince1970: 1_774_659_600))
                == Date(timeIntervalSince1970: 1_774_746_000))  // Mar 29: 02:00 does not exist, 03:00+02
        let quarterHour = Schedule.every(.minutes(15), startingAt: Self.t0)
        #expect(
            quarterHour.nextFire(after: Self.t0.addingTimeInterval(7 * 900 + 1)) == Self.t0.addingTimeInterval(8 * 900))
        #expect(quarterHour.nextFire(after: Self.t0.addingTimeInterval(-5)) == Self.t0)
        let halfMinute = Schedule.every(.seconds(30), startingAt: Self.t0)
        #expect(halfMinute.nextFire(after: Self.t0) == Self.t0.addingTimeInterval(30))
        #expect(
            halfMinute.nextFire(after: Self.t0.addingTimeInterval(86_400 + 29.5)) == Self.t0.addingTimeInterval(86_430))
        #expect(halfMinute.nextFire(after: Self.t0.addingTimeInterval(86_430)) == Self.t0.addingTimeInterval(86_460))
        #expect(Schedule.Interval.seconds(30).description == "every 30 seconds")
        #expect(Schedule.Interval.seconds(0).description == "every 1 second")
    }

    @Test("intervals of any size give their next fire time or none, never a trap")
    func hugeIntervals() {
        // The start itself, then the first interval within reach; beyond reach (about 3,000 years) none.
        let tenYears = Schedule.every(.days(3650), startingAt: Self.t0)
        #expect(tenYears.nextFire(after: Self.t0) == Self.t0.addingTimeInterval(3650 * 86_400))
        for interval: Schedule.Interval in [
            .days(106_751_991_167_301), .days(Int.max), .months(Int.max), .hours(Int.max), .seconds(Int.max),
        ] {
            let schedule = Schedule.every(interval, startingAt: Self.t0)
            #expect(schedule.nextFire(after: Self.t0.addingTimeInterval(-1)) == Self.t0, "\(interval)")
            #expect(schedule.nextFire(after: Self.t0) == nil, "\(interval)")
        }
        // A small interval asked about a date far past its reach has no occurrence either.
        let farAway = Self.t0.addingTimeInterval(2e11)
        #expect(Schedule.every(.seconds(1), startingAt: Self.t0).nextFire(after: farAway) == nil)
    }

    @Test("every 30 seconds: each occurrence starts once, at its time, none skipped, over a day")
    func secondsIntervalOverADay() throws {
        var core = SchedulerCore(maxConcurrentRuns: 1)
        try core.add(name: "s", schedule: .every(.seconds(30), startingAt: Self.t0), options: .init(), now: Self.t0)
        var starts: [Date] = []
        var now = Self.t0
        while now < Self.t0.addingTimeInterval(86_400) {
            guard let wake = core.nextWake() else { break }
            now = wake
            for start in core.tick(now: now).starts {
                starts.append(now)
                core.finished(start.job)
            }
        }
        // Added at its start time, the first run is one interval later (fire times are strictly after "now").
        #expect(starts.count == 2_880)  // 00:00:30 through the next midnight
        #expect(starts.first == Self.t0.addingTimeInterval(30))
        #expect(zip(starts, starts.dropFirst()).allSatisfy { $1.timeIntervalSince($0) == 30 })
    }
}
