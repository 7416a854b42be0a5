import Foundation
import HarvestClock
import HarvestDemo
import HarvestTestServer
import HarvestTesting
import Testing

@testable import TweetHarvester

/// The `harvest` command as a real process, given input it cannot honour: it must exit (never die by a signal)
/// with a non-zero status and exactly one line on standard error, with control characters escaped and no
/// secret in it.
@Suite("harvest refuses what it cannot honour")
struct CommandLineInputTests {
    /// Bad input, and a piece the one error line must contain.
    private static let refused: [(arguments: [String], mentions: String)] = [
        // Beyond the continuous clock's 64-bit seconds: crashed after the first run ("Not enough bits").
        (["run", "--demo", "--store", "memory", "--every", "106751991167301d"], "--every"),
        // Overflowed computing the second occurrence.
        (["run", "--demo", "--store", "memory", "--every", "9223372036854775807d"], "--every"),
        (["run", "--demo", "--store", "memory", "--every", "3651d"], "ten years"),
        (["run", "--demo", "--store", "memory", "--every", "315360001s"], "ten years"),
        (["cron", "next", "*/99999999999999999999 * * * *"], "column 3"),
        (["cron", "next", "0 * * * *", "--after", "2026-03-29T00:00:00+25:00"], "--after"),
        (["cron", "next", "0 * * * *", "--after", "2026-03-29T00:00:00+02:60"], "--after"),
        // A newline inside an argument is echoed escaped, on the same line.
        (["cron", "next", "*/5\n* * * *"], #"\n"#),
        (["once", "--store", "memory", "--api-base", "http://127.0.0.1:1/a b"], "--api-base"),
        (["once", "--store", "memory", "--api-base", "http://"], "--api-base"),
        (["once", "--store", "memory", "--api-base", "ftp://127.0.0.1"], "--api-base"),
        (["once", "--store", "memory", "--api-base", "http://127.0.0.1:1/x\r\ny"], #"\r\n"#),
    ]

    @Test("bad input ends in one line on standard error and a non-zero exit", arguments: CommandLineInputTests.refused)
    func refusesInOneLine(arguments: [String], mentions: String) async throws {
        let run = try await HarvestCommand.run(arguments, environment: ["TWITTER_BEARER_TOKEN": "cli-test-bearer"])
        #expect(run.reason == .exit, "\(arguments): ended by signal \(run.status)")
        #expect(run.status != 0, "\(arguments)")
        #expect(run.errorLines.count == 1, "\(arguments): \(run.errorOutput)")
        #expect(run.errorOutput.contains(mentions), "\(arguments): \(run.errorOutput)")
        #expect(!run.errorOutput.contains("NSURLErrorDomain"), "\(arguments): \(run.errorOutput)")
    }

    @Test("a bearer token with CR and LF inside is refused in one line that does not show it")
    func foldedBearerToken() async throws {
        let secret = "AAAAfolded0bearer0secret"
        let run = try await HarvestCommand.run(
            ["once", "--store", "memory", "--api-base", "http://127.0.0.1:1"],
            environment: ["TWITTER_BEARER_TOKEN": secret + "\r\nX-Injected: 1"])
        #expect(run.reason == .exit)
        #expect(run.status != 0)
        #expect(run.errorLines.count == 1, "\(run.errorOutput)")
        #expect(run.errorOutput.contains("TWITTER_BEARER_TOKEN"))
        #expect(!run.errorOutput.contains(secret) && !run.errorOutput.contains("X-Injected"), "\(run.errorOutput)")
    }

    @Test("an upper-case scheme in --api-base is accepted: a run harvests from the server it names")
    func upperCaseScheme() async throws {
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_790_000_000))
        let demo = DemoTransport(clock: clock)
        let route = DemoOverHTTP.route("/2/tweets/search/recent", demo)
        try await TestHTTPServer.withServer([route]) { server in
            let base = "HTTP://127.0.0.1:\(server.port)"
            let run = try await HarvestCommand.run(
                ["once", "--store", "memory", "--show", "0", "--api-base", base, "--log-level", "error"],
                environment: ["TWITTER_BEARER_TOKEN": "cli-test-bearer"])
            #expect(run.reason == .exit)
            #expect(run.status == 0, "\(run.errorOutput)")
            #expect(!server.requests.isEmpty)
            #expect(run.output.contains("stored"), "\(run.output)")
        }
    }
}

/// One finished run of the `harvest` binary: how it ended and what it printed.
struct HarvestCommand {
    var status: Int32
    var reason: Process.TerminationReason
    var output: String
    var errorOutput: String

    /// The lines of standard error.
    var errorLines: [Substring] { errorOutput.split(separator: "\n", omittingEmptySubsequences: false).dropLast() }

    /// Runs `harvest arguments…` to its end, with the `TWITTER_` variables of this process replaced by
    /// `environment`'s. A command still running after two minutes is killed and reported (a refusal is
    /// immediate; the limit only keeps a regression from hanging the suite).
    static func run(_ arguments: [String], environment: [String: String]) async throws -> HarvestCommand {
        let process = Process()
        process.executableURL = try HarvestBinary.url
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TWITTER_") }
        variables.merge(environment) { $1 }
        variables["LOG_LEVEL"] = nil
        process.environment = variables
        let directory = FileManager.default.temporaryDirectory.appending(path: "th-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputFile = directory.appending(path: "stdout")
        let errorFile = directory.appending(path: "stderr")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputFile)
        let errors = try FileHandle(forWritingTo: errorFile)
        defer {
            try? output.close()
            try? errors.close()
        }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        // The wait suspends instead of blocking a thread of the cooperative pool (on 2 cores it has 2): a
        // semaphore wait there held back every other test's task for as long as the children ran, and their
        // AsyncHTTPClient exchanges ended as time-outs on a loaded machine.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        let started = ContinuousClock.now
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(120), execute: watchdog)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        watchdog.cancel()
        if ContinuousClock.now - started >= .seconds(120) {
            Issue.record("harvest \(arguments) was still running after two minutes")
        }
        return HarvestCommand(
            status: process.terminationStatus, reason: process.terminationReason,
            output: (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "",
            errorOutput: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "")
    }
}
