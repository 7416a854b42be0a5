import CronScheduler
import Foundation

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
