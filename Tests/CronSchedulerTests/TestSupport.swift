import HarvestLocking

/// A mutable value that concurrent test tasks share.
final class Locked<Value: Sendable>: Sendable {
    private let storage: HarvestLocking.Locked<Value>

    init(_ value: Value) {
        storage = HarvestLocking.Locked(value)
    }

    var value: Value {
        storage.withLock { $0 }
    }

    func mutate<R: Sendable>(_ body: (inout Value) -> R) -> R {
        storage.withLock { body(&$0) }
    }
}
