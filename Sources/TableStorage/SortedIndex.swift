import Foundation

/// An index on one column: `(value, row)` pairs sorted by value, then row.
///
/// Rows without a value are kept apart, in row order, so they sort first, as in SQLite. The last entry is the
/// newest value: O(1); a lookup or an insertion point is O(log n).
///
/// The entries live in sorted chunks of at most ``maximumChunkCount`` entries, each a pair of contiguous arrays
/// (keys and row numbers), so an insertion moves at most one chunk's entries, whatever order the values come in.
/// A column of integers, dates or doubles (the usual case: a tweet id, a date) keeps each value as an `Int64`
/// that sorts as the value does, and a row number as a `UInt32`: 12 bytes an entry. Other columns keep
/// ``Value``s. An index starts with the representation of the first value it gets and falls back to ``Value``s
/// if a value of another type ever arrives.
package struct SortedIndex: Sendable {
    /// The most entries a chunk holds; a full chunk splits in two.
    package static let maximumChunkCount = 1024

    /// Where an entry lies: its chunk and its place in the chunk. The end is `(chunks, 0)`.
    package struct Position: Sendable, Hashable, Comparable {
        package var chunk: Int
        package var offset: Int

        package static func < (lhs: Position, rhs: Position) -> Bool {
            lhs.chunk < rhs.chunk || (lhs.chunk == rhs.chunk && lhs.offset < rhs.offset)
        }
    }

    /// How the non-null values are kept.
    fileprivate enum Kind: Sendable {
        /// No non-null value yet.
        case unset
        /// `Value.int`, as itself.
        case int
        /// `Value.date`, its `timeIntervalSince1970` as an ordered `Int64`.
        case date
        /// `Value.double`, as an ordered `Int64`.
        case double
        /// Any value, as itself.
        case generic

        var isNumbers: Bool {
            switch self {
            case .int, .date, .double: true
            case .unset, .generic: false
            }
        }
    }

    private var kind = Kind.unset
    /// The non-null values of an `.int`, `.date` or `.double` index.
    private var numbers = ChunkedList<Int64>()
    /// The non-null values of a `.generic` index.
    private var values = ChunkedList<ValueKey>()
    /// The rows without a value, in row order.
    private var nulls = ChunkedList<NullKey>()

    package init() {}

    /// The number of entries.
    package var count: Int { nulls.count + numbers.count + values.count }

    // MARK: Keys

    private static func orderedKey(_ double: Double) -> Int64 {
        // -0.0 == 0.0; both sort as 0.0.
        let bits = (double == 0 ? 0.0 : double).bitPattern
        let ordered = bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
        return Int64(bitPattern: ordered ^ (1 << 63))
    }

    private static func double(_ key: Int64) -> Double {
        let ordered = UInt64(bitPattern: key) ^ (1 << 63)
        let bits = ordered & (1 << 63) != 0 ? ordered & ~(1 << 63) : ~ordered
        return Double(bitPattern: bits)
    }

    /// The `Int64` key of a value in this index's representation, if it has one.
    private func numberKey(_ value: Value) -> Int64? {
        switch (kind, value) {
        case (.int, .int(let number)): return number
        case (.date, .date(let date)):
            let seconds = date.timeIntervalSince1970
            return seconds.isNaN ? nil : Self.orderedKey(seconds)
        case (.double, .double(let number)): return number.isNaN ? nil : Self.orderedKey(number)
        default: return nil
        }
    }

    private func value(ofNumber key: Int64) -> Value {
        switch kind {
        case .date: .date(Date(timeIntervalSince1970: Self.double(key)))
        case .double: .double(Self.double(key))
        default: .int(key)
        }
    }

    /// Picks the representation for the first non-null value, or falls back to ``Value``s for a value the
    /// current one cannot hold.
    private mutating func prepare(for value: Value) {
        if case .unset = kind {
            switch value {
            case .int: kind = .int
            case .date(let date) where !date.timeIntervalSince1970.isNaN: kind = .date
            case .double(let number) where !number.isNaN: kind = .double
            default: kind = .generic
            }
            return
        }
        if case .generic = kind { return }
        if numberKey(value) != nil { return }
        var converted = ChunkedList<ValueKey>()
        numbers.forEach(ascending: true) { key, row in
            converted.append(ValueKey(value: self.value(ofNumber: key)), row: row)
            return true
        }
        numbers = ChunkedList()
        values = converted
        kind = .generic
    }

    // MARK: Changing

    /// Adds an entry.
    package mutating func insert(_ value: Value, row: Int) {
        if value.isNull {
            nulls.insert(NullKey(), row: row)
            return
        }
        prepare(for: value)
        if let key = numberKey(value) {
            numbers.insert(key, row: row)
        } else {
            values.insert(ValueKey(value: value), row: row)
        }
    }

    /// Removes an entry, if present.
    package mutating func remove(_ value: Value, row: Int) {
        if value.isNull {
            nulls.remove(NullKey(), row: row)
        } else if let key = numberKey(value) {
            numbers.remove(key, row: row)
        } else if case .generic = kind {
            values.remove(ValueKey(value: value), row: row)
        }
    }

    /// Renumbers rows with `map` (which must keep their order) after a compaction.
    package mutating func renumber(_ map: (Int) -> Int) {
        nulls.renumber(map)
        numbers.renumber(map)
        values.renumber(map)
    }

    // MARK: Reading

    /// The first row whose value equals `value`, if any.
    package func firstRow(equalTo value: Value) -> Int? {
        if value.isNull { return nulls.first?.row }
        if let key = numberKey(value) { return numbers.firstRow(equalTo: key) }
        switch kind {
        case .unset: return nil
        case .generic: return values.firstRow(equalTo: ValueKey(value: value))
        case .int, .date, .double:
            // A value of another type that may still compare equal, such as 2.0 in a column of integers.
            let position = numbers.lowerBound { Value.compare(self.value(ofNumber: $0), value) < 0 }
            guard let entry = numbers.entry(at: position), Value.compare(self.value(ofNumber: entry.key), value) == 0
            else { return nil }
            return entry.row
        }
    }

    /// The entry with the greatest non-null value, if any.
    package var last: (value: Value, row: Int)? {
        if let last = numbers.last { return (value(ofNumber: last.key), last.row) }
        if let last = values.last { return (last.key.value, last.row) }
        return nil
    }

    /// The entries in order (or in reverse), until `body` returns `false`.
    package func forEach<Failure: Error>(
        ascending: Bool, _ body: (_ value: Value, _ row: Int) throws(Failure) -> Bool
    ) throws(Failure) {
        var going = true
        if ascending {
            try nulls.forEach(ascending: true) { _, row throws(Failure) in
                going = try body(.null, row)
                return going
            }
        }
        guard going else { return }
        try numbers.forEach(ascending: ascending) { key, row throws(Failure) in
            going = try body(value(ofNumber: key), row)
            return going
        }
        guard going else { return }
        try values.forEach(ascending: ascending) { key, row throws(Failure) in
            going = try body(key.value, row)
            return going
        }
        guard going, !ascending else { return }
        try nulls.forEach(ascending: false) { _, row throws(Failure) in try body(.null, row) }
    }

    /// Adds an entry that sorts after every entry already there (as when reading back what ``forEach(ascending:_:)``
    /// gave); returns `false`, adding nothing, if it does not.
    package mutating func appendInOrder(_ value: Value, row: Int) -> Bool {
        guard row >= 0, row <= Int(UInt32.max) else { return false }
        if value.isNull { return nulls.appendInOrder(NullKey(), row: row) }
        prepare(for: value)
        if let key = numberKey(value) { return numbers.appendInOrder(key, row: row) }
        return values.appendInOrder(ValueKey(value: value), row: row)
    }

    /// The entries whose value lies in the range a comparison describes, as the part of the null rows and the
    /// part of the values it covers; `nil` for `notEqual`.
    package func positions(_ op: RowPredicate.Comparison, _ value: Value) -> IndexRange? {
        if op == .notEqual { return nil }
        let nullsAll = Position(chunk: 0, offset: 0)..<nulls.end
        let noNulls = nulls.end..<nulls.end
        if value.isNull {
            // Only `equal` and ordered comparisons with null reach here; null sorts first.
            switch op {
            // (The same ranges as a single sorted array whose null entries come first.)
            case .equal: return IndexRange(nulls: nullsAll, values: nil)
            case .greaterOrEqual: return IndexRange(nulls: nullsAll, values: valuesAll)
            case .greater: return IndexRange(nulls: noNulls, values: valuesAll)
            default: return IndexRange(nulls: noNulls, values: nil)
            }
        }
        let start = lowerBound(value, orEqual: false)
        let end = lowerBound(value, orEqual: true)
        let valuesEnd = kind.isNumbers ? numbers.end : values.end
        let first = Position(chunk: 0, offset: 0)
        switch op {
        case .equal: return IndexRange(nulls: noNulls, values: start..<end)
        case .less: return IndexRange(nulls: noNulls, values: first..<start)
        case .lessOrEqual: return IndexRange(nulls: noNulls, values: first..<end)
        case .greater: return IndexRange(nulls: noNulls, values: end..<valuesEnd)
        case .greaterOrEqual: return IndexRange(nulls: noNulls, values: start..<valuesEnd)
        case .notEqual: return nil
        }
    }

    private var valuesAll: Range<Position> {
        Position(chunk: 0, offset: 0)..<(kind.isNumbers ? numbers.end : values.end)
    }

    /// The first position of a non-null value greater than (`orEqual`: or equal to) `value`.
    private func lowerBound(_ value: Value, orEqual: Bool) -> Position {
        if let key = numberKey(value) {
            return orEqual ? numbers.lowerBound { $0 <= key } : numbers.lowerBound { $0 < key }
        }
        if kind.isNumbers {
            return numbers.lowerBound {
                let order = Value.compare(self.value(ofNumber: $0), value)
                return orEqual ? order <= 0 : order < 0
            }
        }
        return values.lowerBound {
            let order = Value.compare($0.value, value)
            return orEqual ? order <= 0 : order < 0
        }
    }

    /// The number of entries in a range.
    package func count(_ range: IndexRange) -> Int {
        var total = nulls.count(range.nulls)
        if let values = range.values { total += kind.isNumbers ? numbers.count(values) : self.values.count(values) }
        return total
    }

    /// The rows of the entries in a range, in index order.
    package func rows(_ range: IndexRange) -> [Int] {
        var rows: [Int] = []
        rows.reserveCapacity(count(range))
        nulls.rows(range.nulls, into: &rows)
        if let values = range.values {
            if kind.isNumbers { numbers.rows(values, into: &rows) } else { self.values.rows(values, into: &rows) }
        }
        return rows
    }

    /// The heap bytes the index holds (for measurements).
    package var allocatedBytes: Int { nulls.allocatedBytes + numbers.allocatedBytes + values.allocatedBytes }
}

