// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/TweetHarvester.md: running a harvester. CI builds and runs it on the demo API; the hidden lines stop
// it gracefully once the first scheduled run has finished.
import Foundation
import Glibc
import HarvestDemo
import Logging
import ServiceLifecycle
import TableStorage
import TweetHarvester

var settings = HarvestSettings.demo
settings.schedule = .every(.seconds(1), startingAt: .now)
let store = InMemoryTableStore()
let transport = DemoTransport()
let logger = Logger(label: "harvest")
// snippet.show
let harvester = try Harvester(settings: settings, store: store, transport: transport)  // clock, logger default
let report = try await harvester.runOnce()  // "Run Once"
// On the schedule until SIGTERM or SIGINT; a run in progress finishes first:
let group = ServiceGroup(services: [harvester], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
// snippet.hide
Task {
    // Stop once the schedule has run the job at least once after runOnce (at most a minute).
    for _ in 0..<600 {
        try await Task.sleep(for: .milliseconds(100))
        if ((try? await store.count(Query("HarvestRuns"))) ?? 0) >= 2 { break }
    }
    kill(getpid(), SIGTERM)
}
// snippet.show
try await group.run()
// snippet.hide
precondition(report.stored > 0)
let runs = try await store.read(Query("HarvestRuns"))
precondition(runs.count >= 2, "the schedule ran \(runs.count - 1) times")
