import Foundation
import HarvestLocking
import Logging

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
/// - **One writer, any readers.** The store holds an exclusive `flock` on `LOCK`; a second writer (another
///   process, or this one again) gets ``StorageError/Code/locked``. A store opened with ``Access/readOnly`` takes
///   no lock and writes nothing, so it opens beside a writer and on a read-only copy.
/// - **Memory.** Only the indexes live in memory: per row, where its record lies in the log, plus an entry in
///   each sorted index. Records are read from the log on demand (`pread`), with a small cache. A filter that no
///   index answers is tested on each row's bytes, decoding only the columns it names, and rows read in log order
///   are read ahead in windows of up to 256 KiB.
///
/// Calls are serialised by a lock. Writes (an insert, update or delete, whose `fdatasync` can take milliseconds,
/// ``createTable(_:)`` and ``compact()``) run on the store's own serial dispatch queue while the calling task is
/// suspended, so they never hold a thread of Swift's cooperative pool. A read runs in the calling task when the
/// lock is free (it is answered from the in-memory indexes and the page cache), and on that queue, behind the
/// write in progress, when it is not.
public final class FileTableStore: TableStore, Sendable {
    /// How an open handles damage in the middle of the log.
    public enum Recovery: Sendable, Hashable {
        /// Refuse to open with ``StorageError/Code/malformedStore``. The default.
        case strict
        /// Keep the committed batches before the damage, move the rest of the file aside to
        /// `store.jsonl.salvaged-<offset>`, and open. Rows after the damage are lost to the store.
        case salvage
    }

    /// Whether a store may be written.
    public enum Access: Sendable, Hashable {
        /// Read and write, holding the directory's `LOCK` exclusively: one such opener at a time. The default.
        case readWrite
        /// Read only, without the lock: beside a writer in another process (or this one), or on a read-only
        /// copy. The store shows the batches committed when it was opened (a batch being written then is left
        /// out) and never writes: not the log, not a checkpoint, not a torn tail cut off. Every write throws
        /// ``StorageError/Code/readOnly``. Open it again to see later batches.
        case readOnly
    }

    /// Settings of a file store.
    public struct Configuration: Sendable {
        /// Whether the store may be written. The default is ``Access/readWrite``.
        public var access: Access = .readWrite
        /// How an open handles damage in the middle of the log. The default is ``Recovery/strict``.
        public var recovery: Recovery = .strict
        /// How many bytes of spaces to write past the end of the log ahead of need. Most commits then overwrite
        /// space the file already has, so `fdatasync` need not record a new file size (about twice as fast on
        /// ext4). JSON tools skip the spaces. 0 turns padding off. The default is 4 MiB.
        public var preallocationSize: Int = 4 << 20
        /// How many decoded records to keep in memory for repeated reads. The default is 4096.
        public var recordCacheSize: Int = 4096
        /// How many bytes the log grows, at least, between index checkpoints (`store.checkpoint`, a picture of
        /// the tables and indexes at one committed end of the log). An open reads the checkpoint and replays only
        /// the log after it, so it takes time in proportion to what was written since, not to the whole log.
        ///
        /// A write writes one when the log has grown by this much and by the last checkpoint's size since it
        /// (so checkpoints never write more than the log does). ``FileTableStore/close()`` writes one when the log
        /// is at least this long and has grown by a sixteenth of the last checkpoint's size, or 1 MiB, or this
        /// interval, whichever is least; ``FileTableStore/compact()`` writes one when the new log is at least this
        /// long. A checkpoint is written inside the call, as the log's `fdatasync` is. A checkpoint that does not
        /// match the log is ignored (the whole log is replayed). 0 turns checkpoints off. The default is 64 MiB.
        public var checkpointInterval: Int64 = 64 << 20
        /// The system calls used to write (a seam for tests).
        package var io: FileIO = .system

        /// Creates the default configuration.
        public init() {}
    }

    /// The log's file name in the store's directory.
    public static let logFileName = "store.jsonl"

    /// The store's directory.
    public let directory: URL
    private let state: Locked<State>
    private let logger: Logger
    /// Where writes, and reads that would wait for one, run (see the type's documentation).
    private let queue = DispatchQueue(label: "TableStorage.FileTableStore")

    /// Opens the store in `directory`, creating the directory and an empty log if needed, and replays the log.
    ///
    /// - Throws: ``StorageError``: ``StorageError/Code/locked`` when another opener holds it,
    ///   ``StorageError/Code/readOnly`` when the directory cannot be written, ``StorageError/Code/malformedStore``
    ///   for damage in the middle of the log (with ``Recovery/strict``), or ``StorageError/Code/io``.
    public init(directory: URL, configuration: Configuration = .init(), logger: Logger = .current) async throws {
        self.directory = directory
        self.logger = logger
        let opened = try State.open(directory: directory.path, configuration: configuration, logger: logger)
        self.state = Locked(opened)
    }

    deinit {
        state.withLock { $0.close() }
    }

    /// Releases the files and the lock. Later calls throw ``StorageError/Code/closed``.
    public func close() {
        state.withLock { $0.close() }
    }

