import CronScheduler
import Foundation
import HarvestLocking
import Logging
import PostgresNIO
import TableStorage

/// A `RunCoordinator` for a fleet of processes on one PostgreSQL database: each occurrence of a job runs in exactly
/// one process, a killed holder's job passes to another process within a stated bound, and a holder that lost its
/// job cannot write after the new holder started.
///
/// Give every process's `JobScheduler` a coordinator on the same database and schema (its `Configuration`'s
/// `coordinator`), and the same jobs on the same schedules.
///
/// - **A lease per job.** Table `_th_leases` holds, per job, the holder, a fencing token and an expiry read on the
///   database's clock (`clock_timestamp()`), so that the processes' own clocks do not matter. A claim is granted
///   when the lease is free (expired or released) and the occurrence is newer than the last one granted for the
///   job; granting it makes the claimant the holder, adds one to the token and sets the expiry
///   ``Configuration/leaseDuration`` ahead, in one `UPDATE` whose condition the server re-checks under the row's
///   lock. The holder renews the lease every third of that time while the run goes on, and ends it when the run
///   ends.
/// - **Each occurrence once.** Occurrences are granted in increasing order of their scheduled instant: a process
///   that is behind (or whose clock is slow) is declined an occurrence that another already ran, and one occurrence
///   is never granted twice. Table `_th_occurrences` keeps every granted occurrence, with its holder, its token and
///   how it ended, so that "once across the fleet" can be checked from the database.
/// - **Failover.** When a holder dies in the middle of a run, its lease expires at most ``Configuration/leaseDuration``
///   after its last renewal, and the first occurrence due after that runs in another process: the job is run again
///   within the lease time plus one period of its schedule. Occurrences due while the lease was held are declined
///   (recorded as skipped), as the job's overlap rule would skip or queue them on one machine; the interrupted
///   run's watermark makes the next run finish its walk.
/// - **Fencing.** The claim's token is the run's `WriteFence`: `PostgresTableStore` checks it in the transaction of
///   every write, under a share lock on the lease, so a holder that was paused past its lease and then resumed has
///   its writes refused with `StorageError.Code.fenced` as soon as another process has been granted the job.
///
/// ```swift
/// var scheduling = JobScheduler.Configuration()
/// scheduling.coordinator = PostgresRunCoordinator(client: client, logger: logger)
/// ```
public struct PostgresRunCoordinator: RunCoordinator {
    /// The coordinator's settings.
    public struct Configuration: Sendable, Hashable {
        /// The PostgreSQL schema of the lease and occurrence tables: the same as the stores' the jobs write, so
        /// that the stores can check the runs' fencing tokens. The default is `public`.
        public var schema = "public"
        /// How long a lease lasts without a renewal; the holder renews it every third of this time. It bounds how
        /// long a job stays with a killed holder. The default is 30 seconds; at least 1 second.
        public var leaseDuration: Duration = .seconds(30)
        /// The name this process's claims carry, unique in the fleet. The default is this host's name, the process
        /// id and a random suffix, such as `worker-3/41277/9c1e`.
        public var holder = PostgresRunCoordinator.uniqueProcessName()

        /// Creates the default settings.
        public init() {}
    }

    private let client: PostgresClient
    private let logger: Logger
    private let tables: PostgresFleetTables
    /// The coordinator's settings.
    public let configuration: Configuration

