import Foundation
import HarvestDemo
import HarvestTesting
import TableStorage
import Testing

@testable import TweetHarvester

/// The samples of `Docs/HarvestTesting.md` and `Docs/TableStorage.md` that are tests. `.ci/check-doc-samples`
/// checks that the documents show exactly the lines between `sample:` and `sample: end` that are not hidden.
@Suite("Doc samples: faults and conformance")
struct FaultAndConformanceDocSamples {
    @Test("with faults injected, a harvest stores exactly what an undisturbed one stores")
    func faultsChangeNothingStored() async throws {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let undisturbed = InMemoryTableStore()
        let calm = ImmediateClock(now: start)
        _ = try await Harvester(
            settings: .demo, store: undisturbed, transport: DemoTransport(clock: ManualClock(now: start)), clock: calm,
            logger: Scene.quiet
        ).runOnce()

        // sample: HarvestTestingFaults
        // snippet.hide
        let apiClock = ManualClock(now: start)
        let clock = ImmediateClock(now: start)
        // snippet.show
        let faulty = FaultTransport(
            wrapping: DemoTransport(clock: apiClock),  // the API's time stands still
            faults: [0: .serverError(503), 2: .rateLimited(resetAfter: .seconds(30)), 4: .truncatedBody],
            clock: clock)  // the client's time: its waits cost nothing on an ImmediateClock
        // sample: end
        let store = InMemoryTableStore()
        let report = try await Harvester(
            settings: .demo, store: store, transport: faulty, clock: clock, logger: Scene.quiet
        ).runOnce()

        #expect(faulty.injected.count == 3)
        #expect(report.rateLimitWaits == 1)
        #expect(report.retries >= 2)
        #expect(clock.now >= start.addingTimeInterval(30), "the client did not wait out the 429")
        let expected = try await undisturbed.read(Query("Updates")).compactMap(HarvestTables.tweetID(of:))
        let stored = try await store.read(Query("Updates")).compactMap(HarvestTables.tweetID(of:))
        #expect(!expected.isEmpty)
        #expect(stored.sorted() == expected.sorted(), "the faults changed what was stored")
    }

    // sample: HarvestTestingConformance
    @Test("my store behaves like a TableStore")
    func conformance() async throws {
        // snippet.hide
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("doc-conformance-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        @Sendable func temporaryPath() -> URL { root.appendingPathComponent(UUID().uuidString) }
        // snippet.show
        try await TableStoreConformance { try await FileTableStore(directory: temporaryPath()) }.run()
    }
    // sample: end
}