    /// Runs `body` under the lock on ``queue``; the calling task waits suspended.
    private func onQueue<T: Sendable>(
        _ body: @escaping @Sendable (inout State) throws(StorageError) -> T
    ) async throws(StorageError) -> T {
        let state = self.state
        let result: Result<T, StorageError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(StorageError) -> T in try state.withLock(body) })
            }
        }
        return try result.get()
    }

    /// Runs `body` under the lock in the calling task when the lock is free, or on ``queue`` when a call holds it.
    private func reading<T: Sendable>(
        _ body: @escaping @Sendable (inout State) throws(StorageError) -> T
    ) async throws(StorageError) -> T {
        if let result = try state.withLockIfAvailable(body) { return result }
        return try await onQueue(body)
    }

    /// The size of the log's committed content in bytes (the file may be longer: padding of spaces).
    public var logSize: Int64 { state.withLock { $0.end } }

    /// Rewrites the log without deleted and superseded rows, atomically and durably.
    ///
    /// - Throws: ``StorageError`` (``StorageError/Code/readOnly`` for a read-only store); the store is unchanged then.
    public func compact() async throws {
        let logger = self.logger
        try await onQueue { state throws(StorageError) in try state.compact(logger: logger) }
    }

    /// See ``TableStore/createTable(_:)``.
    public func createTable(_ definition: TableSchema) async throws {
        try await onQueue { state throws(StorageError) in try state.createTable(definition) }
    }

    /// See ``TableStore/definition(of:)``.
    public func definition(of table: String) async throws -> TableSchema {
        try await reading { state throws(StorageError) in try state.engine(table).schema.describedDefinition }
    }

    /// See ``TableStore/tableNames()``.
    public func tableNames() async throws -> [String] {
        try await reading { state throws(StorageError) in
            try state.checkOpen()
            return state.tables.keys.sorted()
        }
    }

    /// See ``TableStore/insert(_:into:onConflict:)``.
    public func insert(_ rows: [TableRow], into table: String, onConflict: ConflictPolicy) async throws -> InsertSummary
    {
        try await onQueue { state throws(StorageError) in
            let plan = try state.engine(table).planInsert(rows, policy: onConflict)
            try state.commit(plan.changes, in: table, schema: plan.schema)
            return plan.summary
        }
    }

    /// See ``TableStore/update(_:set:)``.
    public func update(_ query: Query, set changes: [String: Value]) async throws -> Int {
        try await onQueue { state throws(StorageError) in
            let plan = try state.scan(query) { engine, load, test in
                try engine.planUpdate(query, changes: changes, load: load, test: test)
            }
            try state.commit(plan.changes, in: query.table, schema: plan.schema)
            return plan.changes.count
        }
    }

    /// See ``TableStore/delete(_:)``.
    public func delete(_ query: Query) async throws -> Int {
        try await onQueue { state throws(StorageError) in
            let (changes, schema) = try state.scan(query) { engine, load, test in
                (try engine.planDelete(query, load: load, test: test), engine.schema)
            }
            try state.commit(changes, in: query.table, schema: schema)
            return changes.count
        }
    }

    /// See ``TableStore/read(_:)``.
    public func read(_ query: Query) async throws -> [TableRow] {
        try await reading { state throws(StorageError) in
            try state.scan(query) { engine, load, test in
                try engine.select(query, load: load, test: test)
            }.map { $0.record.projected(query.select) }
        }
    }

    /// See ``TableStore/count(_:)``.
    public func count(_ query: Query) async throws -> Int {
        try await reading { state throws(StorageError) in
            try state.scan(query) { engine, load, test in try engine.count(query, load: load, test: test) }
        }
    }

    /// See ``TableStore/newest(in:by:)``.
    public func newest(in table: String, by column: String) async throws -> TableRow? {
        try await reading { state throws(StorageError) in
            guard let location = try state.engine(table).newest(by: column) else { return nil }
            return try state.reader.load(location)
        }
    }
}

/// Where a row's record (the JSON object after `"v":`) lies in the log.
///
/// Three 32-bit words, so a table of them takes 12 bytes a row.
package struct Location: Sendable, Hashable {
    private var offsetLow: UInt32
    private var offsetHigh: UInt32
    package var length: UInt32

    package init(offset: Int64, length: UInt32) {
        offsetLow = UInt32(truncatingIfNeeded: offset)
        offsetHigh = UInt32(truncatingIfNeeded: offset >> 32)
        self.length = length
    }

    /// The record's first byte in the log.
    package var offset: Int64 {
        get { Int64(offsetHigh) << 32 | Int64(offsetLow) }
        set {
            offsetLow = UInt32(truncatingIfNeeded: newValue)
            offsetHigh = UInt32(truncatingIfNeeded: newValue >> 32)
        }
    }
}

