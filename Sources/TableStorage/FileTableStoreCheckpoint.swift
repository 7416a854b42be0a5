import Foundation
import Logging

/// The index checkpoint: `store.checkpoint`, a binary picture of the tables (schemas, row locations, indexes)
/// as they stood at one committed end of the log, so that an open reads it and replays only the log after it.
///
/// The file is a magic string, then blocks of at most ``blockSize`` bytes, each `length` (UInt32), `crc`
/// (UInt32, of the bytes) and the bytes; numbers are little-endian. The first block starts with the format
/// version, the log length it covers, the batch sequence there, and the CRC of the last ``tailSize`` bytes of
/// that prefix; the last block ends with ``endMarker``. It is written to `store.checkpoint.tmp`, flushed,
/// renamed over `store.checkpoint`, and the directory flushed.
///
/// An open trusts it only if every block's checksum holds, the version is this one, the log is at least as long
/// as the prefix and the prefix's last bytes have the recorded checksum, and what it describes is consistent
/// (indexes in order, one entry per live row). Anything else (torn, stale, from another version, missing) is
/// ignored and removed, and the open replays the whole log, as without a checkpoint.
enum Checkpoint {
    static let fileName = "store.checkpoint"
    static let magic = Array("THCKPT\r\n".utf8)
    static let version: UInt32 = 1
    static let blockSize = 1 << 20
    static let tailSize: Int64 = 4096
    static let endMarker = Array("END.".utf8)

    /// Why a checkpoint was not used.
    struct Rejection: Error {
        var reason: String
    }

    // MARK: Writing

    /// Fills blocks and writes them out.
    struct Writer {
        private var block: [UInt8] = []
        private let descriptor: Int32
        private let io: FileIO
        private let file: String
        private(set) var written: Int64 = 0

        init(descriptor: Int32, io: FileIO, file: String) throws(StorageError) {
            self.descriptor = descriptor
            self.io = io
            self.file = file
            block.reserveCapacity(Checkpoint.blockSize)
            try output(magic)
        }

        private mutating func output(_ bytes: [UInt8]) throws(StorageError) {
            let (descriptor, written, io, file) = (self.descriptor, self.written, self.io, self.file)
            let failure = bytes.withUnsafeBytes { buffer in
                FileTableStore.State.writeAll(buffer, to: descriptor, at: written, io: io, file: file)
            }
            if let failure { throw failure }
            self.written += Int64(bytes.count)
        }

        mutating func flushBlock() throws(StorageError) {
            guard !block.isEmpty else { return }
            var header: [UInt8] = []
            Self.put(UInt32(block.count), into: &header)
            Self.put(CRC32.checksum(block), into: &header)
            try output(header)
            try output(block)
            block.removeAll(keepingCapacity: true)
        }

        private mutating func room(_ count: Int) throws(StorageError) {
            if block.count + count > Checkpoint.blockSize { try flushBlock() }
        }

