import Foundation

/// Decides which process runs each occurrence of a job, when several processes run the same jobs.
///
/// A ``JobScheduler`` asks its coordinator before every run (scheduled or manual) with ``claim(_:)``. The
/// default, ``LocalRunCoordinator``, grants every claim, which is what one process needs. A coordinator shared by
/// a fleet (such as `PostgresRunCoordinator` in `TableStoragePostgres`) grants each occurrence to exactly one
/// process and keeps the grant alive with ``renew(_:)`` while the run goes on; a claim that cannot be renewed is
/// lost, and its run is cancelled.
///
/// During the run the claim is ``RunClaim/current``, so that the job (and the stores it writes) can see the
/// occurrence it runs, the process it runs in and its fencing token.
///
/// Implementations must be safe to call from several tasks at once.
public protocol RunCoordinator: Sendable {
    /// How often a granted claim is renewed while its run goes on, or `nil` when claims never expire.
    var renewalInterval: Duration? { get }

    /// Asks to run `occurrence` in this process.
    ///
    /// - Returns: ``RunClaimDecision/granted(_:)`` with the claim to run under, or ``RunClaimDecision/declined(_:)``
    ///   with the reason (another process runs or ran it). A declined occurrence is recorded as skipped.
    /// - Throws: When the decision cannot be made (for example the database is unreachable); the occurrence is
    ///   then recorded as failed and does not run, since running it might run it twice.
    func claim(_ occurrence: ScheduledOccurrence) async throws -> RunClaimDecision

    /// Keeps `claim` alive; called every ``renewalInterval`` while its run goes on.
    ///
    /// - Returns: `false` when the claim is lost (another process took the job over): the run is then cancelled.
    /// - Throws: When the renewal could not be sent; the scheduler logs it and tries again at the next interval.
    func renew(_ claim: RunClaim) async throws -> Bool

    /// Ends `claim` once its run has ended, with the run's record; another process may claim the job at once.
    func release(_ claim: RunClaim, record: RunRecord) async
}

/// One occurrence of a job: the job's name and the instant it was scheduled for.
public struct ScheduledOccurrence: Sendable, Hashable, CustomStringConvertible {
    /// The job's name.
    public var job: String
    /// The instant the occurrence is for; for a manual run, when it was asked for.
    public var scheduledAt: Date
    /// Whether it is a manual run (``JobScheduler/runNow(_:)``) rather than one of the schedule's occurrences.
    public var isManual: Bool

    /// Creates an occurrence.
    public init(job: String, scheduledAt: Date, isManual: Bool = false) {
        self.job = job
        self.scheduledAt = scheduledAt
        self.isManual = isManual
    }

    /// Such as `harvest @ 2026-11-24T10:00:00Z`.
    public var description: String {
        "\(job) @ \(scheduledAt.formatted(.iso8601))" + (isManual ? " (manual)" : "")
    }
}

/// The right to run one occurrence in this process, granted by a ``RunCoordinator``.
public struct RunClaim: Sendable, Hashable, CustomStringConvertible {
    /// The occurrence the claim is for.
    public var occurrence: ScheduledOccurrence
    /// The process that holds the claim, as the coordinator names it (such as `host/pid/4f2a`).
    public var holder: String
    /// The fencing token: it grows every time the job changes hands, so that a store can refuse the writes of a
    /// holder that lost the job to a newer one. `nil` when the coordinator has none (one process).
    public var fence: Int64?

    /// Creates a claim.
    public init(occurrence: ScheduledOccurrence, holder: String, fence: Int64?) {
        self.occurrence = occurrence
        self.holder = holder
        self.fence = fence
    }

    /// The claim of the run in progress in this task, set by ``JobScheduler`` around a job's work.
    @TaskLocal public static var current: RunClaim?

    /// Such as `harvest @ 2026-11-24T10:00:00Z by host/1234/4f2a (fence 7)`.
    public var description: String {
        "\(occurrence) by \(holder)" + (fence.map { " (fence \($0))" } ?? "")
    }
}

/// A ``RunCoordinator``'s answer to a claim.
public enum RunClaimDecision: Sendable, Hashable {
    /// Run the occurrence under this claim.
    case granted(RunClaim)
    /// Do not run it; the text says why, such as `ran by host/1234/4f2a`.
    case declined(String)
}

/// The coordinator of one process: every claim is granted, nothing expires, and nothing is shared.
public struct LocalRunCoordinator: RunCoordinator {
    /// The name claims carry as their holder.
    public var holder: String

    /// Creates a coordinator whose claims name `holder` (by default this host and process id).
    public init(holder: String = LocalRunCoordinator.processName) {
        self.holder = holder
    }

    /// `nil`: local claims never expire.
    public var renewalInterval: Duration? { nil }

    /// Grants the claim, without a fencing token.
    public func claim(_ occurrence: ScheduledOccurrence) async throws -> RunClaimDecision {
        .granted(RunClaim(occurrence: occurrence, holder: holder, fence: nil))
    }

    /// `true`: a local claim is never lost.
    public func renew(_ claim: RunClaim) async throws -> Bool { true }

    /// Does nothing.
    public func release(_ claim: RunClaim, record: RunRecord) async {}

    /// This host's name and this process's id, such as `worker-3/41277`.
    public static var processName: String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
    }
}
