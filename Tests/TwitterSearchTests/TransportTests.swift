import AsyncHTTPClient
import Foundation
import HarvestClock
import HarvestLocking
import HarvestTestServer
import HarvestTesting
import NIOCore
import NIOHTTP1
import OAuthSigning
import Testing

@testable import TwitterSearch

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Transports")
struct TransportTests {
    private static let url = URL(string: "https://api.twitter.com/2/tweets/search/recent?query=x")!

    @Test("MockTransport answers in script order and records every request")
    func mockAnswersInOrder() async throws {
        let transport = MockTransport([.status(503), .json(#"{"a":1}"#), .connectionReset])
        let first = try await transport.send(TransportRequest(url: Self.url))
        let second = try await transport.send(TransportRequest(method: .post, url: Self.url, body: Data("b".utf8)))
        #expect(first.status.code == 503)
        #expect(second.status == .ok)
        #expect(second.headerFields[.contentType] == "application/json")
        #expect(String(decoding: second.body, as: UTF8.self) == #"{"a":1}"#)
        await #expect(throws: MockTransportError.self) { try await transport.send(TransportRequest(url: Self.url)) }
        await #expect(throws: MockTransportError.self) { try await transport.send(TransportRequest(url: Self.url)) }
        #expect(transport.requests.map(\.method) == [.get, .post, .get, .get])
        #expect(transport.requests[1].body == Data("b".utf8))
    }

    @Test("ReplayTransport serves recorded files in order, then fails or loops")
    func replayServesFilesInOrder() async throws {
        let files = [
            Fixture.directory.appendingPathComponent("v2_search_recent_q_Tweepy.json"),
            Fixture.directory.appendingPathComponent("v1.1_search_tweets_q_tweepy.json"),
        ]
        let replay = try ReplayTransport(files: files, headers: ["x-rate-limit-remaining": "7"])
        let first = try await replay.send(TransportRequest(url: Self.url))
        let second = try await replay.send(TransportRequest(url: Self.url))
        #expect(first.body == (try Fixture.v2Minimal))
        #expect(second.body == (try Fixture.v1))
        #expect(first.headerFields[HTTPField.Name("x-rate-limit-remaining")!] == "7")
        await #expect(throws: MockTransportError.self) { try await replay.send(TransportRequest(url: Self.url)) }
        let looping = try ReplayTransport(directory: Fixture.directory, loops: true)
        var bodies: [Data] = []
        for _ in 0..<4 { bodies.append(try await looping.send(TransportRequest(url: Self.url)).body) }
        #expect(bodies[3] == bodies[0])
        #expect(bodies[0] == (try Fixture.v1))  // file-name order: v1.1… before v2…
    }

    @Test("FaultTransport injects each fault at its chosen index and passes the rest through")
    func faultsAtChosenIndexes() async throws {
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_700_000_000))
        let inner = MockTransport(Array(repeating: .json(#"{"data":[{"id":"1","text":"hello"}]}"#), count: 4))
        let faulty = FaultTransport(
            wrapping: inner,
            faults: [
                0: .timeout, 1: .connectionReset, 2: .rateLimited(resetAfter: .seconds(60)), 3: .serverError(503),
                4: .truncatedBody, 5: .malformedBody,
            ],
            clock: clock)
        await #expect(throws: URLError.self) { try await faulty.send(TransportRequest(url: Self.url)) }
        await #expect(throws: URLError.self) { try await faulty.send(TransportRequest(url: Self.url)) }
        let limited = try await faulty.send(TransportRequest(url: Self.url))
        #expect(limited.status.code == 429)
        #expect(limited.headerFields[HTTPField.Name("x-rate-limit-reset")!] == "1700000060")
        #expect(try await faulty.send(TransportRequest(url: Self.url)).status.code == 503)
        let truncated = try await faulty.send(TransportRequest(url: Self.url))
        #expect(truncated.body.count == #"{"data":[{"id":"1","text":"hello"}]}"#.utf8.count / 2)
        let malformed = try await faulty.send(TransportRequest(url: Self.url))
        #expect(throws: SearchError.self) { try SearchResponse(decoding: malformed.body, api: .v2) }
        #expect(try await faulty.send(TransportRequest(url: Self.url)).status == .ok)
        #expect(inner.requests.count == 2)  // the truncated one and the last; the others never reached it
        #expect(faulty.injected.map(\.index) == [0, 1, 2, 3, 4, 5])
    }

    @Test("FaultTransport with a seed injects the same faults at the same requests")
    func seededFaultsRepeat() async throws {
        func run() async -> [Int] {
            let faulty = FaultTransport(
                wrapping: MockTransport(Array(repeating: .status(200), count: 100)), seed: 42, probability: 0.3,
                choices: [.serverError(500), .serverError(503)])
            for _ in 0..<100 { _ = try? await faulty.send(TransportRequest(url: Self.url)) }
            return faulty.injected.map(\.index)
        }
        let first = await run()
        #expect(first == (await run()))
        #expect((15...45).contains(first.count))
    }

    @Test("URLSessionTransport sends method, headers, body and User-Agent, and returns status, headers, body")
    func urlSessionRoundTrip() async throws {
        _ = try await echoRoundTrip(URLSessionTransport())
    }

    @Test("URLSessionTransport gives up after the request's time-out with a timedOut SearchError")
    func urlSessionTimesOut() async throws {
        let error = try await heldReplyError(URLSessionTransport(), timeout: .milliseconds(50))
        #expect(error?.code == .timedOut)
        #expect(error?.message == "no response within 50 ms")
    }

    @Test("cancelling the calling task cancels the URLSession request at once")
    func urlSessionCancels() async throws {
        let gate = Locked(false)
        let (arrived, arrival) = AsyncStream<Void>.makeStream()
        try await TestHTTPServer.withServer([
            .init("GET", "/hang") { _ in
                arrival.yield()
                // Hold the response for up to 30 s (released as soon as the test has its result), so that on
                // a loaded machine a slow cancellation still cannot lose the race to a complete response.
                for _ in 0..<3000 where !gate.withLock({ $0 }) { usleep(10_000) }
                return .json("{}")
            }
        ]) { server in
            let transport = URLSessionTransport()
            let task = Task {
                try await transport.send(TransportRequest(url: server.baseURL.appendingPathComponent("hang")))
            }
            // Wait until the server has the request (signalled by its handler), then cancel.
            var iterator = arrived.makeAsyncIterator()
            _ = await iterator.next()
            task.cancel()
            let result = await task.result
            gate.withLock { $0 = true }
            #expect(throws: CancellationError.self) { try result.get() }
        }
    }
}

/// Sends a `POST` with headers and a body through `transport` to an echo server, then one with its own
/// `User-Agent`, then a `GET` of a missing path, checking what comes back; returns what the server received.
func echoRoundTrip(_ transport: some HTTPTransport) async throws -> [TestHTTPServer.Request] {
    try await TestHTTPServer.withServer([
        .init("POST", "/echo") { request in
            .json(
                request.body, status: 201,
                headers: [("x-rate-limit-remaining", "3"), ("x-seen-ua", request.headers["user-agent"] ?? "")])
        }
    ]) { server in
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.authorization] = "Bearer round-trip"
        let body = Data(#"{"hello":"world"}"#.utf8)
        let echo = server.baseURL.appendingPathComponent("echo")
        let response = try await transport.send(
            TransportRequest(method: .post, url: echo, headerFields: fields, body: body))
        #expect(response.status.code == 201)
        #expect(response.body == body)
        #expect(response.headerFields[HTTPField.Name("x-rate-limit-remaining")!] == "3")
        #expect(
            response.headerFields[HTTPField.Name("x-seen-ua")!]
                == "TweetHarvester/\(URLSessionTransport.libraryVersion)")
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.headers["content-type"] == "application/json")
        #expect(seen.headers["authorization"] == "Bearer round-trip")

        // A User-Agent the request sets is kept.
        var own = HTTPFields()
        own[.userAgent] = "MyApp/2"
        let second = try await transport.send(TransportRequest(method: .post, url: echo, headerFields: own, body: body))
        #expect(second.headerFields[HTTPField.Name("x-seen-ua")!] == "MyApp/2")
        // A 404 is a response, not an error.
        let missing = try await transport.send(TransportRequest(url: server.baseURL.appendingPathComponent("nowhere")))
        #expect(missing.status == .notFound)
        return server.requests
    }
}

/// The error `transport` throws for a request with `timeout` to a server that holds its reply until the
/// test has that error: the deadline is the only way out, whatever the machine's load.
func heldReplyError(_ transport: some HTTPTransport, timeout: Duration) async throws -> SearchError? {
    let gate = Gate()
    return try await TestHTTPServer.withServer([
        .init("GET", "/hold") { _ in
            gate.wait()
            return .json("{}")
        }
    ]) { server in
        defer { gate.open() }
        return await #expect(throws: SearchError.self) {
            try await transport.send(
                TransportRequest(url: server.baseURL.appendingPathComponent("hold"), timeout: timeout))
        }
    }
}

/// A latch a server handler waits on (on the server's own thread, never the cooperative pool) until the test
/// opens it; it gives up after a minute so that a failing test still ends.
final class Gate: Sendable {
    private let isOpen = Locked(false)

