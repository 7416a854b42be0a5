import Foundation
import HarvestDemo
import HarvestTesting
import InMemoryLogging
import Logging
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

@Suite("The harvest job")
struct HarvesterTests {
    @Test("a first run stores every original and quote in the window once, and counts what it dropped")
    func firstRun() async throws {
        let scene = Scene()
        let report = try await scene.harvester().runOnce()
        let truth = scene.firstWindow
        let stored = try await scene.storedIDs()
        #expect(stored.count == Set(stored).count)
        #expect(Set(stored) == scene.expectedIDs())
        #expect(report.fetched == truth.count)
        #expect(report.filtered["retweet"] == truth.filter { $0.kind == .retweet }.count)
        #expect(report.filtered["reply"] == truth.filter { $0.kind == .reply }.count)
        #expect(report.stored == stored.count)
        #expect(report.pages == (truth.count + 99) / 100)
        #expect(report.duplicates == 0)
        #expect(report.newestBefore == nil)
        #expect(report.newestAfter == truth.first?.id)
        #expect(report.warnings.isEmpty)
    }

    @Test("stored rows carry the exact 64-bit id, text, author, authorId, date and kind")
    func recordShape() async throws {
        let scene = Scene()
        _ = try await scene.harvester().runOnce()
        let truth = scene.firstWindow
        let original = try #require(truth.first { $0.kind == .original })
        #expect(original.id > 1 << 53)
        let rows = try await scene.store.read(Query("Updates"))
        let row = try #require(rows.first { HarvestTables.tweetID(of: $0) == original.id })
        #expect(row["twitterId"] == .int(Int64(original.id)))
        #expect(row["text"] == .string(original.text))
        #expect(row["author"] == .string(original.authorUsername))
        #expect(row["authorId"] == .int(Int64(original.authorID)))
        #expect(row["kind"] == .string("original"))
        guard case .date(let date)? = row["date"] else {
            Issue.record("no date in \(row)")
            return
        }
        #expect(abs(date.timeIntervalSince(original.createdAt)) < 1)
    }

    @Test("later runs fetch only what is newer than the watermark; a run with nothing new stores nothing")
    func incrementalRuns() async throws {
        let scene = Scene()
        let harvester = try scene.harvester()
        let first = try await harvester.runOnce()
        let idle = try await harvester.runOnce()
        #expect(idle.fetched == 0)
        #expect(idle.stored == 0)
        #expect(idle.newestBefore == first.newestAfter)
        scene.clock.advance(by: .seconds(60))
        let second = try await harvester.runOnce()
        let arrived = scene.demo.timeline(after: Scene.start, through: scene.clock.now)
        #expect(second.fetched == arrived.count)
        #expect(second.pages == (arrived.count + 99) / 100)
        #expect(second.duplicates == 0)
        #expect(second.newestBefore == first.newestAfter)
        #expect(second.newestAfter == arrived.first?.id)
        let stored = try await scene.storedIDs()
        #expect(stored.count == Set(stored).count)
        #expect(Set(stored) == scene.expectedIDs())
    }

    @Test("v1.1 stores exactly what v2 stores")
    func v1MatchesV2() async throws {
        let v2 = Scene()
        _ = try await v2.harvester().runOnce()
        let v1 = Scene()
        var settings = HarvestSettings.demo
        settings.api = .v1_1
        _ = try await v1.harvester(settings).runOnce()
        #expect(Set(try await v1.storedIDs()) == Set(try await v2.storedIDs()))
    }

