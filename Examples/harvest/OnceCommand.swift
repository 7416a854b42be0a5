import ArgumentParser
import Foundation
import HarvestClock
import Logging
import TableStorage
import TweetHarvester
import TwitterSearch

/// `harvest once [--query Q]… [--store SPEC] [--demo | --api v2|v1.1 --api-base URL]`.
struct OnceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "once",
        abstract: "Run the harvest job one time, print its report and what it stored."
    )

    @OptionGroup var options: HarvestOptions

    @OptionGroup var logging: LoggingOptions

    @Option(help: "How many of the newly stored records to print.")
    var show: Int = 10

    func run() async throws {
        try await reportingErrors("once") {
            let logger = try logging.makeLogger()
            let spec = try StoreSpec(parsing: options.store)
            let clock = SystemClock()
            let (jobs, resolved) = try options.resolve(clock: clock)
            try await spec.withFleet(logger: logger, lease: nil) { store, fleet in
                let transport = try await fleet.transport(resolved, options: options, clock: clock)
                for settings in jobs.sharingRateLimits(fleet.ledger) {
                    let harvester = try Harvester(
                        settings: settings, store: store, transport: transport, logger: logger)
                    let report = try await harvester.runOnce()
                    let query = jobs.count > 1 ? ", \(settings.query)" : ""
                    print("harvest once (\(options.demo ? "demo" : settings.api.rawValue), \(spec)\(query)): \(report)")
                    let stored = try await RecordText.newest(min(show, report.stored), in: settings.table, of: store)
                    if !stored.isEmpty {
                        let total = try await store.count(Query(settings.table))
                        print(
                            RecordText.table(
                                stored, title: "newest \(stored.count) of \(total) records in \(settings.table):"))
                    }
                }
            }
        }
    }
}
