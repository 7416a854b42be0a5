/// The parser of ``CronExpression``: five fields of bit sets, or a nickname.
enum Parser {
    struct Fields {
        /// Bit `n` is set when value `n` is selected.
        var values: [UInt64] = []
        /// Whether the field's text starts with `*` (Vixie's `*_STAR` flags).
        var isStar: [Bool] = []
        /// The 1-based column where each field starts.
        var columns: [Int] = []
    }

    static let nicknames: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    static func parse(_ text: String) throws(CronError) -> Fields {
        let characters = Array(text)
        var tokens: [(text: [Character], column: Int)] = []
        var index = 0
        while index < characters.count {
            if characters[index] == " " || characters[index] == "\t" {
                index += 1
                continue
            }
            let start = index
            while index < characters.count, characters[index] != " ", characters[index] != "\t" { index += 1 }
            tokens.append((Array(characters[start..<index]), start + 1))
        }
        if let first = tokens.first, first.text.first == "@" {
            let name = String(first.text).lowercased()
            guard let expansion = nicknames[name] else {
                throw CronError(
                    .unknownNickname, field: nil, column: first.column, expression: text,
                    reason: "unknown nickname \"\(String(first.text))\" (use @yearly, @annually, @monthly, "
                        + "@weekly, @daily, @midnight or @hourly)")
            }
            guard tokens.count == 1 else {
                throw CronError(
                    .fieldCount, field: nil, column: tokens[1].column, expression: text,
                    reason: "a nickname stands alone, found \(tokens.count) words")
            }
            var fields = try parse(expansion)
            fields.columns = Array(repeating: first.column, count: 5)
            return fields
        }
        guard tokens.count == 5 else {
            if tokens.isEmpty {
                throw CronError(.emptyField, field: nil, column: 1, expression: text, reason: "the expression is empty")
            }
            throw CronError(
                .fieldCount, field: nil, column: tokens.count > 5 ? tokens[5].column : 1, expression: text,
                reason: "expected 5 fields (minute hour day-of-month month day-of-week), found \(tokens.count)")
        }
        var fields = Fields()
        for (field, token) in zip(CronField.allFields, tokens) {
            var scanner = FieldScanner(field: field, characters: token.text, column: token.column, expression: text)
            fields.values.append(try scanner.parseList())
            fields.isStar.append(token.text.first == "*")
            fields.columns.append(token.column)
        }
        return fields
    }
}

/// Reads one field: a comma-separated list of `*`, values, ranges and steps.
struct FieldScanner {
    let field: CronField
    let characters: [Character]
    let column: Int
    let expression: String
    var index = 0

    init(field: CronField, characters: [Character], column: Int, expression: String) {
        self.field = field
        self.characters = characters
        self.column = column
        self.expression = expression
    }

    private var current: Character? { index < characters.count ? characters[index] : nil }

    private func error(_ code: CronError.Code, at position: Int, _ reason: String) -> CronError {
        CronError(code, field: field, column: column + position, expression: expression, reason: reason)
    }

    mutating func parseList() throws(CronError) -> UInt64 {
        var bits: UInt64 = 0
        while true {
            if current == "," || current == nil {
                throw error(.emptyField, at: index, "empty list element")
            }
            bits |= try parseElement()
            guard let character = current else { return bits }
            guard character == "," else { throw unexpected() }
            index += 1
        }
    }

    private func unexpected() -> CronError {
        let character = characters[index]
        return error(.unexpectedCharacter, at: index, "unexpected character \"\(character)\"")
    }

    private mutating func parseElement() throws(CronError) -> UInt64 {
        var low: Int
        var high: Int
        let start = index
        if current == "*" {
            index += 1
            low = field.lowerBound
            high = field == .dayOfWeek ? 6 : field.upperBound
        } else {
            low = try parseValue()
            if current == "-" {
                index += 1
                high = try parseValue()
                if high < low {
                    throw error(.reversedRange, at: start, "range \(low)-\(high) runs backwards")
                }
            } else if current == "/" {
                high = field.upperBound == 7 ? 6 : field.upperBound  // Vixie: `a/n` is `a-max/n`
                high = max(high, low)
            } else {
                high = low
            }
        }
        var step = 1
        if current == "/" {
            index += 1
            let stepStart = index
            guard let (number, digits) = parseNumber() else {
                if current == nil || current == "," {
                    throw error(.badStep, at: stepStart, "missing step after \"/\"")
                }
                throw unexpected()
            }
            guard number >= 1 else { throw error(.badStep, at: stepStart, "step 0 is not allowed") }
            // Like croniter, a step larger than the range is accepted: it selects the range's first value. But
            // not beyond 59, the largest value of any field: such a step is a typo, not a schedule.
            guard number <= Self.largestStep else {
                throw error(.badStep, at: stepStart, "step \(digits) is out of range 1–\(Self.largestStep)")
            }
            step = number
        }
        var bits: UInt64 = 0
        for value in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(value) }
        return bits
    }

    /// A number or a name, checked against the field's range.
    private mutating func parseValue() throws(CronError) -> Int {
        let start = index
        if let (number, digits) = parseNumber() {
            guard number >= field.lowerBound, number <= field.upperBound else {
                throw error(
                    .outOfRange, at: start,
                    "\(digits) is out of range \(field.lowerBound)–\(field.upperBound)")
            }
            return number
        }
        var letters = ""
        while let character = current, character.isLetter {
            letters.append(character)
            index += 1
        }
        guard !letters.isEmpty else {
            if current == nil || current == "," {
                throw error(.emptyField, at: start, "missing value")
            }
            throw unexpected()
        }
        guard let position = field.names.firstIndex(of: letters.uppercased()) else {
            if field.names.isEmpty {
                throw error(.unknownName, at: start, "names such as \"\(letters)\" are not allowed in this field")
            }
            throw error(.unknownName, at: start, "unknown name \"\(letters)\"")
        }
        return position + field.lowerBound
    }

    /// The largest step (`/n`) accepted in any field.
    static let largestStep = 59

    /// Digits and their value, or `nil` when there are none; absurdly long numbers are capped at 1,000,000 (so
    /// they report out of range), and `digits` keeps them as written for the message.
    private mutating func parseNumber() -> (value: Int, digits: String)? {
        var value: Int?
        var digits = ""
        while let character = current, let digit = character.wholeNumberValue, character.isASCII {
            value = min((value ?? 0) * 10 + digit, 1_000_000)
            digits.append(character)
            index += 1
        }
        return value.map { ($0, digits) }
    }
}
