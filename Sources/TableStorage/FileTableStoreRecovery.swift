import Foundation
import Logging

extension FileTableStore.State {
    /// An operation read from the log whose batch has not reached its commit line yet.
    private enum Pending {
        case table(TableState)
        case put(table: String, row: Int, location: Location, keys: TableRow, line: Int64)
        case delete(table: String, row: Int, line: Int64)
    }

    /// Where reading the log stopped early, and why.
    private struct Damage: Error {
        var offset: Int64
        var reason: String
    }

    /// A window of the log file in memory.
    private struct Window {
        var bytes: [UInt8]
        var start: Int64 = 0
        var count = 0

        init(capacity: Int) { bytes = [UInt8](repeating: 0, count: capacity) }

        /// Makes `[offset, offset + length)` available; returns its position in ``bytes``.
        mutating func load(_ offset: Int64, _ length: Int, descriptor: Int32, file: String) throws(StorageError) -> Int
        {
            if offset >= start, offset + Int64(length) <= start + Int64(count) { return Int(offset - start) }
            if bytes.count < length { bytes = [UInt8](repeating: 0, count: length) }
            let capacity = bytes.count
            let read = try bytes.withUnsafeMutableBytes { buffer -> Result<Int, StorageError> in
                do {
                    return .success(try POSIX.read(descriptor, into: buffer, count: capacity, at: offset, file: file))
                } catch let error as StorageError {
                    return .failure(error)
                } catch {
                    return .failure(StorageError(.io, file: file, message: "\(error)"))
                }
            }.get()
            start = offset
            count = read
            return 0
        }
    }