        static func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8]) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }

        mutating func put<T: FixedWidthInteger>(_ value: T) throws(StorageError) {
            try room(MemoryLayout<T>.size)
            Self.put(value, into: &block)
        }

        mutating func put(bytes: [UInt8]) throws(StorageError) {
            try put(UInt32(bytes.count))
            var done = 0
            while done < bytes.count {
                if block.count == Checkpoint.blockSize { try flushBlock() }
                let piece = min(bytes.count - done, Checkpoint.blockSize - block.count)
                block.append(contentsOf: bytes[done..<done + piece])
                done += piece
            }
        }

        mutating func put(_ string: String) throws(StorageError) { try put(bytes: Array(string.utf8)) }

        mutating func put(_ value: Value) throws(StorageError) {
            switch value {
            case .null: try put(UInt8(0))
            case .int(let number):
                try put(UInt8(1))
                try put(number)
            case .double(let number):
                try put(UInt8(2))
                try put(number.bitPattern)
            case .date(let date):
                try put(UInt8(3))
                try put(date.timeIntervalSince1970.bitPattern)
            case .bool(let flag):
                try put(UInt8(4))
                try put(UInt8(flag ? 1 : 0))
            case .string(let text):
                try put(UInt8(5))
                try put(text)
            }
        }
    }

    // MARK: Reading

    /// Reads blocks back, checking each one's checksum.
    struct Reader {
        private let descriptor: Int32
        private let file: String
        private var offset: Int64
        private var block: [UInt8] = []
        private var position = 0

        init(descriptor: Int32, file: String) throws(Rejection) {
            self.descriptor = descriptor
            self.file = file
            offset = 0
            let head = try read(Checkpoint.magic.count)
            guard head == Checkpoint.magic else { throw Rejection(reason: "not a checkpoint") }
        }

        private mutating func read(_ count: Int) throws(Rejection) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let descriptor = descriptor
            let file = file
            let at = offset
            let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                (try? POSIX.read(descriptor, into: buffer, count: count, at: at, file: file)) ?? -1
            }
            guard got == count else { throw Rejection(reason: "torn (ends inside a block)") }
            offset += Int64(count)
            return bytes
        }

        private mutating func nextBlock() throws(Rejection) {
            let header = try read(8)
            let length = Int(Self.integer(UInt32.self, header, at: 0))
            let crc = Self.integer(UInt32.self, header, at: 4)
            guard length > 0, length <= Checkpoint.blockSize else { throw Rejection(reason: "bad block length") }
            block = try read(length)
            guard CRC32.checksum(block) == crc else { throw Rejection(reason: "block checksum mismatch") }
            position = 0
        }

        static func integer<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at index: Int) -> T {
            var value = T.zero
            withUnsafeMutableBytes(of: &value) { target in
                for byte in 0..<MemoryLayout<T>.size { target[byte] = bytes[index + byte] }
            }
            return T(littleEndian: value)
        }

        private mutating func take(_ count: Int) throws(Rejection) -> [UInt8] {
            var result: [UInt8] = []
            result.reserveCapacity(count)
            while result.count < count {
                if position == block.count { try nextBlock() }
                let piece = min(count - result.count, block.count - position)
                result.append(contentsOf: block[position..<position + piece])
                position += piece
            }
            return result
        }

        mutating func get<T: FixedWidthInteger>(_ type: T.Type) throws(Rejection) -> T {
            let size = MemoryLayout<T>.size
            if position == block.count { try nextBlock() }
            if position + size <= block.count {
                let value = Self.integer(type, block, at: position)
                position += size
                return value
            }
            return Self.integer(type, try take(size), at: 0)
        }

        mutating func bytes() throws(Rejection) -> [UInt8] {
            let count = Int(try get(UInt32.self))
            return try take(count)
        }

        mutating func string() throws(Rejection) -> String {
            guard let text = String(validating: try bytes(), as: UTF8.self) else {
                throw Rejection(reason: "bad string")
            }
            return text
        }

        mutating func value() throws(Rejection) -> Value {
            switch try get(UInt8.self) {
            case 0: return .null
            case 1: return .int(try get(Int64.self))
            case 2: return .double(Double(bitPattern: try get(UInt64.self)))
            case 3: return .date(Date(timeIntervalSince1970: Double(bitPattern: try get(UInt64.self))))
            case 4: return .bool(try get(UInt8.self) != 0)
            case 5: return .string(try string())
            default: throw Rejection(reason: "bad value tag")
            }
        }

        /// Whether the last block has been read to its end.
        var isAtEnd: Bool { position == block.count }

        /// Whether nothing follows the last block in the file.
        func fileEnds() -> Bool {
            var byte: UInt8 = 0
            let got = withUnsafeMutableBytes(of: &byte) { buffer in
                (try? POSIX.read(descriptor, into: buffer, count: 1, at: offset, file: file)) ?? -1
            }
            return got == 0
        }
    }
}

extension FileTableStore.State {
    var checkpointPath: String { directory + "/" + Checkpoint.fileName }

