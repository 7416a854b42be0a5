// GetUpdates: the classic scheduled-job tutorial in Swift.
// Every hour, fetch the new #mobileservices tweets and store them in the Updates table, with no retweets,
// no replies and no duplicates. Credentials come from TWITTER_BEARER_TOKEN (or TWITTER_CONSUMER_KEY and
// TWITTER_CONSUMER_SECRET, plus TWITTER_ACCESS_TOKEN and TWITTER_ACCESS_TOKEN_SECRET); `--demo` uses the
// built-in simulated search API instead. Stop it with Ctrl-C.
import CronScheduler
import Foundation
import HarvestDemo
import Logging
import ServiceLifecycle
import TableStorage
import TweetHarvester
import TwitterSearch
import UnixSignals

@main
struct GetUpdates {
    static func main() async throws {
        let demo = CommandLine.arguments.contains("--demo")
        var settings: HarvestSettings
        do {
            settings = demo ? .demo : try .fromEnvironment()
        } catch {
            FileHandle.standardError.write(Data("GetUpdates: \(error), or run with --demo\n".utf8))
            exit(1)
        }
        settings.query = "#mobileservices"
        settings.table = "Updates"
        settings.schedule = .cron(try CronExpression("@hourly"), timeZone: .gmt)

        let logger = Logger(label: "GetUpdates")
        let store = try await FileTableStore(directory: URL(fileURLWithPath: "GetUpdates.data"), logger: logger)
        let harvester = try Harvester(
            settings: settings, store: store,
            transport: demo ? DemoTransport() : AsyncHTTPClientTransport.shared,
            logger: logger
        ) { result in
            switch result {
            case .success(let report): print("Updates: \(report)")
            case .failure(let error): print("Could not update, will retry next hour: \(error)")
            }
        }

        // "Run Once" now, then every hour until Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
        _ = try await harvester.runOnce()
        let group = ServiceGroup(services: [harvester], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger)
        try await group.run()
    }
}
