import Foundation

/// The offsets of one time zone around an instant, cached between calls so chained next-fire computations ask
/// `TimeZone` only when they cross a transition.
struct ZoneCursor {
    /// A stretch of time with one UTC offset: `[start, end)` in seconds since 1970.
    struct Segment {
        /// The transition that began the segment, or `Int.min` when none is near enough to matter.
        var start: Int
        /// The next transition, or `Int.max`.
        var end: Int
        var offset: Int
        /// The offset before ``start``; equal to ``offset`` when ``start`` is `Int.min`.
        var previousOffset: Int
    }

    let zone: TimeZone
    private var segment: Segment?

    init(_ zone: TimeZone) {
        self.zone = zone
    }

    /// Overlaps and gaps are at most this long, so an earlier transition cannot affect instants this far after it.
    private static let lookBehind = 7 * 86_400

    private func offset(at instant: Int) -> Int {
        zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))
    }

    private func transition(after instant: Int) -> Int? {
        zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(instant)))
            .map { Int($0.timeIntervalSince1970.rounded(.up)) }
    }

    /// The segment containing `instant`.
    mutating func segment(containing instant: Int) -> Segment {
        if let segment, segment.start <= instant, instant < segment.end { return segment }
        let offset = offset(at: instant)
        let end = transition(after: instant) ?? Int.max
        var found: Segment
        if let previous = segment, previous.end == instant {
            found = Segment(start: instant, end: end, offset: offset, previousOffset: previous.offset)
        } else {
            var start = Int.min
            var candidate = transition(after: instant - Self.lookBehind)
            while let transition = candidate, transition <= instant {
                start = transition
                candidate = self.transition(after: transition)
            }
            let previousOffset = start == Int.min ? offset : self.offset(at: start - 1)
            found = Segment(start: start, end: end, offset: offset, previousOffset: previousOffset)
        }
        segment = found
        return found
    }
}

extension CronExpression {
    /// How far ahead a search goes before it concludes that the expression fires no more: one Gregorian cycle.
    private static let searchYears = 401

    /// The first matching local minute (minutes since 1970-01-01 00:00 local) at or after `start`.
    func nextLocalMinute(atOrAfter start: Int) -> Int? {
        let dayNumber = Civil.floorDiv(start, 1440)
        let minuteOfDay = start - dayNumber * 1440
        var (year, month, day) = Civil.date(days: dayNumber)
        var hour = minuteOfDay / 60
        var minute = minuteOfDay % 60
        let lastYear = year + Self.searchYears
        while year <= lastYear {
            if months & (1 << UInt16(month)) == 0 {
                let later = months & ~((2 << UInt16(month)) - 1)
                if later != 0 {
                    month = later.trailingZeroBitCount
                } else {
                    year += 1
                    month = months.trailingZeroBitCount
                }
                day = 1
                hour = 0
                minute = 0
            }
            let firstOfMonth = Civil.days(year: year, month: month, day: 1)
            let weekdayMask = weekdayDays[Civil.weekday(days: firstOfMonth)]
            var dayMask = daysCombineByOr ? (daysOfMonth | weekdayMask) : (daysOfMonth & weekdayMask)
            dayMask &= Civil.daysUpTo(Civil.length(year: year, month: month))
            let candidates = UInt64(dayMask) & ~((UInt64(1) << UInt64(day)) - 1)
            if candidates == 0 {
                month += 1
                if month == 13 {
                    month = 1
                    year += 1
                }
                day = 1
                hour = 0
                minute = 0
                continue
            }
            let nextDay = candidates.trailingZeroBitCount
            if nextDay != day {
                day = nextDay
                hour = 0
                minute = 0
            }
            let laterHours = UInt64(hours) & ~((UInt64(1) << UInt64(hour)) - 1)
            if laterHours == 0 {
                day += 1
                hour = 0
                minute = 0
                continue
            }
            let nextHour = laterHours.trailingZeroBitCount
            if nextHour != hour {
                hour = nextHour
                minute = 0
            }
            let laterMinutes = minutes & ~((UInt64(1) << UInt64(minute)) - 1)
            if laterMinutes == 0 {
                hour += 1
                minute = 0
                if hour == 24 {
                    hour = 0
                    day += 1
                }
                continue
            }
            minute = laterMinutes.trailingZeroBitCount
            return (firstOfMonth + day - 1) * 1440 + hour * 60 + minute
        }
        return nil
    }

