/// Proleptic Gregorian civil-date arithmetic on day numbers (days since 1970-01-01), after Howard Hinnant's
/// `days_from_civil` and `civil_from_days`. It is what makes next-fire computation fast: no `Calendar`.
enum Civil {
    /// The day number of a civil date.
    @inline(__always)
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date of a day number.
    @inline(__always)
    static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The weekday of a day number, 0 = Sunday.
    @inline(__always)
    static func weekday(days: Int) -> Int {
        let w = (days + 4) % 7
        return w < 0 ? w + 7 : w
    }

    @inline(__always)
    static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    @inline(__always)
    static func length(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Bits 1 through `day` set.
    @inline(__always)
    static func daysUpTo(_ day: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: ((UInt64(1) << UInt64(day + 1)) - 1) & ~1)
    }

    /// `value / divisor` rounded towards negative infinity.
    @inline(__always)
    static func floorDiv(_ value: Int, _ divisor: Int) -> Int {
        let q = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? q - 1 : q
    }

    /// `value / divisor` rounded towards positive infinity.
    @inline(__always)
    static func ceilDiv(_ value: Int, _ divisor: Int) -> Int {
        -floorDiv(-value, divisor)
    }
}