/// A range of a ``SortedIndex``: part of its null rows, and part of its values (`nil`: none).
package struct IndexRange: Sendable {
    package var nulls: Range<SortedIndex.Position>
    package var values: Range<SortedIndex.Position>?
}

// MARK: - Chunked storage

/// A key a ``ChunkedList`` sorts by.
package protocol ChunkKey: Sendable {
    static func order(_ lhs: Self, _ rhs: Self) -> Int
}

extension Int64: ChunkKey {
    @inline(__always)
    package static func order(_ lhs: Int64, _ rhs: Int64) -> Int { lhs < rhs ? -1 : (lhs == rhs ? 0 : 1) }
}

/// A ``Value`` as a key, in the order of `Value.compare`.
package struct ValueKey: ChunkKey {
    package var value: Value
    package static func order(_ lhs: ValueKey, _ rhs: ValueKey) -> Int { Value.compare(lhs.value, rhs.value) }
}

/// The key of the null rows: all equal, so they sort by row.
package struct NullKey: ChunkKey {
    package static func order(_ lhs: NullKey, _ rhs: NullKey) -> Int { 0 }
}

/// `(key, row)` entries sorted by key, then row, in chunks of at most ``SortedIndex/maximumChunkCount``.
///
/// An insertion moves the entries of one chunk; a full chunk splits in two, except at either end, where a new
/// chunk starts (so values that only grow, or only shrink, fill every chunk). A chunk that empties is dropped.
package struct ChunkedList<Key: ChunkKey>: Sendable {
    package typealias Position = SortedIndex.Position

    struct Chunk: Sendable {
        var keys: [Key]
        var rows: [UInt32]
    }

    private var chunks: [Chunk] = []
    package private(set) var count = 0

    package init() {}

    private static var maximum: Int { SortedIndex.maximumChunkCount }

    package var end: Position { Position(chunk: chunks.count, offset: 0) }

    private static func row(_ row: Int) -> UInt32 {
        guard let narrow = UInt32(exactly: row) else {
            preconditionFailure("row number \(row) exceeds the index's limit of \(UInt32.max)")
        }
        return narrow
    }

    /// Whether entry `(key, row)` of a chunk precedes `(target, targetRow)`.
    @inline(__always)
    private static func precedes(_ key: Key, _ row: UInt32, _ target: Key, _ targetRow: UInt32) -> Bool {
        let order = Key.order(key, target)
        return order < 0 || (order == 0 && row < targetRow)
    }

    package var first: (key: Key, row: Int)? {
        guard let chunk = chunks.first else { return nil }
        return (chunk.keys[0], Int(chunk.rows[0]))
    }

    package var last: (key: Key, row: Int)? {
        guard let chunk = chunks.last, let key = chunk.keys.last, let row = chunk.rows.last else { return nil }
        return (key, Int(row))
    }

    package func entry(at position: Position) -> (key: Key, row: Int)? {
        guard position.chunk < chunks.count else { return nil }
        let chunk = chunks[position.chunk]
        return (chunk.keys[position.offset], Int(chunk.rows[position.offset]))
    }

    /// The first position whose key does not satisfy `isBefore` (which must hold for a prefix of the keys).
    package func lowerBound(_ isBefore: (Key) -> Bool) -> Position {
        // The first chunk whose last key is not before.
        var low = 0
        var high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            if let last = chunks[mid].keys.last, isBefore(last) { low = mid + 1 } else { high = mid }
        }
        guard low < chunks.count else { return end }
        let keys = chunks[low].keys
        var lo = 0
        var hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isBefore(keys[mid]) { lo = mid + 1 } else { hi = mid }
        }
        return Position(chunk: low, offset: lo)
    }

    /// The position of `(key, row)`, or where it would go.
    private func lowerBound(_ key: Key, row: UInt32) -> Position {
        var low = 0
        var high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            let chunk = chunks[mid]
            if let last = chunk.keys.last, Self.precedes(last, chunk.rows[chunk.rows.count - 1], key, row) {
                low = mid + 1
            } else {
                high = mid
            }
        }
        guard low < chunks.count else { return end }
        let chunk = chunks[low]
        var lo = 0
        var hi = chunk.keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Self.precedes(chunk.keys[mid], chunk.rows[mid], key, row) { lo = mid + 1 } else { hi = mid }
        }
        return Position(chunk: low, offset: lo)
    }

    package func firstRow(equalTo key: Key) -> Int? {
        let position = lowerBound { Key.order($0, key) < 0 }
        guard let entry = entry(at: position), Key.order(entry.key, key) == 0 else { return nil }
        return entry.row
    }

    /// Appends an entry that sorts after every other (the caller's promise).
    package mutating func append(_ key: Key, row: Int) {
        let narrow = Self.row(row)
        if chunks.isEmpty || chunks[chunks.count - 1].keys.count >= Self.maximum {
            chunks.append(Self.newChunk(key, narrow))
        } else {
            chunks[chunks.count - 1].keys.append(key)
            chunks[chunks.count - 1].rows.append(narrow)
        }
        count += 1
    }

    private static func newChunk(_ key: Key, _ row: UInt32) -> Chunk {
        var chunk = Chunk(keys: [], rows: [])
        chunk.keys.reserveCapacity(maximum)
        chunk.rows.reserveCapacity(maximum)
        chunk.keys.append(key)
        chunk.rows.append(row)
        return chunk
    }

    package mutating func insert(_ key: Key, row: Int) {
        let narrow = Self.row(row)
        if let lastChunk = chunks.last {
            let lastKey = lastChunk.keys[lastChunk.keys.count - 1]
            if Self.precedes(lastKey, lastChunk.rows[lastChunk.rows.count - 1], key, narrow) {
                append(key, row: row)
                return
            }
        } else {
            append(key, row: row)
            return
        }
        var position = lowerBound(key, row: narrow)
        if position.chunk == chunks.count {
            position = Position(chunk: chunks.count - 1, offset: chunks[chunks.count - 1].keys.count)
        }
        if chunks[position.chunk].keys.count >= Self.maximum {
            if position.offset == 0 {
                // Before a full chunk: the end of the previous one, or a new chunk.
                if position.chunk > 0, chunks[position.chunk - 1].keys.count < Self.maximum {
                    chunks[position.chunk - 1].keys.append(key)
                    chunks[position.chunk - 1].rows.append(narrow)
                } else {
                    chunks.insert(Self.newChunk(key, narrow), at: position.chunk)
                }
                count += 1
                return
            }
            split(position.chunk)
            let half = chunks[position.chunk].keys.count
            if position.offset > half { position = Position(chunk: position.chunk + 1, offset: position.offset - half) }
        }
        chunks[position.chunk].keys.insert(key, at: position.offset)
        chunks[position.chunk].rows.insert(narrow, at: position.offset)
        count += 1
    }

    private mutating func split(_ index: Int) {
        let half = chunks[index].keys.count / 2
        var upper = Chunk(keys: [], rows: [])
        upper.keys.reserveCapacity(Self.maximum)
        upper.rows.reserveCapacity(Self.maximum)
        upper.keys.append(contentsOf: chunks[index].keys[half...])
        upper.rows.append(contentsOf: chunks[index].rows[half...])
        chunks[index].keys.removeSubrange(half...)
        chunks[index].rows.removeSubrange(half...)
        chunks.insert(upper, at: index + 1)
    }

    package mutating func remove(_ key: Key, row: Int) {
        guard let narrow = UInt32(exactly: row) else { return }
        let position = lowerBound(key, row: narrow)
        guard position.chunk < chunks.count else { return }
        let chunk = chunks[position.chunk]
        guard chunk.rows[position.offset] == narrow, Key.order(chunk.keys[position.offset], key) == 0 else { return }
        if chunk.keys.count == 1 {
            chunks.remove(at: position.chunk)
        } else {
            chunks[position.chunk].keys.remove(at: position.offset)
            chunks[position.chunk].rows.remove(at: position.offset)
            mergeIfSparse(position.chunk)
        }
        count -= 1
    }

    /// Joins a chunk that has shrunk to an eighth with a neighbour, when they fit in one.
    private mutating func mergeIfSparse(_ index: Int) {
        guard chunks[index].keys.count <= Self.maximum / 8 else { return }
        for neighbour in [index + 1, index - 1] where neighbour >= 0 && neighbour < chunks.count {
            let (lower, upper) = (min(index, neighbour), max(index, neighbour))
            guard chunks[lower].keys.count + chunks[upper].keys.count <= Self.maximum / 2 else { continue }
            let moved = chunks.remove(at: upper)
            chunks[lower].keys.append(contentsOf: moved.keys)
            chunks[lower].rows.append(contentsOf: moved.rows)
            return
        }
    }

    package mutating func renumber(_ map: (Int) -> Int) {
        for index in chunks.indices {
            for offset in chunks[index].rows.indices {
                chunks[index].rows[offset] = Self.row(map(Int(chunks[index].rows[offset])))
            }
        }
    }

    /// Appends `(key, row)` if it sorts after the last entry; returns whether it did.
    package mutating func appendInOrder(_ key: Key, row: Int) -> Bool {
        if let last, !Self.precedes(last.key, UInt32(last.row), key, Self.row(row)) { return false }
        append(key, row: row)
        return true
    }

    package func forEach<Failure: Error>(ascending: Bool, _ body: (Key, Int) throws(Failure) -> Bool) throws(Failure) {
        if ascending {
            for chunk in chunks {
                for offset in chunk.keys.indices {
                    if try !body(chunk.keys[offset], Int(chunk.rows[offset])) { return }
                }
            }
        } else {
            for chunk in chunks.reversed() {
                for offset in chunk.keys.indices.reversed() {
                    if try !body(chunk.keys[offset], Int(chunk.rows[offset])) { return }
                }
            }
        }
    }

    package func count(_ range: Range<Position>) -> Int {
        guard !range.isEmpty else { return 0 }
        let (lower, upper) = (range.lowerBound, range.upperBound)
        if lower.chunk == upper.chunk { return upper.offset - lower.offset }
        var total = chunks[lower.chunk].keys.count - lower.offset
        for index in (lower.chunk + 1)..<upper.chunk { total += chunks[index].keys.count }
        return total + upper.offset
    }

    package func rows(_ range: Range<Position>, into rows: inout [Int]) {
        guard !range.isEmpty else { return }
        let (lower, upper) = (range.lowerBound, range.upperBound)
        for index in lower.chunk...min(upper.chunk, chunks.count - 1) {
            let chunk = chunks[index]
            let from = index == lower.chunk ? lower.offset : 0
            let to = index == upper.chunk ? upper.offset : chunk.rows.count
            for offset in from..<to { rows.append(Int(chunk.rows[offset])) }
        }
    }

    package var allocatedBytes: Int {
        var total = chunks.capacity * MemoryLayout<Chunk>.stride
        for chunk in chunks {
            total += chunk.keys.capacity * MemoryLayout<Key>.stride + chunk.rows.capacity * 4 + 64
        }
        return total
    }
}
