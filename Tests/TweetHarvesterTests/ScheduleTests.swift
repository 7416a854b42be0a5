import CronScheduler
import Foundation
import HarvestTesting
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

@Suite("Scheduled runs")
struct ScheduleTests {
    @Test("on a one-minute schedule every tick stores the tweets that arrived since the last one")
    func scheduledRuns() async throws {
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.schedule = .every(.minutes(1), startingAt: Scene.start)
        let (reports, sink) = AsyncStream.makeStream(of: Result<HarvestReport, any Error>.self)
        let harvester = try Harvester(
            settings: settings, store: scene.store, transport: scene.demo, clock: scene.clock, logger: Scene.quiet
        ) { result in
            sink.yield(result)
        }
        let running = Task { try await harvester.run() }
        var iterator = reports.makeAsyncIterator()
        var collected: [HarvestReport] = []
        for _ in 0..<3 {
            await scene.clock.waitForSleepers(1)
            scene.clock.advance(to: try #require(scene.clock.nextSleeperDeadline))
            collected.append(try #require(await iterator.next()).get())
        }
        running.cancel()
        _ = await running.result
        #expect(collected.allSatisfy { $0.stored > 0 && $0.warnings.isEmpty })
        for (earlier, later) in zip(collected, collected.dropFirst()) {
            #expect(later.newestBefore == earlier.newestAfter)
            #expect(later.pages == 3)
        }
        let stored = try await scene.storedIDs()
        #expect(stored.count == Set(stored).count)
        // The first tick came a minute after the start: its window began then.
        #expect(Set(stored) == scene.expectedIDs(since: Scene.windowStart.addingTimeInterval(60)))
    }

    @Test("run() twice at once is refused; after it returns nothing sleeps on the clock, and it runs again")
    func runTwiceAndAgain() async throws {
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.schedule = .every(.minutes(1), startingAt: Scene.start)
        let harvester = try scene.harvester(settings)
        for _ in 0..<2 {
            let running = Task { try await harvester.run() }
            await scene.clock.waitForSleepers(1)
            let error = await #expect(throws: HarvestError.self) { try await harvester.run() }
            #expect(error?.code == .alreadyRunning)
            running.cancel()
            _ = await running.result
            #expect(scene.clock.sleeperCount == 0)
        }
    }
}
