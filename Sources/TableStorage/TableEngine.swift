/// One change to a table, as a store logs and applies it.
package enum TableChange: Sendable {
    /// Stores `record` as row `row` (a new row, or over an existing one).
    case put(row: Int, record: TableRow)
    /// Deletes row `row`.
    case delete(row: Int)
}

/// The in-memory part of a table that every store of this module shares: the schema, the rows (as a payload
/// the store chooses: the record itself, or where it lies in a file) and a ``SortedIndex`` per indexed column.
///
/// Changes are planned first (validated, with nothing modified), then persisted by the store, then applied,
/// which cannot fail. Row numbers grow with each new row, so they give insertion order.
package struct TableEngine<Payload: Sendable>: Sendable {
    /// The schema.
    package var schema: TableState
    /// Row number → payload; `nil` for deleted rows.
    package private(set) var slots = Slots<Payload>()
    /// The number of live rows.
    package private(set) var liveCount = 0
    /// Column → index.
    package private(set) var indexes: [String: SortedIndex] = [:]

    /// The indexed columns. (Iterating ``indexes`` itself while changing it would copy every index.)
    private let indexColumns: [String]

    package init(schema: TableState) {
        self.schema = schema
        indexColumns = schema.definition.indexedColumns
        for column in indexColumns { indexes[column] = SortedIndex() }
    }

    /// A table as a checkpoint describes it; `nil` unless it has an index for each indexed column, each with
    /// one entry per live row.
    package init?(restoring schema: TableState, slots: Slots<Payload>, indexes: [String: SortedIndex]) {
        self.schema = schema
        indexColumns = schema.definition.indexedColumns
        self.slots = slots
        liveCount = slots.liveCount
        guard Set(indexes.keys) == Set(indexColumns), indexes.values.allSatisfy({ $0.count == liveCount }) else {
            return nil
        }
        self.indexes = indexes
    }

    private var name: String { schema.definition.name }

    /// The row number the next new row gets.
    package var nextRow: Int { slots.count }

    /// The number of deleted slots.
    package var deadCount: Int { slots.count - liveCount }

    // MARK: Planning

    /// Plans an insert: validates every row and decides what happens to each.
    ///
    /// - Returns: The changes, the summary and the schema after the batch.
    package func planInsert(
        _ rows: [TableRow], policy: ConflictPolicy
    ) throws(StorageError) -> (changes: [TableChange], summary: InsertSummary, schema: TableState) {
        var admission = Admission(schema: schema)
        var changes: [TableChange] = []
        changes.reserveCapacity(rows.count)
        var summary = InsertSummary()
        summary.inserted.reserveCapacity(rows.count)
        let key = schema.definition.uniqueKey
        let keyIndex = key.flatMap { indexes[$0] }
        // The greatest key in the table and the batch so far: a greater one (ids that grow, the usual case) is
        // new without a lookup. Keys assigned in this batch wait in `unlooked` until a lookup needs them.
        var greatest = keyIndex?.last?.value
        var batchKeys: [Value: Int] = [:]  // key value → row number assigned in this batch
        var unlooked: [(key: Value, row: Int)] = []
        var next = nextRow
        for (position, record) in rows.enumerated() {
            let keyValue = try admission.admit(record, row: position)
            guard let key, let keyValue else {
                changes.append(.put(row: next, record: record))
                summary.inserted.append(position)
                next += 1
                continue
            }
            var existing: Int?
            if let bound = greatest, Value.compare(keyValue, bound) <= 0 {
                for pending in unlooked { batchKeys[pending.key] = pending.row }
                unlooked.removeAll()
                existing = batchKeys[keyValue] ?? keyIndex?.firstRow(equalTo: keyValue)
            } else {
                greatest = keyValue
            }
            guard let existing else {
                changes.append(.put(row: next, record: record))
                summary.inserted.append(position)
                unlooked.append((keyValue, next))
                next += 1
                continue
            }
            switch policy {
            case .fail:
                throw StorageError(
                    .duplicateKey, table: name, column: key, row: position,
                    message: "value \(keyValue) is already present")
            case .ignore:
                summary.duplicates.append(position)
            case .replace:
                changes.append(.delete(row: existing))
                changes.append(.put(row: next, record: record))
                summary.duplicates.append(position)
                batchKeys[keyValue] = next
                next += 1
            }
        }
        return (changes, summary, admission.schema)
    }

    /// Plans an update of the rows a query selects.
    package func planUpdate(
        _ query: Query, changes: [String: Value], load: (Payload) throws -> TableRow,
        test: (Payload) throws -> Bool? = { _ in nil }
    ) throws -> (changes: [TableChange], schema: TableState) {
        var schema = self.schema
        for (column, value) in changes { try schema.admit(value, in: column, row: nil) }
        let selected = try select(query, load: load, test: test)
        var result: [TableChange] = []
        let key = schema.definition.uniqueKey
        if let key, let newKey = changes[key] {
            if newKey.isNull, !selected.isEmpty {
                throw StorageError(.missingUniqueKey, table: name, column: key)
            }
            if selected.count > 1 {
                throw StorageError(
                    .duplicateKey, table: name, column: key,
                    message: "value \(newKey) would repeat in \(selected.count) rows")
            }
            if let (row, _) = selected.first, let holder = indexes[key]?.firstRow(equalTo: newKey), holder != row {
                throw StorageError(
                    .duplicateKey, table: name, column: key, message: "value \(newKey) is already present")
            }
        }
        for (row, record) in selected {
            var updated = record
            for (column, value) in changes { updated[column] = value }
            result.append(.put(row: row, record: updated))
        }
        return (result, schema)
    }

    /// Plans a delete of the rows a query selects.
    package func planDelete(
        _ query: Query, load: (Payload) throws -> TableRow, test: (Payload) throws -> Bool? = { _ in nil }
    ) throws -> [TableChange] {
        try select(query, load: load, test: test).map { .delete(row: $0.row) }
    }

    // MARK: Applying

    /// Applies a change. `load` reads a stored row (to unindex it); `payload` is where a put's record lives
    /// (ignored for a delete).
    package mutating func apply(_ change: TableChange, payload: Payload, load: (Payload) throws -> TableRow) rethrows {
        switch change {
        case .put(let row, let record):
            if row < slots.count, let existing = slots[row] {
                let old = try load(existing)
                unindex(old, row: row)
                liveCount -= 1
            }
            // A gap (rows logged and deleted before a compaction) holds dead copies of this payload.
            while slots.count < row { slots.append(payload, isLive: false) }
            if row == slots.count { slots.append(payload, isLive: true) } else { slots[row] = payload }
            liveCount += 1
            for column in indexColumns { indexes[column]?.insert(record[column] ?? .null, row: row) }
        case .delete(let row):
            guard row < slots.count, let existing = slots[row] else { return }
            let old = try load(existing)
            unindex(old, row: row)
            slots[row] = nil
            liveCount -= 1
        }
    }

    private mutating func unindex(_ record: TableRow, row: Int) {
        for column in indexColumns { indexes[column]?.remove(record[column] ?? .null, row: row) }
    }

    /// Drops deleted slots, renumbering rows in order. Returns the old → new row map's inverse:
    /// the old row number of each new row.
    @discardableResult
    package mutating func compactSlots() -> [Int] {
        var newNumber = [Int](repeating: -1, count: slots.count)
        var oldRows: [Int] = []
        var kept = Slots<Payload>()
        oldRows.reserveCapacity(liveCount)
        for (row, slot) in slots.enumerated() {
            guard let slot else { continue }
            newNumber[row] = kept.count
            oldRows.append(row)
            kept.append(slot, isLive: true)
        }
        slots = kept
        for column in indexColumns { indexes[column]?.renumber { newNumber[$0] } }
        return oldRows
    }

    /// Replaces a live row's payload in place (its record is unchanged), as after a compaction moves it.
    package mutating func relocate(row: Int, to payload: Payload) {
        slots[row] = payload
    }

    // MARK: Reading

    /// The rows a query selects, in order, as `(row, record)` (all columns; projection is the caller's).
    ///
    /// `load` reads a row's record. `test` may tell whether a row satisfies the query's filter without loading
    /// it (a store that can test the stored bytes directly), or return `nil` to have the record loaded and
    /// tested; rows that fail are never loaded.
    package func select(
        _ query: Query, load: (Payload) throws -> TableRow, test: (Payload) throws -> Bool? = { _ in nil }
    ) throws -> [(row: Int, record: TableRow)] {
        try schema.validate(query)
        let limit = query.take.map { query.skip + $0 } ?? Int.max
        if limit == 0 { return [] }
        var result: [(row: Int, record: TableRow)]
        // Walk the order's index unless the filter pins a narrower index range to sort instead.
        let filterRange = query.filter.flatMap(indexRange)
        let preferFilter = filterRange.map { query.take == nil || $0.count <= 64 * limit } ?? false
        if !preferFilter, let first = query.order.first, let index = indexes[first.column] {
            result = try walk(index, ascending: first.ascending, query: query, limit: limit, load: load, test: test)
        } else {
            result = []
            for row in try candidateRows(query.filter) {
                guard let payload = slots[row],
                    let record = try matching(payload, query.filter, load: load, test: test)
                else { continue }
                result.append((row, record))
                if query.order.isEmpty, result.count >= limit { break }
            }
            if !query.order.isEmpty { result.sort { Self.precedes($0, $1, order: query.order) } }
        }
        if query.skip > 0 { result.removeFirst(min(query.skip, result.count)) }
        if let take = query.take, result.count > take { result.removeLast(result.count - take) }
        return result
    }

    /// The number of rows a query's filter matches.
    package func count(
        _ query: Query, load: (Payload) throws -> TableRow, test: (Payload) throws -> Bool? = { _ in nil }
    ) throws -> Int {
        try schema.validate(query)
        guard let filter = query.filter else { return liveCount }
        var total = 0
        for row in try candidateRows(filter) {
            guard let payload = slots[row] else { continue }
            if try test(payload) ?? filter.matches(try load(payload)) { total += 1 }
        }
        return total
    }

    /// A row's record if it satisfies `filter` (tested by `test` before loading, when given).
    private func matching(
        _ payload: Payload, _ filter: RowPredicate?, load: (Payload) throws -> TableRow, test: (Payload) throws -> Bool?
    ) throws -> TableRow? {
        guard let filter else { return try load(payload) }
        if let verdict = try test(payload) { return verdict ? try load(payload) : nil }
        let record = try load(payload)
        return filter.matches(record) ? record : nil
    }

    /// The newest row by an indexed column.
    package func newest(by column: String) throws(StorageError) -> Payload? {
        guard let index = indexes[column] else {
            if schema.knows(column) { throw StorageError(.notIndexed, table: name, column: column) }
            throw StorageError(.unknownColumn, table: name, column: column)
        }
        guard let last = index.last else { return nil }
        return slots[last.row]
    }

    /// Candidate rows for a filter in row order: from an index range when the filter pins an indexed column,
    /// otherwise every row.
    private func candidateRows(_ filter: RowPredicate?) throws -> [Int] {
        if let filter, let range = indexRange(filter) {
            return range.index.rows(range.positions).sorted()
        }
        return Array(slots.indices)
    }

    private func indexRange(_ filter: RowPredicate) -> (index: SortedIndex, positions: IndexRange, count: Int)? {
        switch filter {
        case .compare(let column, let op, let value):
            guard let index = indexes[column], op == .equal || !value.isNull,
                let positions = index.positions(op, value)
            else { return nil }
            return (index, positions, index.count(positions))
        case .and(let parts):
            var best: (index: SortedIndex, positions: IndexRange, count: Int)?
            for part in parts {
                if let range = indexRange(part), best.map({ range.count < $0.count }) ?? true {
                    best = range
                }
            }
            return best
        default:
            return nil
        }
    }

    /// Walks an index in order, sorting runs of equal values by the remaining keys, until `limit` rows match.
    private func walk(
        _ index: SortedIndex, ascending: Bool, query: Query, limit: Int, load: (Payload) throws -> TableRow,
        test: (Payload) throws -> Bool?
    ) throws -> [(row: Int, record: TableRow)] {
        var result: [(row: Int, record: TableRow)] = []
        let rest = Array(query.order.dropFirst())
        // One run of equal values at a time: sorted by the remaining keys, then added.
        var run: [(row: Int, record: TableRow)] = []
        var runValue: Value?
        func flush() {
            if run.count > 1 { run.sort { Self.precedes($0, $1, order: rest) } }
            result += run
            run.removeAll(keepingCapacity: true)
        }
        try index.forEach(ascending: ascending) { value, row in
            if let current = runValue, Value.compare(current, value) != 0 {
                flush()
                if result.count >= limit { return false }
            }
            runValue = value
            guard let payload = slots[row],
                let record = try matching(payload, query.filter, load: load, test: test)
            else { return true }
            run.append((row, record))
            return true
        }
        flush()
        return result
    }

    /// The shared ordering: the sort keys, then insertion order.
    package static func precedes(
        _ lhs: (row: Int, record: TableRow), _ rhs: (row: Int, record: TableRow), order: [SortKey]
    ) -> Bool {
        for key in order {
            let result = Value.compare(lhs.record[key.column] ?? .null, rhs.record[key.column] ?? .null)
            if result != 0 { return key.ascending ? result < 0 : result > 0 }
        }
        return lhs.row < rhs.row
    }
}

