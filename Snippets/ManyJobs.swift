// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/TweetHarvester.md: many jobs under one scheduler and one limit. CI builds and runs it on the demo API;
// the hidden lines stop the service once each job has run on its schedule.
import Foundation
import Glibc
import Logging
import TableStorage

let store = InMemoryTableStore()
let logger = Logger(label: "harvest")
// snippet.show
import CronScheduler
import HarvestDemo
import ServiceLifecycle
import TweetHarvester

func harvester(_ query: String, into table: String) throws -> Harvester {
    var settings = HarvestSettings.demo  // or try HarvestSettings.fromEnvironment()
    settings.query = query
    settings.table = table
    settings.schedule = .every(.seconds(1), startingAt: .now)
    return try Harvester(settings: settings, store: store, transport: DemoTransport())
}

var configuration = JobScheduler.Configuration()
configuration.maxConcurrentRuns = 1  // one job at a time, as on the classic free tier
let service = try HarvestService(
    [try harvester("#swift", into: "Swift"), try harvester("#vapor", into: "Vapor")],
    configuration: configuration)
let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
// snippet.hide
Task {
    // Stop once each job has stored something on its schedule (at most a minute, on a loaded machine).
    for _ in 0..<600 {
        try await Task.sleep(for: .milliseconds(100))
        let swift = (try? await store.count(Query("Swift"))) ?? 0
        let vapor = (try? await store.count(Query("Vapor"))) ?? 0
        if swift > 0 && vapor > 0 { break }
    }
    kill(getpid(), SIGTERM)
}
// snippet.show
try await group.run()
// snippet.hide
for table in ["Swift", "Vapor"] {
    let stored = try await store.count(Query(table))
    precondition(stored > 0, "the \(table) job stored nothing")
}
