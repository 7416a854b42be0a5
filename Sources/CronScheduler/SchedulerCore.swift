import Foundation
import HarvestClock
import HeapModule

/// The scheduler's decisions, without time or I/O (STYLE.md §5): which runs start now, which are
/// skipped, and when to wake next. ``JobScheduler`` feeds it the clock's time and carries out what it
/// returns; tests drive it directly.
struct SchedulerCore {
    struct Occurrence: Hashable {
        var scheduledAt: Date
        var isManual: Bool
    }

    struct Job {
        var name: String
        var schedule: Schedule
        var options: JobOptions
        var isEnabled: Bool
        /// The next occurrence not yet handled; it only moves forward, so each occurrence is handled once
        /// even when the wall clock steps back.
        var nextDue: Date?
        var isRunning = false
        var pending: [Occurrence] = []
    }

    /// What to do after an event.
    struct Actions {
        var starts: [(job: String, occurrence: Occurrence)] = []
        var skipped: [RunRecord] = []
        var coalesced: [(job: String, count: Int)] = []
    }

    /// A job's next occurrence in the due queue. Entries are not removed when a job changes; an entry
    /// whose date is no longer the job's ``Job/nextDue`` (or whose job is gone or disabled) is stale and
    /// skipped when it reaches the top.
    struct DueEntry: Comparable {
        var date: Date
        var name: String
        static func < (lhs: DueEntry, rhs: DueEntry) -> Bool { (lhs.date, lhs.name) < (rhs.date, rhs.name) }
    }

    var maxConcurrentRuns: Int
    private(set) var jobs: [String: Job] = [:]
    private(set) var running = 0
    /// Enabled jobs by next occurrence: a tick touches only the jobs that are due, so thousands of jobs
    /// cost O(log n) per occurrence, not a scan.
    private var dueQueue = Heap<DueEntry>()
    /// Jobs with a waiting run that are not running.
    private var ready = Set<String>()

    init(maxConcurrentRuns: Int) {
        self.maxConcurrentRuns = max(1, maxConcurrentRuns)
    }

    mutating func add(name: String, schedule: Schedule, options: JobOptions, now: Date) throws(SchedulerError) {
        guard jobs[name] == nil else {
            throw SchedulerError(code: .duplicateJob, job: name, reason: "a job with this name exists already")
        }
        var job = Job(name: name, schedule: schedule, options: options, isEnabled: options.isEnabled)
        job.nextDue = Self.firstDue(schedule, now: now)
        guard job.nextDue != nil else {
            throw SchedulerError(code: .neverFires, job: name, reason: "the schedule \(schedule) never fires")
        }
        jobs[name] = job
        if let next = job.nextDue { dueQueue.insert(DueEntry(date: next, name: name)) }
    }

    /// The first occurrence for a job added or enabled at `now`: a `.once` date in the past is kept (it is
    /// a misfire, handled by the job's policy); other schedules start strictly after now.
    private static func firstDue(_ schedule: Schedule, now: Date) -> Date? {
        if case .once(let at) = schedule { return at }
        return schedule.nextFire(after: now)
    }

    mutating func remove(_ name: String) throws(SchedulerError) -> Job {
        guard let job = jobs.removeValue(forKey: name) else { throw Self.unknown(name) }
        ready.remove(name)
        return job
    }

    mutating func setEnabled(_ name: String, _ enabled: Bool, now: Date) throws(SchedulerError) {
        guard var job = jobs[name] else { throw Self.unknown(name) }
        if enabled && !job.isEnabled {
            job.nextDue = job.schedule.nextFire(after: now)  // the disabled period is not a misfire
            if let next = job.nextDue { dueQueue.insert(DueEntry(date: next, name: name)) }
        }
        if !enabled { job.pending.removeAll { !$0.isManual } }
        job.isEnabled = enabled
        jobs[name] = job
        updateReady(name)
    }

    func job(_ name: String) -> Job? { jobs[name] }

    static func unknown(_ name: String) -> SchedulerError {
        SchedulerError(code: .unknownJob, job: name, reason: "no job has this name")
    }

    /// Queues a manual run (also for a disabled job; the schedule is untouched).
    mutating func requestRun(_ name: String, now: Date) throws(SchedulerError) {
        guard jobs[name] != nil else { throw Self.unknown(name) }
        jobs[name]?.pending.append(Occurrence(scheduledAt: now, isManual: true))
        updateReady(name)
    }

