import ArgumentParser
import CronScheduler
import Foundation

/// `harvest cron …`: tools for cron expressions.
struct CronCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cron",
        abstract: "Work with cron expressions.",
        subcommands: [NextFireTimes.self]
    )

    /// `harvest cron next EXPR [--count N] [--after ISO8601] [--tz IANA-ZONE]`.
    struct NextFireTimes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "next",
            abstract:
                "Print the next fire times of a cron expression, one per line, in ISO 8601 with the zone's offset."
        )

        @Argument(help: "A five-field cron expression such as \"30 2 * * *\", or a nickname such as @daily.")
        var expression: String

        @Option(help: "How many fire times to print.")
        var count: Int = 5

        @Option(help: "Print fire times strictly after this ISO 8601 time (default: now).")
        var after: String?

        @Option(name: .customLong("tz"), help: "The IANA time zone the expression is read in.")
        var zoneIdentifier: String = "UTC"

        func run() async throws {
            do {
                for line in try fireTimes() { print(line) }
            } catch {
                printError("harvest cron next: \(error)")
                throw ExitCode.failure
            }
        }

        private func fireTimes() throws -> [String] {
            guard count >= 0 else { throw UsageError("--count must not be negative, got \(count)") }
            guard let zone = TimeZone(identifier: zoneIdentifier) else {
                throw UsageError("unknown time zone \"\(zoneIdentifier)\" (use an IANA name such as Europe/Berlin)")
            }
            let parsed: CronExpression
            do {
                parsed = try CronExpression(expression)
            } catch {
                throw UsageError("\(error)")
            }
            let start =
                try after.map { text in
                    guard let date = ISO8601Text.date(from: text, in: zone) else {
                        throw UsageError(
                            "--after: \"\(text)\" is not an ISO 8601 date-time such as 2026-03-29T00:00:00Z")
                    }
                    return date
                } ?? Date()
            return parsed.fireDates(after: start, in: zone).prefix(count).map { ISO8601Text.string(from: $0, in: zone) }
        }
    }
}

/// A one-line error for the command line.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// ISO 8601 dates with a zone's offset, as `harvest cron next` prints and reads them.
enum ISO8601Text {
    /// `2026-03-29T03:00:00+02:00`; UTC prints as `+00:00`.
    static func string(from date: Date, in zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: date)
        let components = Calendar.gregorian(in: zone).dateComponents(
            [.year, .month, .day, .hour, .minute, .second], from: date)
        let magnitude = abs(offset)
        var text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d%@%02d:%02d",
            components.year ?? 0, components.month ?? 0, components.day ?? 0, components.hour ?? 0,
            components.minute ?? 0, components.second ?? 0, offset < 0 ? "-" : "+", magnitude / 3600,
            magnitude / 60 % 60)
        if magnitude % 60 != 0 { text += String(format: ":%02d", magnitude % 60) }
        return text
    }

    /// Reads `2026-03-29T00:00:00Z`, `…+02:00`, fractional seconds, or a local time without offset in `zone`.
    /// An offset must be a real one: at most 18 hours (as `TimeZone` takes them) and under 60 minutes.
    static func date(from text: String, in zone: TimeZone) -> Date? {
        guard hasValidOffset(text) else { return nil }
        let withOffset = ISO8601DateFormatter()
        if let date = withOffset.date(from: text) { return date }
        withOffset.formatOptions.insert(.withFractionalSeconds)
        if let date = withOffset.date(from: text) { return date }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.calendar = Calendar.gregorian(in: zone)
        local.timeZone = zone
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return date }
        }
        return nil
    }

    /// Whether the offset after the time, if any (`+02:00`, `-0530`, `+05`), is within ±18:00 with minutes
    /// under 60. Foundation's parser reads `+25:00` as a date 25 hours off.
    private static func hasValidOffset(_ text: String) -> Bool {
        guard let time = text.firstIndex(of: "T"),
            let sign = text[time...].lastIndex(where: { $0 == "+" || $0 == "-" })
        else { return true }
        let digits = text[text.index(after: sign)...].filter { $0 != ":" }
        guard digits.count == 2 || digits.count == 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let hours = Int(digits.prefix(2)),
            let minutes = Int(digits.dropFirst(2).isEmpty ? "0" : digits.dropFirst(2))
        else { return false }
        return hours * 60 + minutes <= 18 * 60 && minutes < 60
    }
}

extension Calendar {
    static func gregorian(in zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }
}
