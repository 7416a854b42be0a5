import AsyncHTTPClient
import Foundation
import HTTPTypes
import HarvestLocking
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The default ``HTTPTransport``, on AsyncHTTPClient (SwiftNIO): pooled keep-alive connections, a deadline
/// for every exchange, a size cap on every body, gzip, and same-origin redirects only.
///
/// Nothing a server sends can crash the process, hold a request past its deadline or grow memory past the caps:
///
/// - **Deadlines.** Connecting may take ``Configuration/connectTimeout``; the server may stay silent for at
///   most ``Configuration/readTimeout`` at a time (before the first byte or between two reads); and the whole
///   exchange, redirects and body included, ends at the request's ``TransportRequest/timeout`` or
///   ``Configuration/requestTimeout``, so a body that drips one byte every few seconds ends there too.
/// - **Caps.** The body is collected up to ``Configuration/maxBodySize``; a longer one (an announced
///   `Content-Length`, an endless chunked body) fails the request with ``SearchError/Code/responseTooLarge``.
///   A compressed body may inflate to ``Configuration/maxDecompressedSize`` at most, so a gzip bomb is the
///   same error.
/// - **gzip.** Requests carry `Accept-Encoding: deflate, gzip` (added by SwiftNIO's response decompressor,
///   unless the request sets its own), and compressed bodies come back decompressed.
/// - **Redirects.** The transport follows a redirect only to the same origin (identical scheme, host and
///   port), at most ``Configuration/maxRedirects`` times; any other redirect is returned as the `3xx`
///   response it is, unfollowed, so credentials never leave their origin.
/// - **TLS** uses the system's trust roots (SwiftNIO SSL's default).
/// - Every request carries `User-Agent: TweetHarvester/<version>` unless it sets its own.
///
/// - **Stale connections.** A server may close a kept-alive connection (its idle timeout) just as the next
///   request goes out on it. When a bodiless `GET` or `HEAD` to an origin that has answered before fails that
///   way, closed or reset before any reply began, the transport sends it once more at once on a new connection,
///   as browsers and Go's HTTP client do; a request that fails again fails.
///
/// Any status is a response. When no complete response arrived, ``send(_:)`` throws a ``SearchError`` with a
/// one-line message and no secret: ``SearchError/Code/timedOut``, ``SearchError/Code/responseTooLarge`` or
/// ``SearchError/Code/transport`` (such as `connection refused by 127.0.0.1:8080`). Cancelling the calling
/// task stops the request at once and throws `CancellationError`.
///
/// ## Lifecycle
/// AsyncHTTPClient's `HTTPClient` must be shut down before it is released. Pick one of three ways:
///
/// - ``shared``: one process-wide transport on `HTTPClient.defaultEventLoopGroup`, never shut down (like
///   AsyncHTTPClient's own `HTTPClient.shared`). The default of `SearchClient`, `Harvester` and the `harvest`
///   command; nothing to clean up.
/// - ``init(configuration:)``: a transport that creates and owns its client; call ``shutdown()`` when done.
/// - ``init(client:configuration:)``: a transport on a client of yours; you shut that client down.
///
/// ```swift
/// var configuration = AsyncHTTPClientTransport.Configuration()
/// configuration.requestTimeout = .seconds(10)
/// let transport = AsyncHTTPClientTransport(configuration: configuration)
/// let response = try await transport.send(TransportRequest(url: URL(string: "https://api.twitter.com/2/openapi.json")!))
/// try await transport.shutdown()
/// ```
public final class AsyncHTTPClientTransport: HTTPTransport {
    /// The library version named in the default `User-Agent`.
    public static let libraryVersion = URLSessionTransport.libraryVersion

