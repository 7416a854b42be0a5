import Foundation
import HarvestClock
import HarvestTestServer
import HarvestTesting
import Synchronization
import Testing
import TwitterSearch

#if canImport(FoundationNetworking)
    import FoundationNetworking
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
        try await TestHTTPServer.withServer([
            .init("POST", "/echo") { request in
                .json(
                    request.body, status: 201,
                    headers: [("x-rate-limit-remaining", "3"), ("x-seen-ua", request.headers["user-agent"] ?? "")])
            }
        ]) { server in
            let transport = URLSessionTransport()
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            let body = Data(#"{"hello":"world"}"#.utf8)
            let response = try await transport.send(
                TransportRequest(
                    method: .post, url: server.baseURL.appendingPathComponent("echo"), headerFields: fields, body: body)
            )
            #expect(response.status.code == 201)
            #expect(response.body == body)
            #expect(response.headerFields[HTTPField.Name("x-rate-limit-remaining")!] == "3")
            #expect(
                response.headerFields[HTTPField.Name("x-seen-ua")!]
                    == "TweetHarvester/\(URLSessionTransport.libraryVersion)")
            #expect(server.requests.first?.headers["content-type"] == "application/json")
            // A 404 is a response, not an error.
            let missing = try await transport.send(
                TransportRequest(url: server.baseURL.appendingPathComponent("nowhere")))
            #expect(missing.status == .notFound)
        }
    }

    @Test("URLSessionTransport gives up after the request's time-out")
    func urlSessionTimesOut() async throws {
        let gate = Mutex(false)
        try await TestHTTPServer.withServer([
            .init("GET", "/slow") { _ in
                // Holds the answer until the client gave up (at most about a second of real time).
                for _ in 0..<100 where !gate.withLock({ $0 }) { usleep(10_000) }
                return .json("{}")
            }
        ]) { server in
            let transport = URLSessionTransport()
            await #expect(throws: (any Error).self) {
                try await transport.send(
                    TransportRequest(url: server.baseURL.appendingPathComponent("slow"), timeout: .milliseconds(50)))
            }
            gate.withLock { $0 = true }
        }
    }

    @Test("cancelling the calling task cancels the URLSession request at once")
    func urlSessionCancels() async throws {
        let gate = Mutex(false)
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