    func open() { isOpen.withLock { $0 = true } }

    func wait() {
        for _ in 0..<6000 where !isOpen.withLock({ $0 }) { usleep(10_000) }
    }
}

@Suite("AsyncHTTPClientTransport")
struct AsyncHTTPClientTransportTests {
    /// `{"data":[{"id":"1","text":"gzip ok"}],"meta":{"result_count":1}}`, gzip-compressed (Python's `gzip`).
    private static let gzippedPage = Data(
        base64Encoded:
            "H4sIAAAAAAACA6tWSkksSVSyiq5WykxRslIyVNJRKkmtKAEy06syCxTys5VqY3WUclNBiqqVilKLS3NK4pPzS/OASgxrawHZlo95QAAAAA=="
    )!
    /// 1 MiB of zeros in 1,051 bytes of gzip (Python's `gzip.compress(b"\0" * 2**20, mtime=0)`): a small bomb.
    private static let gzipBomb = Data(
        base64Encoded: "H4sIAAAAAAACA+3BMQEAAADCoPVPbQhfoA" + String(repeating: "A", count: 1354) + "PgMc6jinAAAQAA==")!

    /// Runs `body` with a transport that owns its client, and shuts that client down afterwards.
    private func withTransport<T>(
        _ configure: (inout AsyncHTTPClientTransport.Configuration) -> Void = { _ in },
        _ body: (AsyncHTTPClientTransport) async throws -> T
    ) async throws -> T {
        var configuration = AsyncHTTPClientTransport.Configuration()
        configure(&configuration)
        let transport = AsyncHTTPClientTransport(configuration: configuration)
        do {
            let result = try await body(transport)
            try await transport.shutdown()
            return result
        } catch {
            try await transport.shutdown()
            throw error
        }
    }

