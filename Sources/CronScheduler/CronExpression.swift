/// A Vixie cron expression: five fields, or an `@` nickname, that name the minutes at which a job fires.
///
/// The syntax is that of `crontab(5)`:
///
/// | form | meaning |
/// | --- | --- |
/// | `*` | every value of the field |
/// | `5` | that value |
/// | `1-5` | each value from 1 to 5 |
/// | `*/15`, `0-30/10` | every 15th value, every 10th value from 0 to 30 |
/// | `5/15` | every 15th value from 5 to the field's maximum (`5-59/15` for minutes) |
/// | `1,15,20-25` | a list of any of the above |
/// | `JAN`–`DEC`, `SUN`–`SAT` | month and weekday names, in any case |
/// | `0` or `7` | Sunday, in the day-of-week field |
///
/// The nicknames are `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly`
/// (`0 0 * * 0`), `@daily` and `@midnight` (`0 0 * * *`), and `@hourly` (`0 * * * *`).
///
/// When both day fields are restricted (neither starts with `*`), a day matching **either** fires
/// (`0 0 13 * FRI` fires on every 13th and on every Friday); otherwise a day must match both. This is
/// Vixie cron's rule, including its reading of "restricted": `*/2` in the day-of-month field starts
/// with `*`, so it combines with the weekday by AND.
///
/// Fire times are computed in a time zone with ``next(after:in:)``, ``previous(before:in:)`` and
/// ``fireDates(after:in:)``. Across daylight-saving changes a fixed-time job (its hour field does not
/// start with `*`) fires once every local day, as ``daylightSavingPolicy`` decides; a job whose hour
/// field starts with `*` follows real elapsed time.
///
/// ```swift
/// let expression = try CronExpression("30 2 * * *")
/// let berlin = TimeZone(identifier: "Europe/Berlin")!
/// // 2026-03-29 has no 02:30 in Berlin: the job fires at 03:00 local, 01:00 UTC.
/// let fire = expression.next(after: someDate, in: berlin)
/// ```
public struct CronExpression: Hashable, Sendable, CustomStringConvertible {
    /// The expression as written.
    public let text: String
    /// What a fixed-time job does across daylight-saving changes. The default is ``DaylightSavingPolicy/default``.
    public var daylightSavingPolicy: DaylightSavingPolicy = .default

    let minutes: UInt64
    let hours: UInt32
    let daysOfMonth: UInt32
    let months: UInt16
    let daysOfWeek: UInt8
    /// Vixie's `DOM_STAR`, `DOW_STAR` and `HR_STAR`: the field's text starts with `*`.
    let dayOfMonthIsStar: Bool
    let dayOfWeekIsStar: Bool
    let hourIsStar: Bool
    /// For each weekday of the 1st of a month (0 = Sunday), the days 1–31 whose weekday is in ``daysOfWeek``.
    let weekdayDays: [UInt32]

    /// Parses a five-field expression such as `"0 12 * * MON-FRI"`, or a nickname such as `@hourly`.
    ///
    /// - Parameter text: The expression; fields are separated by spaces or tabs.
    /// - Throws: ``CronError`` naming the field and column of the first problem, including
    ///   expressions that can never fire, such as `0 0 30 2 *`.
    public init(_ text: String) throws(CronError) {
        self.text = text
        let fields = try Parser.parse(text)
        minutes = fields.values[0]
        hours = UInt32(truncatingIfNeeded: fields.values[1])
        daysOfMonth = UInt32(truncatingIfNeeded: fields.values[2])
        months = UInt16(truncatingIfNeeded: fields.values[3])
        var weekdays = fields.values[4]
        if weekdays & (1 << 7) != 0 { weekdays = (weekdays | 1) & ~(1 << 7) }
        daysOfWeek = UInt8(truncatingIfNeeded: weekdays)
        hourIsStar = fields.isStar[1]
        dayOfMonthIsStar = fields.isStar[2]
        dayOfWeekIsStar = fields.isStar[4]
        var table: [UInt32] = []
        for firstWeekday in 0..<7 {
            var mask: UInt32 = 0
            for day in 1...31 where daysOfWeek & (1 << ((firstWeekday + day - 1) % 7)) != 0 {
                mask |= 1 << day
            }
            table.append(mask)
        }
        weekdayDays = table
        if !firesOnSomeDay {
            throw CronError(
                .neverFires, field: .dayOfMonth, column: fields.columns[2], expression: text,
                reason: "no selected day exists in any selected month, so the expression never fires")
        }
    }

