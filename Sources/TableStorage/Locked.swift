#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value guarded by a `pthread_mutex_t`, with the same `withLock` as `Synchronization.Mutex`.
///
/// The stores use it rather than `Mutex` so that ThreadSanitizer can check them and the programs that link
/// them: on Linux `Mutex` locks with raw `futex` calls that ThreadSanitizer does not see, so it reports every
/// access under the lock as a race (a task group incrementing a `Mutex`-guarded counter is enough to show it),
/// while `pthread_mutex_lock` is one it understands. The lock and the value live in memory of their own that
/// never moves.
package final class Locked<Value>: @unchecked Sendable {
    // @unchecked: the value is only touched between `pthread_mutex_lock` and `pthread_mutex_unlock`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let value: UnsafeMutablePointer<Value>

    /// Guards `value`.
    package init(_ value: consuming Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        self.value = .allocate(capacity: 1)
        self.value.initialize(to: value)
    }

    deinit {
        value.deinitialize(count: 1)
        value.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock.
    package func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
