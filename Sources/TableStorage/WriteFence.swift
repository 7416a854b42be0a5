/// A fencing token that writes carry, so that a store shared by several processes can refuse the writes of a
/// process that lost its job to another.
///
/// A fleet's run coordinator (such as `PostgresRunCoordinator`) hands each run of a job a token that grows every
/// time the job changes hands. While a write runs with ``current`` set, a store that can check fences (such as
/// `PostgresTableStore`) checks, in the write's own transaction, that the token is still the job's newest, and
/// otherwise fails the write with ``StorageError/Code/fenced``, storing nothing. A holder that was paused (or cut
/// off) while its lease expired therefore cannot overwrite what the new holder stored.
///
/// Stores of one process (``InMemoryTableStore``, ``FileTableStore``, the SQLite store) ignore fences: no other
/// process can write to them.
///
/// ```swift
/// try await WriteFence.$current.withValue(WriteFence(job: "harvest", token: 7)) {
///     _ = try await store.insert(rows, into: "Updates", onConflict: .ignore)
/// }
/// ```
public struct WriteFence: Sendable, Hashable, CustomStringConvertible {
    /// The name of the job (the lease) the token belongs to.
    public var job: String
    /// The token: the job's hand-over count when the write's run was granted.
    public var token: Int64

    /// Creates a fence.
    public init(job: String, token: Int64) {
        self.job = job
        self.token = token
    }

    /// The fence the writes of the current task carry; `nil` outside a fenced run.
    @TaskLocal public static var current: WriteFence?

    /// Such as `harvest (fence 7)`.
    public var description: String { "\(job) (fence \(token))" }
}
