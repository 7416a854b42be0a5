import Foundation
import HarvestLocking

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests: an ephemeral port, scripted route handlers,
/// `Content-Length` bodies, keep-alive, and it always stops by itself.
///
/// Use ``withServer(_:body:)``: the server runs while `body` does and is stopped afterwards, whatever
/// happens; it also stops on its own after ``idleLimit`` without a request, so a test never hangs on it.
///
/// ```swift
/// try await TestHTTPServer.withServer([
///     .init("GET", "/2/tweets/search/recent") { request in .json(#"{"meta":{"result_count":0}}"#) },
/// ]) { server in
///     let url = server.baseURL.appendingPathComponent("2/tweets/search/recent")
///     …
/// }
/// ```
public final class TestHTTPServer: Sendable {
    /// One request as received.
    public struct Request: Sendable, Hashable {
        /// The method, such as `GET`.
        public var method: String
        /// The request target as sent, path and query (`/2/tweets/search/recent?query=x`).
        public var target: String
        /// The path without the query.
        public var path: String
        /// The query items in order, percent-decoded (`+` is not a space).
        public var query: [QueryItem]
        /// The header fields with lower-cased names; repeated fields are joined with `, `.
        public var headers: [String: String]
        /// The body.
        public var body: Data

        /// The first value of query item `name`.
        public func queryValue(_ name: String) -> String? {
            query.first { $0.name == name }?.value
        }
    }

    /// A query item.
    public struct QueryItem: Sendable, Hashable {
        /// The decoded name.
        public var name: String
        /// The decoded value.
        public var value: String
    }

    /// One response.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// Header fields, sent in order (`Content-Length` is added).
        public var headers: [(String, String)]
        /// The body.
        public var body: Data
        /// When set, only this many bytes of the body are sent (with the full `Content-Length`) and the
        /// connection is closed: a body cut off in transit.
        public var cutAfter: Int?

        /// Creates a response.
        public init(status: Int, headers: [(String, String)] = [], body: Data = Data(), cutAfter: Int? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.cutAfter = cutAfter
        }

