// snippet.hide
// swift-format-ignore-file: OrderedImports
// The README's library sample ("Use it from your package"). CI builds and runs every snippet, and
// `.ci/check-doc-samples` checks that the README shows exactly the lines between `snippet.show` and
// `snippet.hide`. Hidden lines make it finish by itself in a scratch directory.
import Glibc

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("quickstart-\(getpid())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
_ = FileManager.default.changeCurrentDirectoryPath(scratch.path)
defer { try? FileManager.default.removeItem(at: scratch) }
// snippet.show
import Foundation
import HarvestDemo
import Logging
import ServiceLifecycle
import TableStorage
import TweetHarvester

// The built-in demo search API needs no credentials. With real ones, start from
// `try HarvestSettings.fromEnvironment()` (TWITTER_BEARER_TOKEN, or TWITTER_CONSUMER_KEY/…) and leave out
// `transport:`: the default is the AsyncHTTPClient transport to api.twitter.com.
var settings = HarvestSettings.demo
settings.query = "#mobileservices"  // into the table "Updates", hourly by default
let store = try await FileTableStore(directory: URL(fileURLWithPath: "tweets"))
let harvester = try Harvester(settings: settings, store: store, transport: DemoTransport())
let report = try await harvester.runOnce()  // "Run Once": fetched, stored, filtered, duplicates…
print(report)

// Then on the schedule, until SIGTERM or SIGINT, as a swift-service-lifecycle service:
let logger = Logger(label: "harvest")
let group = ServiceGroup(services: [harvester], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
// snippet.hide
Task {
    try await Task.sleep(for: .milliseconds(200))
    kill(getpid(), SIGINT)  // a graceful stop, as Ctrl-C would
}
// snippet.show
try await group.run()
// snippet.hide
precondition(report.stored > 0, "the demo run stored nothing")
print("stopped gracefully")
