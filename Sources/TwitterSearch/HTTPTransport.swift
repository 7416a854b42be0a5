import Foundation
import HTTPTypes

/// One HTTP request, as an ``HTTPTransport`` sends it.
///
/// A value type: signing, retries and rate-limit waits happen above the transport, in the search
/// client, which builds a new `TransportRequest` for every attempt.
public struct TransportRequest: Sendable, Hashable {
    /// The request method. The default is `GET`.
    public var method: HTTPRequest.Method
    /// The absolute URL, including its query string.
    public var url: URL
    /// The header fields; names compare case-insensitively.
    public var headerFields: HTTPFields
    /// The body, or `nil` for none.
    public var body: Data?
    /// How long the whole exchange may take before the transport gives up, or `nil` for the transport's default.
    public var timeout: Duration?

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - method: The request method. The default is `GET`.
    ///   - url: The absolute URL, including its query string.
    ///   - headerFields: The header fields. The default is none.
    ///   - body: The body. The default is none.
    ///   - timeout: The time limit for the whole exchange. The default is the transport's own.
    public init(
        method: HTTPRequest.Method = .get,
        url: URL,
        headerFields: HTTPFields = [:],
        body: Data? = nil,
        timeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headerFields = headerFields
        self.body = body
        self.timeout = timeout
    }
}

/// One HTTP response, as an ``HTTPTransport`` returns it.
///
/// Any status is a response, not an error: a 429 or a 503 comes back as a `TransportResponse`, and the
/// search client decides what it means.
public struct TransportResponse: Sendable, Hashable {
    /// The status code.
    public var status: HTTPResponse.Status
    /// The header fields; names compare case-insensitively.
    public var headerFields: HTTPFields
    /// The complete body.
    public var body: Data

    /// Creates a response.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - headerFields: The header fields. The default is none.
    ///   - body: The complete body. The default is empty.
    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: Data = Data()) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }
}

/// Moves one HTTP request and its response; nothing more.
///
/// The seam between the search client and the network. TweetHarvester ships a transport on
/// URLSession; `HarvestTesting` ships mock, replay and fault-injecting transports; users can plug in
/// their own (async-http-client, a proxy, a recorder). An implementation must be safe to call from
/// many tasks at once and should stop its request promptly when the calling task is cancelled.
///
/// - Throws: An error only when no response arrived (a connection failure, a time-out, cancellation).
///   An HTTP status, whatever its value, is returned as a ``TransportResponse``.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and returns the complete response.
    func send(_ request: TransportRequest) async throws -> TransportResponse
}