    /// Creates a coordinator on a client that the caller runs (as for `PostgresTableStore`).
    ///
    /// The tables are created on first use when missing.
    public init(client: PostgresClient, configuration: Configuration = .init(), logger: Logger = .current) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        tables = PostgresFleetTables(schema: configuration.schema)
    }

    /// A third of ``Configuration/leaseDuration``.
    public var renewalInterval: Duration? { leaseDuration / 3 }

    private var leaseDuration: Duration { max(.seconds(1), configuration.leaseDuration) }
    private var leaseSeconds: Double {
        let parts = leaseDuration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// Grants `occurrence` when its job's lease is free and no later (or the same) occurrence was granted already.
    ///
    /// - Throws: `StorageError` when the database cannot be reached or refuses.
    public func claim(_ occurrence: ScheduledOccurrence) async throws -> RunClaimDecision {
        try await tables.prepare(client, logger: logger)
        let holder = configuration.holder
        var binds = PostgresBindings()
        binds.append(occurrence.job)
        _ = try await query("INSERT INTO \(tables.leases) (job) VALUES ($1) ON CONFLICT DO NOTHING", binds)
        binds = PostgresBindings()
        binds.append(occurrence.job)
        binds.append(holder)
        binds.append(occurrence.scheduledAt)
        binds.append(leaseSeconds)
        binds.append(occurrence.isManual)
        let granted = try await query(
            """
            WITH granted AS (
              UPDATE \(tables.leases) SET holder = $2, fence = fence + 1,
                expires_at = clock_timestamp() + $4::double precision * interval '1 second',
                last_scheduled_at = CASE WHEN $5::boolean THEN last_scheduled_at ELSE $3::timestamptz END
              WHERE job = $1 AND (expires_at <= clock_timestamp() OR holder = $2)
                AND ($5::boolean OR last_scheduled_at IS NULL OR last_scheduled_at < $3::timestamptz)
              RETURNING fence)
            INSERT INTO \(tables.occurrences) (job, scheduled_at, manual, holder, fence, claimed_at)
            SELECT $1, $3::timestamptz, $5::boolean, $2, fence, clock_timestamp() FROM granted RETURNING fence
            """, binds)
        if let row = granted.first {
            let fence = try row.decode(Int64.self)
            logger.debug(
                "occurrence granted",
                metadata: ["th.occurrence": "\(occurrence)", "th.holder": "\(holder)", "th.fence": "\(fence)"])
            return .granted(RunClaim(occurrence: occurrence, holder: holder, fence: fence))
        }
        return .declined(try await declineReason(occurrence))
    }

    /// Why `occurrence` was not granted: it (or a later one) was granted already, or the lease is held.
    private func declineReason(_ occurrence: ScheduledOccurrence) async throws -> String {
        var binds = PostgresBindings()
        binds.append(occurrence.job)
        binds.append(occurrence.scheduledAt)
        let rows = try await query(
            """
            SELECT l.holder, l.expires_at > clock_timestamp(), l.last_scheduled_at >= $2::timestamptz,
              (SELECT o.holder FROM \(tables.occurrences) o
               WHERE o.job = $1 AND o.scheduled_at = $2::timestamptz AND NOT o.manual LIMIT 1)
            FROM \(tables.leases) l WHERE l.job = $1
            """, binds)
        guard let row = rows.first else { return "the job has no lease row" }
        let (holder, isHeld, isPast, ranBy) = try row.decode((String?, Bool, Bool?, String?).self)
        if let ranBy, !occurrence.isManual { return "ran in \(ranBy)" }
        if isPast == true && !occurrence.isManual { return "a later occurrence ran already" }
        if isHeld { return "running in \(holder ?? "another process")" }
        return "granted to another process first"
    }

    /// Moves the lease's expiry ahead, as long as `claim`'s token is still the job's.
    ///
    /// - Returns: `false` when another process has been granted the job since.
    public func renew(_ claim: RunClaim) async throws -> Bool {
        guard let fence = claim.fence else { return false }
        var binds = PostgresBindings()
        binds.append(claim.occurrence.job)
        binds.append(fence)
        binds.append(leaseSeconds)
        let rows = try await query(
            """
            UPDATE \(tables.leases) SET expires_at = clock_timestamp() + $3::double precision * interval '1 second'
            WHERE job = $1 AND fence = $2 RETURNING 1
            """, binds)
        return !rows.isEmpty
    }

    /// Ends the lease (when it is still `claim`'s) and records how the run ended, in one statement: the lease is
    /// never free while its occurrence still looks interrupted. A failure is logged, and the lease then simply
    /// expires.
    public func release(_ claim: RunClaim, record: RunRecord) async {
        guard let fence = claim.fence else { return }
        do {
            var binds = PostgresBindings()
            binds.append(claim.occurrence.job)
            binds.append(fence)
            binds.append("\(record.outcome)")
            // Every data-modifying part of a WITH runs to completion, and the statement commits or fails whole.
            _ = try await query(
                """
                WITH released AS (
                  UPDATE \(tables.leases) SET expires_at = clock_timestamp() WHERE job = $1 AND fence = $2)
                UPDATE \(tables.occurrences) SET ended_at = clock_timestamp(), outcome = $3
                WHERE job = $1 AND fence = $2
                """, binds)
        } catch {
            logger.warning(
                "lease not released; it expires by itself",
                metadata: ["th.claim": "\(claim)", "th.error": "\(PostgresTableStore.storageError(error, table: nil))"])
        }
    }

    /// The occurrences granted for `job`, oldest first: when each was scheduled, who ran it with which token, and how
    /// it ended (`nil` while it runs, or when its holder died).
    public func occurrences(of job: String) async throws -> [GrantedOccurrence] {
        try await tables.prepare(client, logger: logger)
        var binds = PostgresBindings()
        binds.append(job)
        let rows = try await query(
            """
            SELECT scheduled_at, manual, holder, fence, claimed_at, ended_at, outcome FROM \(tables.occurrences)
            WHERE job = $1 ORDER BY fence
            """, binds)
        return try rows.map { row in
            let (scheduledAt, manual, holder, fence, claimedAt, endedAt, outcome) = try row.decode(
                (Date, Bool, String, Int64, Date, Date?, String?).self)
            return GrantedOccurrence(
                occurrence: ScheduledOccurrence(job: job, scheduledAt: scheduledAt, isManual: manual), holder: holder,
                fence: fence, claimedAt: claimedAt, endedAt: endedAt, outcome: outcome)
        }
    }

    private func query(_ sql: String, _ binds: PostgresBindings) async throws -> [PostgresRow] {
        try await PostgresTableStore.rows(
            PostgresQuery(unsafeSQL: sql, binds: binds), client: client, table: nil, logger: logger)
    }

    /// This host's name, the process id and four random hexadecimal digits, such as `worker-3/41277/9c1e`.
    public static func uniqueProcessName() -> String {
        let suffix = String(UInt16.random(in: .min ... .max), radix: 16)
        return "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(suffix)"
    }
}

