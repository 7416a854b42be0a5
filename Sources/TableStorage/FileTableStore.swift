import Foundation
import Logging
import Synchronization

/// A ``TableStore`` in a directory: a human-readable, append-only JSON Lines log that survives `kill -9` and
/// power loss, with the indexes kept in memory.
///
/// The directory holds `store.jsonl`, the log, and `LOCK`. Each line is one framed operation (see
/// `Docs/TableStorage.md`):
/// ```
/// {"crc":"3f2a9c1b","len":        86,"rec":{"op":"put","t":"Updates","row":0,"v":{"twitterId":1,"text":"hi"}}}
/// {"crc":"0c5d2e77","len":        33,"rec":{"op":"commit","seq":7,"ops":1}}
/// ```
/// so `jq -c 'select(.rec.op=="put") | .rec.v' store.jsonl` lists the rows written.
///
/// - **Durability.** A batch (an insert, update or delete) is one commit: its lines and a `commit` line are
///   written with one `pwrite` and flushed with one `fdatasync` before the call returns. Creating the log and
///   compacting it also flush the directory.
/// - **Torn writes.** On open, lines after the last `commit` (an interrupted batch), or a damaged last batch,
///   are dropped and the file is cut back, with a warning. Damage followed by a valid commit is corruption in
///   the middle: the open fails with ``StorageError/Code/malformedStore`` naming the file and byte offset,
///   unless ``Configuration/recovery`` is ``Recovery/salvage``, which keeps the valid prefix and moves the
///   rest aside to `store.jsonl.salvaged-<offset>`.
/// - **Compaction.** ``compact()`` writes the live rows to a new file, flushes it, renames it over the log and
///   flushes the directory; a crash at any step leaves either the old or the new log, whole.
/// - **One process.** The store holds an exclusive `flock` on `LOCK`; a second opener (another process, or
///   this one again) gets ``StorageError/Code/locked``.
/// - **Memory.** Only the indexes live in memory: per row, where its record lies in the log, plus an entry in
///   each sorted index. Records are read from the log on demand (`pread`), with a small cache.
///
/// Calls are serialised by a lock; each is short, apart from the `fdatasync` of a write and ``compact()``.
public final class FileTableStore: TableStore, Sendable {
    /// How an open handles damage in the middle of the log.
    public enum Recovery: Sendable, Hashable {
        /// Refuse to open with ``StorageError/Code/malformedStore``. The default.
        case strict
        /// Keep the committed batches before the damage, move the rest of the file aside to
        /// `store.jsonl.salvaged-<offset>`, and open. Rows after the damage are lost to the store.
        case salvage
    }

    /// Settings of a file store.
    public struct Configuration: Sendable {
        /// How an open handles damage in the middle of the log. The default is ``Recovery/strict``.
        public var recovery: Recovery = .strict
        /// How many bytes of spaces to write past the end of the log ahead of need. Most commits then overwrite
        /// space the file already has, so `fdatasync` need not record a new file size (about twice as fast on
        /// ext4). JSON tools skip the spaces. 0 turns padding off. The default is 4 MiB.
        public var preallocationSize: Int = 4 << 20
        /// How many decoded records to keep in memory for repeated reads. The default is 4096.
        public var recordCacheSize: Int = 4096
        /// The system calls used to write (a seam for tests).
        package var io: FileIO = .system

        /// Creates the default configuration.
        public init() {}
    }

    /// The log's file name in the store's directory.
    public static let logFileName = "store.jsonl"

    /// The store's directory.
    public let directory: URL
    private let state: Mutex<State>
    private let logger: Logger

    /// Opens the store in `directory`, creating the directory and an empty log if needed, and replays the log.
    ///
    /// - Throws: ``StorageError``: ``StorageError/Code/locked`` when another opener holds it,
    ///   ``StorageError/Code/readOnly`` when the directory cannot be written, ``StorageError/Code/malformedStore``
    ///   for damage in the middle of the log (with ``Recovery/strict``), or ``StorageError/Code/io``.
    public init(directory: URL, configuration: Configuration = .init(), logger: Logger = .current) async throws {
        self.directory = directory
        self.logger = logger
        let opened = try State.open(directory: directory.path, configuration: configuration, logger: logger)
        self.state = Mutex(opened)
    }

    deinit {
        state.withLock { $0.close() }
    }

    /// Releases the files and the lock. Later calls throw ``StorageError/Code/closed``.
    public func close() {
        state.withLock { $0.close() }
    }

    /// The size of the log's committed content in bytes (the file may be longer: padding of spaces).
    public var logSize: Int64 { state.withLock { $0.end } }

    /// Rewrites the log without deleted and superseded rows, atomically and durably.
    ///
    /// - Throws: ``StorageError``; the store is unchanged then.
    public func compact() async throws {
        try state.withLock { state throws(StorageError) in try state.compact(logger: logger) }
    }

    /// See ``TableStore/createTable(_:)``.
    public func createTable(_ definition: TableDefinition) async throws {
        try state.withLock { state throws(StorageError) in try state.createTable(definition) }
    }

    /// See ``TableStore/definition(of:)``.
    public func definition(of table: String) async throws -> TableDefinition {
        try state.withLock { state throws(StorageError) in try state.engine(table).schema.describedDefinition }
    }

