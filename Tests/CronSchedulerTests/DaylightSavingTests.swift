import CronScheduler
import Foundation
import Testing

/// DESIGN.md's daylight-saving rules, in zones with one-hour and half-hour shifts, both hemispheres.
/// Expected instants follow from the time-zone database's transitions for 2026.
@Suite("Daylight saving")
struct DaylightSavingTests {
    private static func fires(
        _ expression: String, after start: String, in zone: String, count: Int = 3,
        policy: DaylightSavingPolicy = .default
    ) throws -> [String] {
        var parsed = try CronExpression(expression)
        parsed.daylightSavingPolicy = policy
        let timeZone = try #require(TimeZone(identifier: zone))
        let date = try #require(ISO8601DateFormatter().date(from: start))
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = timeZone
        formatter.formatOptions = [.withInternetDateTime]
        return parsed.fireDates(after: date, in: timeZone).prefix(count).map { formatter.string(from: $0) }
    }

    @Test("Berlin, spring forward: 02:30 does not exist on March 29, so it fires at 03:00, once")
    func berlinSkippedHour() throws {
        #expect(
            try Self.fires("30 2 * * *", after: "2026-03-27T12:00:00Z", in: "Europe/Berlin", count: 4) == [
                "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00",
                "2026-03-31T02:30:00+02:00",
            ])
    }

    @Test("Berlin, fall back: 02:30 happens twice on October 25 and the job fires once, at the first")
    func berlinRepeatedHour() throws {
        #expect(
            try Self.fires("30 2 * * *", after: "2026-10-24T12:00:00Z", in: "Europe/Berlin") == [
                "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00",
            ])
    }

    @Test("a wildcard-hour job follows real elapsed time through the repeated hour")
    func wildcardHourElapsedTime() throws {
        #expect(
            try Self.fires("*/30 * * * *", after: "2026-10-24T23:50:00Z", in: "Europe/Berlin", count: 5) == [
                "2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00",
            ])
    }

    @Test("New York, spring forward: a 02:00 job runs at 03:00 EDT on March 8")
    func newYork() throws {
        #expect(
            try Self.fires("0 2 * * *", after: "2026-03-07T12:00:00Z", in: "America/New_York") == [
                "2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-10T02:00:00-04:00",
            ])
    }

    @Test("Lord Howe's half-hour shift: 02:15 is skipped on October 4 and runs at 02:30")
    func lordHoweSkipped() throws {
        #expect(
            try Self.fires("15 2 * * *", after: "2026-10-02T12:00:00Z", in: "Australia/Lord_Howe") == [
                "2026-10-03T02:15:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00",
            ])
    }

    @Test("Lord Howe's half-hour repeat: 01:45 on April 5 happens twice and fires once")
    func lordHoweRepeated() throws {
        #expect(
            try Self.fires("45 1 * * *", after: "2026-04-03T12:00:00Z", in: "Australia/Lord_Howe") == [
                "2026-04-04T01:45:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30",
            ])
    }

    @Test("policy .skipMissing: no run on the night the hour is skipped")
    func skipMissingPolicy() throws {
        #expect(
            try Self.fires("30 2 * * *", after: "2026-03-27T12:00:00Z", in: "Europe/Berlin", policy: .skipMissing) == [
                "2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00",
            ])
    }

    @Test("policy .runInBothRepeated: the repeated 02:30 runs twice")
    func bothRepeatedPolicy() throws {
        #expect(
            try Self.fires(
                "30 2 * * *", after: "2026-10-24T12:00:00Z", in: "Europe/Berlin", policy: .runInBothRepeated) == [
                    "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-26T02:30:00+01:00",
                ])
    }

    @Test("every local day gets exactly one run of a fixed-time job, all year, in three zones")
    func oncePerLocalDay() throws {
        for zone in ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"] {
            let timeZone = try #require(TimeZone(identifier: zone))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            let start = try #require(ISO8601DateFormatter().date(from: "2026-01-01T00:00:00Z"))
            let days = try CronExpression("30 2 * * *").fireDates(after: start, in: timeZone).prefix(365)
                .map { calendar.dateComponents([.year, .month, .day], from: $0) }
            #expect(Set(days).count == 365, "\(zone)")
        }
    }
}