/// One occurrence a ``PostgresRunCoordinator`` granted, as `_th_occurrences` keeps it.
public struct GrantedOccurrence: Sendable, Hashable {
    /// The job and the instant it was scheduled for.
    public var occurrence: ScheduledOccurrence
    /// The process that was granted it.
    public var holder: String
    /// The fencing token of its run.
    public var fence: Int64
    /// When it was granted, on the database's clock.
    public var claimedAt: Date
    /// When its run ended, or `nil` while it runs (or when its holder died).
    public var endedAt: Date?
    /// How its run ended, such as `succeeded`, or `nil` with ``endedAt``.
    public var outcome: String?
}

/// The fleet's tables in one schema: `_th_leases` (one row per job) and `_th_occurrences` (one row per granted
/// occurrence).
struct PostgresFleetTables: Sendable {
    let schema: String
    private let isPrepared = Locked(false)

    init(schema: String) { self.schema = schema }
    var leases: String { PostgresSQL.quote(schema) + ".\"_th_leases\"" }
    var occurrences: String { PostgresSQL.quote(schema) + ".\"_th_occurrences\"" }

    /// The statements that create the tables when missing.
    var creation: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS \(leases) (job text COLLATE "C" PRIMARY KEY, holder text,
              fence bigint NOT NULL DEFAULT 0, expires_at timestamptz NOT NULL DEFAULT '-infinity',
              last_scheduled_at timestamptz)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(occurrences) (job text COLLATE "C" NOT NULL, scheduled_at timestamptz NOT NULL,
              manual boolean NOT NULL, holder text NOT NULL, fence bigint NOT NULL, claimed_at timestamptz NOT NULL,
              ended_at timestamptz, outcome text, PRIMARY KEY (job, fence))
            """,
            """
            CREATE UNIQUE INDEX IF NOT EXISTS "_th_occurrences_once" ON \(occurrences) (job, scheduled_at)
            WHERE NOT manual
            """,
        ]
    }

    /// Creates the tables when missing (once), under the lock the store takes for its schema.
    func prepare(_ client: PostgresClient, logger: Logger) async throws {
        if isPrepared.withLock({ $0 }) { return }
        try await PostgresSQL.createUnderSchemaLock(
            creation, schema: schema, table: nil, client: client, logger: logger)
        isPrepared.withLock { $0 = true }
    }
}
