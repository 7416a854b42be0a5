import Foundation
import TableStorage
import Testing

/// Many tasks reading and writing one store at once.
@Suite("Concurrency stress")
struct StressTests {
    /// 8 writers insert 40 batches of 20 rows each; 8 readers meanwhile check that every batch is seen whole
    /// (counts are multiples of 20, `newest` and ordered pages agree with the count).
    private static func stress(_ store: any TableStore) async throws {
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["writer"]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for batch in 0..<40 {
                        let rows: [TableRow] = (0..<20).map { index in
                            [
                                "twitterId": .int(Int64(writer * 10_000 + batch * 20 + index)),
                                "writer": .int(Int64(writer)),
                            ]
                        }
                        let summary = try await store.insert(rows, into: "Updates", onConflict: .fail)
                        #expect(summary.inserted.count == 20)
                    }
                }
            }
            for reader in 0..<8 {
                group.addTask {
                    for _ in 0..<40 {
                        let count = try await store.count(
                            Query("Updates").filter(TableColumn("writer") == .int(Int64(reader))))
                        #expect(count % 20 == 0, "a batch is visible whole or not at all")
                        let page = try await store.read(
                            Query("Updates").filter(TableColumn("writer") == .int(Int64(reader))).orderBy(
                                .descending("twitterId")))
                        #expect(page.count % 20 == 0)
                        if let newest = try await store.newest(in: "Updates", by: "twitterId") {
                            #expect(newest["twitterId"] != nil)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.count(Query("Updates")) == 8 * 40 * 20)
        #expect(try await store.newest(in: "Updates", by: "twitterId")?["twitterId"] == .int(7 * 10_000 + 799))
    }

    @Test("InMemoryTableStore under 16 concurrent tasks")
    func inMemory() async throws {
        try await Self.stress(InMemoryTableStore())
    }

    @Test("FileTableStore under 16 concurrent tasks, and everything is there after a reopen")
    func file() async throws {
        let root = try TemporaryDirectory()
        let store = try await FileTableStore(directory: root.url)
        try await Self.stress(store)
        store.close()
        let reopened = try await FileTableStore(directory: root.url)
        #expect(try await reopened.count(Query("Updates")) == 8 * 40 * 20)
    }
}
