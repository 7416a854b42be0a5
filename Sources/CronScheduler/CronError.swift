/// One of the five fields of a cron expression.
public struct CronField: Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Int, Hashable, Sendable { case minute, hour, dayOfMonth, month, dayOfWeek }
    private let kind: Kind

    /// The first field, minutes 0–59.
    public static let minute = CronField(kind: .minute)
    /// The second field, hours 0–23.
    public static let hour = CronField(kind: .hour)
    /// The third field, days of the month 1–31.
    public static let dayOfMonth = CronField(kind: .dayOfMonth)
    /// The fourth field, months 1–12 or `JAN`–`DEC`.
    public static let month = CronField(kind: .month)
    /// The fifth field, days of the week 0–7 (0 and 7 are Sunday) or `SUN`–`SAT`.
    public static let dayOfWeek = CronField(kind: .dayOfWeek)

    /// The five fields in the order they are written.
    public static let allFields: [CronField] = [.minute, .hour, .dayOfMonth, .month, .dayOfWeek]

    /// The field's name as error messages spell it: `minute`, `hour`, `day-of-month`, `month`, `day-of-week`.
    public var description: String {
        switch kind {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day-of-month"
        case .month: "month"
        case .dayOfWeek: "day-of-week"
        }
    }

    /// The smallest value the field accepts.
    var lowerBound: Int {
        switch kind {
        case .minute, .hour, .dayOfWeek: 0
        case .dayOfMonth, .month: 1
        }
    }

    /// The largest value the field accepts (7 for the day of the week, an alias of Sunday).
    var upperBound: Int {
        switch kind {
        case .minute: 59
        case .hour: 23
        case .dayOfMonth: 31
        case .month: 12
        case .dayOfWeek: 7
        }
    }

    /// The three-letter names the field accepts, indexed from ``lowerBound``; empty when it accepts none.
    var names: [String] {
        switch kind {
        case .month: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        case .dayOfWeek: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        default: []
        }
    }
}

/// The error thrown for a cron expression that cannot be parsed or can never fire.
///
/// Its ``description`` is one line naming the field, the 1-based column and what was wrong:
///
/// ```
/// minute: 61 is out of range 0–59 at column 1 of '61 * * * *'
/// day-of-week: unknown name "MUN" at column 9 of '0 9 * * MUN'
/// ```
public struct CronError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem the expression has.
    ///
    /// New kinds may be added; switch over codes with a `default` case.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case fieldCount, emptyField, outOfRange, badStep, reversedRange, unknownName, unexpectedCharacter
            case unknownNickname, neverFires
        }
        private let kind: Kind

        /// The expression does not have exactly five fields.
        public static let fieldCount = Code(kind: .fieldCount)
        /// A field, or an element of a comma-separated list, is empty.
        public static let emptyField = Code(kind: .emptyField)
        /// A number is outside the field's range.
        public static let outOfRange = Code(kind: .outOfRange)
        /// A step (`/n`) is zero, missing, or larger than 59 (the largest value of any field).
        public static let badStep = Code(kind: .badStep)
        /// A range runs backwards, such as `5-1`.
        public static let reversedRange = Code(kind: .reversedRange)
        /// A month or weekday name is not one of `JAN`–`DEC` or `SUN`–`SAT`.
        public static let unknownName = Code(kind: .unknownName)
        /// A character that has no meaning in a cron field.
        public static let unexpectedCharacter = Code(kind: .unexpectedCharacter)
        /// An `@` nickname other than the supported ones.
        public static let unknownNickname = Code(kind: .unknownNickname)
        /// The expression is valid syntax but names no date that exists, such as `0 0 30 2 *`.
        public static let neverFires = Code(kind: .neverFires)

        /// A short name for the code.
        public var description: String { "\(kind)" }
    }

    /// What kind of problem the expression has.
    public let code: Code
    /// The field the problem is in, or `nil` when it concerns the whole expression.
    public let field: CronField?
    /// The 1-based column (in characters) of the problem in ``expression``.
    public let column: Int
    /// The expression as given.
    public let expression: String
    /// What was wrong, in words, such as `61 is out of range 0–59`.
    public let reason: String

    /// Creates an error; the parser is the only producer.
    init(_ code: Code, field: CronField?, column: Int, expression: String, reason: String) {
        self.code = code
        self.field = field
        self.column = column
        self.expression = expression
        self.reason = reason
    }

    /// One line: the field, what was wrong, the column and the expression.
    public var description: String {
        let prefix = field.map { "\($0): " } ?? ""
        return "\(prefix)\(reason) at column \(column) of '\(expression)'"
    }
}
