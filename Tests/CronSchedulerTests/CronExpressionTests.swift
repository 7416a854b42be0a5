import CronScheduler
import Foundation
import Testing

/// Helpers shared by the expression tests.
enum Cron {
    static let utc = TimeZone(identifier: "UTC")!

    static func zone(_ identifier: String) -> TimeZone {
        TimeZone(identifier: identifier)!
    }

    /// Parses an ISO 8601 date-time with offset, such as `2026-03-29T03:00:00+02:00`.
    static func date(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    /// The first `count` fire times after `start`, as ISO 8601 UTC strings.
    static func fires(_ expression: String, after start: String, in zone: TimeZone = utc, count: Int = 5) throws
        -> [String]
    {
        let formatter = ISO8601DateFormatter()
        return try CronExpression(expression).fireDates(after: date(start), in: zone).prefix(count)
            .map { formatter.string(from: $0) }
    }
}

@Suite("CronExpression syntax and crontab(5) examples")
struct CronExpressionTests {
    @Test("crontab(5): '5 0 * * *' runs five minutes after midnight every day")
    func fiveAfterMidnight() throws {
        #expect(
            try Cron.fires("5 0 * * *", after: "2026-01-01T00:00:00Z", count: 2)
                == ["2026-01-01T00:05:00Z", "2026-01-02T00:05:00Z"])
    }