    /// Settings of an ``AsyncHTTPClientTransport``.
    ///
    /// ``connectTimeout``, ``readTimeout`` and ``maxDecompressedSize`` configure the `HTTPClient` the transport
    /// creates (see ``httpClientConfiguration``); with ``AsyncHTTPClientTransport/init(client:configuration:)``
    /// your client's own settings apply instead. The other settings apply to every request in either case.
    public struct Configuration: Sendable {
        /// How long opening a connection (TCP and TLS) may take. The default is 10 seconds.
        public var connectTimeout: Duration = .seconds(10)
        /// How long the server may send nothing while a response is awaited: before the first byte, and between
        /// two reads. The default is 30 seconds.
        public var readTimeout: Duration = .seconds(30)
        /// The time limit of a whole exchange (connect, redirects, headers, body) for a request that does not set
        /// its own ``TransportRequest/timeout``. The default is 30 seconds.
        public var requestTimeout: Duration = .seconds(30)
        /// The largest body returned, in bytes, after decompression. The default is 8 MiB.
        public var maxBodySize: Int = 8 * 1024 * 1024
        /// The largest size, in bytes, a compressed body may inflate to. The default is 8 MiB.
        public var maxDecompressedSize: Int = 8 * 1024 * 1024
        /// The most same-origin redirects followed for one request; `0` follows none. The default is 3.
        public var maxRedirects: Int = 3
        /// The `User-Agent` sent with requests that do not set one. The default is `TweetHarvester/<version>`.
        public var userAgent: String = "TweetHarvester/\(AsyncHTTPClientTransport.libraryVersion)"

        /// Creates the default settings.
        public init() {}

        /// The `HTTPClient` settings the transport uses for a client it creates: redirects disallowed (the
        /// transport follows same-origin ones itself), decompression capped at ``maxDecompressedSize``, the
        /// connect and read time-outs, TLS with the system's trust roots, and no retried connection attempts (the
        /// search client retries whole requests with backoff instead).
        ///
        /// Use it to make a client of your own that behaves like the library's:
        ///
        /// ```swift
        /// let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        ///                         configuration: AsyncHTTPClientTransport.Configuration().httpClientConfiguration)
        /// ```
        public var httpClientConfiguration: HTTPClient.Configuration {
            var configuration = HTTPClient.Configuration(
                tlsConfiguration: nil,
                redirectConfiguration: .disallow,
                timeout: .init(connect: TimeAmount(connectTimeout), read: TimeAmount(readTimeout)),
                decompression: .enabled(limit: .size(maxDecompressedSize)))
            // A refused connection fails at once; SearchClient's retry policy decides what happens next.
            configuration.connectionPool.retryConnectionEstablishment = false
            return configuration
        }
    }

