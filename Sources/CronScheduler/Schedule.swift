import Foundation

/// When a job runs: a cron expression in a time zone, a fixed interval from a start time, or once.
///
/// ```swift
/// let hourly = Schedule.cron(try CronExpression("0 * * * *"), timeZone: .gmt)
/// let every15 = Schedule.every(.minutes(15), startingAt: start)      // the classic portal's "every N minutes"
/// let every30s = Schedule.every(.seconds(30), startingAt: start)
/// let monthly = Schedule.every(.months(1, in: berlin), startingAt: start)
/// let once = Schedule.once(at: date)
/// ```
public enum Schedule: Sendable, Hashable, CustomStringConvertible {
    /// At the fire times of `expression` read in `timeZone`, with DESIGN.md's daylight-saving rules.
    case cron(CronExpression, timeZone: TimeZone)
    /// At `start`, then every `interval` after it.
    case every(Interval, startingAt: Date)
    /// Once, at the given date.
    case once(at: Date)

    /// A repeat interval. Seconds, minutes and hours are elapsed time; days and months are calendar units in a
    /// time zone, so "every day at 02:00 Berlin" stays at 02:00 across daylight saving and "every month
    /// from January 31" fires on the last day of shorter months.
    public struct Interval: Sendable, Hashable, CustomStringConvertible {
        enum Unit: Hashable, Sendable { case second, minute, hour, day, month }
        let unit: Unit
        let count: Int
        let timeZone: TimeZone

        /// Every `count` seconds (at least 1), such as a polling harvest every 30 seconds.
        public static func seconds(_ count: Int) -> Interval {
            Interval(unit: .second, count: max(count, 1), timeZone: .gmt)
        }
        /// Every `count` minutes (at least 1).
        public static func minutes(_ count: Int) -> Interval {
            Interval(unit: .minute, count: max(count, 1), timeZone: .gmt)
        }
        /// Every `count` hours (at least 1).
        public static func hours(_ count: Int) -> Interval {
            Interval(unit: .hour, count: max(count, 1), timeZone: .gmt)
        }
        /// Every `count` calendar days in `timeZone` (at least 1). The default zone is UTC.
        public static func days(_ count: Int, in timeZone: TimeZone = .gmt) -> Interval {
            Interval(unit: .day, count: max(count, 1), timeZone: timeZone)
        }
        /// Every `count` calendar months in `timeZone` (at least 1), counted from the start each time.
        public static func months(_ count: Int, in timeZone: TimeZone = .gmt) -> Interval {
            Interval(unit: .month, count: max(count, 1), timeZone: timeZone)
        }

        /// Such as `every 15 minutes` or `every 1 month (Europe/Berlin)`.
        public var description: String {
            let name: String
            switch unit {
            case .second: name = "second"
            case .minute: name = "minute"
            case .hour: name = "hour"
            case .day: name = "day"
            case .month: name = "month"
            }
            let zone = unit == .day || unit == .month ? " (\(timeZone.identifier))" : ""
            return "every \(count) \(name)\(count == 1 ? "" : "s")\(zone)"
        }

        /// About how many seconds one unit lasts (a month as 31 days).
        private var unitSeconds: Double {
            switch unit {
            case .second: 1
            case .minute: 60
            case .hour: 3600
            case .day: 86_400
            case .month: 31 * 86_400
            }
        }

        /// How far from its start a schedule may reach, about 3,000 years: occurrences further out are `nil` (the
        /// schedule does not fire again) rather than dates no calendar or timer can represent.
        static let reach: TimeInterval = 1e11

        /// The `index`-th fire time after `start` (index 0 is `start`), or `nil` beyond ``reach``.
        func occurrence(_ index: Int, from start: Date) -> Date? {
            let offset = Double(index) * Double(count) * unitSeconds
            guard offset.magnitude < Self.reach else { return nil }
            switch unit {
            case .second, .minute, .hour: return start.addingTimeInterval(offset)
            case .day, .month:
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = timeZone
                // Within the reach, `index * count` is far below `Int.max`.
                return calendar.date(byAdding: unit == .day ? .day : .month, value: index * count, to: start)
            }
        }

        /// A lower bound of the index of the first occurrence after `date`.
        func estimatedIndex(after date: Date, from start: Date) -> Int {
            let elapsed = min(date.timeIntervalSince(start), Self.reach)
            let approximate = elapsed / (Double(count) * unitSeconds)
            guard approximate.isFinite, approximate > 2 else { return 0 }
            return Int(approximate.rounded(.down)) - 2
        }
    }

    /// The first fire time strictly after `date`, or `nil` when there is none.
    public func nextFire(after date: Date) -> Date? {
        switch self {
        case .cron(let expression, let zone):
            return expression.next(after: date, in: zone)
        case .once(let at):
            return at > date ? at : nil
        case .every(let interval, let start):
            if start > date { return start }
            var index = interval.estimatedIndex(after: date, from: start)
            while let candidate = interval.occurrence(index, from: start) {
                if candidate > date { return candidate }
                index += 1
            }
            return nil
        }
    }

    /// Such as `cron "0 * * * *" in UTC`.
    public var description: String {
        switch self {
        case .cron(let expression, let zone): "cron \"\(expression.text)\" in \(zone.identifier)"
        case .every(let interval, let start): "\(interval) from \(start.formatted(.iso8601))"
        case .once(let at): "once at \(at.formatted(.iso8601))"
        }
    }
}
