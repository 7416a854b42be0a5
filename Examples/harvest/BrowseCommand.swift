import ArgumentParser
import Foundation
import TableStorage

/// `harvest browse [--store SPEC] [--table NAME] [--limit N] [--json]`.
struct BrowseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "browse",
        abstract: "Print the newest records of a table: a readable table, or JSON Lines with --json."
    )

    @Option(help: "The store to read: memory, file:PATH or sqlite:PATH.")
    var store: String = StoreSpec.defaultText

    @Option(help: "The table to read (HarvestRuns holds the report of every run).")
    var table: String = "Updates"

    @Option(help: "How many records to print, newest first.")
    var limit: Int = 20

    @Flag(help: "Print JSON Lines: twitterId as an exact integer, text, author, date (ISO 8601).")
    var json = false

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await reportingErrors("browse") {
            guard limit >= 0 else { throw UsageError("--limit must not be negative, got \(limit)") }
            let spec = try StoreSpec(parsing: store)
            switch spec {
            case .file(let path), .sqlite(let path):
                guard FileManager.default.fileExists(atPath: path) else {
                    throw UsageError("cannot open store \(spec): \(path) does not exist (run harvest once first)")
                }
            case .memory, .postgres: break
            }
            try await spec.withStore(logger: try logging.makeLogger(), readOnly: true) { opened in
                let rows = try await RecordText.newest(limit, in: table, of: opened)
                if json {
                    for row in rows { print(try RecordText.jsonLine(row)) }
                } else {
                    let total = try await opened.count(Query(table))
                    print(
                        RecordText.table(
                            rows, title: "\(rows.count) of \(total) records in \(table) (\(spec)), newest first"))
                }
            }
        }
    }
}

/// How `browse` and `once` print records.
enum RecordText {
    /// The newest `limit` records of `table`: by `twitterId` for tweet tables, by `startedAt` for run reports.
    static func newest(_ limit: Int, in table: String, of store: any TableStore) async throws -> [TableRow] {
        let sample = try await store.read(RecordQuery.first(in: table))
        guard let first = sample.first else { return [] }
        let key = first["twitterId"] != nil ? "twitterId" : first["startedAt"] != nil ? "startedAt" : nil
        return try await store.read(RecordQuery.newest(limit, in: table, by: key))
    }

    /// One JSON line: `twitterId` (an exact integer), `text`, `author`, `date` (ISO 8601) for tweets; every column
    /// for other tables.
    static func jsonLine(_ record: TableRow) throws -> String {
        var object: [String: JSONField] = [:]
        for (column, value) in record.fields {
            object[column] = JSONField(value)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(object), as: UTF8.self)
    }

    /// A fixed-width table with a title line; tweet texts are cut to one line.
    static func table(_ records: [TableRow], title: String) -> String {
        var lines = [title]
        guard let first = records.first else { return title }
        let isTweets = first["twitterId"] != nil
        let columns =
            if isTweets {
                ["twitterId", "date", "author", "kind", "text"]
            } else if first["fetched"] != nil && first["startedAt"] != nil {
                [
                    "startedAt", "outcome", "fetched", "pages", "stored", "filtered", "duplicates", "newestAfter",
                    "warnings",
                ]
            } else {
                first.fields.keys.sorted()
            }
        let cells = records.map { record in columns.map { cell(record[$0]) } }
        var widths = columns.map(\.count)
        for row in cells {
            for (index, text) in row.enumerated() where index < columns.count - 1 || !isTweets {
                widths[index] = min(max(widths[index], text.count), 40)
            }
        }
        func format(_ row: [String]) -> String {
            row.enumerated().map { index, text in
                let isLast = index == row.count - 1
                let width = widths[index]
                if isLast { return isTweets ? String(text.prefix(70)) : text }
                let cut = text.count > width ? String(text.prefix(width - 1)) + "…" : text
                return cut.padding(toLength: width, withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        lines.append(format(columns))
        for row in cells { lines.append(format(row)) }
        return lines.joined(separator: "\n")
    }

    private static func cell(_ value: Value?) -> String {
        switch value {
        case .int(let number)?: String(number)
        case .double(let number)?: String(format: "%.3f", number)
        case .string(let text)?: text.replacingOccurrences(of: "\n", with: " ")
        case .bool(let flag)?: flag ? "true" : "false"
        case .date(let date)?: date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
        case .null?, nil: "-"
        }
    }
}

/// A `Value` as JSON: integers exact, dates ISO 8601.
enum JSONField: Encodable {
    case value(Value)

    init(_ value: Value) { self = .value(value) }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        guard case .value(let value) = self else { return }
        switch value {
        case .int(let number): try container.encode(number)
        case .double(let number): try container.encode(number)
        case .string(let text): try container.encode(text)
        case .bool(let flag): try container.encode(flag)
        case .date(let date): try container.encode(date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)))
        case .null: try container.encodeNil()
        }
    }
}