    /// Handles every occurrence due at `now`, then starts what the limits allow.
    mutating func tick(now: Date) -> Actions {
        var actions = Actions()
        while let top = dueQueue.min, top.date <= now {
            _ = dueQueue.removeMin()
            let name = top.name
            guard var job = jobs[name], job.isEnabled, let first = job.nextDue, first == top.date else { continue }
            // Every occurrence up to now, bounded so a long sleep cannot make this loop long.
            var due = [first]
            var cursor = first
            while due.count < 10_000, let next = job.schedule.nextFire(after: cursor), next <= now {
                due.append(next)
                cursor = next
            }
            job.nextDue = job.schedule.nextFire(after: max(cursor, now))
            let isLate = now.timeIntervalSince(first) > job.options.gracePeriod.timeInterval

            var toRun: [Date]
            switch job.options.misfire.kind {
            case .runAll:
                toRun = due
            case .runOnce:
                toRun = [due[due.count - 1]]
                if due.count > 1 { actions.coalesced.append((name, due.count)) }
            case .skip:
                if isLate {
                    for date in due {
                        actions.skipped.append(Self.skip(name, date, "missed: due \(Self.lateness(date, now)) ago"))
                    }
                    toRun = []
                } else {
                    toRun = [due[due.count - 1]]
                }
            }
            for date in toRun {
                let busy = job.isRunning || job.pending.contains { !$0.isManual }
                if busy && job.options.misfire.kind != .runAll {
                    if job.options.overlap == .queueOne && !job.pending.contains(where: { !$0.isManual }) {
                        job.pending.append(Occurrence(scheduledAt: date, isManual: false))
                    } else {
                        actions.skipped.append(Self.skip(name, date, "the previous run is still running"))
                    }
                } else {
                    job.pending.append(Occurrence(scheduledAt: date, isManual: false))
                }
            }
            jobs[name] = job
            if let next = job.nextDue { dueQueue.insert(DueEntry(date: next, name: name)) }
            updateReady(name)
        }
        startRuns(into: &actions)
        return actions
    }

    private mutating func updateReady(_ name: String) {
        if let job = jobs[name], !job.isRunning, !job.pending.isEmpty {
            ready.insert(name)
        } else {
            ready.remove(name)
        }
    }

    /// Marks a run finished; the next ``tick(now:)`` starts what may start now.
    mutating func finished(_ name: String) {
        running -= 1
        jobs[name]?.isRunning = false
        updateReady(name)
    }

    /// Removes the manual runs still waiting (the scheduler is stopping) and returns them by job.
    mutating func dropPendingManualRuns() -> [(job: String, occurrence: Occurrence)] {
        var dropped: [(job: String, occurrence: Occurrence)] = []
        for name in jobs.keys.sorted() {
            for occurrence in jobs[name]?.pending ?? [] where occurrence.isManual { dropped.append((name, occurrence)) }
            jobs[name]?.pending.removeAll()
        }
        ready.removeAll()
        return dropped
    }

    private mutating func startRuns(into actions: inout Actions) {
        while running < maxConcurrentRuns {
            // The waiting occurrence due earliest goes first; ties by job name.
            var best: (date: Date, name: String)?
            for name in ready {
                guard let first = jobs[name]?.pending.first else { continue }
                if best == nil || (first.scheduledAt, name) < (best!.date, best!.name) {
                    best = (first.scheduledAt, name)
                }
            }
            guard let name = best?.name, var job = jobs[name] else { return }
            let occurrence = job.pending.removeFirst()
            job.isRunning = true
            jobs[name] = job
            ready.remove(name)
            running += 1
            actions.starts.append((name, occurrence))
        }
    }

    /// When the scheduler must look again: the earliest next occurrence of an enabled job.
    mutating func nextWake() -> Date? {
        while let top = dueQueue.min {
            if let job = jobs[top.name], job.isEnabled, job.nextDue == top.date { return top.date }
            _ = dueQueue.removeMin()  // stale
        }
        return nil
    }

    private static func skip(_ job: String, _ date: Date, _ reason: String) -> RunRecord {
        RunRecord(job: job, scheduledAt: date, startedAt: nil, endedAt: nil, outcome: .skipped(reason), isManual: false)
    }

    private static func lateness(_ date: Date, _ now: Date) -> String {
        let seconds = Int(now.timeIntervalSince(date))
        return seconds >= 3600 ? "\(seconds / 3600)h\((seconds % 3600) / 60)m" : "\(seconds)s"
    }
}
