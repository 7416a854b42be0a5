import Logging

extension FileTableStore.State {
    /// Rewrites the log with only the live rows: a new file, flushed, renamed over the log, and the directory
    /// flushed. Until the rename the old log is untouched (a crash leaves a `.compacting` file the next open
    /// removes); after it the new log is whole.
    mutating func compact(logger: Logger) throws(StorageError) {
        try checkOpen()
        if isReadOnly { throw StorageError(.readOnly, file: path, message: "the store was opened read-only") }
        if let broken { throw broken }
        let target = path + ".compacting"
        try POSIX.remove(target)
        let (output, _) = try POSIX.open(target, create: true)
        var keepOutput = false
        defer {
            if !keepOutput {
                POSIX.close(output)
                try? POSIX.remove(target)
            }
        }
        var encoder = LogEncoder(capacity: 8 << 20)
        var written: Int64 = 0
        var sequence: Int64 = 0
        var newLocations: [String: [Location]] = [:]
        func flush(_ encoder: inout LogEncoder) throws(StorageError) {
            let failure = encoder.withBytes { bytes in
                Self.writeAll(bytes, to: output, at: written, io: io, file: target)
            }
            if let failure { throw failure }
            written += Int64(encoder.count)
            encoder.removeAll()
        }
        for name in tables.keys.sorted() {
            guard let engine = tables[name] else { continue }
            try Self.encodeTable(engine.schema, into: &encoder)
            sequence += 1
            Self.encodeCommit(sequence: sequence, operations: 1, into: &encoder)
            var prefix = LogEncoder()
            prefix.raw(#"{"op":"put","t":"#)
            prefix.string(name)
            prefix.raw(#","row":"#)
            var locations: [Location] = []
            locations.reserveCapacity(engine.liveCount)
            var operations = 0
            for slot in engine.slots {
                guard let slot else { continue }
                let frame = encoder.beginFrame()
                encoder.append(prefix)
                encoder.integer(Int64(locations.count))
                encoder.raw(#","v":"#)
                let start = written + Int64(encoder.count)
                encoder.append(try reader.bytes(slot))
                locations.append(Location(offset: start, length: slot.length))
                encoder.raw("}")
                encoder.endFrame(frame)
                operations += 1
                if operations == 10_000 || encoder.count >= 8 << 20 {
                    sequence += 1
                    Self.encodeCommit(sequence: sequence, operations: operations, into: &encoder)
                    operations = 0
                    try flush(&encoder)
                }
            }
            if operations > 0 {
                sequence += 1
                Self.encodeCommit(sequence: sequence, operations: operations, into: &encoder)
            }
            newLocations[name] = locations
        }
        try flush(&encoder)
        let code = io.sync(output)
        if code != 0 { throw POSIX.error(code, file: target, doing: "fdatasync") }
        // The checkpoint describes the old log; the open would find it stale, but it goes first all the same.
        try POSIX.remove(checkpointPath)
        checkpointEnd = 0
        try POSIX.rename(target, to: path)
        keepOutput = true
        // From here the new log is the store's, whatever happens next.
        POSIX.close(reader.descriptor)
        reader.descriptor = output
        reader.clearCache()
        let before = end
        end = written
        allocated = written
        self.sequence = sequence
        for (name, locations) in newLocations {
            guard var engine = tables.removeValue(forKey: name) else { continue }
            engine.compactSlots()
            for (row, location) in locations.enumerated() { engine.relocate(row: row, to: location) }
            tables[name] = engine
        }
        logger.debug(
            "log compacted", metadata: ["th.file": "\(path)", "th.before": "\(before)", "th.after": "\(written)"])
        try POSIX.syncDirectory(directory)
        if checkpointInterval > 0, end >= checkpointInterval { writeCheckpoint(logger: logger) }
    }
}
