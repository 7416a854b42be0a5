import Foundation
import HarvestLocking
import HarvestTesting
import Logging
import PostgresNIO
import TableStorage
import TableStoragePostgres
import Testing

@Suite("PostgresTableStore", .enabled(if: PostgresTestServer.runs, PostgresTestServer.skipNote))
struct PostgresTableStoreTests {
    @Test("passes the TableStore conformance suite")
    func conformance() async throws {
        try await PostgresTestServer.withClient { client in
            let schemas = Names()
            do {
                try await TableStoreConformance {
                    let schema = PostgresTestServer.newSchema()
                    schemas.add(schema)
                    return PostgresTestServer.store(client, schema: schema)
                }.run()
            } catch {
                try await PostgresTestServer.dropSchemas(schemas.all, client: client)
                throw error
            }
            try await PostgresTestServer.dropSchemas(schemas.all, client: client)
        }
    }

    @Test("the documented tour: a client that runs for the store's lifetime, a table, a batch, newest")
    func tour() async throws {
        let text = try PostgresTestServer.serverURLText()
        let pgPassword: String? = nil
        let schema = PostgresTestServer.newSchema()
        var configuration = PostgresTableStore.Configuration()
        configuration.schema = schema
        // sample: PostgresStoreTour
        let client = PostgresClient(configuration: try PostgresURL(text, password: pgPassword).client())
        let newest = try await PostgresTableStore.withStore(client: client, configuration: configuration) { store in
            try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
            _ = try await store.insert([["twitterId": 1_578_516_068_309_794_817, "text": "hello"]], into: "Updates")
            return try await store.newest(in: "Updates", by: "twitterId")
        }
        // sample: end
        #expect(newest == ["twitterId": 1_578_516_068_309_794_817, "text": "hello"])
        try await PostgresTestServer.withClient { client in
            try await PostgresTestServer.dropSchemas([schema], client: client)
        }
    }