    /// Whether the day-of-month and day-of-week fields combine by OR (both restricted) rather than AND.
    var daysCombineByOr: Bool { !dayOfMonthIsStar && !dayOfWeekIsStar }

    /// Whether some selected month has a selected day. With OR, any weekday matches some day; with AND,
    /// every day of every month falls on every weekday within the 400-year Gregorian cycle.
    private var firesOnSomeDay: Bool {
        if daysCombineByOr { return true }
        let longest = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (1...12).contains { month in
            months & (1 << month) != 0 && daysOfMonth & Civil.daysUpTo(longest[month]) != 0
        }
    }

    /// Whether the expression is a fixed-time one for daylight-saving purposes: its hour field does not start with `*`.
    public var isFixedTime: Bool { !hourIsStar }

    /// The expression as written.
    public var description: String { text }

    /// Whether the local civil time fields match the expression (`weekday` 0 = Sunday).
    func matches(month: Int, day: Int, weekday: Int, hour: Int, minute: Int) -> Bool {
        guard months & (1 << month) != 0, hours & (1 << hour) != 0, minutes & (1 << minute) != 0 else {
            return false
        }
        let dayMatches = daysOfMonth & (1 << day) != 0
        let weekdayMatches = daysOfWeek & (1 << weekday) != 0
        return daysCombineByOr ? (dayMatches || weekdayMatches) : (dayMatches && weekdayMatches)
    }
}

/// What a fixed-time cron job does when a daylight-saving change skips or repeats its local time.
///
/// Jobs whose hour field starts with `*` (`*/15 * * * *`, `30 * * * *`) always follow real elapsed time:
/// they fire in both passes of a repeated hour and skip local times that do not exist. For fixed-time
/// jobs (`30 2 * * *`):
///
/// | policy | skipped local time (spring forward) | repeated local time (fall back) |
/// | --- | --- | --- |
/// | ``default`` | fires once, at the first instant after the jump | fires once, at the first occurrence |
/// | ``skipMissing`` | does not fire that day | fires once, at the first occurrence |
/// | ``runInBothRepeated`` | fires once, at the first instant after the jump | fires at both occurrences |
///
/// For example `30 2 * * *` in Europe/Berlin fires on 2026-03-29 at 03:00 local (01:00 UTC) under the
/// default policy, and on 2026-10-25 at 02:30 +02:00 (00:30 UTC) only.
public struct DaylightSavingPolicy: Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable { case standard, skipMissing, runInBothRepeated }
    private let kind: Kind

    /// Once every local day: a skipped time fires at the first instant after the jump, a repeated time
    /// at its first occurrence. This is DESIGN.md's rule and the default.
    public static let `default` = DaylightSavingPolicy(kind: .standard)
    /// A skipped local time does not fire; a repeated one fires at its first occurrence.
    public static let skipMissing = DaylightSavingPolicy(kind: .skipMissing)
    /// A skipped local time fires at the first instant after the jump; a repeated one fires at both occurrences.
    public static let runInBothRepeated = DaylightSavingPolicy(kind: .runInBothRepeated)

    /// Whether local times inside a spring-forward gap fire at the end of the gap.
    var firesInGap: Bool { kind != .skipMissing }
    /// Whether local times in a repeated hour fire at their second occurrence too.
    var firesTwiceInOverlap: Bool { kind == .runInBothRepeated }

    /// The policy's name.
    public var description: String { "\(kind)" }
}