    /// The checksum of the last ``Checkpoint/tailSize`` bytes of the log before `end`.
    private func tailChecksum(end: Int64) throws(StorageError) -> UInt32 {
        let start = max(0, end - Checkpoint.tailSize)
        let count = Int(end - start)
        var bytes = [UInt8](repeating: 0, count: count)
        let descriptor = descriptor
        let path = path
        let got = try bytes.withUnsafeMutableBytes { buffer -> Result<Int, StorageError> in
            do throws(StorageError) {
                return .success(try POSIX.read(descriptor, into: buffer, count: count, at: start, file: path))
            } catch {
                return .failure(error)
            }
        }.get()
        guard got == count else { throw StorageError(.io, file: path, message: "short read of the log's tail") }
        return CRC32.checksum(bytes)
    }

    /// Writes a checkpoint of the tables as they stand at ``end``, crash-safely. A failure leaves the previous
    /// checkpoint (or none) and is logged, never thrown: the checkpoint only saves time at the next open.
    mutating func writeCheckpoint(logger: Logger) {
        guard checkpointInterval > 0, !isClosed, broken == nil else { return }
        do throws(StorageError) {
            checkpointBytes = try writeCheckpointFile()
            checkpointEnd = end
            logger.debug("index checkpoint written", metadata: ["th.file": "\(checkpointPath)", "th.offset": "\(end)"])
        } catch {
            logger.warning(
                "index checkpoint not written", metadata: ["th.file": "\(checkpointPath)", "th.error": "\(error)"])
        }
    }

    /// Returns the file's size.
    private func writeCheckpointFile() throws(StorageError) -> Int64 {
        let temporary = checkpointPath + ".tmp"
        try POSIX.remove(temporary)
        let (output, _) = try POSIX.open(temporary, create: true)
        var renamed = false
        defer {
            POSIX.close(output)
            if !renamed { try? POSIX.remove(temporary) }
        }
        var writer = try Checkpoint.Writer(descriptor: output, io: io, file: temporary)
        try writer.put(Checkpoint.version)
        try writer.put(end)
        try writer.put(sequence)
        try writer.put(try tailChecksum(end: end))
        try writer.put(UInt32(tables.count))
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        for name in tables.keys.sorted() {
            guard let engine = tables[name] else { continue }
            do {
                try writer.put(bytes: Array(try json.encode(engine.schema.definition)))
                try writer.put(bytes: Array(try json.encode(engine.schema.types)))
            } catch let error as StorageError {
                throw error
            } catch {
                throw StorageError(.invalidDefinition, table: name, message: "\(error)")
            }
            try writer.put(Int64(engine.slots.count))
            for slot in engine.slots {
                if let slot {
                    try writer.put(UInt8(1))
                    try writer.put(slot.offset)
                    try writer.put(slot.length)
                } else {
                    try writer.put(UInt8(0))
                }
            }
            let columns = engine.indexes.keys.sorted()
            try writer.put(UInt32(columns.count))
            for column in columns {
                guard let index = engine.indexes[column] else { continue }
                try writer.put(column)
                try writer.put(Int64(index.count))
                try index.forEach(ascending: true) { value, row throws(StorageError) in
                    try writer.put(value)
                    try writer.put(UInt32(truncatingIfNeeded: row))
                    return true
                }
            }
        }
        for byte in Checkpoint.endMarker { try writer.put(byte) }
        try writer.flushBlock()
        let code = io.sync(output)
        if code != 0 { throw POSIX.error(code, file: temporary, doing: "fdatasync") }
        try POSIX.rename(temporary, to: checkpointPath)
        renamed = true
        try POSIX.syncDirectory(directory)
        return writer.written
    }

    /// Reads the checkpoint, if there is one that holds for this log, into ``tables``, ``sequence`` and
    /// ``end``; returns whether it did. Otherwise leaves the state empty and removes the checkpoint.
    mutating func restoreCheckpoint(logger: Logger) -> Bool {
        // A read-only store writes no checkpoint (its interval is 0) but reads the writer's.
        guard checkpointInterval > 0 || isReadOnly else { return false }
        let path = checkpointPath
        // A write of a checkpoint that a crash interrupted (or, beside a read-only store, one being written).
        if !isReadOnly { try? POSIX.remove(path + ".tmp") }
        guard FileManager.default.fileExists(atPath: path) else { return false }
        do {
            let input = try POSIX.openReadOnly(path)
            defer { POSIX.close(input) }
            try restore(from: input)
            checkpointEnd = end
            checkpointBytes = try POSIX.size(input, file: path)
            logger.debug("index checkpoint read", metadata: ["th.file": "\(path)", "th.offset": "\(end)"])
            return true
        } catch {
            let reason = (error as? Checkpoint.Rejection)?.reason ?? "\(error)"
            logger.notice(
                "index checkpoint ignored: the whole log is replayed",
                metadata: ["th.file": "\(path)", "th.reason": "\(reason)"])
            tables = [:]
            sequence = 0
            end = 0
            // A checkpoint that did not hold never will: remove it, so it cannot match a later log by chance.
            if !isReadOnly { try? POSIX.remove(path) }
            return false
        }
    }

