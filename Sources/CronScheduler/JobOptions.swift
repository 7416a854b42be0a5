import Foundation

/// How one job behaves when runs collide or are missed.
public struct JobOptions: Sendable, Hashable {
    /// What happens when a run is due while the previous run of the same job is still going.
    public struct OverlapPolicy: Sendable, Hashable, CustomStringConvertible {
        enum Kind: Hashable, Sendable { case skip, queueOne }
        let kind: Kind
        /// The due run is skipped, with a logged reason and a ``RunRecord`` whose outcome says so.
        public static let skip = OverlapPolicy(kind: .skip)
        /// The due run waits for the running one and starts right after it; at most one waits.
        public static let queueOne = OverlapPolicy(kind: .queueOne)
        /// `skip` or `queueOne`.
        public var description: String { kind == .skip ? "skip" : "queueOne" }
    }

    /// What happens to runs that were missed: the process slept or was suspended, or a run was due more
    /// than ``gracePeriod`` ago when the scheduler noticed it.
    public struct MisfirePolicy: Sendable, Hashable, CustomStringConvertible {
        enum Kind: Hashable, Sendable { case runOnce, runAll, skip }
        let kind: Kind
        /// All missed occurrences are coalesced into one run, now. The default: a weekly job whose only
        /// run was missed still runs.
        public static let runOnce = MisfirePolicy(kind: .runOnce)
        /// Every missed occurrence runs, one after the other, as soon as possible.
        public static let runAll = MisfirePolicy(kind: .runAll)
        /// Missed occurrences are skipped (recorded, and logged at warning level); the job waits for
        /// its next occurrence.
        public static let skip = MisfirePolicy(kind: .skip)
        /// `runOnce`, `runAll` or `skip`.
        public var description: String {
            switch kind {
            case .runOnce: "runOnce"
            case .runAll: "runAll"
            case .skip: "skip"
            }
        }
    }

    /// The overlap policy. The default is ``OverlapPolicy/skip``.
    public var overlap: OverlapPolicy = .skip
    /// The misfire policy. The default is ``MisfirePolicy/runOnce``.
    public var misfire: MisfirePolicy = .runOnce
    /// How late a run may start and still count as on time. The default is 60 seconds.
    public var gracePeriod: Duration = .seconds(60)
    /// Whether the job starts enabled. The default is `true`.
    public var isEnabled = true

    /// The defaults.
    public init() {}
}

/// One run of a job: when it was due, when it ran, and how it ended.
public struct RunRecord: Sendable, Hashable, CustomStringConvertible {
    /// How a run ended.
    public enum Outcome: Sendable, Hashable {
        /// The job returned normally.
        case succeeded
        /// The job threw; the associated text is the error's description.
        case failed(String)
        /// The run did not start; the associated text says why (overlap, missed).
        case skipped(String)
        /// The job was cancelled (shutdown or removal).
        case cancelled
    }

    /// The job's name.
    public var job: String
    /// The occurrence this run is for; for "run now", the time it was asked for.
    public var scheduledAt: Date
    /// When the job started, or `nil` for a skipped run.
    public var startedAt: Date?
    /// When the job ended, or `nil` for a skipped run.
    public var endedAt: Date?
    /// How the run ended.
    public var outcome: Outcome
    /// Whether the run was asked for with ``JobScheduler/runNow(_:)``.
    public var isManual: Bool

    /// Creates a record, for example in a test of a ``RunCoordinator``.
    public init(
        job: String, scheduledAt: Date, startedAt: Date?, endedAt: Date?, outcome: Outcome, isManual: Bool
    ) {
        self.job = job
        self.scheduledAt = scheduledAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.outcome = outcome
        self.isManual = isManual
    }

    /// Such as `harvest @ 2026-11-24T10:00:00Z: succeeded`.
    public var description: String {
        "\(job) @ \(scheduledAt.formatted(.iso8601)): \(outcome)"
    }
}

/// An error from the scheduler: an unknown or duplicate job name, or the scheduler's state.
public struct SchedulerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of error.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable { case duplicateJob, unknownJob, notRunning, alreadyRunning, neverFires }
        private let kind: Kind
        /// A job with this name exists already.
        public static let duplicateJob = Code(kind: .duplicateJob)
        /// No job has this name.
        public static let unknownJob = Code(kind: .unknownJob)
        /// "Run now" needs the scheduler's ``JobScheduler/run()`` to be going.
        public static let notRunning = Code(kind: .notRunning)
        /// ``JobScheduler/run()`` was called twice.
        public static let alreadyRunning = Code(kind: .alreadyRunning)
        /// The schedule has no fire time after now (a `.once` in the past is fine: it is a misfire).
        public static let neverFires = Code(kind: .neverFires)
        /// The kind's name.
        public var description: String { "\(kind)" }
    }

    /// What went wrong.
    public let code: Code
    /// The job concerned, if any.
    public let job: String?
    /// A human-readable explanation.
    public let reason: String

    /// One line, such as `scheduler: job "harvest": no job has this name`.
    public var description: String {
        "scheduler: " + (job.map { "job \"\($0)\": " } ?? "") + reason
    }
}
