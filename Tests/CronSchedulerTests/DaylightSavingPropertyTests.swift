import CronScheduler
import Foundation
import Testing

/// More daylight-saving cases: a list of hours across a gap, America/Santiago (changes at local midnight),
/// Australia/Sydney, real-time spacing of wildcard-hour jobs through every 2026 change, and previous(before:)
/// across a gap and an overlap. Expected instants were worked out from the zone transitions and
/// cross-checked with Python's `zoneinfo`.
@Suite("CronExpression across daylight-saving changes: more zones and properties")
struct DaylightSavingPropertyTests {
    private static func fires(
        _ text: String, policy: DaylightSavingPolicy = .default, after start: String, in zone: String, count: Int
    ) throws -> [String] {
        var expression = try CronExpression(text)
        expression.daylightSavingPolicy = policy
        let formatter = ISO8601DateFormatter()
        return expression.fireDates(after: Cron.date(start), in: Cron.zone(zone)).prefix(count)
            .map { formatter.string(from: $0) }
    }

    @Test("a job at several fixed hours fires once at the jump for the hour the gap swallowed")
    func severalHoursAcrossGap() throws {
        // 01:00 CET, then 02:00 (missing) and 03:00 both land on 03:00 CEST: one run, not two.
        #expect(
            try Self.fires("0 1,2,3 * * *", after: "2026-03-28T23:00:00Z", in: "Europe/Berlin", count: 3)
                == ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T23:00:00Z"])
    }

    @Test("Santiago changes at midnight: a midnight job runs at 01:00 on the day midnight is skipped")
    func santiagoMidnight() throws {
        // 2026-09-06 00:00 -04:00 becomes 01:00 -03:00 (04:00 UTC).
        #expect(
            try Self.fires("0 0 * * *", after: "2026-09-05T12:00:00Z", in: "America/Santiago", count: 2)
                == ["2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"])
        // 2026-04-05 00:00 -03:00 becomes 23:00 -04:00 on the 4th: 23:30 on the 4th happens twice.
        #expect(
            try Self.fires("30 23 * * *", after: "2026-04-04T12:00:00Z", in: "America/Santiago", count: 2)
                == ["2026-04-05T02:30:00Z", "2026-04-06T03:30:00Z"])
    }

    @Test(
        "a fixed-time job fires exactly once on every local day of 2026",
        arguments: ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Australia/Sydney"])
    func oncePerLocalDay(zoneName: String) throws {
        let zone = Cron.zone(zoneName)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let yearStart = try #require(calendar.date(from: DateComponents(year: 2026, month: 1, day: 1)))
        for text in ["30 2 * * *", "0 0 * * *", "15 2 * * *", "45 1 * * *", "30 23 * * *", "0 3 * * *"] {
            let expression = try CronExpression(text)
            let fires = Array(expression.fireDates(after: yearStart.addingTimeInterval(-1), in: zone).prefix(365))
            let days = fires.map { calendar.dateComponents([.year, .month, .day], from: $0) }
            #expect(Set(days).count == 365, "\(text) in \(zoneName)")
            #expect(days.allSatisfy { $0.year == 2026 }, "\(text) in \(zoneName)")
            // No fire is early: its local time is at or after the written time.
            let written = text.split(separator: " ").prefix(2).compactMap { Int($0) }
            for fire in fires {
                let local = calendar.dateComponents([.hour, .minute], from: fire)
                let minuteOfDay = (local.hour ?? 0) * 60 + (local.minute ?? 0)
                #expect(minuteOfDay >= written[1] * 60 + written[0], "\(text) in \(zoneName) at \(fire)")
            }
        }
    }

    @Test(
        "'*/15 * * * *' fires every 900 seconds of real time through every 2026 change",
        arguments: ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"])
    func quarterHoursFollowRealTime(zoneName: String) throws {
        let zone = Cron.zone(zoneName)
        let expression = try CronExpression("*/15 * * * *")
        var transition = zone.nextDaylightSavingTimeTransition(after: Cron.date("2026-01-01T00:00:00Z"))
        var checked = 0
        while let change = transition, change < Cron.date("2027-01-01T00:00:00Z") {
            let fires = Array(expression.fireDates(after: change.addingTimeInterval(-7200), in: zone).prefix(17))
            for (earlier, later) in zip(fires, fires.dropFirst()) {
                #expect(later.timeIntervalSince(earlier) == 900, "\(zoneName) near \(change)")
            }
            checked += 1
            transition = zone.nextDaylightSavingTimeTransition(after: change)
        }
        #expect(checked == (zoneName == "Asia/Kolkata" ? 0 : 2))
    }

    @Test("previous(before:) agrees with next(after:) across a gap and an overlap")
    func previousAcrossChanges() throws {
        let berlin = Cron.zone("Europe/Berlin")
        let daily = try CronExpression("30 2 * * *")
        #expect(
            daily.previous(before: Cron.date("2026-03-29T12:00:00Z"), in: berlin) == Cron.date("2026-03-29T01:00:00Z"))
        #expect(
            daily.previous(before: Cron.date("2026-10-25T12:00:00Z"), in: berlin) == Cron.date("2026-10-25T00:30:00Z"))
        var both = daily
        both.daylightSavingPolicy = .runInBothRepeated
        #expect(
            both.previous(before: Cron.date("2026-10-25T12:00:00Z"), in: berlin) == Cron.date("2026-10-25T01:30:00Z"))
    }
}