    private mutating func restore(from input: Int32) throws {
        var reader = try Checkpoint.Reader(descriptor: input, file: checkpointPath)
        let version = try reader.get(UInt32.self)
        guard version == Checkpoint.version else {
            throw Checkpoint.Rejection(reason: "format version \(version), not \(Checkpoint.version)")
        }
        let covered = try reader.get(Int64.self)
        let coveredSequence = try reader.get(Int64.self)
        let crc = try reader.get(UInt32.self)
        let size = try POSIX.size(descriptor, file: self.path)
        guard covered >= 0, covered <= size else {
            throw Checkpoint.Rejection(reason: "stale: covers \(covered) bytes, the log has \(size)")
        }
        guard try tailChecksum(end: covered) == crc else {
            throw Checkpoint.Rejection(reason: "stale: the log before byte \(covered) is not the one it covers")
        }
        let tableCount = try reader.get(UInt32.self)
        var restored: [String: TableEngine<Location>] = [:]
        for _ in 0..<tableCount {
            let definition = try JSONDecoder().decode(TableSchema.self, from: Data(try reader.bytes()))
            let types = try JSONDecoder().decode([String: ValueType].self, from: Data(try reader.bytes()))
            var schema = try TableState(definition)
            for (column, type) in types {
                schema.types[column] = type
                schema.untypedColumns.remove(column)
            }
            let slotCount = try reader.get(Int64.self)
            guard slotCount >= 0, slotCount <= Int64(UInt32.max) else {
                throw Checkpoint.Rejection(reason: "bad row count")
            }
            var slots = Slots<Location>()
            var filler = Location(offset: 0, length: 0)
            var pendingDead = 0
            for _ in 0..<slotCount {
                if try reader.get(UInt8.self) == 1 {
                    let location = Location(offset: try reader.get(Int64.self), length: try reader.get(UInt32.self))
                    guard location.offset >= 0, location.offset + Int64(location.length) <= covered else {
                        throw Checkpoint.Rejection(reason: "row outside the log")
                    }
                    filler = location
                    for _ in 0..<pendingDead { slots.append(filler, isLive: false) }
                    pendingDead = 0
                    slots.append(location, isLive: true)
                } else {
                    pendingDead += 1
                }
            }
            for _ in 0..<pendingDead { slots.append(filler, isLive: false) }
            let columnCount = try reader.get(UInt32.self)
            var indexes: [String: SortedIndex] = [:]
            for _ in 0..<columnCount {
                let column = try reader.string()
                let count = try reader.get(Int64.self)
                var index = SortedIndex()
                for _ in 0..<max(0, count) {
                    let value = try reader.value()
                    let row = Int(try reader.get(UInt32.self))
                    guard row < slots.count, slots[row] != nil, index.appendInOrder(value, row: row) else {
                        throw Checkpoint.Rejection(reason: "index of \(column) out of order")
                    }
                }
                indexes[column] = index
            }
            guard let engine = TableEngine(restoring: schema, slots: slots, indexes: indexes) else {
                throw Checkpoint.Rejection(reason: "indexes of table \(definition.name) do not match its rows")
            }
            restored[definition.name] = engine
        }
        var marker: [UInt8] = []
        for _ in Checkpoint.endMarker { marker.append(try reader.get(UInt8.self)) }
        guard marker == Checkpoint.endMarker, reader.isAtEnd, reader.fileEnds() else {
            throw Checkpoint.Rejection(reason: "no end marker")
        }
        tables = restored
        sequence = coveredSequence
        end = covered
    }
}
