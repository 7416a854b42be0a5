import ArgumentParser
import Foundation
import HarvestLocking
import Logging
import TableStorage
import TableStorageSQLite

/// `harvest verify --store SPEC`: checks a store without changing it and says what it found.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a store without changing it: a file store's checksums and invariants, SQLite's integrity.",
        discussion: """
            A file store is checked on a copy of its log, so a running `harvest run` is not disturbed and nothing \
            is cut off. Exits 0 when the store is sound, 1 when it is damaged (then see `harvest repair`).
            """
    )

    @Option(help: "The store to check: file:PATH or sqlite:PATH.")
    var store: String = StoreSpec.defaultText

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await reportingErrors("verify") {
            _ = try logging.level()
            let spec = try StoreSpec(parsing: store)
            switch spec {
            case .memory:
                throw UsageError("a memory store holds nothing between runs: give file:PATH or sqlite:PATH")
            case .postgres:
                throw UsageError(
                    "verify checks file and SQLite stores; PostgreSQL checks its own (pg_amcheck, or its data checksums)"
                )
            case .file(let path):
                try await verifyFile(spec, at: path)
            case .sqlite(let path):
                try await verifySQLite(spec, at: path)
            }
        }
    }

    private func verifyFile(_ spec: StoreSpec, at path: String) async throws {
        let log = URL(fileURLWithPath: path).appending(path: FileTableStore.logFileName)
        guard FileManager.default.fileExists(atPath: log.path) else {
            throw UsageError("cannot verify store \(spec): \(log.path) does not exist")
        }
        let recorder = LogRecorder()
        do {
            try await Self.withCopy(of: log, logger: recorder.logger) { opened in
                let tables = try await Self.readEveryRow(of: opened)
                print("\(spec): sound: \(opened.logSize) bytes of committed batches; \(tables)")
            }
        } catch let error as StorageError where error.code == .malformedStore {
            // The error names the copy; the user's file is the one to name.
            let at = error.offset.map { " at byte \($0)" } ?? ""
            print("\(spec): damaged\(at) of \(log.path): \(error.message)")
            print("harvest repair --store \(spec) keeps every batch before the damage and moves the rest aside")
            throw ExitCode.failure
        }
        if let dropped = recorder.dropped {
            print("the next open drops a write cut short \(dropped) (as by kill -9; nothing committed is lost)")
        }
    }

    /// Opens a copy of the file store log `log` (in a new temporary directory, strict recovery) for `body`, so
    /// that the store itself is neither locked nor changed; removes the copy afterwards.
    static func withCopy<T>(
        of log: URL, logger: Logger, _ body: (FileTableStore) async throws -> T
    ) async throws -> T {
        let copy = FileManager.default.temporaryDirectory.appending(path: "harvest-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.copyItem(at: log, to: copy.appending(path: FileTableStore.logFileName))
        let opened = try await FileTableStore(directory: copy, logger: logger)
        defer { opened.close() }
        return try await body(opened)
    }

    private func verifySQLite(_ spec: StoreSpec, at path: String) async throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw UsageError("cannot verify store \(spec): \(path) does not exist")
        }
        // Read-only: verify works beside a running writer and never changes the database.
        let opened = try await spec.open(logger: try logging.makeLogger(), readOnly: true)
        guard let database = opened as? SQLiteTableStore else { return }
        let problems = try await database.integrityCheck()
        guard problems.isEmpty else {
            print("\(spec): damaged: SQLite's integrity check reports \(problems.count) problem(s)")
            for problem in problems.prefix(20) { print("  \(InputText.escaped(problem))") }
            throw ExitCode.failure
        }
        let tables = try await Self.readEveryRow(of: database)
        print("\(spec): sound: SQLite's integrity check passed; \(tables)")
    }

    /// Reads every record of every table (each is decoded); returns `2 tables: Updates 120 rows, …`.
    static func readEveryRow(of store: any TableStore) async throws -> String {
        var parts: [String] = []
        for table in try await store.tableNames().sorted() {
            let count = try await store.read(Query(table)).count
            parts.append("\(table) \(count) row\(count == 1 ? "" : "s")")
        }
        return "\(parts.count) table\(parts.count == 1 ? "" : "s")" + (parts.isEmpty ? "" : ": ")
            + parts.joined(separator: ", ")
    }
}

