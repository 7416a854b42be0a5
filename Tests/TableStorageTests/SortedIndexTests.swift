import Foundation
import TableStorage
import Testing

/// The chunked index against the plainest model of it: one array of `(value, row)` sorted by value, then row.
/// Every check compares whole answers, so it holds whatever the seeded generator produced.
@Suite("Sorted index")
struct SortedIndexTests {
    enum TableColumn: CaseIterable, Sendable {
        case int, date, double, string, intThenDouble
    }

    /// A value of the column's kind from a small range, so values repeat; sometimes `null`.
    private static func value(_ column: TableColumn, _ generator: inout SplitMix, step: Int) -> Value {
        if generator.next() % 16 == 0 { return .null }
        let number = Int64(generator.next() % 600) - 300
        switch column {
        case .int: return .int(number * 1_000_000_007)
        case .date: return .date(Date(timeIntervalSince1970: Double(number) * 86_400.25))
        case .double: return .double(Double(number) / 7)
        case .string: return .string("k\(number)")
        case .intThenDouble:
            // Integers first; a double halfway makes the index fall back to values.
            return step < 1500 ? .int(number) : .double(Double(number) + (number % 2 == 0 ? 0 : 0.5))
        }
    }

    private typealias Entry = (value: Value, row: Int)

    private static func precedes(_ lhs: Entry, _ rhs: Entry) -> Bool {
        let order = Value.compare(lhs.value, rhs.value)
        return order < 0 || (order == 0 && lhs.row < rhs.row)
    }

    private static func contents(_ index: SortedIndex, ascending: Bool) -> [Entry] {
        var result: [Entry] = []
        index.forEach(ascending: ascending) { value, row in
            result.append((value, row))
            return true
        }
        return result
    }

    private static func same(_ lhs: [Entry], _ rhs: [Entry]) -> Bool {
        lhs.count == rhs.count
            && zip(lhs, rhs).allSatisfy { Value.compare($0.value, $1.value) == 0 && $0.row == $1.row }
    }

    /// Checks every reading of the index against the model.
    private static func check(
        _ index: SortedIndex, _ model: [Entry], probes: [Value], _ comment: Comment
    ) {
        #expect(index.count == model.count, comment)
        #expect(same(contents(index, ascending: true), model), comment)
        #expect(same(contents(index, ascending: false), model.reversed()), comment)
        let modelLast = model.last { !$0.value.isNull }
        #expect(index.last?.row == modelLast?.row, comment)
        for probe in probes {
            let first = model.first { Value.compare($0.value, probe) == 0 }
            #expect(index.firstRow(equalTo: probe) == first?.row, "\(comment) first \(probe)")
            let ops: [TableStorage.RowPredicate.Comparison] =
                probe.isNull
                ? [.equal] : [.equal, .less, .lessOrEqual, .greater, .greaterOrEqual]
            for op in ops {
                guard let range = index.positions(op, probe) else {
                    Issue.record("\(comment): no range for \(op) \(probe)")
                    continue
                }
                let expected = model.filter { entry in
                    if probe.isNull { return entry.value.isNull }
                    if entry.value.isNull { return false }
                    let order = Value.compare(entry.value, probe)
                    switch op {
                    case .equal: return order == 0
                    case .less: return order < 0
                    case .lessOrEqual: return order <= 0
                    case .greater: return order > 0
                    case .greaterOrEqual: return order >= 0
                    case .notEqual: return order != 0
                    }
                }.map(\.row)
                #expect(index.rows(range) == expected, "\(comment) \(op) \(probe)")
                #expect(index.count(range) == expected.count, "\(comment) count \(op) \(probe)")
            }
        }
        #expect(index.positions(.notEqual, probes.first ?? .int(0)) == nil, comment)
    }

    @Test("random inserts and removes give what a sorted array gives", arguments: TableColumn.allCases)
    func matchesSortedArray(column: TableColumn) {
        var generator = SplitMix(seed: 0x5EED_0000 + UInt64(TableColumn.allCases.firstIndex(of: column) ?? 0))
        var index = SortedIndex()
        var model: [Entry] = []
        var nextRow = 0
        for step in 0..<3000 {
            if model.isEmpty || generator.next() % 3 != 0 {
                let value = Self.value(column, &generator, step: step)
                // Mostly new rows; sometimes an old row number again (a put over a row, after its removal).
                let row = generator.next() % 8 == 0 && nextRow > 0 ? Int(generator.next() % UInt64(nextRow)) : nextRow
                if row == nextRow { nextRow += 1 }
                guard !model.contains(where: { $0.row == row }) else { continue }
                index.insert(value, row: row)
                let entry = (value, row)
                model.insert(entry, at: model.firstIndex { !Self.precedes($0, entry) } ?? model.count)
            } else if generator.next() % 10 == 0 {
                // Removing what is not there changes nothing.
                index.remove(Self.value(column, &generator, step: step), row: nextRow + 5)
            } else {
                let victim = model.remove(at: Int(generator.next() % UInt64(model.count)))
                index.remove(victim.value, row: victim.row)
            }
            if step % 500 == 499 {
                let probes = (0..<6).map { _ in Self.value(column, &generator, step: step) } + [.null]
                Self.check(index, model, probes: probes, "\(column) at step \(step)")
            }
        }
        Self.check(index, model, probes: model.prefix(3).map(\.value), "\(column) at the end")
    }

    @Test("values that only grow, or only shrink, fill every chunk", arguments: [true, false])
    func sequentialInsertsFillChunks(ascending: Bool) {
        var index = SortedIndex()
        let count = 20 * SortedIndex.maximumChunkCount + 3
        for step in 0..<count {
            let key = Int64(ascending ? step : count - step) * 1_000_003
            index.insert(.int(key), row: step)
        }
        #expect(index.count == count)
        // An Int64 and a UInt32 an entry; every chunk full but the last (with allowances for the arrays' headers
        // and the array of chunks).
        let chunks = (count + SortedIndex.maximumChunkCount - 1) / SortedIndex.maximumChunkCount
        #expect(index.allocatedBytes <= chunks * SortedIndex.maximumChunkCount * 12 + chunks * 96 + 1024)
        #expect(index.allocatedBytes < count * 13)
        let rows = Self.contents(index, ascending: true).map(\.row)
        #expect(rows == (ascending ? Array(0..<count) : Array((0..<count).reversed())))
        #expect(index.last?.row == (ascending ? count - 1 : 0))
    }

    @Test("renumbering keeps the order and maps every row")
    func renumber() {
        var index = SortedIndex()
        for row in 0..<3000 { index.insert(.int(Int64(row % 100)), row: row * 2) }
        index.renumber { $0 / 2 }
        var rows: [Int] = []
        index.forEach(ascending: true) { _, row in
            rows.append(row)
            return true
        }
        let expected = (0..<3000).sorted { ($0 % 100, $0) < ($1 % 100, $1) }
        #expect(rows == expected)
        #expect(index.firstRow(equalTo: .int(42)) == 42)
    }

    @Test("removing every entry empties the index")
    func removeAll() {
        var index = SortedIndex()
        var generator = SplitMix(seed: 7)
        var entries: [(Int64, Int)] = []
        for row in 0..<5000 {
            let key = Int64(generator.next() % 1000)
            entries.append((key, row))
            index.insert(.int(key), row: row)
        }
        entries.shuffle(using: &generator)
        for (key, row) in entries { index.remove(.int(key), row: row) }
        #expect(index.count == 0)
        #expect(index.last == nil)
        #expect(index.allocatedBytes < 1024)
    }
}
