import Foundation
import HarvestDemo
import HarvestTesting
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

/// Invariant 2 of DESIGN.md: no tweet the API returned is lost by a failure in the middle of a run, and nothing is
/// stored twice. Each test first lets a run complete, lets a minute of tweets (three pages) arrive, interrupts
/// the next walk, lets more tweets arrive, and then checks that one more run leaves exactly the full set stored.
@Suite("Interrupted runs and the gap-safe watermark")
struct InterruptionTests {
    /// Requests the walk after a minute of arrivals makes: three pages of 100 (240 tweets).
    private static let pagesPerMinute = 3

    /// A scene whose first run has completed and which has a minute of new tweets waiting.
    private static func sceneWithBacklog(store: any TableStore = InMemoryTableStore()) async throws -> Scene {
        let scene = Scene(store: store)
        _ = try await scene.harvester().runOnce()
        scene.clock.advance(by: .seconds(60))
        return scene
    }

    /// Whether the stored set has a hole below its newest id: the gap a since_id-from-newest harvester keeps forever.
    private static func hasHole(_ scene: Scene) async throws -> Bool {
        let stored = Set(try await scene.storedIDs())
        guard let newest = stored.max() else { return false }
        return scene.expectedIDs().contains { $0 < newest && !stored.contains($0) }
    }

    private static func expectComplete(_ scene: Scene, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let stored = try await scene.storedIDs()
        #expect(stored.count == Set(stored).count, "a tweet was stored twice", sourceLocation: sourceLocation)
        #expect(Set(stored) == scene.expectedIDs(), "a tweet is missing", sourceLocation: sourceLocation)
    }

    @Test(
        "a walk that fails at every page boundary is finished by the next run, nothing lost or doubled",
        arguments: 1...3)
    func failureAtPageBoundary(failingRequest: Int) async throws {
        let scene = try await Self.sceneWithBacklog()
        let failing = InterruptingTransport(base: scene.demo, failing: failingRequest, clock: scene.clock)
        await #expect(throws: (any Error).self) { _ = try await scene.harvester(transport: failing).runOnce() }
        if failingRequest > 1 && failingRequest <= Self.pagesPerMinute {
            // The newest page is stored, older ones are not: a hole the classic job would never fill.
            #expect(try await Self.hasHole(scene))
        }
        scene.clock.advance(by: .seconds(10))
        let resumed = try await scene.harvester().runOnce()
        #expect(resumed.resumedInterruptedRun)
        try await Self.expectComplete(scene)
    }

    @Test("a walk cancelled while a page is in flight is finished by the next run", arguments: 1...3)
    func cancellation(blockedRequest: Int) async throws {
        let scene = try await Self.sceneWithBacklog()
        var blocking = InterruptingTransport(base: scene.demo, failing: blockedRequest, clock: scene.clock)
        blocking.blocks = true
        let harvester = try scene.harvester(transport: blocking)
        let run = Task { try await harvester.runOnce() }
        await scene.clock.waitForSleepers(1)
        run.cancel()
        await #expect(throws: (any Error).self) { _ = try await run.value }
        scene.clock.advance(by: .seconds(10))
        _ = try await scene.harvester().runOnce()
        try await Self.expectComplete(scene)
    }

    @Test("runs killed again and again while tweets keep arriving still converge to the full set")
    func repeatedKills() async throws {
        let scene = try await Self.sceneWithBacklog()
        var interrupted = 0
        for round in 0..<6 {
            let failing = InterruptingTransport(base: scene.demo, failing: 2 + round % 2, clock: scene.clock)
            if (try? await scene.harvester(transport: failing).runOnce()) == nil { interrupted += 1 }
            scene.clock.advance(by: .seconds(15))
        }
        #expect(interrupted >= 3)
        _ = try await scene.harvester().runOnce()
        try await Self.expectComplete(scene)
    }

    @Test(
        "a store failing in the middle of a page (between batches) or before the watermark is saved loses nothing",
        arguments: 1...10)
    func failureMidPage(failingWrite: Int) async throws {
        let store = FaultyStore(base: InMemoryTableStore())
        let scene = try await Self.sceneWithBacklog(store: store)
        var settings = HarvestSettings.demo
        settings.batchSize = 30
        store.failOnWrite(failingWrite)
        // Writes: the pending range, then per page two or three batches of 30 and the shrunk range, so the first
        // six writes are surely inside the walk; later ones may fall after the run's last write.
        let failed = (try? await scene.harvester(settings).runOnce()) == nil
        if failingWrite <= 6 { #expect(failed) }
        store.failOnWrite(nil)
        scene.clock.advance(by: .seconds(10))
        _ = try await scene.harvester(settings).runOnce()
        try await Self.expectComplete(scene)
    }

    @Test("a pending range that fell out of the search window is dropped with a warning, and the next run is clean")
    func pendingRangeOutOfWindow() async throws {
        let scene = try await Self.sceneWithBacklog()
        let failing = InterruptingTransport(base: scene.demo, failing: 2, clock: scene.clock)
        await #expect(throws: (any Error).self) { _ = try await scene.harvester(transport: failing).runOnce() }
        scene.clock.advance(by: .seconds(3_600))
        let harvester = try scene.harvester()
        let late = try await harvester.runOnce()
        #expect(late.resumedInterruptedRun)
        #expect(late.warnings.contains { $0.contains("dropped") })
        #expect(late.warnings.contains { $0.contains("older than the search window") })
        let window = scene.demo.timeline(
            after: scene.clock.now.addingTimeInterval(-Scene.window), through: scene.clock.now)
        #expect(late.fetched == window.count)
        scene.clock.advance(by: .seconds(10))
        let next = try await harvester.runOnce()
        #expect(next.warnings.isEmpty)
        #expect(!next.resumedInterruptedRun)
        let stored = try await scene.storedIDs()
        #expect(stored.count == Set(stored).count)
    }
}
