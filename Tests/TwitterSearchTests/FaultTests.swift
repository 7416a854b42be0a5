import Foundation
import HarvestClock
import HarvestTestServer
import HarvestTesting
import Logging
import OAuthSigning
import Testing
import TwitterSearch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every wire fault a hostile server on 127.0.0.1 can send, through the real transport (AsyncHTTPClient) and
/// the search client: each ends in a typed ``SearchError`` with the right code and one clear line, is retried
/// exactly when it is retriable (the server counts the requests), never crashes or hangs past the deadline, and
/// nothing of a garbage reply is returned.
///
/// Never run the cut-reply faults against `URLSessionTransport`: on Linux, FoundationNetworking kills the process
/// on a reply cut after its status line (the defect this transport replaces it for).
@Suite("wire faults through the AsyncHTTPClient transport", .serialized)
struct FaultTests {
    static let token = "fault-bearer-7Qx2LmZ9"
    static let page = v2Page([(id: 1_900_000_000_000_000_001, text: "hello", refs: [])], next: nil)
    static let json: [(String, String)] = [("Content-Type", "application/json")]
    /// The deadline of a request that should never meet it (generous, for a loaded machine).
    static let deadline: Duration = .seconds(30)
    /// The deadline of a request that a stall or a drip must outlast: short, so that the stall costs little. Faults
    /// are told apart by their error code, never by the time they took.
    static let shortDeadline: Duration = .seconds(1)

