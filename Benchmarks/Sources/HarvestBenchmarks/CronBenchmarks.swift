import CronScheduler
import Foundation
import Logging
import Synchronization

/// Next-fire computations over the expression mix of `../shared/anchors/cron_next.py`, in UTC and
/// Europe/Berlin: "fresh" parses and computes one next fire from 200 start instants spread over
/// 2024–2025 (crossing Berlin's DST changes); "chained" iterates 200 successive fire times per
/// expression and zone (croniter's `get_next()`). Both sides do the same 4,000 computations.
let cronBenchmarks = BenchmarkGroup(name: "cron") {
    let expressions = [
        "0 * * * *", "*/15 9-17 * * MON-FRI", "0 0 1,15 * *", "30 2 * * 0", "0 0 29 2 *",
        "*/5 * * * *", "0 0 13 * 5", "59 23 31 * *", "0 12 * JAN,JUL MON", "0 */6 * * *",
    ]
    guard let berlin = TimeZone(identifier: "Europe/Berlin") else { throw BenchmarkFailure("no Europe/Berlin zone") }
    let zones: [(String, TimeZone)] = [("utc", .gmt), ("berlin", berlin)]
    for (label, zone) in zones {
        // 2024-01-01 00:00 local, then starts every 263,057 s, as the anchor does.
        let t0 = Date(
            timeIntervalSince1970: 1_704_067_200
                - Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: 1_704_067_200))))
        let starts = (0..<200).map { t0.addingTimeInterval(263_057 * Double($0)) }
        let parsed = try expressions.map { try CronExpression($0) }

        let fresh = try medianSeconds {
            var sum = 0.0
            for text in expressions {
                for start in starts {
                    sum += try CronExpression(text).next(after: start, in: zone)?.timeIntervalSince1970 ?? 0
                }
            }
            return sum
        }
        report("cron.next.fresh.\(label)", Double(expressions.count * starts.count) / fresh, "computations/s")

        let chained = medianSeconds {
            var sum = 0.0
            // One lazy sequence per expression, as croniter's get_next() iterator: the zone's offsets are
            // cached between successive fire times.
            for expression in parsed {
                for next in expression.fireDates(after: t0, in: zone).prefix(200) {
                    sum += next.timeIntervalSince1970
                }
            }
            return sum
        }
        report("cron.next.chained.\(label)", Double(expressions.count * 200) / chained, "computations/s")
    }
}

/// How late jobs start on the real clock: 10,000 one-shot jobs due every 0.5 ms over 5 seconds.
let cronLatenessBenchmarks = BenchmarkGroup(name: "cron-lateness") {
    let jobCount = 10_000
    let lateness = Mutex<[Double]>([])
    let (finished, finishedSink) = AsyncStream.makeStream(of: Void.self)
    var configuration = JobScheduler.Configuration()
    configuration.maxConcurrentRuns = 100
    configuration.historyLimit = 1
    configuration.onRunFinished = { record in
        guard let started = record.startedAt else { return }
        let count = lateness.withLock {
            $0.append(started.timeIntervalSince(record.scheduledAt))
            return $0.count
        }
        if count == jobCount { finishedSink.yield() }
    }
    let scheduler = JobScheduler(
        configuration: configuration, clock: .system,
        logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
    let first = Date().addingTimeInterval(2)
    for index in 0..<jobCount {
        try await scheduler.add("job\(index)", schedule: .once(at: first.addingTimeInterval(Double(index) * 0.000_5))) {
        }
    }
    let running = Task { try await scheduler.run() }
    for await _ in finished { break }
    running.cancel()
    _ = await running.result
    let sorted = lateness.withLock { $0 }.sorted()
    guard sorted.count == jobCount, sorted[0] >= 0 else { throw BenchmarkFailure("a job ran early or not at all") }
    report("cron.lateness.p50", sorted[jobCount / 2] * 1000, "ms")
    report("cron.lateness.p99", sorted[jobCount * 99 / 100] * 1000, "ms")
    report("cron.lateness.max", sorted[jobCount - 1] * 1000, "ms")
}
