import Foundation
import HarvestTestServer
import TableStorage
import TableStorageSQLite
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `harvest once --api-base http://127.0.0.1:PORT`, the real command as a child process, against each wire fault
/// of ``FaultServer``: it exits non-zero (or retries and succeeds) with one clear line on standard error and never
/// by a signal, stores nothing of a garbage reply, records what happened in `HarvestRuns`, never writes the token
/// to standard error or the store, and keeps its memory bounded (peak RSS from `wait4`).
@Suite("harvest once against a hostile server", .serialized)
struct HarvestFaultTests {
    static let token = "harvest-fault-bearer-K4v8Wn"
    static let page = Data(
        #"{"data":[{"id":"1900000000000000001","text":"hello","author_id":"42","created_at":"2026-11-24T12:00:00.000Z"}],"includes":{"users":[{"id":"42","username":"alice"}]},"meta":{"result_count":1,"newest_id":"1900000000000000001","oldest_id":"1900000000000000001"}}"#
            .utf8)
    /// The peak resident set a child may reach against an endless or bombing server.
    static let memoryBound = 300 << 20

    /// One fault for the whole command: what the last line must name and the `HarvestRuns` outcome.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var fault: FaultServer.Fault
        var code: String
        var testDescription: String { name }
    }

    static let failing: [Case] = [
        Case(name: "the status line then close", fault: .statusLineThenClose(), code: "transport"),
        Case(name: "the headers then close", fault: .headersThenClose(.json(page)), code: "transport"),
        Case(name: "close mid-body", fault: .closeMidBody(.json(page), after: 40), code: "transport"),
        Case(name: "a chunked body cut off", fault: .chunkedCutOff(.json(page), after: 40), code: "transport"),
        Case(name: "a connection reset", fault: .reset, code: "transport"),
        Case(
            name: "a Content-Length larger than the body", fault: .contentLengthLargerThanBody(.json(page), extra: 9),
            code: "transport"),
        Case(
            name: "a truncated gzip body",
            fault: .respond(
                .json(
                    GzipBytes.stored(page).prefix(GzipBytes.stored(page).count / 2),
                    headers: [("Content-Encoding", "gzip")])),
            code: "transport"),
        Case(
            name: "invalid UTF-8 in a tweet's text",
            fault: .respond(
                .json(
                    Data(#"{"data":[{"id":"1900000000000000001","text":"caf"#.utf8) + [0xFF]
                        + Data(#""}],"meta":{}}"#.utf8))),
            code: "undecodableBody"),
        Case(
            name: "a text/html 200",
            fault: .respond(.init(status: 200, headers: [("Content-Type", "text/html")], body: Data("<html/>".utf8))),
            code: "notAPage"),
        Case(
            name: "tweet id 2^63",
            fault: .respond(.json(#"{"data":[{"id":"9223372036854775808","text":"x"}],"meta":{"result_count":1}}"#)),
            code: "invalidTweetID"),
        Case(
            name: "tweet id 2^64−1",
            fault: .respond(.json(#"{"data":[{"id":"18446744073709551615","text":"x"}],"meta":{"result_count":1}}"#)),
            code: "invalidTweetID"),
    ]

    @Test(
        "each fault: a non-zero exit with one line naming it, no signal, nothing stored, the run recorded",
        arguments: failing)
    func failingFault(_ fault: Case) async throws {
        try await FaultServer.withServer([], then: fault.fault) { server in
            let run = try await HarvestChild.run(server: server.baseURL, token: Self.token)
            Self.expectCleanFailure(run, naming: fault.code, fault.name)
            #expect(run.stored.isEmpty, "\(fault.name): stored \(run.stored)")
            #expect(server.requests.count >= 1)
        }
    }

    @Test("a reply cut after its status line is retried and the run then succeeds")
    func cutThenSucceeds() async throws {
        try await FaultServer.withServer([.statusLineThenClose(), .reset], then: .respond(.json(Self.page))) { server in
            let run = try await HarvestChild.run(server: server.baseURL, token: Self.token)
            #expect(run.termination == .exit(0), "\(run.termination): \(run.errorOutput)")
            #expect(run.stored == [1_900_000_000_000_000_001])
            #expect(run.outcomes == ["succeeded"])
            #expect(server.requests.count == 3)
            print("HarvestFaultTests: a run that succeeds: \(run.memory)")
        }
    }

    @Test("connection refused: a non-zero exit naming a transport error")
    func refused() async throws {
        let port = try FaultServer.unusedPort()
        let run = try await HarvestChild.run(server: URL(string: "http://127.0.0.1:\(port)")!, token: Self.token)
        Self.expectCleanFailure(run, naming: "transport", "connection refused")
    }

    @Test("an endless chunked body: responseTooLarge, and the peak RSS stays bounded")
    func endlessBody() async throws {
        try await FaultServer.withServer(
            [], then: .endlessTweets
        ) { server in
            let run = try await HarvestChild.run(server: server.baseURL, token: Self.token)
            Self.expectCleanFailure(run, naming: "responseTooLarge", "endless body")
            #expect(run.peakRSS < Self.memoryBound, "peak RSS \(run.peakRSS >> 20) MiB")
            print(
                "HarvestFaultTests: endless body: \(run.memory), \(server.requests.count) requests")
        }
    }

    @Test("a gzip bomb: responseTooLarge, and the peak RSS stays bounded")
    func gzipBomb() async throws {
        let bomb = GzipBytes.zeroBomb(decompressedSize: 1 << 30)
        try await FaultServer.withServer(
            [], then: .respond(.json(bomb, headers: [("Content-Encoding", "gzip")]))
        ) { server in
            let run = try await HarvestChild.run(server: server.baseURL, token: Self.token)
            Self.expectCleanFailure(run, naming: "responseTooLarge", "gzip bomb")
            #expect(run.peakRSS < Self.memoryBound, "peak RSS \(run.peakRSS >> 20) MiB")
            print(
                "HarvestFaultTests: gzip bomb (\(bomb.count) bytes → 1 GiB): \(run.memory), \(server.requests.count) requests"
            )
        }
    }

    @Test("a Content-Length of 500 MB: responseTooLarge at once, and the peak RSS stays bounded")
    func hugeContentLength() async throws {
        try await FaultServer.withServer(
            [], then: .hugeContentLength(.json(Self.page), declaredLength: 500_000_000)
        ) { server in
            let run = try await HarvestChild.run(server: server.baseURL, token: Self.token)
            Self.expectCleanFailure(run, naming: "responseTooLarge", "huge Content-Length")
            #expect(run.peakRSS < Self.memoryBound, "peak RSS \(run.peakRSS >> 20) MiB")
            print("HarvestFaultTests: 500 MB Content-Length: \(run.memory)")
        }
    }

    /// The faults that hold a reply open: `harvest` has no option for a short deadline (its requests get 30 s), so
    /// the server goes away once the request arrived, and the command must then give up with one line.
    static let stalls: [Case] = [
        Case(name: "a stall before the headers", fault: .stallBeforeHeaders, code: "transport"),
        Case(name: "a stall mid-body", fault: .stallMidBody(.json(page), after: 40), code: "transport"),
        Case(name: "a one-byte drip", fault: .drip(.json(page), every: .milliseconds(200)), code: "transport"),
    ]

    @Test("a stall or a drip: the command gives up when the server goes away, with one line", arguments: stalls)
    func stall(_ fault: Case) async throws {
        let server = try FaultServer([], then: fault.fault)
        defer { server.stop() }
        async let run = HarvestChild.run(server: server.baseURL, token: Self.token)
        // Deterministic: the fault holds the reply until the server stops; stop it once the request arrived.
        #expect(await server.waitForRequests(1))
        server.stop()
        Self.expectCleanFailure(try await run, naming: fault.code, fault.name)
    }

    @Test("a 302 to another port is refused, and the other server never sees the token")
    func redirect() async throws {
        try await FaultServer.withServer([], then: .respond(.json(Self.page))) { other in
            let location = other.baseURL.appendingPathComponent("2/tweets/search/recent").absoluteString
            try await FaultServer.withServer([], then: .redirect(to: location)) { server in
                let run = try await HarvestChild.run(server: server.baseURL, token: Self.token)
                Self.expectCleanFailure(run, naming: "redirectRefused", "redirect")
                #expect(run.stored.isEmpty)
                #expect(other.requests.isEmpty && other.acceptedConnections == 0)
            }
        }
    }

    @Test("a next_token cycle A, B, A: repeatedCursor, and the run stops")
    func tokenCycle() async throws {
        let pages = ["A", "B", "A"].enumerated().map { index, next in
            let id = 1_900_000_000_000_000_010 - index
            return FaultServer.Fault.respond(
                .json(
                    #"{"data":[{"id":"\#(id)","text":"t\#(index)","author_id":"42"}],"meta":{"result_count":1,"next_token":"\#(next)","newest_id":"\#(id)","oldest_id":"\#(id)"}}"#
                ))
        }
        try await FaultServer.withServer(pages, then: .respond(.json(Self.page))) { server in
            let run = try await HarvestChild.run(server: server.baseURL, token: Self.token)
            Self.expectCleanFailure(run, naming: "repeatedCursor", "token cycle")
            #expect(server.requests.count == 3)
        }
    }

    @Test(
        "an error body echoing the Authorization header: the token reaches neither stderr nor the store",
        arguments: [401, 400])
    func echoedAuthorization(_ status: Int) async throws {
        try await FaultServer.withServer({ request, _ in .echoingAuthorization(request, status: status) }) { server in
            let run = try await HarvestChild.run(server: server.baseURL, token: Self.token, logLevel: "trace")
            #expect(run.termination == .exit(1), "\(run.termination): \(run.errorOutput)")
            #expect(server.requests.first?.headers["authorization"] == "Bearer \(Self.token)")
            #expect(!run.errorOutput.contains(Self.token), "the token is on standard error")
            #expect(!run.storeBytesContainToken, "the token is in the store's files")
            #expect(run.outcomes.count == 1 && run.outcomes.allSatisfy { $0.hasPrefix("failed") }, "\(run.outcomes)")
        }
    }

    // MARK: Helpers

    /// Exit 1 (not a signal), one line on standard error naming `code`, one `HarvestRuns` row saying so, no token.
    static func expectCleanFailure(
        _ run: HarvestChild.Result, naming code: String, _ name: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            run.termination == .exit(1), "\(name): \(run.termination): \(run.errorOutput)",
            sourceLocation: sourceLocation)
        let lines = run.errorOutput.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "\(name): stderr \(run.errorOutput)", sourceLocation: sourceLocation)
        #expect(
            lines.last?.hasPrefix("harvest once: ") == true, "\(name): \(run.errorOutput)",
            sourceLocation: sourceLocation)
        #expect(lines.last?.contains(code) == true, "\(name): \(run.errorOutput)", sourceLocation: sourceLocation)
        #expect(run.outcomes.count == 1, "\(name): runs \(run.outcomes)", sourceLocation: sourceLocation)
        #expect(
            run.outcomes.first?.hasPrefix("failed") == true && run.outcomes.first?.contains(code) == true,
            "\(name): \(run.outcomes)", sourceLocation: sourceLocation)
        #expect(!run.errorOutput.contains(token), "\(name): token on stderr", sourceLocation: sourceLocation)
        #expect(!run.storeBytesContainToken, "\(name): token in the store", sourceLocation: sourceLocation)
    }
}

/// One `harvest once` child process, spawned with `posix_spawn` and reaped with `wait4`, so that its own peak RSS
/// is known (`Process` reaps its children itself and keeps their resource usage).
enum HarvestChild {
    /// How the child ended.
    enum Termination: Equatable, CustomStringConvertible {
        case exit(Int32)
        case signal(Int32)

        var description: String {
            switch self {
            case .exit(let code): "exit \(code)"
            case .signal(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// What a finished run left behind.
    struct Result {
        var termination: Termination
        /// The child's own peak resident set size, in bytes (see ``peak(exitMaxRSS:inherited:sampled:)``).
        var peakRSS: Int
        /// `ru_maxrss` from `wait4`, in bytes: never below ``inheritedRSS``.
        var exitMaxRSS: Int
        /// The test process's own peak RSS when it spawned the child, in bytes.
        var inheritedRSS: Int
        /// The child's `VmHWM`, last read while it ran, in bytes.
        var sampledRSS: Int
        var errorOutput: String
        /// The tweet ids stored in `Updates`.
        var stored: [UInt64]
        /// The `outcome` of every `HarvestRuns` row.
        var outcomes: [String]
        /// Whether any file of the store holds the token.
        var storeBytesContainToken: Bool

        /// The memory figures, for the test's output.
        var memory: String {
            "peak RSS \(peakRSS >> 20) MiB (VmHWM \(sampledRSS >> 20) MiB, wait4 \(exitMaxRSS >> 20) MiB, test process \(inheritedRSS >> 20) MiB)"
        }
    }

    /// A child that runs longer than this is killed and reported as hung: a safety net, never an expected path.
    static let hangLimit: Duration = .seconds(180)

    /// Runs `harvest once` against `server` with `token` in `TWITTER_BEARER_TOKEN` and a fresh SQLite store.
    static func run(server: URL, token: String, logLevel: String = "error") async throws -> Result {
        let root = FileManager.default.temporaryDirectory.appending(path: "th-harvest-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let storePath = root.appending(path: "store.sqlite").path
        let errorPath = root.appending(path: "stderr").path
        let arguments = [
            try HarvestBinary.url.path, "once", "--api", "v2", "--api-base", server.absoluteString, "--store",
            "sqlite:\(storePath)", "--show", "0", "--log-level", logLevel,
        ]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TWITTER_") }
        environment["TWITTER_BEARER_TOKEN"] = token
        var own = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        let pid = try spawn(arguments, environment: environment.map { "\($0.key)=\($0.value)" }, errorPath: errorPath)
        let (status, usage, sampled) = await reap(pid)
        let termination: Termination =
            status & 0x7F == 0 ? .exit((status >> 8) & 0xFF) : .signal(status & 0x7F)
        let errorOutput = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""

        var stored: [UInt64] = []
        var outcomes: [String] = []
        if FileManager.default.fileExists(atPath: storePath) {
            let store = try SQLiteTableStore(path: storePath)
            let tables = try await store.tableNames()
            if tables.contains("Updates") {
                stored = try await store.read(Query("Updates")).compactMap { record in
                    guard case .int(let id)? = record["twitterId"] else { return nil }
                    return UInt64(bitPattern: id)
                }
            }
            if tables.contains("HarvestRuns") {
                outcomes = try await store.read(Query("HarvestRuns")).compactMap { record in
                    guard case .string(let outcome)? = record["outcome"] else { return nil }
                    return outcome
                }
            }
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let containsToken = files.contains { name in
            name != "stderr"
                && (FileManager.default.contents(atPath: root.appending(path: name).path)?.range(of: Data(token.utf8))
                    != nil)
        }
        return Result(
            termination: termination,
            peakRSS: peak(exitMaxRSS: Int(usage.ru_maxrss), inherited: Int(own.ru_maxrss), sampled: sampled) * 1024,
            exitMaxRSS: Int(usage.ru_maxrss) * 1024, inheritedRSS: Int(own.ru_maxrss) * 1024,
            sampledRSS: sampled * 1024,
            errorOutput: errorOutput,
            stored: stored, outcomes: outcomes, storeBytesContainToken: containsToken)
    }

    /// The child's own peak RSS, in KiB.
    ///
    /// `wait4`'s `ru_maxrss` for a child started by `posix_spawn` (a `vfork`) may start at the test process's size:
    /// at `exec`, Linux keeps the high-water mark of the memory map the child leaves, which is the parent's (seen: a
    /// full test run gave 140 MiB for every child, a filtered one 50 to 57). So `ru_maxrss` counts only when it is
    /// above the test process's own peak at the spawn; otherwise `VmHWM` from `/proc/PID/status` (the high-water mark
    /// of the child's own map, fresh at `exec`), read every 20 ms while the child ran, is the figure.
    static func peak(exitMaxRSS: Int, inherited: Int, sampled: Int) -> Int {
        exitMaxRSS > inherited ? exitMaxRSS : sampled
    }

    struct ChildError: Error, CustomStringConvertible {
        var description: String
    }

    /// `posix_spawn` with standard input and output on `/dev/null` and standard error into `errorPath`.
    ///
    /// The test servers' descriptors are close-on-exec: a listening socket inherited by the child would go on
    /// accepting into its backlog after the server stopped, so that a refused connection would hang instead.
    private static func spawn(_ arguments: [String], environment: [String], errorPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard result == 0 else { throw ChildError(description: "posix_spawn \(arguments[0]): error \(result)") }
        return pid
    }

    /// Waits for `pid` on a thread of its own, killing it after ``hangLimit``; samples its `VmHWM` (KiB) meanwhile.
    private static func reap(_ pid: pid_t) async -> (status: Int32, usage: rusage, sampledPeak: Int) {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                let started = ContinuousClock.now
                var status: Int32 = 0
                var usage = rusage()
                var sampled = 0
                while true {
                    sampled = max(sampled, highWaterMark(of: pid) ?? 0)
                    let reaped = wait4(pid, &status, WNOHANG, &usage)
                    if reaped == pid || (reaped < 0 && errno != EINTR) { break }
                    if ContinuousClock.now - started > hangLimit { kill(pid, SIGKILL) }
                    usleep(20_000)
                }
                continuation.resume(returning: (status, usage, sampled))
            }
            thread.start()
        }
    }

    /// `VmHWM` of `/proc/PID/status`, in KiB, while the process runs (Linux).
    private static func highWaterMark(of pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }
}
