import Foundation
import Logging

extension FileTableStore {
    /// The store's files, tables and position, guarded by the store's mutex.
    struct State {
        let directory: String
        let path: String
        var lockDescriptor: Int32
        var reader: LogReader
        /// The end of the committed content.
        var end: Int64
        /// The file's size: `end` plus the padding of spaces written ahead.
        var allocated: Int64 = 0
        let preallocation: Int
        var sequence: Int64
        var tables: [String: TableEngine<Location>]
        var broken: StorageError?
        var isClosed = false
        /// Opened with `Access.readOnly`: no lock, and nothing is ever written.
        var isReadOnly = false
        let io: FileIO
        /// How much the log grows between checkpoints; 0: none (see ``Configuration/checkpointInterval``).
        let checkpointInterval: Int64
        /// The end of the log the last checkpoint read or written covers.
        var checkpointEnd: Int64 = 0
        /// The size of that checkpoint's file.
        var checkpointBytes: Int64 = 0
        let logger: Logger

        var descriptor: Int32 { reader.descriptor }

        static func wrap<T>(_ body: () throws -> T) throws(StorageError) -> T {
            do {
                return try body()
            } catch let error as StorageError {
                throw error
            } catch {
                throw StorageError(.io, message: String(describing: error))
            }
        }

        // MARK: Opening

        static func open(directory: String, configuration: Configuration, logger: Logger) throws(StorageError)
            -> State
        {
            if configuration.access == .readOnly {
                return try openReadOnly(directory: directory, configuration: configuration, logger: logger)
            }
            try POSIX.makeDirectory(directory)
            let lockPath = directory + "/LOCK"
            let (lockDescriptor, lockCreated) = try POSIX.open(lockPath, create: true)
            do throws(StorageError) {
                try POSIX.lock(lockDescriptor, file: directory)
                let path = directory + "/" + FileTableStore.logFileName
                // A compaction that crashed before its rename left this behind; the log itself is whole.
                try POSIX.remove(path + ".compacting")
                let (descriptor, created) = try POSIX.open(path, create: true)
                if created || lockCreated { try POSIX.syncDirectory(directory) }
                var state = State(
                    directory: directory, path: path, lockDescriptor: lockDescriptor,
                    reader: LogReader(descriptor: descriptor, path: path, cacheSize: configuration.recordCacheSize),
                    end: 0, preallocation: max(0, configuration.preallocationSize), sequence: 0, tables: [:],
                    io: configuration.io, checkpointInterval: max(0, configuration.checkpointInterval),
                    logger: logger)
                do {
                    // Salvage checks the whole log, so it never starts from a checkpoint; and it may cut the log
                    // below the checkpoint's end, after which the same bytes could be written again over a
                    // different past, so it removes the checkpoint.
                    if configuration.recovery == .salvage { try POSIX.remove(state.checkpointPath) }
                    let restored = configuration.recovery == .strict && state.restoreCheckpoint(logger: logger)
                    try state.replay(from: restored ? state.end : 0, recovery: configuration.recovery, logger: logger)
                    state.warmNewest()
                } catch {
                    POSIX.close(descriptor)
                    throw error
                }
                return state
            } catch {
                POSIX.close(lockDescriptor)
                throw error
            }
        }

        /// Opens without the lock and without writing: the committed batches of the log as it is now.
        private static func openReadOnly(directory: String, configuration: Configuration, logger: Logger)
            throws(StorageError) -> State
        {
            let path = directory + "/" + FileTableStore.logFileName
            let descriptor = try POSIX.openReadOnly(path)
            var state = State(
                directory: directory, path: path, lockDescriptor: -1,
                reader: LogReader(descriptor: descriptor, path: path, cacheSize: configuration.recordCacheSize),
                end: 0, preallocation: 0, sequence: 0, tables: [:], io: configuration.io, checkpointInterval: 0,
                logger: logger)
            state.isReadOnly = true
            do {
                let restored = state.restoreCheckpoint(logger: logger)
                // Salvage would write; a read-only store refuses damage in the middle as strict does.
                try state.replay(from: restored ? state.end : 0, recovery: .strict, logger: logger)
                state.warmNewest()
            } catch {
                POSIX.close(descriptor)
                throw error
            }
            return state
        }

        /// Reads the newest row of every index into the record cache, so the first ``FileTableStore/newest(in:by:)``
        /// after an open (what every harvest run asks first) is a lookup, and the code it runs is warm.
        mutating func warmNewest() {
            for engine in tables.values {
                for index in engine.indexes.values {
                    guard let last = index.last, let location = engine.slots[last.row] else { continue }
                    _ = try? reader.load(location)
                }
            }
        }

