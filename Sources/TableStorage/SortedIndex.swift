/// An index on one column: `(value, row)` pairs sorted by value, then row, searched by bisection.
///
/// Rows without a value are kept as ``Value/null`` entries, so they sort first, as in SQLite. The last
/// entry is the newest value: O(1); a lookup or an insertion point is O(log n).
package struct SortedIndex: Sendable {
    /// One entry.
    package struct Entry: Sendable {
        package var value: Value
        package var row: Int
    }

    /// The entries in order.
    package private(set) var entries: [Entry] = []

    package init() {}

    /// The number of entries.
    package var count: Int { entries.count }

    private func lowerBound(_ value: Value, row: Int) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            let entry = entries[mid]
            let order = Value.compare(entry.value, value)
            if order < 0 || (order == 0 && entry.row < row) {
                low = mid + 1
            } else {
                high = mid
            }
        }
        return low
    }

    /// Adds an entry.
    package mutating func insert(_ value: Value, row: Int) {
        if let last = entries.last {
            let order = Value.compare(last.value, value)
            if order < 0 || (order == 0 && last.row < row) {
                entries.append(Entry(value: value, row: row))
                return
            }
        }
        entries.insert(Entry(value: value, row: row), at: lowerBound(value, row: row))
    }

    /// Removes an entry, if present.
    package mutating func remove(_ value: Value, row: Int) {
        let position = lowerBound(value, row: row)
        if position < entries.count, entries[position].row == row {
            entries.remove(at: position)
        }
    }

    /// The first row whose value equals `value`, if any.
    package func firstRow(equalTo value: Value) -> Int? {
        let position = lowerBound(value, row: Int.min)
        guard position < entries.count, Value.compare(entries[position].value, value) == 0 else { return nil }
        return entries[position].row
    }

    /// The entry with the greatest non-null value, if any.
    package var last: Entry? {
        guard let last = entries.last, !last.value.isNull else { return nil }
        return last
    }

    /// Renumbers rows with `map` (which must keep their order) after a compaction.
    package mutating func renumber(_ map: (Int) -> Int) {
        for position in entries.indices { entries[position].row = map(entries[position].row) }
    }

    /// The positions of the entries whose value lies in the range a comparison describes.
    package func positions(_ op: Predicate.Comparison, _ value: Value) -> Range<Int>? {
        let start = lowerBound(value, row: Int.min)
        let end = lowerBound(value, row: Int.max)
        let nonNull = lowerBound(.null, row: Int.max)
        switch op {
        case .equal: return start..<end
        case .less: return nonNull..<max(nonNull, start)
        case .lessOrEqual: return nonNull..<max(nonNull, end)
        case .greater: return end..<entries.count
        case .greaterOrEqual: return start..<entries.count
        case .notEqual: return nil
        }
    }
}
