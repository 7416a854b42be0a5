import Foundation
import HarvestTesting
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

@Suite("The archive job")
struct ArchiveTests {
    @Test("archive deletes rows older than the age, oldest first in batches")
    func archiveByAge() async throws {
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.archive = ArchivePolicy(olderThan: .seconds(60))
        settings.archive?.batchSize = 25
        let harvester = try scene.harvester(settings)
        _ = try await harvester.runOnce()
        let before = try await scene.store.read(Query("Updates"))
        let report = try await harvester.archiveOnce()
        let cutoff = Scene.start.addingTimeInterval(-60)
        let old = before.filter { if case .date(let date)? = $0["date"] { date < cutoff } else { false } }
        #expect(report.byAge == old.count)
        #expect(report.batches == (old.count + 24) / 25)
        let after = try await scene.storedIDs()
        #expect(
            Set(after)
                == Set(before.compactMap(HarvestTables.tweetID(of:))).subtracting(
                    old.compactMap(HarvestTables.tweetID(of:))))
    }

    @Test("archive keeps the newest N rows and moves the rest to another table")
    func archiveByCountMoving() async throws {
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.archive = ArchivePolicy(keepingAtMost: 100, moveTo: "UpdatesArchive")
        let harvester = try scene.harvester(settings)
        _ = try await harvester.runOnce()
        let all = try await scene.storedIDs().sorted(by: >)
        let report = try await harvester.archiveOnce()
        #expect(report.byCount == all.count - 100)
        #expect(Set(try await scene.storedIDs()) == Set(all.prefix(100)))
        #expect(Set(try await scene.storedIDs(table: "UpdatesArchive")) == Set(all.dropFirst(100)))
        // Archiving again finds nothing to do, and the next harvest does not fetch the archived tweets again.
        #expect(try await harvester.archiveOnce().byCount == 0)
        let next = try await harvester.runOnce()
        #expect(next.fetched == 0)
    }
}
