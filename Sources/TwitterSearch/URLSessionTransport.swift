import Foundation
import HTTPTypes
import HarvestClock
import HarvestLocking

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An ``HTTPTransport`` on URLSession (FoundationNetworking and libcurl on Linux), for those who want it and on
/// Apple platforms; the default is ``AsyncHTTPClientTransport``.
///
/// > Warning: On Linux, FoundationNetworking stops the whole process (SIGILL, `Transfer completed, but there's
/// > no response`) when a server or proxy cuts a reply right after its status line or headers. No code above it
/// > can catch that, which is why this transport is never the default. It also has no cap on the body size, and
/// > follows redirects to any origin, re-sending the request's headers.
///
/// One transport owns one `URLSession`, so connections are kept alive and reused across requests; share
/// one transport between clients rather than making one per request. Each request gets a time limit
/// (its own ``TransportRequest/timeout`` or ``Configuration/timeout``), and cancelling the calling task
/// cancels the underlying `URLSessionTask` at once: the connection is dropped, not left to finish.
/// Every request carries `User-Agent: TweetHarvester/<version>` unless it sets its own. A failed exchange
/// throws a ``SearchError`` with one readable line (`could not resolve host api.twitter.com`), never the
/// `URLError` dump.
///
/// ```swift
/// let transport = URLSessionTransport()
/// let response = try await transport.send(TransportRequest(url: URL(string: "https://api.twitter.com/2/openapi.json")!))
/// ```
public final class URLSessionTransport: HTTPTransport {
    /// The library version named in the default `User-Agent`.
    public static let libraryVersion = "0.1.0"

    /// Settings of a ``URLSessionTransport``.
    public struct Configuration: Sendable {
        /// The time limit for a request that does not set its own. The default is 30 seconds.
        public var timeout: Duration = .seconds(30)
        /// The `User-Agent` sent with requests that do not set one. The default is `TweetHarvester/<version>`.
        public var userAgent: String = "TweetHarvester/\(URLSessionTransport.libraryVersion)"
        /// The most connections kept open to one host. The default is 4.
        public var maxConnectionsPerHost: Int = 4

        /// Creates the default settings.
        public init() {}
    }

    private let session: URLSession
    private let configuration: Configuration

    /// Creates a transport with its own `URLSession`.
    ///
    /// - Parameter configuration: The transport's settings. The default is ``Configuration/init()``.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.httpMaximumConnectionsPerHost = configuration.maxConnectionsPerHost
        sessionConfiguration.timeoutIntervalForRequest = configuration.timeout.timeInterval
        sessionConfiguration.httpCookieStorage = nil
        sessionConfiguration.urlCache = nil
        sessionConfiguration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: sessionConfiguration)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// Sends `request` and returns the complete response, whatever its status.
    ///
    /// - Throws: `CancellationError` when the calling task is cancelled (the URLSession task is
    ///   cancelled too), or a ``SearchError`` for a failed exchange: ``SearchError/Code/timedOut`` for a
    ///   time-out, ``SearchError/Code/transport`` for the rest (DNS, connection refused or reset, TLS).
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        try Task.checkCancellation()
        let urlRequest = makeURLRequest(request)
        let limit = request.timeout ?? configuration.timeout
        let handle = Locked<URLSessionDataTask?>(nil)
        let cancelled = Locked(false)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<TransportResponse, any Error>) in
                let task = session.dataTask(with: urlRequest) { data, response, error in
                    if let error {
                        let wasCancelled = (error as? URLError)?.code == .cancelled && cancelled.withLock { $0 }
                        if wasCancelled {
                            continuation.resume(throwing: CancellationError())
                        } else if let error = error as? URLError {
                            continuation.resume(throwing: SearchError(urlError: error, url: request.url, limit: limit))
                        } else {
                            continuation.resume(throwing: SearchError.transportFailure(error, url: request.url))
                        }
                        return
                    }
                    guard let http = response as? HTTPURLResponse, let status = Self.status(http.statusCode) else {
                        continuation.resume(
                            throwing: SearchError(
                                urlError: URLError(.badServerResponse), url: request.url, limit: limit))
                        return
                    }
                    continuation.resume(
                        returning: TransportResponse(
                            status: status, headerFields: Self.fields(of: http), body: data ?? Data()))
                }
                handle.withLock { $0 = task }
                task.resume()
                // A cancellation that raced ahead of `resume()` still stops the task.
                if cancelled.withLock({ $0 }) { task.cancel() }
            }
        } onCancel: {
            cancelled.withLock { $0 = true }
            handle.withLock { $0 }?.cancel()
        }
    }

    private func makeURLRequest(_ request: TransportRequest) -> URLRequest {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method.rawValue
        urlRequest.timeoutInterval = (request.timeout ?? configuration.timeout).timeInterval
        for field in request.headerFields {
            urlRequest.addValue(field.value, forHTTPHeaderField: field.name.rawName)
        }
        if request.headerFields[.userAgent] == nil {
            urlRequest.setValue(configuration.userAgent, forHTTPHeaderField: "User-Agent")
        }
        urlRequest.httpBody = request.body
        return urlRequest
    }

    private static func status(_ code: Int) -> HTTPResponse.Status? {
        (100...999).contains(code) ? HTTPResponse.Status(code: code) : nil
    }

    private static func fields(of response: HTTPURLResponse) -> HTTPFields {
        var fields = HTTPFields()
        for (key, value) in response.allHeaderFields {
            guard let key = key as? String, let name = HTTPField.Name(key), let value = value as? String else {
                continue
            }
            fields.append(HTTPField(name: name, value: value))
        }
        return fields
    }
}
