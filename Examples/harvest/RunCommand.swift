import ArgumentParser
import CronScheduler
import Foundation
import HarvestClock
import HarvestLocking
import Logging
import ServiceLifecycle
import TweetHarvester
import TwitterSearch
import UnixSignals

/// `harvest run [--query Q]… [--schedule CRON [--tz ZONE] | --every DUR] [--max-concurrent N] [--store SPEC]
/// [--demo | --api … --api-base …]`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the harvest job on a schedule until SIGINT or SIGTERM, then stop cleanly.",
        discussion: """
            The default schedule is hourly (0 * * * *), or every 30s with --demo. Each --query is its own job on \
            the one schedule; --max-concurrent jobs run at once (default 1), and a job never overlaps itself.
            """
    )

    @OptionGroup var options: HarvestOptions

    @OptionGroup var logging: LoggingOptions

    @Option(help: "A cron expression, such as \"0 * * * *\" or @hourly, read in --tz (default UTC).")
    var schedule: String?

    @Option(name: .customLong("tz"), help: "The IANA time zone --schedule is read in, such as Europe/Berlin.")
    var timeZone: String?

    @Option(name: .customLong("max-concurrent"), help: "How many jobs may run at once (default 1).")
    var maxConcurrent: Int = 1

    @Option(help: "Run every DUR from now: 30s, 15m, 1h, 1d (on a PostgreSQL store: at multiples of DUR since 1970).")
    var every: String?

    @Option(
        help: ArgumentHelp(
            "On a PostgreSQL store, how long a job's lease lasts without renewal (default 30s).",
            discussion: "A job whose process died passes to another within the lease plus one period."))
    var lease: String?

    func run() async throws {
        try await reportingErrors("run") {
            let logger = try logging.makeLogger()
            let clock = SystemClock()
            let spec = try StoreSpec(parsing: options.store)
            let (jobs, resolved) = try options.resolve(clock: clock)
            let isFleet = if case .postgres = spec { true } else { false }
            let schedule = try resolveSchedule(now: clock.now, aligned: isFleet)
            guard maxConcurrent >= 1 else {
                throw UsageError("--max-concurrent must be at least 1, got \(maxConcurrent)")
            }
            var leaseDuration: Duration?
            if let lease {
                guard isFleet else { throw UsageError("--lease applies to a PostgreSQL store (--store postgres://…)") }
                do {
                    let parsed = try DurationText(parsing: lease)
                    leaseDuration = .seconds(parsed.count * parsed.unit.seconds)
                } catch {
                    throw UsageError("--lease: \(error)")
                }
            }
            try await spec.withFleet(logger: logger, lease: leaseDuration) { store, fleet in
                let transport = try await fleet.transport(resolved, options: options, clock: clock)
                let totals = RunTotals()
                let harvesters = try jobs.sharingRateLimits(fleet.ledger).map { settings in
                    var settings = settings
                    settings.schedule = schedule
                    return try Harvester(
                        settings: settings, store: store, transport: transport, clock: clock, logger: logger
                    ) { result in
                        print(totals.add(result, at: clock.now))
                    }
                }
                var scheduler = JobScheduler.Configuration()
                scheduler.maxConcurrentRuns = maxConcurrent
                scheduler.coordinator = fleet.coordinator
                let service = try HarvestService(harvesters, configuration: scheduler, clock: clock, logger: logger)
                let queries = jobs.map(\.query).joined(separator: ", ")
                FileHandle.standardError.write(
                    Data(
                        "harvest run: \(queries) into \(options.table) (\(spec)), \(scheduleText); Ctrl-C stops\n"
                            .utf8))
                var configuration = ServiceGroupConfiguration(
                    services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
                // A run still going 30 seconds after the signal is cancelled; the watermark makes that safe.
                configuration.maximumGracefulShutdownDuration = .seconds(30)
                let group = ServiceGroup(configuration: configuration)
                // The first run starts now, not one interval from now; its failure is reported like any other run's.
                // In a fleet every run is one of the schedule's occurrences, granted to one process: none starts
                // on its own.
                if !isFleet {
                    for harvester in harvesters { _ = try? await harvester.runOnce() }
                }
                do {
                    try await group.run()
                } catch is CancellationError {
                    // A signal during a wait ends the schedule; that is the clean stop asked for.
                }
                print(totals.summary)
            }
        }
    }

    private var scheduleText: String {
        if let schedule { return "schedule \(schedule) \(timeZone ?? "UTC")" }
        return "every \(every ?? (options.demo ? "30s" : "hour, on the hour (UTC)"))"
    }

    /// The schedule; with `aligned` (a fleet), `--every` counts from a multiple of its duration since 1970, so
    /// that every process of the fleet has the same occurrences.
    private func resolveSchedule(now: Date, aligned: Bool = false) throws -> Schedule {
        if schedule != nil && every != nil { throw UsageError("give --schedule or --every, not both") }
        if timeZone != nil && schedule == nil { throw UsageError("--tz applies to --schedule; give --schedule too") }
        if let schedule {
            var zone = TimeZone.gmt
            if let timeZone {
                guard let named = TimeZone(identifier: timeZone) else {
                    throw UsageError("--tz: unknown time zone \(InputText.escaped(timeZone))")
                }
                zone = named
            }
            do {
                return .cron(try CronExpression(schedule), timeZone: zone)
            } catch {
                throw UsageError("--schedule: \(error)")
            }
        }
        if every == nil && !options.demo { return HarvestSettings.hourly }
        do {
            let duration = try DurationText(parsing: every ?? "30s")
            guard aligned else { return ScheduleText.every(duration, from: now) }
            let period = Double(duration.count * duration.unit.seconds)
            let start = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / period).rounded(.down) * period)
            return ScheduleText.every(duration, from: start)
        } catch {
            throw UsageError("--every: \(error)")
        }
    }
}

/// Counts runs for the progress lines and the summary printed on exit.
final class RunTotals: Sendable {
    // Reports arrive from the scheduler's tasks; a lock keeps the sums.
    private let state = Locked<(runs: Int, failed: Int, fetched: Int, stored: Int, filtered: Int, duplicates: Int)>(
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