    @Test("sends method, headers, body, User-Agent and Accept-Encoding; returns status, headers, body")
    func roundTrip() async throws {
        let seen = try await echoRoundTrip(AsyncHTTPClientTransport.shared)
        #expect(seen.first?.headers["accept-encoding"]?.contains("gzip") == true)
    }

    @Test("every status is a response, not an error", arguments: [200, 204, 304, 400, 401, 404, 429, 500, 503, 599])
    func anyStatusPassesThrough(status: Int) async throws {
        try await TestHTTPServer.withServer([
            .init("GET", "/status") { _ in
                status == 204 || status == 304
                    ? .init(status: status) : .json(#"{"status":\#(status)}"#, status: status)
            }
        ]) { server in
            let response = try await AsyncHTTPClientTransport.shared.send(
                TransportRequest(url: server.baseURL.appendingPathComponent("status")))
            #expect(response.status.code == status)
            if status != 204, status != 304 {
                #expect(String(decoding: response.body, as: UTF8.self) == #"{"status":\#(status)}"#)
            }
        }
    }

    @Test("a gzip body comes back decompressed, without its Content-Encoding")
    func gzipDecompressed() async throws {
        try await TestHTTPServer.withServer([
            .init("GET", "/gzip") { _ in
                .init(
                    status: 200, headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                    body: Self.gzippedPage)
            }
        ]) { server in
            let response = try await AsyncHTTPClientTransport.shared.send(
                TransportRequest(url: server.baseURL.appendingPathComponent("gzip")))
            #expect(
                String(decoding: response.body, as: UTF8.self)
                    == #"{"data":[{"id":"1","text":"gzip ok"}],"meta":{"result_count":1}}"#)
            #expect(response.headerFields[.contentEncoding] == nil)
            #expect(try SearchResponse(decoding: response.body, api: .v2).tweets.map(\.text) == ["gzip ok"])
        }
    }

    @Test("a body over maxBodySize, or a gzip body inflating past maxDecompressedSize, is responseTooLarge")
    func bodyCaps() async throws {
        try await TestHTTPServer.withServer([
            .init("GET", "/big") { _ in .json(Data(repeating: UInt8(ascii: " "), count: 64 * 1024)) },
            .init("GET", "/bomb") { _ in
                .init(status: 200, headers: [("Content-Encoding", "gzip")], body: Self.gzipBomb)
            },
        ]) { server in
            try await withTransport({
                $0.maxBodySize = 16 * 1024
                $0.maxDecompressedSize = 64 * 1024
            }) { transport in
                let big = await #expect(throws: SearchError.self) {
                    try await transport.send(TransportRequest(url: server.baseURL.appendingPathComponent("big")))
                }
                #expect(big?.code == .responseTooLarge)
                #expect(big?.message == "response body larger than 16 KiB")
                let bomb = await #expect(throws: SearchError.self) {
                    try await transport.send(TransportRequest(url: server.baseURL.appendingPathComponent("bomb")))
                }
                #expect(bomb?.code == .responseTooLarge)
                #expect(bomb?.message == "decompressed body larger than 64 KiB")
            }
        }
    }