    /// The first fire instant (seconds since 1970) at or after `earliest`, following the daylight-saving rules.
    func nextFire(atOrAfter earliest: Int, cursor: inout ZoneCursor) -> Int? {
        var instant = earliest
        let fixedTime = !hourIsStar
        // Each pass handles one offset segment; a search that finds nothing in 401 years has ended already.
        for _ in 0..<2_000 {
            let segment = cursor.segment(containing: instant)
            if fixedTime, daylightSavingPolicy.firesInGap, segment.previousOffset < segment.offset,
                segment.start >= instant,
                let skipped = nextLocalMinute(atOrAfter: Civil.ceilDiv(segment.start + segment.previousOffset, 60)),
                skipped * 60 < segment.start + segment.offset
            {
                return segment.start
            }
            var lowestLocal = instant + segment.offset
            if fixedTime, !daylightSavingPolicy.firesTwiceInOverlap, segment.previousOffset > segment.offset {
                lowestLocal = max(lowestLocal, segment.start + segment.previousOffset)
            }
            guard let local = nextLocalMinute(atOrAfter: Civil.ceilDiv(lowestLocal, 60)) else { return nil }
            let fire = local * 60 - segment.offset
            if fire < segment.end { return fire }
            instant = segment.end
        }
        return nil
    }

    /// The first time after `date` at which the expression fires in `zone`.
    ///
    /// Fire times are whole local minutes, strictly after `date`. Across daylight-saving changes a
    /// fixed-time expression follows ``daylightSavingPolicy``; one whose hour field starts with `*`
    /// follows real elapsed time.
    ///
    /// - Parameters:
    ///   - date: The instant to search from; the result is strictly later.
    ///   - zone: The time zone whose local time the fields describe.
    /// - Returns: The next fire time, or `nil` when there is none in the next 400 years.
    public func next(after date: Date, in zone: TimeZone = .gmt) -> Date? {
        var cursor = ZoneCursor(zone)
        return nextFire(atOrAfter: Self.firstSecond(after: date), cursor: &cursor).map(Self.date(from:))
    }

    /// The last time before `date` at which the expression fires in `zone`.
    ///
    /// It is consistent with ``next(after:in:)``: the fire times before `date` are exactly those that
    /// repeated calls of `next(after:in:)` produce.
    ///
    /// - Parameters:
    ///   - date: The instant to search back from; the result is strictly earlier.
    ///   - zone: The time zone whose local time the fields describe.
    /// - Returns: The previous fire time, or `nil` when there is none in the previous 400 years.
    public func previous(before date: Date, in zone: TimeZone = .gmt) -> Date? {
        let end = Int(date.timeIntervalSince1970.rounded(.up))  // fires are whole seconds < date
        var cursor = ZoneCursor(zone)
        var window = 3_600
        while window <= 401 * 366 * 86_400 {
            var last: Int?
            var candidate = nextFire(atOrAfter: end - window, cursor: &cursor)
            while let fire = candidate, fire < end {
                last = fire
                candidate = nextFire(atOrAfter: fire + 1, cursor: &cursor)
            }
            if let last { return Self.date(from: last) }
            window *= 4
        }
        return nil
    }

    /// The fire times after `date` in `zone`, computed lazily, as a `Sequence` and an `AsyncSequence`.
    ///
    /// The sequence caches the zone's offsets between fire times, so iterating it is the fastest way to
    /// compute many fire times in a row.
    ///
    /// ```swift
    /// for fire in try CronExpression("0 9 * * MON-FRI").fireDates(after: .now, in: zone).prefix(5) { print(fire) }
    /// ```
    public func fireDates(after date: Date, in zone: TimeZone = .gmt) -> CronFireDates {
        CronFireDates(expression: self, start: date, zone: zone)
    }

    static func firstSecond(after date: Date) -> Int {
        Int(date.timeIntervalSince1970.rounded(.down)) + 1
    }

    static func date(from instant: Int) -> Date {
        Date(timeIntervalSince1970: TimeInterval(instant))
    }
}

/// The lazy sequence of an expression's fire times, from ``CronExpression/fireDates(after:in:)``.
///
/// It is both a `Sequence` and an `AsyncSequence`; it ends when no fire time is left in the next 400 years.
public struct CronFireDates: Sequence, AsyncSequence, Sendable {
    /// The element type: fire times.
    public typealias Element = Date

    let expression: CronExpression
    let start: Date
    let zone: TimeZone

    /// The iterator of ``CronFireDates``; it caches the zone's offsets between calls.
    public struct Iterator: IteratorProtocol, AsyncIteratorProtocol {
        let expression: CronExpression
        var cursor: ZoneCursor
        var earliest: Int?

        /// The next fire time, or `nil` when there is none.
        public mutating func next() -> Date? {
            advance()
        }

        private mutating func advance() -> Date? {
            guard let earliest, let fire = expression.nextFire(atOrAfter: earliest, cursor: &cursor) else {
                earliest = nil
                return nil
            }
            self.earliest = fire + 1
            return CronExpression.date(from: fire)
        }

        /// The next fire time, or `nil` when there is none.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> Date? {
            advance()
        }
    }

    /// Returns an iterator over the fire times.
    public func makeIterator() -> Iterator {
        Iterator(expression: expression, cursor: ZoneCursor(zone), earliest: CronExpression.firstSecond(after: start))
    }

    /// Returns an asynchronous iterator over the fire times.
    public func makeAsyncIterator() -> Iterator {
        makeIterator()
    }
}
