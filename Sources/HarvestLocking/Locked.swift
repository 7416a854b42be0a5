import Foundation

/// A value guarded by Foundation's `NSLock`, with the same `withLock` as `Synchronization.Mutex`.
///
/// Every module of the package, and its tests, guard shared state with it rather than `Mutex`, so that
/// ThreadSanitizer can check them and the programs that link them: on Linux `Mutex` locks with raw `futex`
/// calls that ThreadSanitizer does not see, so it reports every access under the lock as a race (a task group
/// incrementing a `Mutex`-guarded counter is enough to show it), while `NSLock` is a `pthread_mutex_t`, which
/// it understands.
package final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched while `lock` is held.
    private let lock = NSLock()
    private var value: Value

    /// Guards `value`.
    package init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value while holding the lock.
    package func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// Runs `body` with the value if the lock is free at this moment, without waiting for it; `nil` (and `body`
    /// not run) when another thread holds it.
    package func withLockIfAvailable<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        guard lock.try() else { return nil }
        defer { lock.unlock() }
        return try body(&value)
    }
}
