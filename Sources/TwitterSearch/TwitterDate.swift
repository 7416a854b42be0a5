import Foundation

/// Parsers for the two date forms of the search API, on raw UTF-8 bytes and without a formatter.
enum TwitterDate {
    /// Parses v2 `created_at`, RFC 3339 in UTC: `2021-09-22T16:37:29.000Z` (fraction optional).
    static func parseISO8601(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count >= 20,
            let year = number(bytes, 0, 4), bytes[4] == UInt8(ascii: "-"),
            let month = number(bytes, 5, 2), bytes[7] == UInt8(ascii: "-"),
            let day = number(bytes, 8, 2), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
            let hour = number(bytes, 11, 2), bytes[13] == UInt8(ascii: ":"),
            let minute = number(bytes, 14, 2), bytes[16] == UInt8(ascii: ":"),
            let second = number(bytes, 17, 2)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, let digit = number(bytes, index, 1) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
        }
        guard index == bytes.count - 1, bytes[index] == UInt8(ascii: "Z") else { return nil }
        return date(year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction)
    }

    /// Parses v1.1 `created_at`: `Fri Jul 12 23:40:37 +0000 2019`.
    static func parseClassic(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count == 30,
            let month = monthNumber(bytes[4], bytes[5], bytes[6]),
            let day = number(bytes, 8, 2),
            let hour = number(bytes, 11, 2), let minute = number(bytes, 14, 2), let second = number(bytes, 17, 2),
            bytes[20] == UInt8(ascii: "+") || bytes[20] == UInt8(ascii: "-"),
            let offsetHours = number(bytes, 21, 2), let offsetMinutes = number(bytes, 23, 2),
            let year = number(bytes, 26, 4)
        else { return nil }
        let sign = bytes[20] == UInt8(ascii: "-") ? -1 : 1
        let offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
        return date(year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: 0)?
            .addingTimeInterval(TimeInterval(-offset))
    }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        guard start + count <= bytes.count else { return nil }
        var value = 0
        for index in start..<start + count {
            let digit = Int(bytes[index]) - 48
            guard digit >= 0, digit < 10 else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    private static func monthNumber(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        switch (a, b, c) {
        case (0x4A, 0x61, 0x6E): 1  // Jan
        case (0x46, 0x65, 0x62): 2  // Feb
        case (0x4D, 0x61, 0x72): 3  // Mar
        case (0x41, 0x70, 0x72): 4  // Apr
        case (0x4D, 0x61, 0x79): 5  // May
        case (0x4A, 0x75, 0x6E): 6  // Jun
        case (0x4A, 0x75, 0x6C): 7  // Jul
        case (0x41, 0x75, 0x67): 8  // Aug
        case (0x53, 0x65, 0x70): 9  // Sep
        case (0x4F, 0x63, 0x74): 10  // Oct
        case (0x4E, 0x6F, 0x76): 11  // Nov
        case (0x44, 0x65, 0x63): 12  // Dec
        default: nil
        }
    }

    /// Seconds since 1970 for a proleptic Gregorian UTC date (Howard Hinnant's days-from-civil).
    private static func date(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, fraction: Double
    ) -> Date? {
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)
    }
}