    /// The process-wide transport with the default ``Configuration``: one `HTTPClient` on
    /// `HTTPClient.defaultEventLoopGroup`, created on first use and never shut down (``shutdown()`` does nothing
    /// on it), like AsyncHTTPClient's own `HTTPClient.shared`.
    ///
    /// The default transport of `SearchClient` and the harvester; share it rather than creating a transport per
    /// client, so that connections are reused across clients and runs.
    public static let shared = AsyncHTTPClientTransport(
        client: HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: Configuration().httpClientConfiguration),
        configuration: Configuration(), ownsClient: false, decompresses: true)

    /// The settings of this transport.
    public let configuration: Configuration
    private let client: HTTPClient
    private let ownsClient: Bool
    /// Whether the client is one of the library's, which decompresses bodies.
    private let decompresses: Bool
    private let isShutDown = Locked(false)
    /// The origins this transport has had a complete response from: a request to one of them may go out on a
    /// pooled, kept-alive connection (see ``send(_:)``).
    private let servedOrigins = Locked<Set<String>>([])

    /// Creates a transport with a client of its own; call ``shutdown()`` when you are done with it.
    ///
    /// The client runs on `HTTPClient.defaultEventLoopGroup` with ``Configuration/httpClientConfiguration``. If
    /// the transport is released without ``shutdown()``, it starts the client's shutdown itself without waiting
    /// (AsyncHTTPClient would otherwise stop a debug build for a client released while running).
    ///
    /// - Parameter configuration: The transport's settings. The default is ``Configuration/init()``.
    public convenience init(configuration: Configuration = .init()) {
        self.init(
            client: HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration.httpClientConfiguration),
            configuration: configuration, ownsClient: true, decompresses: true)
    }

    /// Creates a transport on your own `HTTPClient`; you keep owning it and shut it down after the last request.
    ///
    /// The client's own time-outs, decompression and TLS settings apply; give it
    /// `redirectConfiguration: .disallow` (or ``Configuration/httpClientConfiguration``) so that only the
    /// transport's same-origin rule decides which redirects are followed.
    ///
    /// - Parameters:
    ///   - client: The client to send requests with.
    ///   - configuration: The per-request settings (deadline, body cap, redirects, `User-Agent`). The default is
    ///     ``Configuration/init()``.
    public convenience init(client: HTTPClient, configuration: Configuration = .init()) {
        self.init(client: client, configuration: configuration, ownsClient: false, decompresses: false)
    }

    private init(client: HTTPClient, configuration: Configuration, ownsClient: Bool, decompresses: Bool) {
        self.client = client
        self.configuration = configuration
        self.ownsClient = ownsClient
        self.decompresses = decompresses
    }

    deinit {
        guard ownsClient, !isShutDown.withLock({ $0 }) else { return }
        // Never blocks: AsyncHTTPClient calls back on a dispatch queue once the connections are closed.
        client.shutdown { _ in }
    }

    /// Shuts down the client this transport created, closing its connections; later requests fail.
    ///
    /// Does nothing for ``shared`` and for a transport on your own client (shut that client down yourself).
    /// Calling it twice is harmless. It never blocks a thread, so it is safe on any task.
    ///
    /// - Throws: The client's error when its connections did not close cleanly.
    public func shutdown() async throws {
        guard ownsClient else { return }
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try await client.shutdown()
    }

    /// Sends `request` and returns the complete response, whatever its status, following same-origin redirects.
    ///
    /// - Throws: `CancellationError` when the calling task is cancelled; otherwise a ``SearchError`` when no
    ///   complete response arrived: ``SearchError/Code/timedOut`` (a deadline passed),
    ///   ``SearchError/Code/responseTooLarge`` (a cap was reached) or ``SearchError/Code/transport`` (the
    ///   connection failed, was reset or closed early, or the reply was not valid HTTP).
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        try Task.checkCancellation()
        let limit = request.timeout ?? configuration.requestTimeout
        let deadline = NIODeadline.now() + TimeAmount(limit)
        do {
            return try await withDeadline(deadline) { [self] in try await follow(request, deadline: deadline) }
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw Self.searchError(for: error, url: request.url, limit: limit, configuration: configuration)
        }
    }

    // MARK: Exchange

    private struct DeadlinePassed: Error {}

    /// Runs `body`, or throws `DeadlinePassed` (and cancels `body`) once `deadline` has passed, whichever is first.
    ///
    /// AsyncHTTPClient's own deadline ends with the response head; this one covers the body too.
    private func withDeadline<T: Sendable>(
        _ deadline: NIODeadline, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let eventLoop = client.eventLoopGroup.any()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                let timer = eventLoop.scheduleTask(deadline: deadline) {}
                try await withTaskCancellationHandler {
                    try await timer.futureResult.get()
                } onCancel: {
                    timer.cancel()
                }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw DeadlinePassed() }
            return value
        }
    }

    /// Sends `request`, following same-origin redirects up to the limit.
    private func follow(_ request: TransportRequest, deadline: NIODeadline) async throws -> TransportResponse {
        var current = request
        var redirects = 0
        while true {
            let response = try await exchange(current, deadline: deadline)
            guard Self.redirectStatuses.contains(response.status.code), redirects < configuration.maxRedirects,
                let location = response.headerFields[.location],
                let target = URL(string: location, relativeTo: current.url)?.absoluteURL,
                Self.isSameOrigin(current.url, target)
            else { return response }
            redirects += 1
            current = Self.redirected(current, to: target, status: response.status.code)
        }
    }

    private static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    /// `scheme://host:port`, lowercased, of `url`: the key of the connection pool's connections.
    private static func origin(of url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }

    /// Whether `error`, thrown before a response head arrived, is what a request meets on a kept-alive connection
    /// the server closed just before (or as) the request was written: the connection closed, or was reset, with no
    /// reply.
    private static func mayBeStalePooledConnection(_ error: any Error) -> Bool {
        switch error {
        case let error as HTTPClientError: return error == .remoteConnectionClosed
        case let error as IOError: return error.errnoCode == ECONNRESET || error.errnoCode == EPIPE
        case let error as ChannelError: return error == .eof || error == .ioOnClosedChannel
        default: return false
        }
    }

    /// Whether `a` and `b` have the same scheme, host and (effective) port.
    static func isSameOrigin(_ a: URL, _ b: URL) -> Bool {
        func origin(_ url: URL) -> (String, String, Int)? {
            guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
            let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
            return (scheme, host, port)
        }
        guard let first = origin(a), let second = origin(b) else { return false }
        return first == second
    }

    /// The request a redirect asks for: `303`, and `301`/`302` after a `POST`, become a `GET` without a body (as
    /// browsers and AsyncHTTPClient do); `307` and `308` keep method and body.
    private static func redirected(_ request: TransportRequest, to url: URL, status: Int) -> TransportRequest {
        var next = request
        next.url = url
        let becomesGet =
            (status == 303 && request.method != .head) || ((status == 301 || status == 302) && request.method == .post)
        if becomesGet {
            next.method = .get
            next.body = nil
            next.headerFields[.contentType] = nil
            next.headerFields[.contentLength] = nil
        }
        return next
    }

    /// One request and its complete, capped body.
    private func exchange(_ request: TransportRequest, deadline: NIODeadline) async throws -> TransportResponse {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headerFields {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        if request.headerFields[.userAgent] == nil {
            outgoing.headers.add(name: "User-Agent", value: configuration.userAgent)
        }
        if let body = request.body {
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        let origin = Self.origin(of: request.url)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outgoing, deadline: deadline)
        } catch
            where Self.mayBeStalePooledConnection(error) && request.body == nil
            && [.get, .head].contains(request.method) && servedOrigins.withLock({ $0.contains(origin) })
        {
            // The pooled connection this request went out on was most likely closed by the server (its keep-alive
            // timeout) as the request was sent, and no reply began. Like browsers and Go's HTTP client, send a
            // bodiless request once more, at once, on a new connection (the closed one has left the pool).
            servedOrigins.withLock { _ = $0.remove(origin) }
            try Task.checkCancellation()
            response = try await client.execute(outgoing, deadline: deadline)
        }
        let body = try await response.body.collect(upTo: configuration.maxBodySize)
        servedOrigins.withLock { _ = $0.insert(origin) }
        guard (100...999).contains(Int(response.status.code)) else {
            throw SearchError(.transport, message: "the server sent an invalid status \(response.status.code)")
        }
        var fields = HTTPFields()
        // Our own clients decompress: the body is no longer in the encoding or of the length the headers name.
        let decoded =
            decompresses
            && response.headers["content-encoding"].contains { ["gzip", "deflate"].contains($0.lowercased()) }
        for (name, value) in response.headers {
            guard let fieldName = HTTPField.Name(name) else { continue }
            if decoded, fieldName == .contentEncoding || fieldName == .contentLength { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return TransportResponse(
            status: HTTPResponse.Status(code: Int(response.status.code)), headerFields: fields,
            body: Data(body.readableBytesView))
    }

    // MARK: Errors

    /// The one-line ``SearchError`` for a failed exchange of a request to `url`.
    static func searchError(for error: any Error, url: URL, limit: Duration, configuration: Configuration)
        -> SearchError
    {
        if let error = error as? SearchError { return error }
        let host = url.host ?? "the server"
        let endpoint = "\(host):\(url.port ?? (url.scheme?.lowercased() == "http" ? 80 : 443))"
        let closedEarly = "the server closed the connection before the response was complete"
        switch error {
        case is DeadlinePassed:
            return SearchError(.timedOut, message: "no response within \(TransportText.duration(limit))")
        case is NIOTooManyBytesError:
            return SearchError(
                .responseTooLarge,
                message: "response body larger than \(TransportText.bytes(configuration.maxBodySize))")
        case let error as NIOHTTPDecompression.DecompressionError:
            if error == .limit {
                return SearchError(
                    .responseTooLarge,
                    message: "decompressed body larger than \(TransportText.bytes(configuration.maxDecompressedSize))"
                )
            }
            return SearchError(.transport, message: "gzip body is malformed")
        case let error as NIOHTTPDecompression.ExtraDecompressionError:
            return SearchError(
                .transport,
                message: error == .truncatedData ? "gzip body is truncated" : "gzip body is followed by extra data")
        case let error as HTTPClientError:
            return searchError(for: error, endpoint: endpoint, limit: limit, configuration: configuration)
        case let error as NIOConnectionError:
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                return SearchError(.transport, message: "could not resolve host \(host)")
            }
            if let failure = error.connectionErrors.last {
                return searchError(for: failure.error, url: url, limit: limit, configuration: configuration)
            }
            return SearchError(.transport, message: "could not connect to \(endpoint)")
        case is SocketAddressError.UnknownHost:
            return SearchError(.transport, message: "could not resolve host \(host)")
        case is SocketAddressError:
            return SearchError(.transport, message: "invalid address for \(host)")
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: return SearchError(.transport, message: "connection refused by \(endpoint)")
            case ECONNRESET, EPIPE: return SearchError(.transport, message: "connection reset by \(endpoint)")
            case ETIMEDOUT:
                return SearchError(.timedOut, message: "connection to \(endpoint) timed out")
            case EHOSTUNREACH, ENETUNREACH:
                return SearchError(.transport, message: "no route to \(endpoint)")
            default:
                return SearchError(
                    .transport,
                    message: "network error talking to \(endpoint): \(String(cString: strerror(error.errnoCode)))")
            }
        case let error as ChannelError:
            switch error {
            case .connectTimeout:
                return SearchError(
                    .timedOut,
                    message:
                        "could not connect to \(endpoint) within \(TransportText.duration(configuration.connectTimeout))"
                )
            case .eof, .ioOnClosedChannel, .alreadyClosed, .inputClosed, .outputClosed:
                return SearchError(.transport, message: closedEarly)
            default:
                return SearchError(.transport, message: "network error talking to \(endpoint): \(error)")
            }
        case let error as HTTPParserError:
            switch error {
            case .invalidEOFState, .closedConnection: return SearchError(.transport, message: closedEarly)
            default: break
            }
            return SearchError(.transport, message: "malformed HTTP response from \(endpoint) (\(error))")
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return SearchError(
                .transport, message: "TLS with \(endpoint) failed: \(TransportText.oneLine(String(describing: error)))")
        default:
            return SearchError(.transport, message: TransportText.oneLine(String(describing: error)))
        }
    }

    private static func searchError(
        for error: HTTPClientError, endpoint: String, limit: Duration, configuration: Configuration
    ) -> SearchError {
        switch error {
        case .deadlineExceeded:
            return SearchError(.timedOut, message: "no response within \(TransportText.duration(limit))")
        case .readTimeout:
            return SearchError(
                .timedOut,
                message: "no data from \(endpoint) for \(TransportText.duration(configuration.readTimeout))")
        case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
            return SearchError(
                .timedOut,
                message:
                    "could not connect to \(endpoint) within \(TransportText.duration(configuration.connectTimeout))")
        case .remoteConnectionClosed:
            return SearchError(
                .transport, message: "the server closed the connection before the response was complete")
        case .alreadyShutdown:
            return SearchError(.transport, message: "the transport's HTTP client was already shut down")
        case .cancelled:
            return SearchError(.transport, message: "the request was cancelled")
        case .invalidURL, .emptyHost, .emptyScheme:
            return SearchError(
                .transport, message: "the URL cannot be requested: \(error.shortDescription.lowercased())")
        default:
            if error.shortDescription.hasPrefix("Unsupported scheme") {
                return SearchError(.transport, message: "unsupported URL scheme")
            }
            return SearchError(
                .transport, message: "HTTP client error talking to \(endpoint): \(error.shortDescription.lowercased())")
        }
    }
}

/// Short human forms of sizes, durations and error texts for transport messages.
enum TransportText {
    /// `8 MiB`, `64 KiB` or `1000 bytes`.
    static func bytes(_ count: Int) -> String {
        if count >= 1_048_576, count % 1_048_576 == 0 { return "\(count / 1_048_576) MiB" }
        if count >= 1024, count % 1024 == 0 { return "\(count / 1024) KiB" }
        return "\(count) bytes"
    }

    /// `30 s`, `1.5 s` or `50 ms`.
    static func duration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        return "\(Double(milliseconds) / 1000) s"
    }

    /// `text` on one line, at most 200 characters.
    static func oneLine(_ text: String) -> String {
        String(text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ").prefix(200))
    }
}