    @Test("tables and typed columns are real PostgreSQL schema; the key is a constraint; newest reads an index")
    func realSchema() async throws {
        try await PostgresTestServer.withClient { client in
            let schema = PostgresTestServer.newSchema()
            let store = PostgresTestServer.store(client, schema: schema)
            try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["author"]))
            let date = Date(timeIntervalSince1970: 1_700_000_000.123_456_789)
            _ = try await store.insert(
                [
                    [
                        "twitterId": 1_800_000_000_000_000_001, "text": "hi", "author": "a", "isReply": false,
                        "score": 0.5, "date": .date(date),
                    ]
                ], into: "Updates")
            var binds = PostgresBindings()
            binds.append(schema)
            let columns = try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 "
                        + "AND table_name = 'Updates'", binds: binds)
            ).collect().map { try $0.decode((String, String).self) }
            let types = Dictionary(columns, uniquingKeysWith: { first, _ in first })
            #expect(types["twitterId"] == "bigint")
            #expect(types["text"] == "text")
            #expect(types["isReply"] == "boolean")
            #expect(types["score"] == "double precision")
            #expect(types["date"] == "double precision")
            let constraints = try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT constraint_type FROM information_schema.table_constraints WHERE table_schema = $1 "
                        + "AND table_name = 'Updates'", binds: binds)
            ).collect().map { try $0.decode(String.self) }
            #expect(constraints.contains("UNIQUE"))
            let table = PostgresTestServer.quote(schema) + ".\"Updates\""
            let plan = try await client.withConnection { connection in
                // A table this small would be read whole; the plan shows what PostgreSQL does with its index.
                try await connection.query("SET enable_seqscan = off", logger: .init(label: "test"))
                return try await connection.query(
                    PostgresQuery(
                        unsafeSQL:
                            "EXPLAIN SELECT * FROM \(table) WHERE \"twitterId\" IS NOT NULL ORDER BY \"twitterId\" DESC LIMIT 1"
                    ), logger: .init(label: "test")
                ).collect().map { try $0.decode(String.self) }.joined(separator: "\n")
            }
            #expect(plan.contains("Index"), "newest reads the key's index: \(plan)")
            // A date reads back exactly, sub-microsecond bits and all.
            #expect(try await store.newest(in: "Updates", by: "twitterId")?["date"] == .date(date))
            #expect(try await store.definition(of: "Updates").columns["isReply"] == .bool)
            try await PostgresTestServer.dropSchemas([schema], client: client)
        }
    }

    @Test("names and values that try SQL injection are stored as names and values, never run")
    func injection() async throws {
        try await PostgresTestServer.withClient { client in
            let schema = PostgresTestServer.newSchema()
            let store = PostgresTestServer.store(client, schema: schema)
            let table = "Odd \"name\"; DROP TABLE _th_tables; --"
            try await store.createTable(TableSchema(name: table, uniqueKey: "key'", indexes: ["col\"umn"]))
            let hostile: TableStorage.TableRow = [
                "key'": "'); DROP TABLE _th_tables; --", "col\"umn": "x\"; DELETE FROM pg_class; --",
                "a'b\"c); DROP SCHEMA public CASCADE; --": "$1 $$ '' \\",
            ]
            let summary = try await store.insert([hostile, hostile], into: table, onConflict: .ignore)
            #expect(summary == InsertSummary(inserted: [0], duplicates: [1]))
            #expect(
                try await store.read(Query(table).filter(TableColumn("key'") == "'); DROP TABLE _th_tables; --"))
                    == [hostile])
            #expect(
                try await store.read(Query(table).filter(TableColumn("col\"umn").contains("\"; DELETE"))) == [hostile])
            #expect(try await store.newest(in: table, by: "col\"umn") == hostile)
            #expect(
                try await store.update(Query(table), set: ["col\"umn": "'; DROP TABLE x; --"]) == 1)
            #expect(try await store.tableNames() == [table])
            // A name PostgreSQL would cut to 63 bytes is refused, not truncated into another name.
            let long = String(repeating: "n", count: 64)
            let error = await #expect(throws: StorageError.self) {
                try await store.createTable(TableSchema(name: long))
            }
            #expect(error?.code == .invalidDefinition)
            let column = await #expect(throws: StorageError.self) {
                try await store.insert([["key'": "k2", long: 1]], into: table)
            }
            #expect(column?.code == .invalidValue)
            let nul = await #expect(throws: StorageError.self) {
                try await store.insert([["key'": "k3", "text": "a\u{0}b"]], into: table)
            }
            #expect(nul?.code == .invalidValue)
            #expect(try await store.count(Query(table)) == 1)
            // A table of the user's own beside the store's, named through quotedIdentifier: created, never run.
            let ownName = "own \"table\"; DROP TABLE _th_tables; --"
            let own = PostgresTableStore.quotedIdentifier(schema) + "." + PostgresTableStore.quotedIdentifier(ownName)
            #expect(PostgresTableStore.quotedIdentifier("a\"b") == "\"a\"\"b\"")
            try await store.createUnderSchemaLock(["CREATE TABLE IF NOT EXISTS \(own) (n bigint)"])
            try await store.createUnderSchemaLock(["CREATE TABLE IF NOT EXISTS \(own) (n bigint)"])
            let found = try await client.query(
                "SELECT count(*) FROM pg_tables WHERE schemaname = \(schema) AND tablename = \(ownName)"
            ).collect()
            #expect(try found.first?.decode(Int64.self) == 1)
            #expect(try await store.tableNames() == [table])
            try await PostgresTestServer.dropSchemas([schema], client: client)
        }
    }

    @Test(
        "a connection lost in the middle of a batch: all of it or none, a typed error, and the next call reconnects",
        .timeLimit(.minutes(1)),
        arguments: [false, true])
    func connectionLostMidBatch(addsColumn: Bool) async throws {
        try await PostgresTestServer.withClient { client in
            let schema = PostgresTestServer.newSchema()
            let store = PostgresTestServer.store(client, schema: schema)
            try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
            _ = try await store.insert([["twitterId": 1, "text": "before"]], into: "Updates")
            let batch: [TableStorage.TableRow] = (400..<600).map { id in
                var row: TableStorage.TableRow = ["twitterId": .int(Int64(id)), "text": "in the batch"]
                if addsColumn { row["author"] = "new column" }
                return row
            }
            let table = PostgresTestServer.quote(schema) + ".\"Updates\""
            let logger = Logger(label: "test")
            // A trigger makes the batch's INSERT wait for an advisory lock that a second connection holds: that is
            // the moment the batch's backend is terminated (after its ALTER TABLE, when the batch adds a column).
            let lock = Int64.random(in: 1...Int64(Int32.max))
            let function = PostgresTestServer.quote(schema) + ".\"wait\""
            try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "CREATE FUNCTION \(function)() RETURNS trigger LANGUAGE plpgsql AS "
                        + "$$ BEGIN PERFORM pg_advisory_xact_lock(\(lock)); RETURN NEW; END $$"))
            try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "CREATE TRIGGER \"wait\" BEFORE INSERT ON \(table) FOR EACH ROW EXECUTE FUNCTION \(function)()")
            )
            let outcome = try await client.withConnection { holder in
                _ = try await holder.query(
                    PostgresQuery(unsafeSQL: "SELECT pg_advisory_lock(\(lock))"), logger: logger
                ).collect()
                let finished = Flag()
                return try await withThrowingTaskGroup(of: StorageError?.self) { group in
                    group.addTask {
                        defer { finished.set() }
                        do {
                            _ = try await store.insert(batch, into: "Updates")
                            return nil
                        } catch let error as StorageError {
                            return error
                        } catch {
                            return StorageError(.io, message: "not a StorageError: \(error)")
                        }
                    }
                    // Until the batch's backend is seen waiting and terminated, or the insert ended without
                    // waiting (a failure the expectations below report), or 30 s passed: never an endless loop.
                    var binds = PostgresBindings()
                    binds.append(table)
                    let deadline = ContinuousClock.now + .seconds(30)
                    var terminated = false
                    var failure: (any Error)?
                    do {
                        while !terminated, !finished.isSet, ContinuousClock.now < deadline {
                            let rows = try await client.query(
                                PostgresQuery(
                                    unsafeSQL:
                                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type "
                                        + "= 'Lock' AND wait_event = 'advisory' AND pid <> pg_backend_pid() "
                                        + "AND query LIKE 'INSERT INTO%' AND strpos(query, $1) > 0",
                                    binds: binds)
                            ).collect()
                            terminated = !rows.isEmpty
                            if !terminated { try await Task.sleep(for: .milliseconds(20)) }
                        }
                    } catch {
                        failure = error
                    }
                    // The lock goes before the insert is awaited (also when the loop failed): a batch still waiting
                    // for it then ends, and the group never waits on a statement that cannot finish.
                    _ = try await holder.query(
                        PostgresQuery(unsafeSQL: "SELECT pg_advisory_unlock(\(lock))"), logger: logger
                    ).collect()
                    if let failure { throw failure }
                    #expect(terminated, "the batch's backend was seen waiting for the lock and terminated")
                    return try await group.next() ?? nil
                }
            }
            #expect(
                outcome?.code == .connectionLost, "the lost connection is a typed error: \(String(describing: outcome))"
            )
            #expect(try await store.count(Query("Updates")) == 1, "none of the batch is stored")
            #expect(
                try await store.definition(of: "Updates").columns["author"] == nil, "nor the column it would have added"
            )
            // The next call takes a new connection and stores the whole batch.
            let summary = try await store.insert(batch, into: "Updates")
            #expect(summary.inserted.count == batch.count)
            #expect(try await store.count(Query("Updates")) == 1 + batch.count)
            try await PostgresTestServer.dropSchemas([schema], client: client)
        }
    }

    @Test("a statement on a connection that has closed fails at once with connectionLost instead of waiting for good")
    func closedConnectionRefused() async throws {
        try await PostgresTestServer.withClient { client in
            let logger = Logger(label: "test")
            let answer = try await client.withConnection { connection in
                _ = try await PostgresTableStore.rows("SELECT 1", on: connection, logger: logger)
                try await connection.close()
                // postgres-nio leaves a query written to a closed channel unanswered; the statement is raced against
                // 10 s in a task of its own, so that without the guard this test fails instead of hanging.
                return await Self.answer(within: .seconds(10)) {
                    do {
                        _ = try await PostgresTableStore.rows("ROLLBACK", on: connection, logger: logger)
                        return "answered"
                    } catch let error as StorageError {
                        return "\(error.code)"
                    } catch {
                        return "\(error)"
                    }
                }
            }
            #expect(answer == "connectionLost")
            // The pool noticed: the next statement gets a new connection.
            let rows = try await PostgresTableStore.rows("SELECT 1", client: client, table: nil, logger: logger)
            #expect(rows.count == 1)
        }
    }

    /// What `work` returns, or `nil` when it has not returned within `limit` (it is then left suspended).
    static func answer(
        within limit: Duration, _ work: @escaping @Sendable () async -> String
    ) async -> String? {
        let resumed = Locked(false)
        return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let once: @Sendable (String?) -> Void = { value in
                if resumed.withLock({ done in
                    defer { done = true }
                    return !done
                }) {
                    continuation.resume(returning: value)
                }
            }
            Task { once(await work()) }
            Task {
                try? await Task.sleep(for: limit)
                once(nil)
            }
        }
    }

    @Test("two stores on one schema, as two processes: a column one adds is seen by the other")
    func twoProcesses() async throws {
        try await PostgresTestServer.withClient { client in
            let schema = PostgresTestServer.newSchema()
            let first = PostgresTestServer.store(client, schema: schema)
            let second = PostgresTestServer.store(client, schema: schema)
            try await first.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
            _ = try await second.insert([["twitterId": 1]], into: "Updates")
            _ = try await first.insert([["twitterId": 2, "author": "ada"]], into: "Updates")
            #expect(try await second.read(Query("Updates").filter(TableColumn("author") == "ada")).count == 1)
            let mismatch = await #expect(throws: StorageError.self) {
                try await second.insert([["twitterId": 3, "author": 5]], into: "Updates")
            }
            #expect(mismatch?.code == .typeMismatch)
            #expect(try await second.tableNames() == ["Updates"])
            try await PostgresTestServer.dropSchemas([schema], client: client)
        }
    }
}
