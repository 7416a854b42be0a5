// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/CronScheduler.md: one scheduler, one concurrency limit. CI builds and runs it; the hidden lines run one
// occurrence by hand and then stop the scheduler.
import CronScheduler
import HarvestDemo
import Logging
import TableStorage
import TweetHarvester

let logger = Logger(label: "scheduler")
let harvester = try Harvester(settings: .demo, store: InMemoryTableStore(), transport: DemoTransport())
let finished = Finished()
func persist(_ record: RunRecord) async { await finished.add(record) }
actor Finished {
    var records: [RunRecord] = []
    func add(_ record: RunRecord) { records.append(record) }
}
// snippet.show
var configuration = JobScheduler.Configuration()
configuration.maxConcurrentRuns = 1  // the classic free tier; paid tiers ran ten
configuration.onRunFinished = { record in await persist(record) }
let scheduler = JobScheduler(configuration: configuration, clock: .system, logger: logger)
try await scheduler.add("harvest", schedule: .cron(try CronExpression("@hourly"), timeZone: .gmt)) {
    _ = try await harvester.runOnce()
}
// snippet.hide
try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask {
        // snippet.show
        try await scheduler.run()  // or run it in a swift-service-lifecycle ServiceGroup
        // snippet.hide
    }
    var attempt: RunRecord?
    while attempt == nil {  // until run() is going
        attempt = try? await scheduler.runNow("harvest")
        if attempt == nil { try await Task.sleep(for: .milliseconds(10)) }
    }
    let record = attempt!
    precondition(record.outcome == .succeeded, "the manual run did not succeed: \(record)")
    group.cancelAll()
}
let finishedRuns = await finished.records.count
precondition(finishedRuns == 1, "onRunFinished saw \(finishedRuns) runs")