        mutating func close() {
            guard !isClosed else { return }
            // At close, a smaller growth is enough: the next open then replays at most a sixteenth of the
            // checkpoint's size (or 1 MiB, or the interval, if less) of log.
            let growth = min(checkpointInterval, max(1 << 20, checkpointBytes / 16))
            if checkpointInterval > 0, end >= checkpointInterval, end - checkpointEnd >= growth {
                writeCheckpoint(logger: logger)
            }
            isClosed = true
            POSIX.close(reader.descriptor)
            if lockDescriptor >= 0 { POSIX.close(lockDescriptor) }
        }

        /// Runs `body` with the query's table and two ways to read its rows: `load` makes a row's record,
        /// `test` tells from the row's bytes whether it satisfies the query's filter (`nil` with no filter).
        mutating func scan<T>(
            _ query: Query,
            _ body: (
                _ engine: TableEngine<Location>, _ load: (Location) throws -> TableRow,
                _ test: (Location) throws -> Bool?
            ) throws -> T
        ) throws(StorageError) -> T {
            let engine = try engine(query.table)
            let filter = query.filter.map(RawFilter.init)
            return try Self.wrap {
                try body(
                    engine, { try reader.load($0) },
                    { location in
                        guard let filter else { return nil }
                        return try reader.matches(location, filter)
                    })
            }
        }

        func checkOpen() throws(StorageError) {
            if isClosed { throw StorageError(.closed, file: path) }
        }

        func engine(_ name: String) throws(StorageError) -> TableEngine<Location> {
            try checkOpen()
            guard let engine = tables[name] else { throw StorageError(.missingTable, table: name) }
            return engine
        }

        // MARK: Writing

        mutating func createTable(_ definition: TableSchema) throws(StorageError) {
            try checkOpen()
            if let existing = tables[definition.name] {
                guard existing.schema.isSameDefinition(as: definition) else {
                    throw StorageError(.conflictingDefinition, table: definition.name)
                }
                return
            }
            let schema = try TableState(definition)
            var encoder = LogEncoder()
            try Self.encodeTable(schema, into: &encoder)
            encodeCommit(operations: 1, into: &encoder)
            try encoder.withBytes { bytes throws(StorageError) in try write(bytes) }
            tables[definition.name] = TableEngine(schema: schema)
        }