    @Test("same-origin redirects are followed up to the limit; the last 3xx beyond it is returned")
    func sameOriginRedirects() async throws {
        let port = Locked(0)
        try await TestHTTPServer.withServer([
            .init("GET", "/start") { _ in .init(status: 302, headers: [("Location", "/middle?step=2")]) },
            .init("GET", "/middle") { _ in
                .init(status: 307, headers: [("Location", "http://127.0.0.1:\(port.withLock { $0 })/end")])
            },
            .init("GET", "/end") { _ in .json(#"{"arrived":true}"#) },
            .init("GET", "/loop") { _ in .init(status: 302, headers: [("Location", "/loop")]) },
        ]) { server in
            port.withLock { $0 = server.port }
            var fields = HTTPFields()
            fields[.authorization] = "Bearer same-origin"
            let response = try await AsyncHTTPClientTransport.shared.send(
                TransportRequest(url: server.baseURL.appendingPathComponent("start"), headerFields: fields))
            #expect(response.status == .ok)
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"arrived":true}"#)
            #expect(server.requests.map(\.target) == ["/start", "/middle?step=2", "/end"])
            #expect(server.requests.allSatisfy { $0.headers["authorization"] == "Bearer same-origin" })

            let looping = try await AsyncHTTPClientTransport.shared.send(
                TransportRequest(url: server.baseURL.appendingPathComponent("loop")))
            #expect(looping.status.code == 302)
            // The first request and three redirects (the default limit); the fourth redirect is not followed.
            #expect(server.requests.filter { $0.path == "/loop" }.count == 4)
        }
    }

    @Test("a redirect to another port or host is returned unfollowed; the credentials never reach it")
    func crossOriginRedirectRefused() async throws {
        try await TestHTTPServer.withServer([.init("GET", "/steal") { _ in .json("{}") }]) { other in
            try await TestHTTPServer.withServer([
                .init("GET", "/port") { _ in
                    .init(status: 302, headers: [("Location", "http://127.0.0.1:\(other.port)/steal")])
                },
                .init("GET", "/host") { request in
                    let port = request.headers["host"]?.split(separator: ":").last ?? ""
                    return .init(status: 301, headers: [("Location", "http://localhost:\(port)/steal")])
                },
                .init("GET", "/steal") { _ in .json("{}") },
            ]) { server in
                var fields = HTTPFields()
                fields[.authorization] = "Bearer must-not-leave"
                for path in ["port", "host"] {
                    let response = try await AsyncHTTPClientTransport.shared.send(
                        TransportRequest(url: server.baseURL.appendingPathComponent(path), headerFields: fields))
                    #expect(response.status.code == (path == "port" ? 302 : 301))
                    #expect(response.headerFields[.location]?.hasSuffix("/steal") == true)
                }
                #expect(other.requests.isEmpty)
                #expect(server.requests.map(\.path) == ["/port", "/host"])
            }
        }
    }

    @Test("a reply held past the request's deadline ends with timedOut")
    func deadline() async throws {
        let error = try await heldReplyError(AsyncHTTPClientTransport.shared, timeout: .milliseconds(100))
        #expect(error?.code == .timedOut)
        #expect(error?.message == "no response within 100 ms")
    }

    @Test("cancelling the calling task stops the request with CancellationError")
    func cancels() async throws {
        let gate = Gate()
        let (arrived, arrival) = AsyncStream<Void>.makeStream()
        try await TestHTTPServer.withServer([
            .init("GET", "/hang") { _ in
                arrival.yield()
                gate.wait()
                return .json("{}")
            }
        ]) { server in
            defer { gate.open() }
            let task = Task {
                try await AsyncHTTPClientTransport.shared.send(
                    TransportRequest(url: server.baseURL.appendingPathComponent("hang")))
            }
            var iterator = arrived.makeAsyncIterator()
            _ = await iterator.next()
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
        }
    }

    @Test("a refused connection is one readable transport error")
    func connectionRefused() async throws {
        // A socket bound to a port but not listening: connecting to it is refused at once.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let error = await #expect(throws: SearchError.self) {
            try await AsyncHTTPClientTransport.shared.send(
                TransportRequest(url: URL(string: "http://127.0.0.1:\(port)/")!))
        }
        #expect(error?.code == .transport)
        #expect(error?.message == "connection refused by 127.0.0.1:\(port)")
    }