    /// Reads the log, rebuilding the tables and indexes; drops a torn tail; refuses or salvages damage
    /// in the middle.
    ///
    /// With `start` > 0 the tables already hold what the log before `start` says (a checkpoint's), and only
    /// the rest is read.
    mutating func replay(from start: Int64, recovery: FileTableStore.Recovery, logger: Logger) throws(StorageError) {
        let size = try POSIX.size(descriptor, file: path)
        var window = Window(capacity: 4 << 20)
        var position = start
        var committedEnd = start
        var pending: [Pending] = []
        var pendingTypes: [String: [String: ValueType]] = [:]
        var pendingTables: [String: TableState] = [:]
        var damage: Damage?
        let minimum = Int64(LogFormat.headerSize + LogFormat.trailerSize)

        var logicalEnd = size
        while position < size {
            let first = try window.load(position, 1, descriptor: descriptor, file: path)
            if window.bytes[first] == UInt8(ascii: " "), try isPadding(from: position, size: size) {
                logicalEnd = position
                break
            }
            guard size - position >= minimum else {
                damage = Damage(offset: position, reason: "incomplete line")
                break
            }
            var at = try window.load(position, LogFormat.headerSize, descriptor: descriptor, file: path)
            let header = window.bytes.withUnsafeBytes { LogFormat.parseHeader($0, at: at) }
            guard let header else {
                damage = Damage(offset: position, reason: "bad line header")
                break
            }
            let frameSize = LogFormat.headerSize + header.length + LogFormat.trailerSize
            guard position + Int64(frameSize) <= size else {
                damage = Damage(offset: position, reason: "line runs past the end of the file")
                break
            }
            at = try window.load(position, frameSize, descriptor: descriptor, file: path)
            let bodyStart = at + LogFormat.headerSize
            let bodyEnd = bodyStart + header.length
            let base = position - Int64(at)
            let outcome: Result<Int64?, Damage> = window.bytes.withUnsafeBytes { bytes in
                guard bytes[bodyEnd] == UInt8(ascii: "}"), bytes[bodyEnd + 1] == UInt8(ascii: "\n") else {
                    return .failure(Damage(offset: position, reason: "bad line ending"))
                }
                let body = UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<bodyEnd])
                guard CRC32.checksum(body) == header.crc else {
                    return .failure(Damage(offset: position, reason: "checksum mismatch"))
                }
                do {
                    return .success(
                        try parseOperation(
                            bytes, from: bodyStart, to: bodyEnd, base: base, line: position, pending: &pending,
                            pendingTypes: &pendingTypes, pendingTables: &pendingTables))
                } catch {
                    return .failure(Damage(offset: position, reason: "unreadable operation"))
                }
            }
            switch outcome {
            case .failure(let failure):
                damage = failure
            case .success(let commitSequence):
                if commitSequence != nil, let impossible = check(pending) {
                    // A batch the writer cannot have written (hand-edited, or damaged with valid checksums):
                    // none of it is applied, as if its commit line were damaged.
                    damage = impossible
                    break
                }
                position += Int64(frameSize)
                if let commitSequence {
                    try apply(pending, types: pendingTypes)
                    pending.removeAll(keepingCapacity: true)
                    pendingTypes.removeAll()
                    pendingTables.removeAll()
                    committedEnd = position
                    sequence = commitSequence
                }
            }
            if damage != nil { break }
        }

        end = committedEnd
        allocated = size
        guard committedEnd < logicalEnd || damage != nil else { return }
        var metadata: Logger.Metadata = [
            "th.file": "\(path)", "th.offset": "\(committedEnd)", "th.size": "\(size)",
        ]
        if let damage {
            metadata["th.damage.offset"] = "\(damage.offset)"
            metadata["th.damage.reason"] = "\(damage.reason)"
            let committedDataFollows = try hasValidCommit(after: damage.offset, size: size)
            let torn = try looksTorn(at: damage.offset, size: size)
            if committedDataFollows || !torn {
                guard recovery == .salvage else {
                    throw StorageError(
                        .malformedStore, file: path, offset: damage.offset,
                        message: "\(damage.reason) (open with recovery .salvage to keep the data before it)")
                }
                let aside = path + ".salvaged-\(committedEnd)"
                try copyTail(from: committedEnd, size: size, to: aside)
                metadata["th.salvaged"] = "\(aside)"
                logger.warning("damaged log salvaged: later data moved aside", metadata: metadata)
            } else if isReadOnly {
                logger.debug("torn tail of the log left out (read-only)", metadata: metadata)
            } else {
                logger.warning("torn tail of the log dropped", metadata: metadata)
            }
        } else if isReadOnly {
            // A writer beside a read-only store is often in the middle of a batch: it is simply not shown yet.
            logger.debug("uncommitted tail of the log left out (read-only)", metadata: metadata)
        } else {
            logger.warning("uncommitted tail of the log dropped", metadata: metadata)
        }
        guard !isReadOnly else {
            allocated = committedEnd
            return
        }
        try POSIX.truncate(descriptor, to: committedEnd, file: path)
        allocated = committedEnd
        let code = io.sync(descriptor)
        if code != 0 { throw POSIX.error(code, file: path, doing: "fdatasync") }
    }

    /// Parses one operation; returns the commit sequence for a commit line, `nil` otherwise.
    private func parseOperation(
        _ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, base: Int64, line: Int64,
        pending: inout [Pending],
        pendingTypes: inout [String: [String: ValueType]], pendingTables: inout [String: TableState]
    ) throws -> Int64? {
        var scanner = JSONScanner(bytes, from: start, to: end)
        try scanner.expect(#"{"op":""#)
        switch scanner.peek {
        case UInt8(ascii: "p"):
            try scanner.expect(#"put","t":"#)
            let table = try scanner.string()
            try scanner.expect(#","row":"#)
            let row = try scanner.integer()
            try scanner.expect(#","v":"#)
            let valueStart = scanner.position
            guard let schema = tables[table]?.schema ?? pendingTables[table] else {
                throw JSONScanner.Failure(position: scanner.position)
            }
            let indexed = schema.definition.indexedColumns
            var keys: [String: Value] = [:]
            var newTypes = pendingTypes[table] ?? [:]
            try scanner.object { (scanner: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
                if indexed.contains(key) {
                    let value = try scanner.value()
                    if let type = value.type {
                        keys[key] = value
                        if schema.types[key] == nil, newTypes[key] == nil { newTypes[key] = type }
                    }
                } else if schema.types[key] != nil || newTypes[key] != nil {
                    _ = try scanner.skipValue()
                } else if let type = try scanner.skipValue() {
                    newTypes[key] = type
                }
            }
            let valueEnd = scanner.position
            try scanner.expect("}")
            guard scanner.isAtEnd else { throw JSONScanner.Failure(position: scanner.position) }
            if !newTypes.isEmpty { pendingTypes[table] = newTypes }
            let location = Location(offset: base + Int64(valueStart), length: UInt32(valueEnd - valueStart))
            pending.append(.put(table: table, row: row, location: location, keys: TableRow(trusted: keys), line: line))
            return nil
        case UInt8(ascii: "d"):
            try scanner.expect(#"del","t":"#)
            let table = try scanner.string()
            try scanner.expect(#","row":"#)
            let row = try scanner.integer()
            try scanner.expect("}")
            guard scanner.isAtEnd, tables[table] != nil || pendingTables[table] != nil else {
                throw JSONScanner.Failure(position: scanner.position)
            }
            pending.append(.delete(table: table, row: row, line: line))
            return nil
        case UInt8(ascii: "t"):
            struct TableLine: Decodable {
                var def: TableSchema
                var types: [String: ValueType]
            }
            let line = try JSONDecoder().decode(
                TableLine.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[start..<end])))
            var schema = try TableState(line.def)
            for (column, type) in line.types {
                schema.types[column] = type
                schema.untypedColumns.remove(column)
            }
            pendingTables[line.def.name] = schema
            pending.append(.table(schema))
            return nil
        case UInt8(ascii: "c"):
            try scanner.expect(#"commit","seq":"#)
            let sequence = try scanner.integer()
            try scanner.expect(#","ops":"#)
            let operations = try scanner.integer()
            try scanner.expect("}")
            guard scanner.isAtEnd, operations == pending.count else {
                throw JSONScanner.Failure(position: scanner.position)
            }
            return Int64(sequence)
        default:
            throw JSONScanner.Failure(position: scanner.position)
        }
    }

    /// What one table looks like part-way through checking a batch: rows the batch appended or deleted, and
    /// the unique-key values its puts hold.
    private struct BatchTable {
        var count: Int
        var deleted: Set<Int> = []
        var appended: Set<Int> = []
        var keyHolders: [Value: Int] = [:]
    }

    /// Checks a batch against the tables before it is applied: the writer gives a new row the next row number,
    /// puts over and deletes only live rows, and never stores a unique-key value twice. A batch that breaks any
    /// of these is damage at the line that breaks it, so that a row number cannot make an open allocate beyond
    /// the file's size, and a key is never shown twice.
    private func check(_ operations: [Pending]) -> Damage? {
        var batch: [String: BatchTable] = [:]
        var created: [String: TableState] = [:]
        for operation in operations {
            let (name, row, line, keys): (String, Int, Int64, TableRow?)
            switch operation {
            case .table(let schema):
                if tables[schema.definition.name] == nil { created[schema.definition.name] = schema }
                continue
            case .put(let table, let number, _, let record, let offset):
                (name, row, line, keys) = (table, number, offset, record)
            case .delete(let table, let number, let offset): (name, row, line, keys) = (table, number, offset, nil)
            }
            let engine = tables[name]
            // Taken out of `batch` while it changes, so that its sets and dictionary are not copied per line.
            var state = batch.removeValue(forKey: name) ?? BatchTable(count: engine?.nextRow ?? 0)
            let isLive: Bool
            if state.appended.contains(row) {
                isLive = !state.deleted.contains(row)
            } else if row >= 0, let engine, row < engine.nextRow {
                isLive = engine.slots[row] != nil && !state.deleted.contains(row)
            } else {
                isLive = false
            }
            if let keys {
                guard isLive || row == state.count else {
                    return Damage(
                        offset: line,
                        reason: row >= 0 && row < state.count
                            ? "puts row \(row) of table \(name), which was deleted"
                            : "row \(row) of table \(name) is out of range (the next new row is \(state.count))")
                }
                if row == state.count {
                    state.appended.insert(row)
                    state.count += 1
                }
                let schema = engine?.schema ?? created[name]
                if let column = schema?.definition.uniqueKey, let value = keys[column], !value.isNull {
                    let holder =
                        state.keyHolders[value]
                        ?? engine?.indexes[column]?.firstRow(equalTo: value).flatMap {
                            state.deleted.contains($0) ? nil : $0
                        }
                    if let holder, holder != row, !state.deleted.contains(holder) {
                        return Damage(
                            offset: line,
                            reason: "row \(row) repeats value \(value) of unique key \(column) of table \(name), "
                                + "held by row \(holder)")
                    }
                    state.keyHolders[value] = row
                }
            } else {
                guard isLive else {
                    return Damage(offset: line, reason: "deletes row \(row) of table \(name), which is not a live row")
                }
                state.deleted.insert(row)
            }
            batch[name] = state
        }
        return nil
    }

    /// Applies the operations of a committed batch.
    private mutating func apply(_ operations: [Pending], types: [String: [String: ValueType]]) throws(StorageError) {
        var currentName: String?
        var current: TableEngine<Location>?
        func flush(_ state: inout FileTableStore.State) {
            if let currentName, let current { state.tables[currentName] = current }
            currentName = nil
            current = nil
        }
        for operation in operations {
            let (table, change, payload): (String, TableChange?, Location)
            switch operation {
            case .table(let schema):
                flush(&self)
                if tables[schema.definition.name] == nil {
                    tables[schema.definition.name] = TableEngine(schema: schema)
                }
                continue
            case .put(let name, let row, let location, let keys, _):
                (table, change, payload) = (name, .put(row: row, record: keys), location)
            case .delete(let name, let row, _):
                (table, change, payload) = (name, .delete(row: row), Location(offset: 0, length: 0))
            }
            if currentName != table {
                flush(&self)
                currentName = table
                current = tables.removeValue(forKey: table)
            }
            guard let change else { continue }
            do {
                try current?.apply(change, payload: payload) { try reader.load($0) }
            } catch let error as StorageError {
                flush(&self)
                throw error
            } catch {
                flush(&self)
                throw StorageError(.io, file: path, message: "\(error)")
            }
        }
        flush(&self)
        for (table, columns) in types {
            for (column, type) in columns where tables[table]?.schema.types[column] == nil {
                tables[table]?.schema.types[column] = type
                tables[table]?.schema.untypedColumns.remove(column)
            }
        }
    }

    /// Whether the log from `offset` to its end is padding (spaces, and newlines), as ``write(_:)`` leaves.
    private func isPadding(from offset: Int64, size: Int64) throws(StorageError) -> Bool {
        var window = Window(capacity: 1 << 20)
        var position = offset
        while position < size {
            let length = Int(min(Int64(1 << 20), size - position))
            let at = try window.load(position, length, descriptor: descriptor, file: path)
            if position == offset, window.bytes[at] != UInt8(ascii: " ") { return false }
            for byte in window.bytes[at..<at + length] where byte != UInt8(ascii: " ") && byte != 0x0A { return false }
            position += Int64(length)
        }
        return true
    }

    /// Whether the damaged line starts as a torn write would: with the start of a line header (as much of it as
    /// the write got out), then, where the write stopped short of it, only the padding of spaces or the zeros
    /// a torn write over padding or over unwritten space leaves. Anything else is foreign data, never cut off
    /// silently.
    private func looksTorn(at offset: Int64, size: Int64) throws(StorageError) -> Bool {
        let marker = Array(#"{"crc":""#.utf8)
        let length = Int(min(Int64(marker.count), size - offset))
        var window = Window(capacity: marker.count)
        let at = try window.load(offset, length, descriptor: descriptor, file: path)
        let head = window.bytes[at..<at + length]
        let written = zip(head, marker).prefix { $0 == $1 }.count
        let rest = head.dropFirst(written)
        return rest.allSatisfy { $0 == 0 } || rest.allSatisfy { $0 == UInt8(ascii: " ") }
    }

    /// Whether a valid commit line lies after `offset` (so damage there is not a torn tail).
    private func hasValidCommit(after offset: Int64, size: Int64) throws(StorageError) -> Bool {
        let marker = Array(#"{"crc":""#.utf8)
        let chunk = 1 << 20
        var window = Window(capacity: chunk + marker.count)
        var scan = offset + 1
        var candidates: [Int64] = []
        while scan < size {
            let length = Int(min(Int64(chunk + marker.count), size - scan))
            let at = try window.load(scan, length, descriptor: descriptor, file: path)
            window.bytes.withUnsafeBytes { bytes in
                var index = at
                while index + marker.count <= at + length {
                    if bytes[index] == marker[0],
                        UnsafeRawBufferPointer(rebasing: bytes[index..<index + marker.count]).elementsEqual(marker)
                    {
                        candidates.append(scan + Int64(index - at))
                    }
                    index += 1
                }
            }
            for candidate in candidates where try isCommitFrame(at: candidate, size: size) { return true }
            candidates.removeAll()
            scan += Int64(chunk)
        }
        return false
    }

    private func isCommitFrame(at offset: Int64, size: Int64) throws(StorageError) -> Bool {
        var window = Window(capacity: 256)
        guard size - offset >= Int64(LogFormat.headerSize + LogFormat.trailerSize) else { return false }
        let at = try window.load(offset, LogFormat.headerSize, descriptor: descriptor, file: path)
        guard let header = window.bytes.withUnsafeBytes({ LogFormat.parseHeader($0, at: at) }),
            header.length < 256, offset + Int64(LogFormat.headerSize + header.length + 2) <= size
        else { return false }
        let start = try window.load(
            offset, LogFormat.headerSize + header.length + 2, descriptor: descriptor, file: path)
        return window.bytes.withUnsafeBytes { bytes in
            let bodyStart = start + LogFormat.headerSize
            let body = UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<bodyStart + header.length])
            return CRC32.checksum(body) == header.crc && body.starts(with: #"{"op":"commit""#.utf8)
        }
    }

    /// Copies `[offset, size)` of the log to a new file, flushed, for salvage.
    private func copyTail(from offset: Int64, size: Int64, to target: String) throws(StorageError) {
        try POSIX.remove(target)
        let (output, _) = try POSIX.open(target, create: true)
        defer { POSIX.close(output) }
        var window = Window(capacity: 1 << 20)
        var position = offset
        while position < size {
            let length = Int(min(Int64(1 << 20), size - position))
            let at = try window.load(position, length, descriptor: descriptor, file: path)
            let failure = window.bytes.withUnsafeBytes { bytes in
                Self.writeAll(
                    UnsafeRawBufferPointer(rebasing: bytes[at..<at + length]), to: output, at: position - offset,
                    io: io, file: target)
            }
            if let failure { throw failure }
            position += Int64(length)
        }
        let code = io.sync(output)
        if code != 0 { throw POSIX.error(code, file: target, doing: "fdatasync") }
        try POSIX.syncDirectory(directory)
    }
}