        static func encodeTable(_ schema: TableState, into encoder: inout LogEncoder) throws(StorageError) {
            let json = JSONEncoder()
            json.outputFormatting = [.sortedKeys]
            let frame = encoder.beginFrame()
            encoder.raw(#"{"op":"table","def":"#)
            do {
                encoder.append(Array(try json.encode(schema.definition)))
                encoder.raw(#","types":"#)
                encoder.append(Array(try json.encode(schema.types)))
            } catch {
                throw StorageError(.invalidDefinition, table: schema.definition.name, message: "\(error)")
            }
            encoder.raw("}")
            encoder.endFrame(frame)
        }

        func encodeCommit(operations: Int, into encoder: inout LogEncoder) {
            Self.encodeCommit(sequence: sequence + 1, operations: operations, into: &encoder)
        }

        static func encodeCommit(sequence: Int64, operations: Int, into encoder: inout LogEncoder) {
            let frame = encoder.beginFrame()
            encoder.raw(#"{"op":"commit","seq":"#)
            encoder.integer(sequence)
            encoder.raw(#","ops":"#)
            encoder.integer(Int64(operations))
            encoder.raw("}")
            encoder.endFrame(frame)
        }

        /// Logs, flushes and applies one batch of changes to a table.
        mutating func commit(_ changes: [TableChange], in table: String, schema: TableState) throws(StorageError) {
            guard !changes.isEmpty else { return }
            var encoder = LogEncoder(capacity: changes.count * 320)
            var locations: [Location] = []
            locations.reserveCapacity(changes.count)
            var prefix = LogEncoder()
            prefix.raw(#"{"op":"put","t":"#)
            prefix.string(table)
            prefix.raw(#","row":"#)
            var deletePrefix = LogEncoder()
            deletePrefix.raw(#"{"op":"del","t":"#)
            deletePrefix.string(table)
            deletePrefix.raw(#","row":"#)
            for change in changes {
                let frame = encoder.beginFrame()
                switch change {
                case .put(let row, let record):
                    encoder.append(prefix)
                    encoder.integer(Int64(row))
                    encoder.raw(#","v":"#)
                    let start = encoder.count
                    encoder.record(record)
                    locations.append(Location(offset: Int64(start), length: UInt32(encoder.count - start)))
                case .delete(let row):
                    encoder.append(deletePrefix)
                    encoder.integer(Int64(row))
                }
                encoder.raw("}")
                encoder.endFrame(frame)
            }
            encodeCommit(operations: changes.count, into: &encoder)
            let base = end
            try encoder.withBytes { bytes throws(StorageError) in try write(bytes) }
            guard var engine = tables.removeValue(forKey: table) else { return }
            engine.schema = schema
            var next = 0
            for change in changes {
                var payload = Location(offset: 0, length: 0)
                if case .put = change {
                    payload = locations[next]
                    payload.offset += base
                    next += 1
                }
                // The old record of a replaced or deleted row is read back to unindex it. A failure here
                // (the file vanished under us) leaves the store broken rather than inconsistent.
                do {
                    try engine.apply(change, payload: payload) { try reader.load($0) }
                } catch {
                    broken = StorageError(.io, file: path, message: "could not read a replaced row back")
                }
            }
            tables[table] = engine
            // The log grows at least as much as the checkpoint's own size between two, so checkpoints at most
            // double what a long run writes.
            if checkpointInterval > 0, end - checkpointEnd >= max(checkpointInterval, checkpointBytes) {
                writeCheckpoint(logger: logger)
            }
        }

        /// Appends bytes at the end of the log and flushes them; on failure cuts the file back.
        mutating func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
            try checkOpen()
            if isReadOnly { throw StorageError(.readOnly, file: path, message: "the store was opened read-only") }
            if let broken { throw broken }
            // The write may overwrite padding that the reader's window holds.
            reader.dropWindow()
            let descriptor = self.descriptor
            let start = end
            let dataEnd = start + Int64(bytes.count)
            var grown = max(allocated, dataEnd)
            var failure = Self.writeAll(bytes, to: descriptor, at: start, io: io, file: path)
            if failure == nil, dataEnd > allocated, preallocation > 0 {
                // Pad with spaces ahead of need, before the flush: later commits then overwrite space the file
                // already has, and fdatasync need not record a new size.
                if Self.writePadding(preallocation, to: descriptor, at: dataEnd, io: io, file: path) == nil {
                    grown = dataEnd + Int64(preallocation)
                } else {
                    // The padding only saves time: with no room for it (a nearly full disk), cut off what was
                    // written of it and commit the batch as a plain append.
                    do {
                        try POSIX.truncate(descriptor, to: dataEnd, file: path)
                    } catch {
                        failure = error
                    }
                }
            }
            if failure == nil {
                let code = io.sync(descriptor)
                if code != 0 { failure = POSIX.error(code, file: path, doing: "fdatasync") }
            }
            if let failure {
                // Nothing of this batch is committed: cut the partial bytes off. If even that fails, refuse
                // further writes (the next open drops the uncommitted tail anyway).
                do {
                    try POSIX.truncate(descriptor, to: start, file: path)
                    allocated = start
                } catch {
                    broken = error
                }
                throw failure
            }
            allocated = grown
            end = dataEnd
            sequence += 1
        }

        /// Spaces, the padding's pieces.
        private static let spaces = [UInt8](repeating: UInt8(ascii: " "), count: 64 << 10)

        /// Writes `count` bytes of padding at `offset`: spaces, and a newline last.
        static func writePadding(_ count: Int, to descriptor: Int32, at offset: Int64, io: FileIO, file: String)
            -> StorageError?
        {
            var done = 0
            while done < count - 1 {
                let piece = min(spaces.count, count - 1 - done)
                let failure = spaces.withUnsafeBytes { spaces in
                    writeAll(
                        UnsafeRawBufferPointer(rebasing: spaces[0..<piece]), to: descriptor, at: offset + Int64(done),
                        io: io, file: file)
                }
                if let failure { return failure }
                done += piece
            }
            return withUnsafeBytes(of: UInt8(ascii: "\n")) { newline in
                writeAll(newline, to: descriptor, at: offset + Int64(count - 1), io: io, file: file)
            }
        }

        /// Writes all of `bytes` at `offset`, retrying short writes; returns the error, if any.
        static func writeAll(
            _ buffer: UnsafeRawBufferPointer, to descriptor: Int32, at offset: Int64, io: FileIO, file: String
        ) -> StorageError? {
            var done = 0
            while done < buffer.count {
                let result = io.write(
                    descriptor, UnsafeRawBufferPointer(rebasing: buffer[done...]), offset + Int64(done))
                if result < 0 {
                    if -result == Int(EINTR) { continue }
                    return POSIX.error(Int32(-result), file: file, doing: "write")
                }
                if result == 0 { return StorageError(.io, file: file, message: "write made no progress") }
                done += result
            }
            return nil
        }
    }
}