    @Test("crontab(5): '15 14 1 * *' runs at 2:15pm on the first of every month")
    func firstOfMonth() throws {
        #expect(
            try Cron.fires("15 14 1 * *", after: "2026-01-01T15:00:00Z", count: 3)
                == ["2026-02-01T14:15:00Z", "2026-03-01T14:15:00Z", "2026-04-01T14:15:00Z"])
    }

    @Test("crontab(5): '0 22 * * 1-5' runs at 10pm on weekdays")
    func weekdayEvenings() throws {
        // 2026-01-02 is a Friday.
        #expect(
            try Cron.fires("0 22 * * 1-5", after: "2026-01-02T23:00:00Z", count: 3)
                == ["2026-01-05T22:00:00Z", "2026-01-06T22:00:00Z", "2026-01-07T22:00:00Z"])
    }

    @Test("crontab(5): '23 0-23/2 * * *' runs 23 minutes after midnight, 2am, 4am …")
    func everyOtherHour() throws {
        #expect(
            try Cron.fires("23 0-23/2 * * *", after: "2026-01-01T00:00:00Z", count: 3)
                == ["2026-01-01T00:23:00Z", "2026-01-01T02:23:00Z", "2026-01-01T04:23:00Z"])
    }

    @Test("crontab(5): '5 4 * * sun' runs at 04:05 every Sunday")
    func sundayByName() throws {
        #expect(
            try Cron.fires("5 4 * * sun", after: "2026-01-01T00:00:00Z", count: 2)
                == ["2026-01-04T04:05:00Z", "2026-01-11T04:05:00Z"])
    }

    @Test("crontab(5): '0 4 8-14 * *' runs on the 8th to the 14th")
    func dayRange() throws {
        #expect(
            try Cron.fires("0 4 8-14 * *", after: "2026-01-13T05:00:00Z", count: 2)
                == ["2026-01-14T04:00:00Z", "2026-02-08T04:00:00Z"])
    }

    @Test("crontab(5) OR rule: '30 4 1,15 * 5' runs on the 1st, the 15th and every Friday")
    func dayFieldsCombineByOr() throws {
        // January 2026: Fridays are the 2nd, 9th, 16th; the 1st and 15th are Thursdays.
        #expect(
            try Cron.fires("30 4 1,15 * 5", after: "2026-01-01T00:00:00Z", count: 5)
                == [
                    "2026-01-01T04:30:00Z", "2026-01-02T04:30:00Z", "2026-01-09T04:30:00Z",
                    "2026-01-15T04:30:00Z", "2026-01-16T04:30:00Z",
                ])
    }

    @Test("Vixie: a day field starting with '*' (like */2) combines with the weekday by AND")
    func starStepCombinesByAnd() throws {
        // `*/2` is the odd days 1, 3, …, 31; ANDed with Monday: Jan 5 and 19 (12 and 26 are even), Feb 9.
        // (With OR it would fire on Jan 1, 3, 5, …)
        #expect(
            try Cron.fires("0 0 */2 * MON", after: "2026-01-01T00:00:00Z", count: 3)
                == ["2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z"])
    }

    @Test("0 and 7 are both Sunday, and 5-7 runs Friday to Sunday")
    func sundayAliases() throws {
        let sunday = try Cron.fires("0 0 * * 0", after: "2026-01-01T00:00:00Z")
        #expect(try Cron.fires("0 0 * * 7", after: "2026-01-01T00:00:00Z") == sunday)
        #expect(
            try Cron.fires("0 0 * * 5-7", after: "2026-01-01T00:00:00Z", count: 4)
                == ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"])
    }

    @Test("names are case-insensitive and work in ranges and lists")
    func names() throws {
        #expect(
            try Cron.fires("0 12 * jan,Jul Mon-fri", after: "2026-01-30T00:00:00Z", count: 8)
                == Cron.fires("0 12 * 1,7 1-5", after: "2026-01-30T00:00:00Z", count: 8))
        #expect(
            try Cron.fires("0 12 * JUL MON", after: "2026-01-01T00:00:00Z", count: 2)
                == ["2026-07-06T12:00:00Z", "2026-07-13T12:00:00Z"])
    }

    @Test("a/n means a through the field's maximum in steps of n")
    func startSlashStep() throws {
        #expect(
            try Cron.fires("50/5 * * * *", after: "2026-01-01T00:00:00Z", count: 3)
                == ["2026-01-01T00:50:00Z", "2026-01-01T00:55:00Z", "2026-01-01T01:50:00Z"])
    }

    @Test("nicknames expand as crontab(5) lists them")
    func nicknames() throws {
        let pairs = [
            ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
            ("@DAILY", "0 0 * * *"),
        ]
        for (nickname, expansion) in pairs {
            #expect(
                try Cron.fires(nickname, after: "2026-05-17T10:20:00Z")
                    == Cron.fires(expansion, after: "2026-05-17T10:20:00Z"), "\(nickname)")
        }
    }

    @Test("a leap-day job fires only on February 29")
    func leapDay() throws {
        #expect(
            try Cron.fires("0 0 29 2 *", after: "2026-01-01T00:00:00Z", count: 3)
                == ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"])
        // 2100 is not a leap year.
        #expect(try Cron.fires("0 0 29 2 *", after: "2096-03-01T00:00:00Z", count: 1) == ["2104-02-29T00:00:00Z"])
    }

    @Test("month ends: the 31st fires only in months that have one")
    func monthEnds() throws {
        #expect(
            try Cron.fires("59 23 31 * *", after: "2026-01-01T00:00:00Z", count: 4)
                == ["2026-01-31T23:59:00Z", "2026-03-31T23:59:00Z", "2026-05-31T23:59:00Z", "2026-07-31T23:59:00Z"])
    }

    @Test("fire times are strictly after the start, even on a fire instant or mid-second")
    func strictlyAfter() throws {
        let expression = try CronExpression("*/15 * * * *")
        #expect(expression.next(after: Cron.date("2026-01-01T00:15:00Z")) == Cron.date("2026-01-01T00:30:00Z"))
        let midSecond = Cron.date("2026-01-01T00:14:59Z").addingTimeInterval(0.5)
        #expect(expression.next(after: midSecond) == Cron.date("2026-01-01T00:15:00Z"))
    }

    @Test("previous(before:) is the mirror of next(after:)")
    func previousFire() throws {
        let expression = try CronExpression("0 0 13 * 5")
        #expect(expression.previous(before: Cron.date("2026-01-13T00:00:00Z")) == Cron.date("2026-01-09T00:00:00Z"))
        #expect(expression.previous(before: Cron.date("2026-01-13T00:00:01Z")) == Cron.date("2026-01-13T00:00:00Z"))
        #expect(
            try CronExpression("0 0 29 2 *").previous(before: Cron.date("2026-01-01T00:00:00Z"))
                == Cron.date("2024-02-29T00:00:00Z"))
    }

    @Test("fireDates is also an AsyncSequence")
    func asyncSequence() async throws {
        var fires: [Date] = []
        for await fire in try CronExpression("@hourly").fireDates(after: Cron.date("2026-01-01T00:30:00Z")) {
            fires.append(fire)
            if fires.count == 2 { break }
        }
        #expect(fires == [Cron.date("2026-01-01T01:00:00Z"), Cron.date("2026-01-01T02:00:00Z")])
    }

    @Test("whitespace between fields may be spaces or tabs, several of them")
    func whitespace() throws {
        #expect(try Cron.fires("  0\t12 *  * * ", after: "2026-01-01T00:00:00Z", count: 1) == ["2026-01-01T12:00:00Z"])
    }
}