    /// One fault, the code it must end in, and how many requests the server must see.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var fault: FaultServer.Fault
        var code: SearchError.Code
        var requests: Int
        var deadline: Duration = FaultTests.deadline
        var testDescription: String { name }
    }

    static let attempts = RequestPolicy().maxAttempts

    /// Faults where no complete response arrived: retried up to the policy's attempts, then a typed error.
    static let cutReplies: [Case] = [
        Case(name: "the status line then close", fault: .statusLineThenClose(), code: .transport, requests: attempts),
        Case(
            name: "the headers then close", fault: .headersThenClose(.json(page)), code: .transport, requests: attempts),
        Case(
            name: "close mid-body", fault: .closeMidBody(.json(page), after: page.count / 2), code: .transport,
            requests: attempts),
        Case(
            name: "a Content-Length larger than the body", fault: .contentLengthLargerThanBody(.json(page), extra: 10),
            code: .transport, requests: attempts),
        Case(
            name: "a chunked body cut off", fault: .chunkedCutOff(.json(page), after: page.count / 2),
            code: .transport, requests: attempts),
        Case(name: "a connection reset (RST)", fault: .reset, code: .transport, requests: attempts),
        Case(
            name: "a stall before the headers", fault: .stallBeforeHeaders, code: .timedOut, requests: attempts,
            deadline: shortDeadline),
        Case(
            name: "a stall mid-body", fault: .stallMidBody(.json(page), after: page.count / 2), code: .timedOut,
            requests: attempts, deadline: shortDeadline),
        Case(
            name: "a one-byte drip", fault: .drip(.json(page), every: .milliseconds(150)), code: .timedOut,
            requests: attempts, deadline: shortDeadline),
    ]

    @Test("each cut or stalled reply is retried, then ends in a typed error naming it", arguments: cutReplies)
    func cutReply(_ fault: Case) async throws {
        try await FaultServer.withServer([], then: fault.fault) { server in
            try await Self.withClient(server.baseURL, deadline: fault.deadline) { client, logs in
                let error = await Self.expectFailure(client, fault.code)
                #expect(server.requests.count == fault.requests, "\(fault.name): requests")
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("a reply cut after its status line is retried, and the next complete reply is the page")
    func cutThenRecovers() async throws {
        try await FaultServer.withServer(
            [.statusLineThenClose(), .closeMidBody(.json(Self.page), after: 20), .reset],
            then: .respond(.json(Self.page))
        ) { server in
            try await Self.withClient(server.baseURL) { client, _ in
                let tweets = try await client.search(SearchQuery("q"))
                #expect(tweets.map(\.id) == [1_900_000_000_000_000_001])
                #expect(server.requests.count == 4)
            }
        }
    }

    @Test("connection refused (no listener) is retried, then a transport error")
    func connectionRefused() async throws {
        let port = try FaultServer.unusedPort()
        try await Self.withClient(URL(string: "http://127.0.0.1:\(port)")!) { client, logs in
            let error = await Self.expectFailure(client, .transport)
            #expect(logs.all.filter { $0.message == "retrying request" }.count == Self.attempts - 1)
            Self.expectOneClearLine(error, logs: logs)
        }
    }

    @Test("an endless chunked body stops at the size cap with responseTooLarge")
    func endlessBody() async throws {
        try await FaultServer.withServer(
            [], then: .endlessTweets
        ) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, .responseTooLarge)
                #expect(server.requests.count == 1, "a reply over the cap is not retried: it would be as large again")
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("a Content-Length of 500 MB is refused from the header, without waiting for the body")
    func hugeContentLength() async throws {
        try await FaultServer.withServer(
            [], then: .hugeContentLength(.json(Self.page), declaredLength: 500_000_000)
        ) { server in
            // A deadline far longer than the test: the cap, not a time-out, must end each request.
            try await Self.withClient(server.baseURL, deadline: .seconds(600)) { client, logs in
                let error = await Self.expectFailure(client, .responseTooLarge)
                #expect(server.requests.count == 1)
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("a gzip page is asked for and decompressed")
    func gzipPage() async throws {
        try await FaultServer.withServer(
            [], then: .respond(.json(GzipBytes.stored(Self.page), headers: [("Content-Encoding", "gzip")]))
        ) { server in
            try await Self.withClient(server.baseURL) { client, _ in
                let tweets = try await client.search(SearchQuery("q"))
                #expect(tweets.map(\.text) == ["hello"])
                #expect(server.requests.first?.headers["accept-encoding"]?.contains("gzip") == true)
            }
        }
    }

    @Test("a truncated gzip body is a transport error saying so, retried, and nothing is returned")
    func truncatedGzip() async throws {
        let gzip = GzipBytes.stored(Self.page)
        let cut = gzip.prefix(gzip.count / 2)
        try await FaultServer.withServer(
            [], then: .respond(.json(Data(cut), headers: [("Content-Encoding", "gzip")]))
        ) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, .transport)
                #expect(error?.message?.contains("truncated") == true, "\(String(describing: error))")
                #expect(server.requests.count == Self.attempts)
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("a gzip bomb (50 KiB of gzip, 50 MiB of zeros) stops at the decompressed-size cap")
    func gzipBomb() async throws {
        let bomb = GzipBytes.zeroBomb(decompressedSize: 50 << 20)
        #expect(bomb.count < 60_000)
        try await FaultServer.withServer(
            [], then: .respond(.json(bomb, headers: [("Content-Encoding", "gzip")]))
        ) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, .responseTooLarge)
                #expect(server.requests.count == 1)
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("a 302 to another port is not followed, and the other server never sees the token")
    func redirectToAnotherPort() async throws {
        try await FaultServer.withServer([], then: .respond(.json(Self.page))) { other in
            let location = other.baseURL.appendingPathComponent("2/tweets/search/recent").absoluteString
            try await FaultServer.withServer([], then: .redirect(to: location)) { server in
                try await Self.withClient(server.baseURL) { client, logs in
                    let error = await Self.expectFailure(client, .redirectRefused)
                    #expect(server.requests.count == 1)
                    #expect(server.requests.first?.headers["authorization"] == "Bearer \(Self.token)")
                    #expect(other.requests.isEmpty)
                    #expect(other.acceptedConnections == 0)
                    Self.expectOneClearLine(error, logs: logs)
                }
            }
        }
    }

    @Test("a text/html 200 (a proxy's login page) is not a page")
    func htmlPage() async throws {
        let html = Data("<html><body>Please log in</body></html>".utf8)
        try await FaultServer.withServer(
            [], then: .respond(.init(status: 200, headers: [("Content-Type", "text/html")], body: html))
        ) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, .notAPage)
                #expect(server.requests.count == Self.attempts, "a proxy's page may give way to the API's")
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("invalid UTF-8 in a tweet's text refuses the page (undecodableBody), retried, nothing returned")
    func invalidUTF8() async throws {
        var body = Data(#"{"data":[{"id":"1900000000000000001","text":"caf"#.utf8)
        body.append(contentsOf: [0xC3, 0x28, 0xFF])
        body.append(Data(#" ok","author_id":"42"}],"meta":{"result_count":1}}"#.utf8))
        try await FaultServer.withServer([], then: .respond(.json(body))) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, .undecodableBody)
                #expect(server.requests.count == Self.attempts)
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("a next_token cycle A, B, A stops the walk with repeatedCursor after three requests")
    func tokenCycle() async throws {
        let tweets: [UInt64] = [1_900_000_000_000_000_003, 1_900_000_000_000_000_002, 1_900_000_000_000_000_001]
        let pages = zip(tweets, ["A", "B", "A"]).map { id, next in
            FaultServer.Fault.respond(.json(v2Page([(id: id, text: "t\(id)", refs: [])], next: next)))
        }
        try await FaultServer.withServer(pages, then: .respond(.json(Self.page))) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, .repeatedCursor)
                #expect(server.requests.count == 3)
                #expect(server.requests.map { $0.queryValue("next_token") } == [nil, "A", "B"])
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test(
        "tweet ids 2^63 and 2^64−1 refuse the page, naming the id",
        arguments: ["9223372036854775808", "18446744073709551615"])
    func outOfRangeID(_ id: String) async throws {
        let body = Data(
            #"{"data":[{"id":"1900000000000000001","text":"ok"},{"id":"\#(id)","text":"bad"}],"meta":{"result_count":2}}"#
                .utf8)
        try await FaultServer.withServer([], then: .respond(.json(body))) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, .invalidTweetID)
                #expect(error?.description.contains(id) == true, "\(String(describing: error))")
                #expect(server.requests.count == 1, "a well-formed page that breaks the API's contract is not retried")
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("an error body that echoes the Authorization header never carries the token on", arguments: [401, 400])
    func echoedAuthorization(_ status: Int) async throws {
        try await FaultServer.withServer({ request, _ in .echoingAuthorization(request, status: status) }) { server in
            try await Self.withClient(server.baseURL) { client, logs in
                let error = await Self.expectFailure(client, status == 401 ? .unauthorized : .badRequest)
                #expect(server.requests.first?.headers["authorization"] == "Bearer \(Self.token)")
                let text = "\(String(describing: error)) \(String(reflecting: error)) \(error?.bodyExcerpt ?? "")"
                #expect(!text.contains(Self.token), "the error carries the token: \(text)")
                #expect(!logs.text.contains(Self.token), "a log line carries the token")
                Self.expectOneClearLine(error, logs: logs)
            }
        }
    }

    @Test("the pages of one walk share one kept-alive connection")
    func keepAlive() async throws {
        let pages = (0..<5).map { index in
            FaultServer.Fault.respond(
                .json(
                    v2Page(
                        [(id: 1_900_000_000_000_000_100 - UInt64(index), text: "p\(index)", refs: [])],
                        next: index < 4 ? "t\(index)" : nil)))
        }
        try await FaultServer.withServer(pages) { server in
            try await Self.withClient(server.baseURL) { client, _ in
                let tweets = try await client.search(SearchQuery("q"))
                #expect(tweets.count == 5)
                #expect(server.requests.count == 5)
                #expect(server.acceptedConnections == 1)
            }
        }
    }

    // MARK: Helpers

    /// A search client on the real transport with short deadlines, an immediate clock (backoff costs nothing) and
    /// a log that keeps every line; the transport is shut down afterwards.
    static func withClient(
        _ base: URL, deadline: Duration = deadline,
        _ body: (SearchClient, CapturingLogHandler.Box) async throws -> Void
    ) async throws {
        let transport = FaultTransportFactory.make(deadline: deadline)
        let (logger, logs) = CapturingLogHandler.logger()
        var configuration = SearchClient.Configuration()
        configuration.baseURL = base
        configuration.requestTimeout = deadline
        configuration.policy.random = .fixed(0)
        do {
            let client = try SearchClient(
                credentials: .bearer(BearerCredentials(token: Secret(token))), configuration: configuration,
                transport: transport, clock: ImmediateClock(now: Date(timeIntervalSince1970: 1_800_000_000)),
                logger: logger)
            try await body(client, logs)
        } catch {
            try await FaultTransportFactory.shutdown(transport)
            throw error
        }
        try await FaultTransportFactory.shutdown(transport)
    }

    /// Searches and expects a ``SearchError`` with `code`; returns it.
    static func expectFailure(
        _ client: SearchClient, _ code: SearchError.Code, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> SearchError? {
        let error = await #expect(throws: SearchError.self, sourceLocation: sourceLocation) {
            try await client.search(SearchQuery("q"))
        }
        #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
        return error
    }

    /// The error's description is one line, names its code, carries no token, and repeats no part.
    static func expectOneClearLine(
        _ error: SearchError?, logs: CapturingLogHandler.Box, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error else { return }
        let line = error.description
        #expect(!line.contains("\n") && !line.contains("\r"), "\(line)", sourceLocation: sourceLocation)
        #expect(line.contains("\(error.code)"), "\(line)", sourceLocation: sourceLocation)
        #expect(line.count < 400, "\(line)", sourceLocation: sourceLocation)
        #expect(!line.contains(token) && !logs.text.contains(token), "\(line)", sourceLocation: sourceLocation)
        let parts = line.components(separatedBy: "; ")
        #expect(Set(parts).count == parts.count, "a part repeats: \(line)", sourceLocation: sourceLocation)
    }
}

/// The transport under test: `AsyncHTTPClientTransport` with its own client, all three deadlines set to `deadline`
/// and the default caps (8 MiB body, 8 MiB decompressed).
enum FaultTransportFactory {
    static func make(deadline: Duration) -> AsyncHTTPClientTransport {
        var configuration = AsyncHTTPClientTransport.Configuration()
        configuration.connectTimeout = deadline
        configuration.readTimeout = deadline
        configuration.requestTimeout = deadline
        return AsyncHTTPClientTransport(configuration: configuration)
    }

    static func shutdown(_ transport: AsyncHTTPClientTransport) async throws {
        try await transport.shutdown()
    }
}

/// The server itself, read by a raw socket client: each fault puts on the wire exactly what its name says.
@Suite("FaultServer on the wire")
struct FaultServerWireTests {
    static let body = Data(#"{"data":[]}"#.utf8)

    @Test("each fault's bytes, and how the connection ends")
    func faultBytes() async throws {
        let response = FaultServer.Response.json(Self.body)
        let faults: [FaultServer.Fault] = [
            .statusLineThenClose(), .headersThenClose(response), .closeMidBody(response, after: 4),
            .contentLengthLargerThanBody(response, extra: 5), .chunkedCutOff(response, after: 4), .reset,
            .redirect(to: "http://127.0.0.1:1/x"), .respond(response),
        ]
        try await FaultServer.withServer(faults) { server in
            var replies: [RawReply] = []
            for _ in faults { replies.append(await RawReply.get(port: server.port)) }
            #expect(replies[0].text == "HTTP/1.1 200 OK\r\n" && replies[0].ending == .closed)
            #expect(replies[1].text.hasSuffix("Content-Length: 11\r\n\r\n") && replies[1].ending == .closed)
            #expect(replies[2].text.hasSuffix("\r\n\r\n{\"da") && replies[2].ending == .closed)
            #expect(replies[3].text.contains("Content-Length: 16\r\n") && replies[3].text.hasSuffix("{\"data\":[]}"))
            #expect(
                replies[4].text.contains("Transfer-Encoding: chunked\r\n")
                    && replies[4].text.hasSuffix("4\r\n{\"da\r\n"))
            #expect(replies[5].ending == .reset && replies[5].text.isEmpty)
            #expect(replies[6].text.hasPrefix("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x\r\n"))
            #expect(replies[7].text.hasSuffix("\r\n\r\n{\"data\":[]}"))
            #expect(server.requests.count == faults.count && server.acceptedConnections == faults.count)
            #expect(server.requests.allSatisfy { $0.headers["authorization"] == "Bearer raw" })
        }
    }

    @Test("a stall holds the reply until the server stops, and says the request arrived")
    func stallUntilStopped() async throws {
        let server = try FaultServer([.stallBeforeHeaders])
        async let reply = RawReply.get(port: server.port)
        #expect(await server.waitForRequests(1))
        server.stop()
        let stalled = await reply
        #expect(stalled.text.isEmpty && stalled.ending == .closed)
        #expect(await server.waitForRequests(2) == false)
    }
}

/// One `GET` over a raw socket, read until the server closes or resets the connection (or 10 s pass: a safety
/// net, never expected); on a thread of its own, since it blocks.
struct RawReply: Sendable {
    enum Ending: Sendable { case closed, reset, other }
    var text: String
    var ending: Ending

    static func get(port: Int) async -> RawReply {
        await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(returning: exchange(port: port))
            }.start()
        }
    }

    private static func exchange(port: Int) -> RawReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return RawReply(text: "", ending: .other) }
        let request = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer raw\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                bytes += buffer[..<count]
                continue
            }
            let ending: Ending = count == 0 ? .closed : errno == ECONNRESET ? .reset : .other
            return RawReply(text: String(decoding: bytes, as: UTF8.self), ending: ending)
        }
    }
}
