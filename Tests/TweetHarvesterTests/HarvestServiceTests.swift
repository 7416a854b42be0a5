import CronScheduler
import Foundation
import HarvestLocking
import HarvestTesting
import InMemoryLogging
import Logging
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

/// Counts the requests in flight across every transport that shares it, and the most ever at once.
final class InFlight: Sendable {
    private let state = HarvestLocking.Locked<(now: Int, most: Int)>((0, 0))
    var most: Int { state.withLock { $0.most } }

    func enter() {
        state.withLock {
            $0.now += 1; $0.most = max($0.most, $0.now)
        }
    }
    func leave() { state.withLock { $0.now -= 1 } }
}

/// A transport that yields a few times inside every request, so that runs allowed to overlap do overlap.
struct OverlapWidening: HTTPTransport {
    let inner: any HTTPTransport
    let inFlight: InFlight

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        inFlight.enter()
        defer { inFlight.leave() }
        for _ in 0..<20 { await Task.yield() }
        return try await inner.send(request)
    }
}

@Suite("One service, many jobs")
struct HarvestServiceTests {
    /// Two harvesters (two queries, two tables, one store) on a one-minute schedule under one service.
    private func twoHarvesters(
        _ scene: Scene, inFlight: InFlight, sink: AsyncStream<String>.Continuation
    ) throws -> [Harvester] {
        try [("Swift", "#swift"), ("Vapor", "#vapor")].map { table, query in
            var settings = HarvestSettings.demo
            settings.table = table
            settings.query = query
            settings.schedule = .every(.minutes(1), startingAt: Scene.start)
            return try Harvester(
                settings: settings, store: scene.store,
                transport: OverlapWidening(inner: scene.demo, inFlight: inFlight), clock: scene.clock,
                logger: Scene.quiet
            ) { result in
                if case .success = result { sink.yield(table) }
            }
        }
    }

    @Test(
        "two jobs share one scheduler and its limit: with maxConcurrentRuns 1 they never run at once",
        arguments: [1, 2])
    func sharedLimit(limit: Int) async throws {
        let scene = Scene()
        let inFlight = InFlight()
        let (finished, sink) = AsyncStream.makeStream(of: String.self)
        var configuration = JobScheduler.Configuration()
        configuration.maxConcurrentRuns = limit
        let service = try HarvestService(
            try twoHarvesters(scene, inFlight: inFlight, sink: sink), configuration: configuration,
            clock: scene.clock, logger: Scene.quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            var iterator = finished.makeAsyncIterator()
            for _ in 0..<3 {
                await scene.clock.waitForSleepers(1)
                scene.clock.advance(to: try #require(scene.clock.nextSleeperDeadline))
                let tables = [await iterator.next(), await iterator.next()].compactMap { $0 }
                #expect(Set(tables) == ["Swift", "Vapor"])
            }
            group.cancelAll()
        }
        if limit == 1 { #expect(inFlight.most == 1) }
        for table in ["Swift", "Vapor"] {
            let stored = try await scene.storedIDs(table: table)
            #expect(!stored.isEmpty)
            #expect(stored.count == Set(stored).count)
        }
        let runs = try await scene.store.read(Query("HarvestRuns"))
        #expect(runs.count == 6)
    }

    @Test("two harvesters with one job name are refused when the service is made")
    func duplicateNames() throws {
        let scene = Scene()
        let first = try scene.harvester()
        let second = try scene.harvester()
        #expect(throws: HarvestError.self) { try HarvestService([first, second]) }
        var renamed = HarvestSettings.demo
        renamed.jobName = "second"
        #expect(throws: Never.self) { try HarvestService([first, try scene.harvester(renamed)]) }
    }

    @Test("two jobs on one logger: every line says whose it is, each page is logged once, reasons are counted")
    func linesSayWhose() async throws {
        let scene = Scene()
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .debug
        var reports: [String: HarvestReport] = [:]
        for (table, query) in [("Swift", "#swift"), ("Vapor", "#vapor")] {
            var settings = HarvestSettings.demo.withoutRetries
            settings.table = table
            settings.query = query
            let harvester = try Harvester(
                settings: settings, store: scene.store, transport: scene.demo, clock: scene.clock, logger: logger)
            reports[table] = try await harvester.runOnce()
        }
        #expect(!logs.entries.isEmpty)
        for entry in logs.entries {
            guard case .string(let table)? = entry.metadata["th.table"] else {
                Issue.record("\(entry.message) does not name its table")
                continue
            }
            #expect(["Swift", "Vapor"].contains(table))
            #expect(entry.metadata["th.job"] == .string("harvest \(table) #\(table.lowercased())"))
            #expect(entry.metadata["th.query"] == .string("#\(table.lowercased())"))
        }
        for table in ["Swift", "Vapor"] {
            let lines = logs.entries.filter { $0.metadata["th.table"] == .string(table) }
            let pages = lines.filter { $0.message.description == "page fetched" }
            #expect(pages.count == reports[table]?.pages)
            let finished = try #require(lines.first { $0.message.description == "harvest run finished" })
            #expect(finished.metadata["th.filtered.by"] == .string(reports[table]?.filteredSummary ?? ""))
            #expect(finished.metadata["th.run"] == "1")
        }
    }
}
