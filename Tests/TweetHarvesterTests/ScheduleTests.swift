import CronScheduler
import Foundation
import HarvestTesting
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

@Suite("Scheduled runs")
struct ScheduleTests {
    @Test("start and stop: stop waits for the schedule to end and start again after stop works")
    func startStop() async throws {
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.schedule = .every(.minutes(1), startingAt: Scene.start)
        let harvester = try scene.harvester(settings)
        try await harvester.start()
        await #expect(throws: HarvestError.self) { try await harvester.start() }
        await scene.clock.waitForSleepers(1)
        await harvester.stop()
        try await harvester.start()
        await harvester.stop()
    }
}