/// `harvest repair --store file:PATH`: keeps a copy of the damaged log, salvages the store and says what it
/// dropped.
struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Salvage a damaged file store: keep every batch before the damage, move the rest aside.",
        discussion: """
            The damaged log is first copied to store.jsonl.damaged-<time> beside it; the salvage then moves \
            everything from the first damaged batch on to store.jsonl.salvaged-<byte>, and the store opens again. \
            Stop `harvest run` first: repair takes the store's lock.
            """
    )

    @Option(help: "The file store to repair: file:PATH.")
    var store: String = StoreSpec.defaultText

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await reportingErrors("repair") {
            _ = try logging.level()
            let spec = try StoreSpec(parsing: store)
            guard case .file(let path) = spec else {
                throw UsageError(
                    "repair handles file stores only; check \(spec) with harvest verify, and recover SQLite with "
                        + "sqlite3's .recover")
            }
            let directory = URL(fileURLWithPath: path)
            let log = directory.appending(path: FileTableStore.logFileName)
            guard FileManager.default.fileExists(atPath: log.path) else {
                throw UsageError("cannot repair store \(spec): \(log.path) does not exist")
            }
            // First see whether there is anything to repair, on a copy, as verify does.
            if try await Self.opensAsItIs(log) {
                print("\(spec): sound, nothing to repair")
                return
            }
            let stamp = Date().formatted(Date.ISO8601FormatStyle(timeZone: .gmt)).replacingOccurrences(
                of: ":", with: "")
            let kept = directory.appending(path: "\(FileTableStore.logFileName).damaged-\(stamp)")
            try FileManager.default.copyItem(at: log, to: kept)
            print("kept the damaged log as \(kept.path)")
            var configuration = FileTableStore.Configuration()
            configuration.recovery = .salvage
            let recorder = LogRecorder()
            let salvaged = try await FileTableStore(
                directory: directory, configuration: configuration, logger: recorder.logger)
            salvaged.close()
            for line in recorder.salvageLines { print(line) }
            let reopened = try await FileTableStore(directory: directory)
            defer { reopened.close() }
            let tables = try await VerifyCommand.readEveryRow(of: reopened)
            print("\(spec): repaired, opens again: \(reopened.logSize) bytes of committed batches; \(tables)")
        }
    }

    /// Whether the log at `log` opens with strict recovery, checked on a copy.
    private static func opensAsItIs(_ log: URL) async throws -> Bool {
        do {
            let quiet = Logger(label: "harvest") { _ in SwiftLogNoOpLogHandler() }
            try await VerifyCommand.withCopy(of: log, logger: quiet) { _ in }
            return true
        } catch let error as StorageError where error.code == .malformedStore {
            return false
        }
    }
}

/// Keeps the warnings a store logs while it opens: what it dropped or moved aside.
final class LogRecorder: Sendable {
    private let entries = Locked<[(message: String, metadata: Logger.Metadata)]>([])

    /// A logger that records `warning` and above here.
    var logger: Logger {
        var logger = Logger(label: "harvest") { _ in Handler(recorder: self) }
        logger.logLevel = .warning
        return logger
    }

    /// Where the open dropped an uncommitted or torn tail, such as `after byte 8190`, or `nil`.
    var dropped: String? {
        entries.withLock { entries in
            entries.lazy.compactMap { entry -> String? in
                guard entry.metadata["th.salvaged"] == nil, case .string(let offset)? = entry.metadata["th.offset"]
                else { return nil }
                return "after byte \(offset)"
            }.first
        }
    }

    /// One line per salvage the open made: where the damage was, why, and where the rest went.
    var salvageLines: [String] {
        entries.withLock { entries in
            entries.compactMap { entry in
                guard case .string(let aside)? = entry.metadata["th.salvaged"] else { return nil }
                let offset = entry.metadata["th.damage.offset"].map { "\($0)" } ?? "?"
                let reason = entry.metadata["th.damage.reason"].map { "\($0)" } ?? "damage"
                return "dropped everything from byte \(offset) on (\(reason)); it is kept in \(aside)"
            }
        }
    }

    fileprivate func record(_ message: String, _ metadata: Logger.Metadata) {
        entries.withLock { $0.append((message, metadata)) }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .warning

        func log(event: LogEvent) {
            recorder.record("\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 })
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
    }
}
