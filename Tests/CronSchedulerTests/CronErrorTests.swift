import CronScheduler
import Foundation
import Testing

@Suite("CronError messages")
struct CronErrorTests {
    private static func message(_ text: String) -> String? {
        do {
            _ = try CronExpression(text)
            return nil
        } catch {
            return error.description
        }
    }

    private static func code(_ text: String) -> CronError.Code? {
        do {
            _ = try CronExpression(text)
            return nil
        } catch {
            return error.code
        }
    }

    @Test(
        "every kind of bad expression gets one clear line naming field, column and problem",
        arguments: [
            ("61 * * * *", "minute: 61 is out of range 0–59 at column 1 of '61 * * * *'"),
            ("0 24 * * *", "hour: 24 is out of range 0–23 at column 3 of '0 24 * * *'"),
            ("0 0 0 * *", "day-of-month: 0 is out of range 1–31 at column 5 of '0 0 0 * *'"),
            ("0 0 * 13 *", "month: 13 is out of range 1–12 at column 7 of '0 0 * 13 *'"),
            ("0 0 * * 8", "day-of-week: 8 is out of range 0–7 at column 9 of '0 0 * * 8'"),
            ("0 0 * * MUN", "day-of-week: unknown name \"MUN\" at column 9 of '0 0 * * MUN'"),
            ("0 0 * JANUARY *", "month: unknown name \"JANUARY\" at column 7 of '0 0 * JANUARY *'"),
            (
                "0 MON * * *",
                "hour: names such as \"MON\" are not allowed in this field at column 3 of '0 MON * * *'"
            ),
            ("*/0 * * * *", "minute: step 0 is not allowed at column 3 of '*/0 * * * *'"),
            ("*/ * * * *", "minute: missing step after \"/\" at column 3 of '*/ * * * *'"),
            (
                "*/99999999999999999999 * * * *",
                "minute: step 99999999999999999999 is out of range 1–59 at column 3 of '*/99999999999999999999 * * * *'"
            ),
            ("0 0 * */60 *", "month: step 60 is out of range 1–59 at column 9 of '0 0 * */60 *'"),
            (
                "0 99999999999999999999 * * *",
                "hour: 99999999999999999999 is out of range 0–23 at column 3 of '0 99999999999999999999 * * *'"
            ),
            ("0 5-1 * * *", "hour: range 5-1 runs backwards at column 3 of '0 5-1 * * *'"),
            (
                "0 0 * *",
                "expected 5 fields (minute hour day-of-month month day-of-week), found 4 at column 1 of '0 0 * *'"
            ),
            (
                "0 0 * * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week), found 6 at column 11 of '0 0 * * * *'"
            ),
            ("", "the expression is empty at column 1 of ''"),
            ("1,,2 * * * *", "minute: empty list element at column 3 of '1,,2 * * * *'"),
            ("1, * * * *", "minute: empty list element at column 3 of '1, * * * *'"),
            ("0 1- * * *", "hour: missing value at column 5 of '0 1- * * *'"),
            ("0 0 * * 1%2", "day-of-week: unexpected character \"%\" at column 10 of '0 0 * * 1%2'"),
            ("0 0 ? * *", "day-of-month: unexpected character \"?\" at column 5 of '0 0 ? * *'"),
            (
                "@fortnightly",
                "unknown nickname \"@fortnightly\" (use @yearly, @annually, @monthly, @weekly, @daily, @midnight "
                    + "or @hourly) at column 1 of '@fortnightly'"
            ),
            ("@daily 5", "a nickname stands alone, found 2 words at column 8 of '@daily 5'"),
            (
                "0 0 30 2 *",
                "day-of-month: no selected day exists in any selected month, so the expression never fires "
                    + "at column 5 of '0 0 30 2 *'"
            ),
            (
                "0 0 31 4,6,9,11 *",
                "day-of-month: no selected day exists in any selected month, so the expression never fires "
                    + "at column 5 of '0 0 31 4,6,9,11 *'"
            ),
        ])
    func messages(expression: String, expected: String) {
        #expect(Self.message(expression) == expected)
    }

    @Test("errors carry a code, the field and the column")
    func structuredFields() throws {
        let error = #expect(throws: CronError.self) { try CronExpression("0 0 * * MUN") }
        #expect(error?.code == .unknownName)
        #expect(error?.field == .dayOfWeek)
        #expect(error?.column == 9)
        #expect(error?.expression == "0 0 * * MUN")
        #expect(Self.code("0 0 30 2 *") == .neverFires)
        #expect(Self.code("*/0 * * * *") == .badStep)
        #expect(Self.code("0 5-1 * * *") == .reversedRange)
        #expect(Self.code("0 0 * *") == .fieldCount)
        #expect(Self.code("0 0 ? * *") == .unexpectedCharacter)
        #expect(Self.code("1,,2 * * * *") == .emptyField)
        #expect(Self.code("61 * * * *") == .outOfRange)
        #expect(Self.code("@reboot") == .unknownNickname)
    }

    @Test("expressions that look impossible but can fire are accepted")
    func possibleExpressions() {
        // Feb 29 exists in leap years; with both day fields restricted, any Monday in February fires.
        #expect(Self.message("0 0 29 2 *") == nil)
        #expect(Self.message("0 0 30 2 MON") == nil)
        #expect(Self.message("0 0 31 2,3 *") == nil)
    }

    @Test("steps up to 59 are accepted in every field, as croniter accepts steps longer than a field's range")
    func largestStep() throws {
        #expect(Self.message("*/59 * * * *") == nil)
        #expect(Self.message("0 0 * * 5/10") == nil)
        #expect(Self.code("*/60 * * * *") == .badStep)
        // A step longer than the range selects its first value only.
        let expression = try CronExpression("*/59 */59 * * *")
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let fires = Array(expression.fireDates(after: start, in: .gmt).prefix(3))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let minutes = fires.map { calendar.component(.minute, from: $0) }
        let hours = fires.map { calendar.component(.hour, from: $0) }
        #expect(fires.count == 3)
        #expect(Set(minutes).isSubset(of: [0, 59]))
        #expect(hours.allSatisfy { $0 == 0 })
    }
}