    /// See ``TableStore/tableNames()``.
    public func tableNames() async throws -> [String] {
        try state.withLock { state throws(StorageError) in
            try state.checkOpen()
            return state.tables.keys.sorted()
        }
    }

    /// See ``TableStore/insert(_:into:onConflict:)``.
    public func insert(_ rows: [Record], into table: String, onConflict: ConflictPolicy) async throws -> InsertSummary {
        try state.withLock { state throws(StorageError) in
            let plan = try state.engine(table).planInsert(rows, policy: onConflict)
            try state.commit(plan.changes, in: table, schema: plan.schema)
            return plan.summary
        }
    }

    /// See ``TableStore/update(_:set:)``.
    public func update(_ query: Query, set changes: [String: Value]) async throws -> Int {
        try state.withLock { state throws(StorageError) in
            let engine = try state.engine(query.table)
            let plan = try State.wrap {
                try engine.planUpdate(query, changes: changes, load: { try state.reader.load($0) })
            }
            try state.commit(plan.changes, in: query.table, schema: plan.schema)
            return plan.changes.count
        }
    }

    /// See ``TableStore/delete(_:)``.
    public func delete(_ query: Query) async throws -> Int {
        try state.withLock { state throws(StorageError) in
            let engine = try state.engine(query.table)
            let changes = try State.wrap { try engine.planDelete(query, load: { try state.reader.load($0) }) }
            try state.commit(changes, in: query.table, schema: engine.schema)
            return changes.count
        }
    }

    /// See ``TableStore/read(_:)``.
    public func read(_ query: Query) async throws -> [Record] {
        try state.withLock { state throws(StorageError) in
            let engine = try state.engine(query.table)
            return try State.wrap { try engine.select(query, load: { try state.reader.load($0) }) }.map {
                $0.record.projected(query.select)
            }
        }
    }

    /// See ``TableStore/count(_:)``.
    public func count(_ query: Query) async throws -> Int {
        try state.withLock { state throws(StorageError) in
            let engine = try state.engine(query.table)
            return try State.wrap { try engine.count(query, load: { try state.reader.load($0) }) }
        }
    }

    /// See ``TableStore/newest(in:by:)``.
    public func newest(in table: String, by column: String) async throws -> Record? {
        try state.withLock { state throws(StorageError) in
            guard let location = try state.engine(table).newest(by: column) else { return nil }
            return try state.reader.load(location)
        }
    }
}

/// Where a row's record (the JSON object after `"v":`) lies in the log.
package struct Location: Sendable, Hashable {
    package var offset: Int64
    package var length: UInt32
}

/// Reads records from the log, with a small cache.
struct LogReader {
    var descriptor: Int32
    let path: String
    let cacheSize: Int
    private var cache: [Int64: Record] = [:]
    private var cacheOrder: [Int64] = []
    private var cacheNext = 0
    private var scratch: [UInt8] = []

    init(descriptor: Int32, path: String, cacheSize: Int) {
        self.descriptor = descriptor
        self.path = path
        self.cacheSize = cacheSize
    }

    mutating func clearCache() {
        cache.removeAll()
        cacheOrder.removeAll()
        cacheNext = 0
    }

    /// Reads `location`'s bytes and hands them to `body`.
    private mutating func withBytes<T>(
        _ location: Location, _ body: (UnsafeRawBufferPointer) -> Result<T, StorageError>
    ) throws(StorageError) -> T {
        let count = Int(location.length)
        if scratch.count < count { scratch = [UInt8](repeating: 0, count: count) }
        let descriptor = descriptor
        let path = path
        let result = scratch.withUnsafeMutableBytes { buffer -> Result<T, StorageError> in
            do {
                let read = try POSIX.read(descriptor, into: buffer, count: count, at: location.offset, file: path)
                guard read == count else {
                    return .failure(
                        StorageError(
                            .malformedStore, file: path, offset: location.offset, message: "record past the end"))
                }
            } catch let error as StorageError {
                return .failure(error)
            } catch {
                return .failure(StorageError(.io, file: path, message: "\(error)"))
            }
            return body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return try result.get()
    }

    /// The raw bytes of a record.
    mutating func bytes(_ location: Location) throws(StorageError) -> [UInt8] {
        try withBytes(location) { .success(Array($0)) }
    }

    mutating func load(_ location: Location) throws(StorageError) -> Record {
        if let cached = cache[location.offset] { return cached }
        let path = path
        let record = try withBytes(location) { bytes -> Result<Record, StorageError> in
            var scanner = JSONScanner(bytes)
            do throws(JSONScanner.Failure) {
                return .success(try scanner.record())
            } catch {
                return .failure(
                    StorageError(
                        .malformedStore, file: path, offset: location.offset + Int64(error.position),
                        message: "unreadable record"))
            }
        }
        remember(record, at: location.offset)
        return record
    }

    private mutating func remember(_ record: Record, at offset: Int64) {
        guard cacheSize > 0 else { return }
        if cacheOrder.count < cacheSize {
            cacheOrder.append(offset)
        } else {
            cache[cacheOrder[cacheNext]] = nil
            cacheOrder[cacheNext] = offset
            cacheNext = (cacheNext + 1) % cacheSize
        }
        cache[offset] = record
    }
}
