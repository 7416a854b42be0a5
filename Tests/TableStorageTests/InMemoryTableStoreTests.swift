import HarvestTesting
import TableStorage
import Testing

@Suite("InMemoryTableStore")
struct InMemoryTableStoreTests {
    @Test("passes the TableStore conformance suite")
    func conformance() async throws {
        try await TableStoreConformance { InMemoryTableStore() }.run()
    }

    @Test("the conformance suite reports a store that breaks the contract")
    func conformanceCatchesABrokenStore() async throws {
        let failures = await #expect(throws: TableStoreConformance.Failures.self) {
            try await TableStoreConformance { ForgetfulStore() }.run(["uniqueKeyIgnore", "newest", "ordering"])
        }
        #expect(failures?.failures.map(\.check) == ["uniqueKeyIgnore", "newest"])
    }

    @Test("newest and an ordered take stay correct across many interleaved inserts and deletes")
    func indexesStayConsistent() async throws {
        let store = InMemoryTableStore()
        try await store.createTable(TableSchema(name: "T", uniqueKey: "k", indexes: ["g"]))
        var generator = SplitMix(seed: 42)
        var model: [Int64: Int64] = [:]
        for _ in 0..<200 {
            let rows: [TableRow] = (0..<20).map { _ in
                ["k": .int(Int64(generator.next() % 5_000)), "g": .int(Int64(generator.next() % 7))]
            }
            for row in rows {
                if case .int(let key)? = row["k"], case .int(let group)? = row["g"] { model[key] = group }
            }
            _ = try await store.insert(rows, into: "T", onConflict: .replace)
            let cut = Int64(generator.next() % 5_000)
            _ = try await store.delete(Query("T").filter(TableColumn("k") == .int(cut)))
            model[cut] = nil
        }
        #expect(try await store.count(Query("T")) == model.count)
        #expect(try await store.newest(in: "T", by: "k")?["k"] == model.keys.max().map(Value.int))
        let top = try await store.read(Query("T").orderBy(.descending("k")).take(5)).map { $0["k"] }
        #expect(top == model.keys.sorted(by: >).prefix(5).map { .int($0) })
        let group3 = try await store.count(Query("T").filter(TableColumn("g") == 3))
        #expect(group3 == model.values.filter { $0 == 3 }.count)
    }

    @Test(
        "insert summaries and contents match a model when keys mostly grow and sometimes repeat",
        arguments: [ConflictPolicy.ignore, .replace])
    func insertSummariesMatchAModel(_ policy: ConflictPolicy) async throws {
        let store = InMemoryTableStore()
        try await store.createTable(TableSchema(name: "T", uniqueKey: "k"))
        var generator = SplitMix(seed: policy == .ignore ? 7 : 8)
        var model: [Int64: Int64] = [:]  // key → the version stored
        var next: Int64 = 1_000
        var version: Int64 = 0
        for _ in 0..<300 {
            var rows: [TableRow] = []
            for _ in 0..<Int(generator.next() % 12) {
                version += 1
                let key: Int64
                switch generator.next() % 6 {
                case 0: key = Int64(generator.next() % UInt64(next))  // an old key, present or not
                case 1:
                    key =
                        rows.last.flatMap { row in row["k"].flatMap { if case .int(let k) = $0 { k } else { nil } } }
                        ?? next  // a repeat in the batch
                default:
                    next += Int64(1 + generator.next() % 3)  // a new, greater key (the common case)
                    key = next
                }
                rows.append(["k": .int(key), "v": .int(version)])
            }
            var expected = InsertSummary()
            var seen = model
            for (position, row) in rows.enumerated() {
                guard case .int(let key)? = row["k"], case .int(let value)? = row["v"] else { continue }
                if seen[key] == nil {
                    expected.inserted.append(position)
                    seen[key] = value
                } else {
                    expected.duplicates.append(position)
                    if policy == .replace { seen[key] = value }
                }
            }
            let summary = try await store.insert(rows, into: "T", onConflict: policy)
            #expect(summary == expected)
            model = seen
        }
        let stored = try await store.read(Query("T"))
        var contents: [Int64: Int64] = [:]
        for row in stored {
            if case .int(let key)? = row["k"], case .int(let value)? = row["v"] { contents[key] = value }
        }
        #expect(stored.count == model.count)
        #expect(contents == model)
        #expect(try await store.newest(in: "T", by: "k")?["k"] == model.keys.max().map(Value.int))
    }
}

/// A store that drops the unique key's duplicates check and answers `newest` wrongly: the suite must notice.
private actor ForgetfulStore: TableStore {
    private let inner = InMemoryTableStore()

    func createTable(_ definition: TableSchema) async throws {
        var plain = definition
        plain.uniqueKey = nil
        try await inner.createTable(plain)
    }
    func definition(of table: String) async throws -> TableSchema { try await inner.definition(of: table) }
    func tableNames() async throws -> [String] { await inner.tableNames() }
    func insert(_ rows: [TableRow], into table: String, onConflict: ConflictPolicy) async throws -> InsertSummary {
        try await inner.insert(rows, into: table, onConflict: onConflict)
    }
    func update(_ query: Query, set changes: [String: Value]) async throws -> Int {
        try await inner.update(query, set: changes)
    }
    func delete(_ query: Query) async throws -> Int { try await inner.delete(query) }
    func read(_ query: Query) async throws -> [TableRow] { try await inner.read(query) }
    func count(_ query: Query) async throws -> Int { try await inner.count(query) }
    func newest(in table: String, by column: String) async throws -> TableRow? {
        try await inner.read(Query(table)).first
    }
}