/// Reads records from the log, with a small cache and a read-ahead window.
///
/// A scan (a filter no index answers, a count, a compaction) reads the rows in log order. Once two reads in a
/// row are close together, the reader reads ahead of the record asked for, doubling up to
/// ``LogReader/maximumReadAhead``, and serves the following records from that window, so a scan costs a
/// `pread` per window rather than per row. A read elsewhere in the file (an index walk in another order, one
/// `newest`) reads just its record and starts over.
///
/// Bytes below the committed end never change while the file is open; the padding above it does, so every
/// write drops the window (``LogReader/dropWindow()``).
struct LogReader {
    var descriptor: Int32
    let path: String
    let cacheSize: Int
    private var cache: [Int64: TableRow] = [:]
    private var cacheOrder: [Int64] = []
    private var cacheNext = 0
    /// The window: `windowCount` bytes of the file from `windowStart`.
    private var window: [UInt8] = []
    private var windowStart: Int64 = 0
    private var windowCount = 0
    /// How far past the record the next read outside the window reads.
    private var readAhead = 0
    /// Where the previous record read ended; -1 when there was none.
    private var previousEnd: Int64 = -1

    /// The largest read-ahead, in bytes.
    static let maximumReadAhead = 256 << 10
    /// The first read-ahead of a run of nearby reads.
    static let minimumReadAhead = 16 << 10
    /// How far after the previous record a read may start and still count as sequential (deleted or
    /// superseded records and other tables' rows lie between a table's rows).
    static let sequentialGap: Int64 = 64 << 10

    init(descriptor: Int32, path: String, cacheSize: Int) {
        self.descriptor = descriptor
        self.path = path
        self.cacheSize = cacheSize
    }

    mutating func clearCache() {
        cache.removeAll()
        cacheOrder.removeAll()
        cacheNext = 0
        dropWindow()
    }

    /// Forgets the read-ahead window; called before every write, which may overwrite the padding it holds.
    mutating func dropWindow() {
        windowCount = 0
        readAhead = 0
        previousEnd = -1
    }

    /// Reads `location`'s bytes and hands them to `body`.
    private mutating func withBytes<T>(
        _ location: Location, _ body: (UnsafeRawBufferPointer) -> Result<T, StorageError>
    ) throws(StorageError) -> T {
        let count = Int(location.length)
        let start = location.offset
        let sequential = previousEnd >= 0 && start >= previousEnd && start - previousEnd <= Self.sequentialGap
        previousEnd = start + Int64(count)
        if start < windowStart || start + Int64(count) > windowStart + Int64(windowCount) {
            readAhead = sequential ? min(max(readAhead * 2, Self.minimumReadAhead), Self.maximumReadAhead) : 0
            try fill(at: start, count: count, readAhead: readAhead)
        }
        let from = Int(start - windowStart)
        return try window.withUnsafeBytes { bytes in
            body(UnsafeRawBufferPointer(rebasing: bytes[from..<from + count]))
        }.get()
    }

    /// Reads `count` bytes at `offset`, and up to `readAhead` more, into the window.
    private mutating func fill(at offset: Int64, count: Int, readAhead: Int) throws(StorageError) {
        windowCount = 0
        let wanted = count + readAhead
        if window.count < wanted { window = [UInt8](repeating: 0, count: max(wanted, 4096)) }
        let descriptor = descriptor
        let path = path
        let read = try window.withUnsafeMutableBytes { buffer -> Result<Int, StorageError> in
            do throws(StorageError) {
                return .success(try POSIX.read(descriptor, into: buffer, count: wanted, at: offset, file: path))
            } catch {
                return .failure(error)
            }
        }.get()
        guard read >= count else {
            throw StorageError(.malformedStore, file: path, offset: offset, message: "record past the end")
        }
        windowStart = offset
        windowCount = read
    }

    /// Parses the record at `location` with `parse`; a parse failure is damage at its byte in the file.
    private mutating func parse<T>(
        _ location: Location, _ parse: (UnsafeRawBufferPointer) throws(JSONScanner.Failure) -> T
    ) throws(StorageError) -> T {
        let path = path
        return try withBytes(location) { bytes -> Result<T, StorageError> in
            do throws(JSONScanner.Failure) {
                return .success(try parse(bytes))
            } catch {
                return .failure(
                    StorageError(
                        .malformedStore, file: path, offset: location.offset + Int64(error.position),
                        message: "unreadable record"))
            }
        }
    }

    /// Whether the record at `location` satisfies `filter`, tested on its bytes without making its record.
    mutating func matches(_ location: Location, _ filter: RawFilter) throws(StorageError) -> Bool {
        try parse(location) { bytes throws(JSONScanner.Failure) in try filter.matches(bytes) }
    }

    /// The raw bytes of a record.
    mutating func bytes(_ location: Location) throws(StorageError) -> [UInt8] {
        try withBytes(location) { .success(Array($0)) }
    }

    mutating func load(_ location: Location) throws(StorageError) -> TableRow {
        if let cached = cache[location.offset] { return cached }
        let record = try parse(location) { bytes throws(JSONScanner.Failure) in
            var scanner = JSONScanner(bytes)
            return try scanner.record()
        }
        // A record read in a run of nearby reads (a scan) is not kept: the scan would evict the records that
        // are read again and again (the newest rows) for rows it will not come back to.
        if readAhead == 0 { remember(record, at: location.offset) }
        return record
    }

    private mutating func remember(_ record: TableRow, at offset: Int64) {
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