    @Test("network errors become one line with the host and no dump")
    func errorLines() {
        let url = URL(string: "https://api.twitter.com/2/tweets/search/recent?query=x")!
        let configuration = AsyncHTTPClientTransport.Configuration()
        func line(_ error: any Error) -> String {
            let failure = AsyncHTTPClientTransport.searchError(
                for: error, url: url, limit: .seconds(30), configuration: configuration)
            return "\(failure.code): \(failure.message ?? "")"
        }
        #expect(
            line(IOError(errnoCode: ECONNRESET, reason: "read")) == "transport: connection reset by api.twitter.com:443"
        )
        #expect(
            line(IOError(errnoCode: ECONNREFUSED, reason: "connect"))
                == "transport: connection refused by api.twitter.com:443")
        #expect(
            line(HTTPParserError.invalidEOFState)
                == "transport: the server closed the connection before the response was complete")
        #expect(
            line(HTTPClientError.remoteConnectionClosed)
                == "transport: the server closed the connection before the response was complete")
        #expect(line(HTTPClientError.readTimeout) == "timedOut: no data from api.twitter.com:443 for 30 s")
        #expect(line(HTTPClientError.deadlineExceeded) == "timedOut: no response within 30 s")
        #expect(
            line(HTTPClientError.connectTimeout) == "timedOut: could not connect to api.twitter.com:443 within 10 s")
        #expect(
            line(NIOTooManyBytesError(maxBytes: 8 * 1024 * 1024)) == "responseTooLarge: response body larger than 8 MiB"
        )
        // URLSessionTransport's URLErrors read the same way.
        let dns = SearchError(urlError: URLError(.cannotFindHost), url: url, limit: .seconds(30))
        #expect(dns.description == "search API: transport; could not resolve host api.twitter.com")
        let timeout = SearchError(urlError: URLError(.timedOut), url: url, limit: .seconds(30))
        #expect(timeout.description == "search API: timedOut; no response within 30 s")
    }

    @Test("a 50-page walk and a second run reuse one kept-alive connection")
    func keepAlive() async throws {
        let pages = 50
        // The server keeps a silent connection open for 120 s (the shared client's own idle limit is 60 s): however
        // slowly a loaded machine runs the walk, a second connection means the client did not reuse the first.
        try await TestHTTPServer.withServer(
            [
                .init("GET", "/2/tweets/search/recent") { request in
                    let index = request.queryValue("next_token").flatMap { Int($0.dropFirst()) } ?? 0
                    let id = UInt64(100_000 - index)
                    return .json(v2Page([(id, "tweet \(id)", [])], next: index + 1 < pages ? "p\(index + 1)" : nil))
                }
            ], connectionIdleLimit: 120
        ) { server in
            var configuration = SearchClient.Configuration()
            configuration.baseURL = server.baseURL
            let clock = ImmediateClock(now: Date(timeIntervalSince1970: 1_700_000_000))
            let credentials = SearchCredentials.bearer(BearerCredentials(token: Secret("keep-alive")))
            // The default transport: AsyncHTTPClientTransport.shared.
            let client = try SearchClient(credentials: credentials, configuration: configuration, clock: clock)
            var walked = 0
            for try await _ in client.pages(SearchQuery("#mobileservices")) { walked += 1 }
            #expect(walked == pages)
            #expect(server.requests.count == pages)
            let afterWalk = server.acceptedConnections
            // A second run (a new client, as the harvester makes for each run) on the same shared transport.
            let again = try SearchClient(credentials: credentials, configuration: configuration, clock: clock)
            for try await _ in again.pages(SearchQuery("#mobileservices")) {}
            #expect(server.requests.count == 2 * pages)
            #expect(afterWalk == 1)
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test(
        "a kept-alive connection the server closed as the next GET went out: sent once more on a new connection")
    func stalePooledConnection() async throws {
        let page = FaultServer.Response.json(#"{"ok":1}"#)
        // Request 0 is answered on a kept-alive connection; request 1, on that connection, meets the server closing
        // it (as its idle timeout would) and is sent again, as request 2, on a second connection.
        try await FaultServer.withServer([.respond(page), .closeWithoutReply], then: .respond(page)) { server in
            try await withTransport { transport in
                let url = server.baseURL.appendingPathComponent("page")
                let first = try await transport.send(TransportRequest(url: url))
                let second = try await transport.send(TransportRequest(url: url))
                #expect(first.status == .ok)
                #expect(second.status == .ok)
                #expect(server.requests.count == 3)
                #expect(server.acceptedConnections == 2)
            }
        }
        // Once only: a second close in a row is the request's error.
        try await FaultServer.withServer(
            [.respond(page), .closeWithoutReply, .closeWithoutReply], then: .respond(page)
        ) { server in
            try await withTransport { transport in
                let url = server.baseURL.appendingPathComponent("page")
                _ = try await transport.send(TransportRequest(url: url))
                let error = await #expect(throws: SearchError.self) {
                    try await transport.send(TransportRequest(url: url))
                }
                #expect(error?.code == .transport)
                #expect(server.requests.count == 3)
            }
        }
        // Not for a server that never answered (no connection of it can be a pooled one), nor for a POST.
        try await FaultServer.withServer([.respond(page), .closeWithoutReply], then: .respond(page)) { server in
            try await withTransport { transport in
                let url = server.baseURL.appendingPathComponent("page")
                _ = try await transport.send(TransportRequest(url: url))
                var post = TransportRequest(url: url)
                post.method = .post
                post.body = Data("x".utf8)
                await #expect(throws: SearchError.self) { try await transport.send(post) }
                #expect(server.requests.count == 2)
            }
        }
        try await FaultServer.withServer([.closeWithoutReply], then: .respond(page)) { server in
            try await withTransport { transport in
                let url = server.baseURL.appendingPathComponent("page")
                let error = await #expect(throws: SearchError.self) {
                    try await transport.send(TransportRequest(url: url))
                }
                #expect(error?.message == "the server closed the connection before the response was complete")
                #expect(server.requests.count == 1)
            }
        }
    }

    @Test("an owning transport shuts its client down once; later requests fail; one released unshut does not crash")
    func ownedLifecycle() async throws {
        try await TestHTTPServer.withServer([.init("GET", "/ok") { _ in .json("{}") }]) { server in
            let url = server.baseURL.appendingPathComponent("ok")
            let transport = AsyncHTTPClientTransport(configuration: .init())
            #expect(try await transport.send(TransportRequest(url: url)).status == .ok)
            try await transport.shutdown()
            try await transport.shutdown()  // a second call is harmless
            let error = await #expect(throws: SearchError.self) { try await transport.send(TransportRequest(url: url)) }
            #expect(error?.code == .transport)
            #expect(error?.message == "the transport's HTTP client was already shut down")

            // Released without shutdown(): its deinit starts the shutdown, so AsyncHTTPClient's debug-build check
            // (a client released while running stops the process) never fires.
            var forgotten: AsyncHTTPClientTransport? = AsyncHTTPClientTransport(configuration: .init())
            #expect(try await forgotten?.send(TransportRequest(url: url)).status == .ok)
            forgotten = nil
            #expect(forgotten == nil)
        }
    }

    @Test("a transport on a client of your own sends through it; you shut the client down")
    func ownClient() async throws {
        let client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: AsyncHTTPClientTransport.Configuration().httpClientConfiguration)
        do {
            try await TestHTTPServer.withServer([.init("GET", "/ok") { _ in .json(#"{"ok":1}"#) }]) { server in
                let transport = AsyncHTTPClientTransport(client: client)
                let response = try await transport.send(
                    TransportRequest(url: server.baseURL.appendingPathComponent("ok")))
                #expect(response.body == Data(#"{"ok":1}"#.utf8))
                try await transport.shutdown()  // does nothing: the client is the caller's
                #expect(
                    try await transport.send(TransportRequest(url: server.baseURL.appendingPathComponent("ok"))).status
                        == .ok)
            }
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
