import Foundation

/// Runs blocking `work` (a `waitpid`, a semaphore wait, a loop of short sleeps) on a thread of its own and
/// suspends the calling task until it returns.
///
/// Swift's cooperative pool has one thread per core, two on a small CI machine: a test that blocks one of them
/// holds back every other test's task for as long as it blocks, and on a loaded machine their HTTP exchanges end
/// as time-outs. Tests call this instead of blocking in an `async` function.
///
/// ```swift
/// let arrived = await offThePool { hold.waitForArrival { child.isRunning } }
/// ```
public func offThePool<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.name = "th-test-blocking"
        thread.start()
    }
}