    @Test("user filters compose with the defaults and are counted by reason; no filters store everything")
    func filters() async throws {
        let scene = Scene()
        var settings = HarvestSettings.demo
        settings.filters += [.authors(["ana_builds"]), .custom("rocket") { $0.text.contains("🚀") }]
        let report = try await scene.harvester(settings).runOnce()
        let truth = scene.firstWindow
        let kept = truth.filter { $0.kind != .retweet && $0.kind != .reply }
        let byAna = kept.filter { $0.authorUsername == "ana_builds" }
        let rockets = kept.filter { $0.authorUsername != "ana_builds" && $0.text.contains("🚀") }
        #expect(report.filtered["author"] == byAna.count)
        #expect(report.filtered["rocket"] == rockets.count)
        #expect(report.stored == kept.count - byAna.count - rockets.count)

        let everything = Scene()
        var unfiltered = HarvestSettings.demo
        unfiltered.filters = []
        let all = try await everything.harvester(unfiltered).runOnce()
        #expect(all.stored == truth.count)
        #expect(all.filtered.isEmpty)
    }

    @Test("rows already in the table are counted as duplicates and never stored twice")
    func duplicates() async throws {
        let scene = Scene()
        let harvester = try scene.harvester()
        _ = try await harvester.runOnce()
        // Move the watermark back by 150 tweets, as a lost state row would: the next run fetches them again.
        let truth = scene.firstWindow
        let key = HarvestJob(
            settings: .demo, store: scene.store, transport: scene.demo, clock: scene.clock, logger: .current
        ).stateKey
        let row = HarvestTables.record(for: Watermark(covered: truth[150].id), key: key, at: scene.clock.now)
        _ = try await scene.store.insert([row], into: "HarvestState", onConflict: .replace)
        let again = try await harvester.runOnce()
        let refetched = truth[..<150].filter { $0.kind != .retweet && $0.kind != .reply }
        #expect(again.fetched == 150)
        #expect(again.stored == 0)
        #expect(again.duplicates == refetched.count)
        let stored = try await scene.storedIDs()
        #expect(stored.count == Set(stored).count)
        #expect(Set(stored) == scene.expectedIDs())
    }

    @Test("each run's report is stored in HarvestRuns, under a run id its log lines carry too")
    func reportsStored() async throws {
        let scene = Scene()
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .debug
        let harvester = try Harvester(
            settings: HarvestSettings.demo.withoutRetries, store: scene.store, transport: scene.demo,
            clock: scene.clock, logger: logger)
        let first = try await harvester.runOnce()
        scene.clock.advance(by: .seconds(30))
        let second = try await harvester.runOnce()
        #expect(first.runID != second.runID)
        let runs = try await scene.store.read(Query("HarvestRuns"))
        #expect(runs.count == 2)
        let row = try #require(runs.first { $0["startedAt"] == .date(Scene.start) })
        #expect(row["runId"] == .string(first.runID.uuidString))
        let firstRunLines = logs.entries.filter { $0.metadata["th.run.id"] == .string(first.runID.uuidString) }
        #expect(firstRunLines.contains { $0.message.description == "harvest run finished" })
        #expect(!firstRunLines.contains { $0.metadata["th.run"] == "2" })
        #expect(row["stored"] == .int(Int64(first.stored)))
        #expect(row["fetched"] == .int(Int64(first.fetched)))
        #expect(row["outcome"] == .string("succeeded"))
        #expect(row["newestAfter"] == .int(Int64(first.newestAfter ?? 0)))
    }

    @Test("a since_id older than the window falls back to the whole window once, with a warning, then runs clean")
    func staleSinceID() async throws {
        let scene = Scene()
        let harvester = try scene.harvester()
        _ = try await harvester.runOnce()
        scene.clock.advance(by: .seconds(3_600))
        let stale = try await harvester.runOnce()
        #expect(stale.warnings.count == 1)
        #expect(stale.warnings.first?.contains("older than the search window") == true)
        let window = scene.demo.timeline(
            after: scene.clock.now.addingTimeInterval(-Scene.window), through: scene.clock.now)
        #expect(stale.fetched == window.count)
        scene.clock.advance(by: .seconds(30))
        let next = try await harvester.runOnce()
        #expect(next.warnings.isEmpty)
        #expect(next.newestBefore == stale.newestAfter)
        let stored = try await scene.storedIDs()
        #expect(stored.count == Set(stored).count)
    }
}
