import ArgumentParser
import Foundation
import Logging

/// `--log-level`, which every subcommand takes: `trace`, `debug`, `info`, `notice`, `warning` or `error`.
///
/// The default is `info`; `LOG_LEVEL` in the environment sets it too (the option wins). Logs go to
/// standard error, so standard output stays machine-readable.
struct LoggingOptions: ParsableArguments {
    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info, notice, warning or error (default info, or LOG_LEVEL from the environment).")
    var logLevel: String?

    /// The level asked for, from `--log-level`, then `LOG_LEVEL`, then `info`.
    func level() throws -> Logger.Level {
        let text = logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let source = logLevel == nil ? "LOG_LEVEL" : "--log-level"
            throw UsageError(
                "\(source): unknown level \"\(text)\" (use trace, debug, info, notice, warning or error)")
        }
        return level
    }

    func validate() throws {
        _ = try level()
    }

    /// A logger writing to standard error at the chosen level.
    func makeLogger(label: String = "harvest") throws -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = try level()
        return logger
    }
}

/// Writes one line to standard error, as every subcommand reports bad input: control characters in `line` (a
/// newline in an echoed argument, say) are escaped, so it stays one line.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((InputText.escaped(line) + "\n").utf8))
}