/// A table's rows: row number → payload, `nil` for a deleted row.
///
/// Payloads live in pages of ``pageSize``, each allocated once at its full size, so the table never holds the
/// spare half of a doubled array, and growing never copies the rows; a bit per row says whether it is live (a
/// deleted row keeps its last payload, unused).
package struct Slots<Payload: Sendable>: Sendable, RandomAccessCollection {
    /// The rows a page holds.
    package static var pageSize: Int { 4096 }

    private var pages: [[Payload]] = []
    private var live: [UInt64] = []
    package private(set) var endIndex = 0

    package init() {}

    package var startIndex: Int { 0 }

    package subscript(row: Int) -> Payload? {
        get {
            guard live[row >> 6] & (1 << UInt64(row & 63)) != 0 else { return nil }
            return pages[row / Self.pageSize][row % Self.pageSize]
        }
        set {
            precondition(row >= 0 && row < endIndex, "row \(row) is out of range")
            if let newValue {
                pages[row / Self.pageSize][row % Self.pageSize] = newValue
                live[row >> 6] |= 1 << UInt64(row & 63)
            } else {
                live[row >> 6] &= ~(1 << UInt64(row & 63))
            }
        }
    }

    /// Adds a row at the end.
    package mutating func append(_ payload: Payload, isLive: Bool) {
        let row = endIndex
        if row % Self.pageSize == 0 {
            var page: [Payload] = []
            page.reserveCapacity(Self.pageSize)
            pages.append(page)
        }
        pages[pages.count - 1].append(payload)
        if row & 63 == 0 { live.append(0) }
        if isLive { live[row >> 6] |= 1 << UInt64(row & 63) }
        endIndex += 1
    }

    /// The number of live rows.
    package var liveCount: Int { live.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The heap bytes the rows hold (for measurements).
    package var allocatedBytes: Int {
        pages.count * (Self.pageSize * MemoryLayout<Payload>.stride + 32) + pages.capacity * 8 + live.capacity * 8
    }
}
