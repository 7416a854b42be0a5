import ArgumentParser
import CronScheduler
import Foundation
import HarvestClock
import Logging
import ServiceLifecycle
import Synchronization
import TweetHarvester
import TwitterSearch
import UnixSignals

/// `harvest run [--query Q] [--schedule CRON | --every DUR] [--store SPEC] [--demo | --api … --api-base …]`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the harvest job on a schedule until SIGINT or SIGTERM, then stop cleanly.",
        discussion: "The default schedule is hourly (0 * * * *), or every 30s with --demo."
    )

    @OptionGroup var options: HarvestOptions

    @OptionGroup var logging: LoggingOptions

    @Option(help: "A cron expression in UTC, such as \"0 * * * *\" or @hourly.")
    var schedule: String?

    @Option(help: "Run every DUR from now: 30s, 15m, 1h, 1d.")
    var every: String?

    func run() async throws {
        try await reportingErrors("run") {
            let logger = try logging.makeLogger()
            let clock = SystemClock()
            let spec = try StoreSpec(parsing: options.store)
            var (settings, transport) = try options.resolve(clock: clock)
            settings.schedule = try resolveSchedule(now: clock.now)
            let store = try await spec.open(logger: logger)
            let totals = RunTotals()
            let harvester = try Harvester(
                settings: settings, store: store, transport: transport, clock: clock, logger: logger
            ) { result in
                print(totals.add(result, at: clock.now))
            }
            FileHandle.standardError.write(
                Data(
                    "harvest run: \(settings.query) into \(settings.table) (\(spec)), \(scheduleText); Ctrl-C stops\n"
                        .utf8))
            var configuration = ServiceGroupConfiguration(
                services: [.init(service: harvester)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            // A run still going 30 seconds after the signal is cancelled; the watermark makes that safe.
            configuration.maximumGracefulShutdownDuration = .seconds(30)
            let group = ServiceGroup(configuration: configuration)
            // The first run starts now, not one interval from now; its failure is reported like any other run's.
            _ = try? await harvester.runOnce()
            do {
                try await group.run()
            } catch is CancellationError {
                // A signal during a wait ends the schedule; that is the clean stop asked for.
            }
            print(totals.summary)
        }
    }

    private var scheduleText: String {
        if let schedule { return "schedule \(schedule) UTC" }
        return "every \(every ?? (options.demo ? "30s" : "hour, on the hour (UTC)"))"
    }

    private func resolveSchedule(now: Date) throws -> Schedule {
        if schedule != nil && every != nil { throw UsageError("give --schedule or --every, not both") }
        if let schedule {
            do {
                return .cron(try CronExpression(schedule), timeZone: .gmt)
            } catch {
                throw UsageError("--schedule: \(error)")
            }
        }
        if every == nil && !options.demo { return HarvestSettings.hourly }
        do {
            return ScheduleText.every(try DurationText(parsing: every ?? "30s"), from: now)
        } catch {
            throw UsageError("--every: \(error)")
        }
    }
}

/// Counts runs for the progress lines and the summary printed on exit.
final class RunTotals: Sendable {
    // Reports arrive from the scheduler's tasks; a Mutex keeps the sums.
    private let state = Mutex<(runs: Int, failed: Int, fetched: Int, stored: Int, filtered: Int, duplicates: Int)>(
        (0, 0, 0, 0, 0, 0))

    /// Adds a run and returns its progress line.
    func add(_ result: Result<HarvestReport, any Error>, at date: Date) -> String {
        let time = date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
        return state.withLock { state in
            state.runs += 1
            switch result {
            case .success(let report):
                state.fetched += report.fetched
                state.stored += report.stored
                state.filtered += report.filteredTotal
                state.duplicates += report.duplicates
                return "run \(state.runs) at \(time): \(report)"
            case .failure(let error):
                state.failed += 1
                return "run \(state.runs) at \(time) failed: \(error) (the next run resumes where it stopped)"
            }
        }
    }

    var summary: String {
        state.withLock { state in
            "harvest run stopped after \(state.runs) run\(state.runs == 1 ? "" : "s") (\(state.failed) failed): "
                + "fetched \(state.fetched), stored \(state.stored), filtered \(state.filtered), "
                + "\(state.duplicates) duplicates"
        }
    }
}

/// `--every DUR` as a schedule of the scheduler, counted from `now`.
enum ScheduleText {
    static func every(_ duration: DurationText, from now: Date) -> Schedule {
        switch duration.unit {
        case .seconds: .every(.seconds(duration.count), startingAt: now)
        case .minutes: .every(.minutes(duration.count), startingAt: now)
        case .hours: .every(.hours(duration.count), startingAt: now)
        case .days: .every(.days(duration.count), startingAt: now)
        }
    }
}
