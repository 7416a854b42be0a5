import Foundation
import TableStorage
import Testing

/// Filters that no index answers: the file store tests them on each record's bytes (decoding only the columns
/// the filter names) and reads the log ahead in windows. Both shortcuts must give exactly what decoding every
/// record and testing it gives.
@Suite("Scans without an index")
struct ScanTests {
    /// Text pieces that stress the byte-level scanning: quotes, runs of backslashes before a quote, escapes,
    /// multi-byte characters, and words the predicates look for.
    private static let pieces = [
        "a", "the", "x", "\"", "\\", "\\\"", "\\\\\"", "\n", "\u{1}", "é", "✈️", "🚀", " ", "user", "}", "{", ",", ":",
    ]

    private static func text(_ generator: inout SplitMix) -> String {
        (0..<Int(generator.next() % 8)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
    }

    private static func value(_ generator: inout SplitMix) -> Value? {
        switch generator.next() % 9 {
        case 0: nil
        case 1: .int(Int64(bitPattern: generator.next()) >> Int64(generator.next() % 64))
        case 2: .int(Int64(generator.next() % 5))
        case 3: .double([0.5, -2.25, .infinity, -.infinity, 1e300, 3][Int(generator.next() % 6)])
        case 4: .bool(generator.next() % 2 == 0)
        case 5: .date(Date(timeIntervalSince1970: Double(generator.next() % 4) * 86_400.5))
        case 6: .null
        default: .string(text(&generator))
        }
    }

    /// Columns, one of them with a key that needs escaping in JSON.
    private static let columns = ["id", "text", "n", "weird \"key\\"]

    private static func predicate(_ generator: inout SplitMix, depth: Int = 0) -> TableStorage.RowPredicate {
        let column = columns[Int(generator.next() % UInt64(columns.count))]
        let operand = value(&generator) ?? .null
        switch generator.next() % (depth < 2 ? 9 : 6) {
        case 0: return TableColumn(column) == operand
        case 1: return TableColumn(column) != operand
        case 2:
            let comparisons: [TableStorage.RowPredicate.Comparison] = [.less, .lessOrEqual, .greater, .greaterOrEqual]
            return .compare(column, comparisons[Int(generator.next() % 4)], operand)
        case 3: return TableColumn(column).in([operand, value(&generator) ?? .int(1)])
        case 4: return TableColumn(column).contains(text(&generator))
        case 5: return TableColumn(column).hasPrefix(text(&generator))
        case 6: return predicate(&generator, depth: depth + 1) && predicate(&generator, depth: depth + 1)
        case 7: return predicate(&generator, depth: depth + 1) || predicate(&generator, depth: depth + 1)
        default: return !predicate(&generator, depth: depth + 1)
        }
    }

    @Test("a filter tested on a record's bytes agrees with the filter on the decoded record (5,000 cases)")
    func bytesAgreeWithRecords() throws {
        var generator = SplitMix(seed: 0xB17E5)
        var matched = 0
        for _ in 0..<5_000 {
            var fields: [String: Value] = [:]
            for column in Self.columns { fields[column] = Self.value(&generator) }
            let record = TableRow(fields)
            let predicate = Self.predicate(&generator)
            var encoder = LogEncoder()
            encoder.record(record)
            let fromBytes = try encoder.bytes.withUnsafeBytes { try RawFilter(predicate).matches($0) }
            #expect(fromBytes == predicate.matches(record), "\(predicate) on \(record)")
            if fromBytes { matched += 1 }
        }
        // Both outcomes occur often enough for the agreement to mean something.
        #expect(matched > 500 && matched < 4_500, "\(matched) of 5,000 matched")
    }

    @Test("a value after a string that ends in backslashes is found where JSON puts it")
    func skippingStringsWithBackslashes() throws {
        for text in ["", "\\", "\\\\", "a\\\"b", "\\\"", "\\\\\"", "ends\\", "\"\"", String(repeating: "\\", count: 9)]
        {
            var encoder = LogEncoder()
            encoder.record(["text": .string(text), "n": .int(7)])
            let bytes = encoder.bytes
            let afterString = try bytes.withUnsafeBytes { try RawFilter(TableColumn("n") == 7).matches($0) }
            #expect(afterString, "after \(Array(text.utf8))")
            let string = try bytes.withUnsafeBytes { try RawFilter(TableColumn("text") == .string(text)).matches($0) }
            #expect(string, "\(Array(text.utf8))")
        }
        // A string with no closing quote is an error, not a match and not a crash.
        let truncated = Array(#"{"text":"abc\"#.utf8)
        #expect(throws: JSONScanner.Failure.self) {
            try truncated.withUnsafeBytes { try RawFilter(TableColumn("n") == 1).matches($0) }
        }
    }

    @Test("contains is a search of the UTF-8 bytes, like SQLite's instr on text")
    func containsSearchesBytes() {
        #expect(TableStorage.RowPredicate.contains("hello world", "o w"))
        #expect(TableStorage.RowPredicate.contains("hello", ""))
        #expect(TableStorage.RowPredicate.contains("", ""))
        #expect(!TableStorage.RowPredicate.contains("", "a"))
        #expect(!TableStorage.RowPredicate.contains("hell", "hello"))
        #expect(TableStorage.RowPredicate.contains("aaab", "aab"))
        #expect(TableStorage.RowPredicate.contains("Schrödinger’s ✈️", "ö"))
        #expect(TableStorage.RowPredicate.contains("Schrödinger’s ✈️", "✈️"))
        #expect(!TableStorage.RowPredicate.contains("Schrodinger", "ö"))
        var generator = SplitMix(seed: 7)
        let alphabet: [Character] = ["a", "b", "é", "✈"]
        for _ in 0..<2_000 {
            let haystack = String((0..<Int(generator.next() % 12)).map { _ in alphabet[Int(generator.next() % 4)] })
            let needle = String((0..<Int(generator.next() % 4)).map { _ in alphabet[Int(generator.next() % 4)] })
            let reference =
                needle.isEmpty
                || (0...max(0, haystack.utf8.count - needle.utf8.count)).contains { start in
                    Array(haystack.utf8.dropFirst(start).prefix(needle.utf8.count)) == Array(needle.utf8)
                }
            #expect(TableStorage.RowPredicate.contains(haystack, needle) == reference, "\(haystack) / \(needle)")
        }
    }

    @Test("scans, updates and deletes by unindexed filters agree with the in-memory store through writes")
    func fileStoreScansAgreeWithMemory() async throws {
        let directory = try TemporaryDirectory()
        // Little padding, so that writes land in space an earlier scan's read-ahead window held.
        var configuration = FileTableStore.Configuration()
        configuration.preallocationSize = 8 << 10
        configuration.recordCacheSize = 16
        let file = try await FileTableStore(directory: directory.url, configuration: configuration)
        let memory = InMemoryTableStore()
        let definition = TableSchema(name: "Updates", uniqueKey: "id")
        let other = TableSchema(name: "Other", uniqueKey: "id")
        for store in [file, memory] as [any TableStore] {
            try await store.createTable(definition)
            try await store.createTable(other)
            // The first row names every column (a query on a column no row has is an error).
            let first: TableRow = ["id": 0, "author": "ann", "text": "the first", "flag": false]
            _ = try await store.insert([first], into: "Updates", onConflict: .ignore)
        }
        var generator = SplitMix(seed: 0x5CA7)
        var nextID: Int64 = 0
        let authors = ["ann", "bob", "cy", "dee"]
        func filter() -> TableStorage.RowPredicate {
            switch generator.next() % 4 {
            case 0: TableColumn("author") == .string(authors[Int(generator.next() % 4)])
            case 1: TableColumn("text").contains(["the", "\\\"", "é", "x"][Int(generator.next() % 4)])
            case 2: TableColumn("flag") == true || TableColumn("author").hasPrefix("d")
            default: !(TableColumn("author") == "ann") && TableColumn("text").contains("a")
            }
        }
        for step in 0..<300 {
            switch generator.next() % 6 {
            case 0, 1:
                // A batch into one of the two tables, so a table's rows have the other's between them.
                let table = generator.next() % 3 == 0 ? "Other" : "Updates"
                var rows: [TableRow] = []
                for _ in 0..<Int(1 + generator.next() % 60) {
                    nextID += 1
                    rows.append([
                        "id": .int(nextID), "author": .string(authors[Int(generator.next() % 4)]),
                        "text": .string(Self.text(&generator) + " the end"), "flag": false,
                    ])
                }
                for store in [file, memory] as [any TableStore] {
                    _ = try await store.insert(rows, into: table, onConflict: .ignore)
                }
            case 2:
                let query = Query("Updates", filter: filter())
                let changes: [String: Value] = ["flag": .bool(generator.next() % 2 == 0), "text": "a rewritten text"]
                let updated = try await file.update(query, set: changes)
                #expect(updated == (try await memory.update(query, set: changes)), "update at step \(step)")
            case 3:
                let query = Query("Updates", filter: filter())
                guard generator.next() % 3 == 0 else { continue }
                let deleted = try await file.delete(query)
                #expect(deleted == (try await memory.delete(query)), "delete at step \(step)")
            default:
                let query = Query("Updates", filter: filter())
                #expect(try await file.count(query) == memory.count(query), "count at step \(step)")
                let take = generator.next() % 2 == 0 ? Int(generator.next() % 20) : nil
                let paged = Query("Updates", filter: query.filter, take: take)
                #expect(try await file.read(paged) == memory.read(paged), "read at step \(step)")
            }
        }
        // Everything, and again after reopening.
        let all = Query("Updates", order: [.ascending("id")])
        #expect(try await file.read(all) == memory.read(all))
        file.close()
        let reopened = try await FileTableStore(directory: directory.url, configuration: configuration)
        #expect(try await reopened.read(all) == memory.read(all))
        let byAuthor = Query("Updates", filter: TableColumn("author") == "bob")
        #expect(try await reopened.count(byAuthor) == memory.count(byAuthor))
        #expect(try await memory.count(Query("Updates")) > 100)
        reopened.close()
    }
}