        /// A JSON response.
        public static func json(_ body: String, status: Int = 200, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: Data(body.utf8))
        }

        /// A JSON response.
        public static func json(_ body: Data, status: Int = 200, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
        }
    }

    /// A route: requests with this method and path go to the handler.
    public struct Route: Sendable {
        /// The method to match.
        public var method: String
        /// The path to match, without query.
        public var path: String
        /// Answers a matching request; runs on the server's connection thread.
        public var handler: @Sendable (Request) -> Response

        /// Creates a route.
        public init(_ method: String, _ path: String, handler: @escaping @Sendable (Request) -> Response) {
            self.method = method
            self.path = path
            self.handler = handler
        }
    }

    /// Errors starting the server.
    public struct StartError: Error, CustomStringConvertible {
        /// The failing call and `errno`.
        public var description: String
    }

    private struct State {
        var stopped = false
        var stopReason: String?
        var connections: Set<Int32> = []
        var acceptedConnections = 0
        var requests: [Request] = []
        var lastActivity = ContinuousClock.now
    }

    /// How long the server waits without a request before it stops by itself.
    public let idleLimit: TimeInterval
    /// How long a kept-alive connection may stay silent before the server closes it.
    public let connectionIdleLimit: Int
    /// The port the server listens on.
    public let port: Int
    private let listener: Int32
    private let routes: [Route]
    private let state = Locked(State())

    /// Starts a server on 127.0.0.1 and an ephemeral port; prefer ``withServer(_:idleLimit:body:)``.
    ///
    /// - Parameters:
    ///   - routes: The routes; a request matching none gets `404`.
    ///   - idleLimit: Seconds without a request after which the server stops. The default is 120.
    ///   - connectionIdleLimit: Seconds a kept-alive connection may stay silent before the server closes it.
    ///     The default is 30 (the transport retries a GET that meets a closed one at once, but a test should not
    ///     depend on it).
    public init(routes: [Route], idleLimit: TimeInterval = 120, connectionIdleLimit: Int = 30) throws {
        self.routes = routes
        self.idleLimit = idleLimit
        self.connectionIdleLimit = connectionIdleLimit
        (listener, port) = try Self.bindLoopback(listening: true)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// A TCP socket bound to 127.0.0.1 and an ephemeral port, listening when `listening` is set, and its port.
    static func bindLoopback(listening: Bool) throws -> (socket: Int32, port: Int) {
        // Close-on-exec from the start: marked later, a child spawned by another test in between would hold it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, !listening || listen(fd, 64) == 0 else {
            close(fd)
            throw StartError(description: "bind/listen: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Marks `fd` close-on-exec, so that a child process the test starts does not hold the server's sockets open
    /// (a listening socket held by a child would accept connections after the server stopped).
    static func closeOnExec(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
    }

    /// `accept` with the new socket close-on-exec atomically (`accept4`): with `accept` and then `fcntl`, a child
    /// spawned by another test in between inherits the connection and keeps it open after the server closed it,
    /// and a client's pooled keep-alive connection then waits on it for a reply that never comes.
    static func acceptCloseOnExec(_ listener: Int32) -> Int32 {
        systemAccept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
    }

    /// `pipe` with both ends close-on-exec atomically (`pipe2`).
    static func pipeCloseOnExec(_ fds: UnsafeMutablePointer<Int32>) -> Int32 {
        systemPipe2(fds, O_CLOEXEC)
    }

    /// Runs `body` with a started server and stops the server when `body` returns or throws.
    ///
    /// - Parameters:
    ///   - routes: The routes; a request matching none gets `404`.
    ///   - idleLimit: Seconds without a request after which the server stops anyway. The default is 120.
    ///   - connectionIdleLimit: Seconds a kept-alive connection may stay silent before the server closes it.
    ///     The default is 30 (the transport retries a GET that meets a closed one at once, but a test should not
    ///     depend on it).
    ///   - body: The test, given the server.
    public static func withServer<T>(
        _ routes: [Route], idleLimit: TimeInterval = 120, connectionIdleLimit: Int = 30,
        body: (TestHTTPServer) async throws -> T
    ) async throws -> T {
        let server = try TestHTTPServer(routes: routes, idleLimit: idleLimit, connectionIdleLimit: connectionIdleLimit)
        defer { server.stop() }
        return try await body(server)
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: URL {
        URL(string: "http://127.0.0.1:\(port)")!
    }

    /// Every request received so far, in order of arrival.
    public var requests: [Request] {
        state.withLock { $0.requests }
    }

    /// How many connections the server has accepted so far: with keep-alive, a walk of many pages needs one.
    public var acceptedConnections: Int {
        state.withLock { $0.acceptedConnections }
    }

    /// Why the server stopped (`nil` while it runs): `stop()`, the idle limit, or a failure of its listening
    /// socket. A test whose requests fail to connect can name the cause.
    public var stopReason: String? {
        state.withLock { $0.stopReason }
    }

    /// Stops accepting, closes every connection. Safe to call more than once.
    public func stop() {
        stop(because: "stop() called")
    }

    private func stop(because reason: String) {
        let connections = state.withLock { state -> Set<Int32> in
            guard !state.stopped else { return [] }
            state.stopped = true
            state.stopReason = reason
            return state.connections
        }
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        defer { close(listener) }
        while !isStopped {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 50)
            if ready <= 0 {
                let idle = state.withLock { ContinuousClock.now - $0.lastActivity }
                if idle > .seconds(idleLimit) { stop(because: "idle for more than \(idleLimit) s") }
                continue
            }
            if poller.revents & Int16(POLLNVAL | POLLERR | POLLHUP) != 0 {
                stop(because: "listening socket \(listener) failed (poll revents \(poller.revents))")
                break
            }
            let connection = Self.acceptCloseOnExec(listener)
            guard connection >= 0 else {
                let failure = errno
                if failure == EINTR || failure == EAGAIN || failure == ECONNABORTED { continue }
                stop(because: "accept on socket \(listener) failed: errno \(failure)")
                break
            }
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
        defer {
            state.withLock { _ = $0.connections.remove(connection) }
            close(connection)
        }
        var timeout = timeval(tv_sec: connectionIdleLimit, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer: [UInt8] = []
        while !isStopped {
            guard let request = readRequest(connection, &buffer) else { return }
            state.withLock {
                $0.requests.append(request)
                $0.lastActivity = ContinuousClock.now
            }
            let route = routes.first { $0.method == request.method && $0.path == request.path }
            let response = route?.handler(request) ?? Response(status: 404, body: Data("not found".utf8))
            guard write(response, to: connection), response.cutAfter == nil,
                request.headers["connection"]?.lowercased() != "close"
            else { return }
        }
    }

    private func readRequest(_ connection: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = Self.find(separator, in: buffer)
            if headerEnd == nil, !receive(connection, &buffer) { return nil }
        }
        guard let headerEnd, var request = Self.parseHead(buffer[..<headerEnd]) else { return nil }
        let length = Int(request.headers["content-length"] ?? "0") ?? 0
        let bodyStart = headerEnd + 4
        while buffer.count < bodyStart + length {
            if !receive(connection, &buffer) { return nil }
        }
        request.body = Data(buffer[bodyStart..<bodyStart + length])
        buffer.removeFirst(bodyStart + length)
        return request
    }

    /// The request line and header fields of a request head (without its blank line), or `nil` when the request
    /// line is not `METHOD TARGET VERSION`; the body is left empty.
    static func parseHead(_ bytes: ArraySlice<UInt8>) -> Request? {
        let head = String(decoding: bytes, as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        let target = String(requestLine[1])
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let query = parts.count > 1 ? Self.parseQuery(String(parts[1])) : []
        return Request(
            method: String(requestLine[0]), target: target, path: String(parts[0]), query: query, headers: headers,
            body: Data())
    }

    private func receive(_ connection: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }

    private func write(_ response: Response, to connection: Int32) -> Bool {
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(response.body.count)\r\n"
        if response.cutAfter != nil { head += "Connection: close\r\n" }
        head += "\r\n"
        var bytes = Data(head.utf8)
        bytes.append(response.body.prefix(response.cutAfter ?? response.body.count))
        return bytes.withUnsafeBytes { raw -> Bool in
            var sent = 0
            while sent < raw.count {
                let count = send(connection, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { return false }
                sent += count
            }
            return true
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle { return start }
        }
        return nil
    }

    /// Splits `a=1&b=2` and percent-decodes each side.
    public static func parseQuery(_ query: String) -> [QueryItem] {
        query.split(separator: "&").map { pair in
            let sides = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(sides[0]).removingPercentEncoding ?? String(sides[0])
            let value = sides.count > 1 ? (String(sides[1]).removingPercentEncoding ?? String(sides[1])) : ""
            return QueryItem(name: name, value: value)
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 307: "Temporary Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

// Glibc's module does not export these GNU extensions (they need _GNU_SOURCE); they are in every Linux libc.
@_silgen_name("accept4")
private func systemAccept4(
    _ socket: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: UnsafeMutablePointer<socklen_t>?,
    _ flags: Int32
) -> Int32

@_silgen_name("pipe2")
private func systemPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
