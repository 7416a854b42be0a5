import Foundation
import HarvestTestServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `harvest` binary, built next to the test bundle by `swift build --build-tests` (or named by
/// `TH_HARVEST_BINARY`).
enum HarvestBinary {
    static var url: URL {
        get throws {
            if let path = ProcessInfo.processInfo.environment["TH_HARVEST_BINARY"] { return URL(fileURLWithPath: path) }
            let candidates = [
                Bundle.main.bundleURL.deletingLastPathComponent(),
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                Bundle.main.bundleURL,
            ].map { $0.appending(path: "harvest") }
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw Missing(searched: candidates.map(\.path))
            }
            return found
        }
    }

    struct Missing: Error, CustomStringConvertible {
        var searched: [String]
        var description: String { "harvest not found (swift build --build-tests builds it); looked in \(searched)" }
    }
}

/// A running `harvest` process started by a test, with its standard error in a file.
///
/// Its standard error goes to a file rather than a pipe: the test process then holds no pipe descriptors and no
/// dispatch sources on them across hundreds of kills. Credentials come from `environment`; the test process's own
/// `TWITTER_*` variables are never passed on.
final class HarvestProcess: @unchecked Sendable {
    // @unchecked: used from one test at a time.
    private let process = Process()
    private let errorFile: URL

    init(_ arguments: [String], environment extra: [String: String]) throws {
        process.executableURL = try HarvestBinary.url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TWITTER_") }
            .merging(extra) { $1 }
        process.standardOutput = FileHandle.nullDevice
        errorFile = FileManager.default.temporaryDirectory.appending(path: "th-harvest-stderr-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errorFile.path])
        }
        let errors = try FileHandle(forWritingTo: errorFile)
        defer { try? errors.close() }
        process.standardError = errors
        try process.run()
    }

    deinit {
        try? FileManager.default.removeItem(at: errorFile)
    }

    var pid: Int32 { process.processIdentifier }

    /// Whether the process is still running.
    var isRunning: Bool { process.isRunning }

    /// Sends `signal`; returns whether the process was still running and the signal was sent.
    @discardableResult
    func kill(_ signal: Int32) -> Bool {
        guard process.isRunning else { return false }
        #if canImport(Glibc)
            return Glibc.kill(process.processIdentifier, signal) == 0
        #else
            return Darwin.kill(process.processIdentifier, signal) == 0
        #endif
    }

    /// Waits for the process to exit, on a thread of its own: `waitUntilExit` blocks.
    func wait() async {
        await offThePool { self.process.waitUntilExit() }
    }

    /// Waits up to `seconds` for the process to exit, then kills it.
    func wait(atMost seconds: Double) async {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(SIGKILL)
        await wait()
    }

    /// The exit status (after ``wait()``).
    var status: Int32 { process.terminationStatus }

    /// What the process wrote to standard error.
    var errorOutput: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }
}
