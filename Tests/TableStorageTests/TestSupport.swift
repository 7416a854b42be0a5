import Foundation
import HarvestLocking
import TableStorage

/// A small deterministic pseudo-random generator (SplitMix64), so property tests repeat exactly.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A directory under the system's temporary directory, removed when the value is released.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appending(path: "th-storage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    var path: String { url.path }
}

/// A counter shared by concurrent closures.
final class Counter: Sendable {
    private let value = Locked(0)

    func next() -> Int {
        value.withLock { value in
            value += 1
            return value
        }
    }
}

/// A ``TableStore`` that opens a ``FileTableStore`` afresh for every call (closing the last one), so every
/// conformance check also proves that what was written reads back the same after a reopen.
actor ReopeningStore: TableStore {
    private let directory: URL
    private var current: FileTableStore?

    init(directory: URL) {
        self.directory = directory
    }

    private func store() async throws -> FileTableStore {
        current?.close()
        current = nil
        let store = try await FileTableStore(directory: directory, configuration: .smallPadding)
        current = store
        return store
    }

    func createTable(_ definition: TableSchema) async throws { try await store().createTable(definition) }
    func definition(of table: String) async throws -> TableSchema { try await store().definition(of: table) }
    func tableNames() async throws -> [String] { try await store().tableNames() }
    func insert(_ rows: [TableRow], into table: String, onConflict: ConflictPolicy) async throws -> InsertSummary {
        try await store().insert(rows, into: table, onConflict: onConflict)
    }
    func update(_ query: Query, set changes: [String: Value]) async throws -> Int {
        try await store().update(query, set: changes)
    }
    func delete(_ query: Query) async throws -> Int { try await store().delete(query) }
    func read(_ query: Query) async throws -> [TableRow] { try await store().read(query) }
    func count(_ query: Query) async throws -> Int { try await store().count(query) }
    func newest(in table: String, by column: String) async throws -> TableRow? {
        try await store().newest(in: table, by: column)
    }
}

extension FileTableStore.Configuration {
    /// The default configuration with 64 KiB of padding: tests open many small stores, and the default 4 MiB
    /// of padding per store would dominate their time.
    static var smallPadding: Self {
        var configuration = Self()
        configuration.preallocationSize = 64 << 10
        return configuration
    }
}
