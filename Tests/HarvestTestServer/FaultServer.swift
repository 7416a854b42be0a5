import Foundation
import HarvestLocking

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A hostile HTTP/1.1 server on 127.0.0.1 for tests: each request gets one scripted ``Fault`` (a reply cut
/// after its status line, an endless body, a stall, a reset, a redirect …), and every request it received is
/// kept, header fields and all, so a test can check where a credential went.
///
/// Nothing in it depends on timing. A stall holds its reply until the client gives up (closes the connection)
/// or the server stops, and ``waitForRequests(_:)`` lets the test await the moment a request arrived. The server
/// listens on an ephemeral port, stops when ``withServer(idleLimit:_:body:)`` returns, and stops by itself after
/// ``idleLimit`` without a new connection or request, so a test never hangs on it.
///
/// ```swift
/// try await FaultServer.withServer({ _, index in index == 0 ? .statusLineThenClose() : .respond(.json(page)) }) {
///     server in
///     let url = server.baseURL.appendingPathComponent("2/tweets/search/recent")
///     …
///     #expect(server.requests.count == 2)
/// }
/// ```
public final class FaultServer: Sendable {
    /// One request as received (its body too, when it had a `Content-Length`).
    public typealias Request = TestHTTPServer.Request
    /// A complete response, as ``TestHTTPServer`` sends it.
    public typealias Response = TestHTTPServer.Response

    /// What the server does with one request.
    public enum Fault: Sendable {
        /// A complete, well-formed response with a `Content-Length`; the connection stays open for the next request.
        case respond(Response)
        /// Only the status line (`HTTP/1.1 200 OK`), then the connection closes.
        case statusLineThenClose(status: Int = 200)
        /// The status line and the header fields (with the body's `Content-Length`), then the connection closes.
        case headersThenClose(Response)
        /// The head and the first `after` bytes of the body (with the full `Content-Length`), then the connection
        /// closes.
        case closeMidBody(Response, after: Int)
        /// The whole body under a `Content-Length` `extra` bytes larger than it, then the connection closes.
        case contentLengthLargerThanBody(Response, extra: Int)
        /// The body sent chunked, cut after `after` bytes: no last chunk, the connection closes.
        case chunkedCutOff(Response, after: Int)
        /// A chunked body that never ends: `prefix`, then `repeating` again and again until the client closes the
        /// connection or the server stops. The response's own body is not sent.
        case endlessChunked(Response, prefix: Data, repeating: Data)
        /// The body under a `Content-Length` of `declaredLength` (such as 500 MB); then the connection is held
        /// open, sending nothing more, until the client closes it or the server stops.
        case hugeContentLength(Response, declaredLength: Int)
        /// Nothing at all: the request is read and the connection held until the client closes it or the server
        /// stops.
        case stallBeforeHeaders
        /// The head and the first `after` bytes of the body, then nothing until the client closes the connection
        /// or the server stops.
        case stallMidBody(Response, after: Int)
        /// The connection is reset (`SO_LINGER` 0, then `close`: the client gets a TCP RST).
        case reset
        /// The request is read and the connection closed with nothing sent: what a client meets when the server
        /// closes a kept-alive connection (its idle timeout) just as the client sends the next request on it.
        case closeWithoutReply
        /// A redirect (`302` by default) to `location`, with an empty body; the connection closes.
        case redirect(to: String, status: Int = 302)
        /// The whole response, head and body, one byte at a time with `every` between two bytes, until it is
        /// sent, the client closes the connection or the server stops.
        case drip(Response, every: Duration)
    }

    private struct Waiter {
        var count: Int
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var stopped = false
        var stopReason: String?
        var connections: Set<Int32> = []
        var acceptedConnections = 0
        var requests: [Request] = []
        var waiters: [Waiter] = []
        var lastActivity = ContinuousClock.now
    }

    /// How long the server waits without a new connection or request before it stops by itself, in seconds.
    public let idleLimit: TimeInterval
    /// The port the server listens on.
    public let port: Int
    private let listener: Int32
    /// A pipe written once by `stop`: every thread polls its read end beside its socket.
    private let stopPipe: (read: Int32, write: Int32)
    private let script: @Sendable (Request, Int) -> Fault
    private let state = Locked(State())

    /// Starts a server; prefer ``withServer(idleLimit:_:body:)``.
    ///
    /// - Parameters:
    ///   - idleLimit: Seconds without a new connection or request after which the server stops. The default is 60.
    ///   - script: The fault for each request, given the request and its index among all requests (from 0).
    public init(idleLimit: TimeInterval = 60, _ script: @escaping @Sendable (Request, Int) -> Fault) throws {
        self.idleLimit = idleLimit
        self.script = script
        var fds: [Int32] = [0, 0]
        guard TestHTTPServer.pipeCloseOnExec(&fds) == 0 else {
            throw TestHTTPServer.StartError(description: "pipe: errno \(errno)")
        }
        stopPipe = (fds[0], fds[1])
        do {
            (listener, port) = try TestHTTPServer.bindLoopback(listening: true)
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Starts a server that answers request `n` with `faults[n]`, and every request after the last with `then`.
    ///
    /// - Parameters:
    ///   - faults: The faults, in order of arrival of the requests.
    ///   - then: The fault for every later request. The default is a `404`.
    ///   - idleLimit: Seconds without a new connection or request after which the server stops. The default is 60.
    public convenience init(
        _ faults: [Fault], then: Fault = .respond(Response(status: 404)), idleLimit: TimeInterval = 60
    ) throws {
        try self.init(idleLimit: idleLimit) { _, index in index < faults.count ? faults[index] : then }
    }

    deinit {
        close(stopPipe.read)
        close(stopPipe.write)
    }

    /// Runs `body` with a started server and stops the server when `body` returns or throws.
    ///
    /// - Parameters:
    ///   - idleLimit: Seconds without a new connection or request after which the server stops anyway. The default
    ///     is 60.
    ///   - script: The fault for each request, given the request and its index among all requests (from 0).
    ///   - body: The test, given the server.
    public static func withServer<T>(
        idleLimit: TimeInterval = 60, _ script: @escaping @Sendable (Request, Int) -> Fault,
        body: (FaultServer) async throws -> T
    ) async throws -> T {
        let server = try FaultServer(idleLimit: idleLimit, script)
        defer { server.stop() }
        return try await body(server)
    }

    /// Runs `body` with a server that answers request `n` with `faults[n]` and every later one with `then`, and
    /// stops the server when `body` returns or throws.
    public static func withServer<T>(
        _ faults: [Fault], then: Fault = .respond(Response(status: 404)), idleLimit: TimeInterval = 60,
        body: (FaultServer) async throws -> T
    ) async throws -> T {
        let server = try FaultServer(faults, then: then, idleLimit: idleLimit)
        defer { server.stop() }
        return try await body(server)
    }

    /// A port on 127.0.0.1 with no listener: connecting to it is refused.
    ///
    /// The port was bound and released again, so it is free; another process could take it in between, which
    /// a test on a quiet loopback interface does not meet in practice.
    public static func unusedPort() throws -> Int {
        let (socket, port) = try TestHTTPServer.bindLoopback(listening: false)
        close(socket)
        return port
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: URL {
        URL(string: "http://127.0.0.1:\(port)")!
    }

    /// Every request received so far, in order of arrival.
    public var requests: [Request] {
        state.withLock { $0.requests }
    }

    /// How many connections the server has accepted.
    public var acceptedConnections: Int {
        state.withLock { $0.acceptedConnections }
    }

    /// Why the server stopped (`nil` while it runs): `stop()`, or the idle limit.
    public var stopReason: String? {
        state.withLock { $0.stopReason }
    }

    /// Returns once at least `count` requests have arrived (`true`), or once the server has stopped with fewer
    /// (`false`, so a test cannot wait for ever: the idle limit stops the server).
    public func waitForRequests(_ count: Int) async -> Bool {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool? in
                if state.requests.count >= count { return true }
                if state.stopped { return false }
                state.waiters.append(Waiter(count: count, continuation: continuation))
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stops accepting, ends every held reply and closes every connection. Safe to call more than once.
    public func stop() {
        stop(because: "stop() called")
    }

    private func stop(because reason: String) {
        let stopping = state.withLock { state -> (connections: Set<Int32>, waiters: [Waiter], count: Int)? in
            guard !state.stopped else { return nil }
            state.stopped = true
            state.stopReason = reason
            defer { state.waiters = [] }
            return (state.connections, state.waiters, state.requests.count)
        }
        guard let (connections, waiters, count) = stopping else { return }
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
        for waiter in waiters { waiter.continuation.resume(returning: count >= waiter.count) }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    // MARK: Connections

    private func acceptLoop() {
        defer { close(listener) }
        while !isStopped {
            var pollers = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&pollers, 2, 100)
            if pollers[1].revents != 0 { break }
            if ready <= 0 || pollers[0].revents & Int16(POLLIN) == 0 {
                let idle = state.withLock { ContinuousClock.now - $0.lastActivity }
                if idle > .seconds(idleLimit) { stop(because: "idle for more than \(idleLimit) s") }
                continue
            }
            let connection = TestHTTPServer.acceptCloseOnExec(listener)
            guard connection >= 0 else { continue }
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections.insert(connection)
                state.acceptedConnections += 1
                state.lastActivity = ContinuousClock.now
                return true
            }
            guard accepted else {
                close(connection)
                break
            }
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        var closed = false
        defer {
            state.withLock { _ = $0.connections.remove(connection) }
            if !closed { close(connection) }
        }
        var buffer: [UInt8] = []
        while let request = readRequest(connection, &buffer) {
            let (index, waiters) = state.withLock { state -> (Int, [Waiter]) in
                state.requests.append(request)
                state.lastActivity = ContinuousClock.now
                let count = state.requests.count
                let due = state.waiters.filter { $0.count <= count }
                state.waiters.removeAll { $0.count <= count }
                return (count - 1, due)
            }
            for waiter in waiters { waiter.continuation.resume(returning: true) }
            switch perform(script(request, index), on: connection) {
            case .keepAlive where request.headers["connection"]?.lowercased() != "close": continue
            case .keepAlive, .close: return
            case .closed:
                closed = true
                return
            }
        }
    }

    private enum Ending {
        case keepAlive, close, closed
    }

    private func perform(_ fault: Fault, on connection: Int32) -> Ending {
        switch fault {
        case .respond(let response):
            return transmit(head(response, length: response.body.count) + response.body, on: connection)
                ? .keepAlive : .close
        case .statusLineThenClose(let status):
            _ = transmit(Data("HTTP/1.1 \(status) \(TestHTTPServer.reason(status))\r\n".utf8), on: connection)
        case .headersThenClose(let response):
            _ = transmit(head(response, length: response.body.count), on: connection)
        case .closeMidBody(let response, let after):
            _ = transmit(head(response, length: response.body.count) + response.body.prefix(after), on: connection)
        case .contentLengthLargerThanBody(let response, let extra):
            _ = transmit(head(response, length: response.body.count + extra) + response.body, on: connection)
        case .chunkedCutOff(let response, let after):
            let cut = response.body.prefix(after)
            _ = transmit(head(response, length: nil) + Self.chunk(cut), on: connection)
        case .endlessChunked(let response, let prefix, let repeating):
            guard transmit(head(response, length: nil) + Self.chunk(prefix), on: connection) else { break }
            let chunk = Self.chunk(repeating)
            while transmit(chunk, on: connection) {}
        case .hugeContentLength(let response, let declaredLength):
            if transmit(head(response, length: declaredLength) + response.body, on: connection) { hold(connection) }
        case .stallBeforeHeaders:
            hold(connection)
        case .closeWithoutReply:
            break
        case .stallMidBody(let response, let after):
            let bytes = head(response, length: response.body.count) + response.body.prefix(after)
            if transmit(bytes, on: connection) { hold(connection) }
        case .reset:
            state.withLock { _ = $0.connections.remove(connection) }
            var option = linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
            close(connection)
            return .closed
        case .redirect(let location, let status):
            let response = Response(status: status, headers: [("Location", location)])
            _ = transmit(head(response, length: 0), on: connection)
        case .drip(let response, let every):
            let bytes = head(response, length: response.body.count) + response.body
            let milliseconds = Int32(
                clamping: every.components.seconds * 1000 + every.components.attoseconds / 1_000_000_000_000_000)
            for byte in bytes {
                guard transmit(Data([byte]), on: connection),
                    !waitForStopOrClose(connection, milliseconds: milliseconds)
                else { break }
            }
        }
        return .close
    }

    /// The status line and header fields, with `Content-Length: length`, or `Transfer-Encoding: chunked` when
    /// `length` is `nil`.
    private func head(_ response: Response, length: Int?) -> Data {
        var head = "HTTP/1.1 \(response.status) \(TestHTTPServer.reason(response.status))\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += length.map { "Content-Length: \($0)\r\n" } ?? "Transfer-Encoding: chunked\r\n"
        return Data((head + "\r\n").utf8)
    }

    private static func chunk(_ bytes: Data) -> Data {
        Data((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + Data("\r\n".utf8)
    }

    /// Waits until the client closes the connection or the server stops.
    private func hold(_ connection: Int32) {
        while !waitForStopOrClose(connection, milliseconds: -1) {}
    }

    /// Waits up to `milliseconds` (`-1`: without limit) for the server to stop or the client to close the
    /// connection; returns whether one of them happened. Bytes the client sends meanwhile are read and dropped.
    private func waitForStopOrClose(_ connection: Int32, milliseconds: Int32) -> Bool {
        var pollers = [
            pollfd(fd: connection, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&pollers, 2, milliseconds)
        if ready < 0 { return errno != EINTR }
        if pollers[1].revents != 0 { return true }
        guard pollers[0].revents != 0 else { return false }
        var scratch = [UInt8](repeating: 0, count: 4096)
        let count = scratch.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR)
    }

    /// Sends all of `bytes`; `false` when the client closed the connection or the server stopped first.
    private func transmit(_ bytes: Data, on connection: Int32) -> Bool {
        bytes.withUnsafeBytes { raw -> Bool in
            var sent = 0
            while sent < raw.count {
                var pollers = [
                    pollfd(fd: connection, events: Int16(POLLOUT), revents: 0),
                    pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
                ]
                guard poll(&pollers, 2, -1) >= 0 || errno == EINTR, pollers[1].revents == 0 else { return false }
                guard pollers[0].revents != 0 else { continue }
                let count = send(
                    connection, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if count < 0, errno == EAGAIN || errno == EINTR { continue }
                guard count > 0 else { return false }
                sent += count
            }
            return true
        }
    }

    /// The next request on `connection`, or `nil` when the client closed it, sent garbage or the server stopped.
    private func readRequest(_ connection: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd = TestHTTPServer.find(separator, in: buffer)
        while headerEnd == nil {
            guard receive(connection, &buffer) else { return nil }
            headerEnd = TestHTTPServer.find(separator, in: buffer)
        }
        guard let headerEnd, var request = TestHTTPServer.parseHead(buffer[..<headerEnd]) else { return nil }
        let length = Int(request.headers["content-length"] ?? "0") ?? 0
        let bodyStart = headerEnd + 4
        while buffer.count < bodyStart + length {
            guard receive(connection, &buffer) else { return nil }
        }
        request.body = Data(buffer[bodyStart..<bodyStart + length])
        buffer.removeFirst(bodyStart + length)
        return request
    }

    private func receive(_ connection: Int32, _ buffer: inout [UInt8]) -> Bool {
        var pollers = [
            pollfd(fd: connection, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
        ]
        guard poll(&pollers, 2, -1) > 0, pollers[1].revents == 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }
}

extension FaultServer.Fault {
    /// An endless `200` JSON body of tweets: `{"data":[` and then `{"id":"1","text":"aaaa…"},` for ever.
    public static var endlessTweets: FaultServer.Fault {
        let tweet = #"{"id":"1","text":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},"#
        return .endlessChunked(
            .json(Data()), prefix: Data(#"{"data":["#.utf8), repeating: Data(String(repeating: tweet, count: 800).utf8))
    }

    /// Echoes the request's `Authorization` header in an error body, as a careless API or proxy might: for `401`
    /// a v2 problem whose `detail` holds it, for any other status a v1.1 `errors[].message`.
    public static func echoingAuthorization(_ request: FaultServer.Request, status: Int) -> FaultServer.Fault {
        let echoed = request.headers["authorization"] ?? ""
        let body =
            status == 401
            ? #"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"bad header: \#(echoed)"}"#
            : #"{"errors":[{"message":"cannot parse \#(echoed)","code":44}]}"#
        return .respond(.json(body, status: status))
    }
}

// MARK: - Gzip bytes

/// Gzip streams (RFC 1952) built by hand, for tests of a client's decompression: Linux Foundation has no
/// compression API.
public enum GzipBytes {
    /// `data` as a valid gzip stream of stored (uncompressed) deflate blocks.
    public static func stored(_ data: Data) -> Data {
        var out = header
        var rest = data[...]
        repeat {
            let block = rest.prefix(65_535)
            rest = rest.dropFirst(block.count)
            let length = UInt16(block.count)
            out.append(rest.isEmpty ? 1 : 0)  // BFINAL, BTYPE 00 (stored), padded to the byte
            out.append(contentsOf: [
                UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8),
            ])
            out.append(contentsOf: block)
        } while !rest.isEmpty
        out.append(trailer(crc: crc32(data), size: data.count))
        return out
    }

    /// A gzip stream of about `size` zero bytes (`1 + 258·n`, rounded up) in about `size / 1032` bytes: a
    /// compression bomb, as ratios go like zlib's own best for zeros.
    ///
    /// One dynamic-Huffman block whose literal/length code has three symbols (`0`, end of block, length 258:
    /// one bit) and whose distance code has one (distance 1: one bit): a literal zero, then two zero bits per
    /// 258 more zeros. The trailer's CRC-32 and size are right, so the stream is valid to its end.
    public static func zeroBomb(decompressedSize size: Int) -> Data {
        let matches = max(0, (size - 1 + 257) / 258)
        var bits = BitWriter()
        bits.write(1, count: 1)  // BFINAL
        bits.write(2, count: 2)  // BTYPE 10: dynamic Huffman
        bits.write(29, count: 5)  // HLIT: 286 literal/length codes
        bits.write(0, count: 5)  // HDIST: 1 distance code
        bits.write(14, count: 4)  // HCLEN: 18 code-length codes
        // Code-length code lengths, in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1: 18 → 1 bit, 1 and 2
        // → 2 bits. Canonical codes: 18 = 0, 1 = 10, 2 = 11.
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1]
        let lengths: [Int: UInt32] = [18: 1, 1: 2, 2: 2]
        for symbol in order { bits.write(lengths[symbol] ?? 0, count: 3) }
        // Literal/length lengths: 0 → 2, 1…255 → 0, 256 → 2, 257…284 → 0, 285 → 1; distance 0 → 1.
        bits.writeCode(0b11, count: 2)  // length 2 (symbol 0)
        bits.writeCode(0b0, count: 1)  // 18: 138 zeros (1…138)
        bits.write(127, count: 7)
        bits.writeCode(0b0, count: 1)  // 18: 117 zeros (139…255)
        bits.write(106, count: 7)
        bits.writeCode(0b11, count: 2)  // length 2 (symbol 256)
        bits.writeCode(0b0, count: 1)  // 18: 28 zeros (257…284)
        bits.write(17, count: 7)
        bits.writeCode(0b10, count: 2)  // length 1 (symbol 285)
        bits.writeCode(0b10, count: 2)  // length 1 (distance 0)
        // Canonical literal/length codes: 285 = 0, 0 = 10, 256 = 11; distance 0 = 0.
        bits.writeCode(0b10, count: 2)  // the literal zero
        // Each match (285 then distance 0) is two zero bits; whole zero bytes carry four matches each.
        bits.writeZeros(2 * matches)
        bits.writeCode(0b11, count: 2)  // end of block
        bits.flush()
        let total = 1 + 258 * matches
        return header + bits.bytes + trailer(crc: crc32OfZeros(total), size: total)
    }

    private static let header = Data([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])

    private static func trailer(crc: UInt32, size: Int) -> Data {
        let size = UInt32(truncatingIfNeeded: size)
        return Data((0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) })
            + Data((0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) })
    }

    private static let table: [UInt32] = (0..<256).map { value in
        var c = UInt32(value)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func crc32(_ data: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    /// The CRC-32 of `count` zero bytes in O(log count): a zero bit is a linear map of the CRC register (a 32×32
    /// matrix over GF(2), as in zlib's `crc32_combine`), raised to the power `8 · count` by squaring.
    private static func crc32OfZeros(_ count: Int) -> UInt32 {
        func times(_ matrix: [UInt32], _ vector: UInt32) -> UInt32 {
            var sum: UInt32 = 0
            for row in 0..<32 where vector >> row & 1 != 0 { sum ^= matrix[row] }
            return sum
        }
        var power: [UInt32] = (0..<32).map { $0 == 0 ? 0xEDB8_8320 : 1 << ($0 - 1) }
        var register: UInt32 = 0xFFFF_FFFF
        var bits = UInt64(count) * 8
        while bits > 0 {
            if bits & 1 != 0 { register = times(power, register) }
            power = power.map { times(power, $0) }
            bits >>= 1
        }
        return ~register
    }

    /// Deflate's bit order: values least significant bit first, Huffman codes most significant bit first.
    private struct BitWriter {
        var bytes: [UInt8] = []
        var current: UInt32 = 0
        var bitCount = 0

        mutating func write(_ value: UInt32, count: Int) {
            for bit in 0..<count { push((value >> bit) & 1) }
        }

        mutating func writeCode(_ code: UInt32, count: Int) {
            for bit in (0..<count).reversed() { push((code >> bit) & 1) }
        }

        /// `count` zero bits, whole bytes at a time where the stream is aligned.
        mutating func writeZeros(_ count: Int) {
            var count = count
            while count > 0, bitCount != 0 {
                push(0)
                count -= 1
            }
            bytes.append(contentsOf: repeatElement(0, count: count / 8))
            for _ in 0..<count % 8 { push(0) }
        }

        private mutating func push(_ bit: UInt32) {
            current |= bit << bitCount
            bitCount += 1
            if bitCount == 8 { flush() }
        }

        mutating func flush() {
            guard bitCount > 0 else { return }
            bytes.append(UInt8(current))
            current = 0
            bitCount = 0
        }
    }
}
