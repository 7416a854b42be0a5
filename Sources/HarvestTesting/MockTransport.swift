import Foundation
import HarvestLocking
import TwitterSearch

/// An `HTTPTransport` that answers with scripted replies, in order, and records every request.
///
/// ```swift
/// let transport = MockTransport([.status(429, headers: ["x-rate-limit-reset": "1700000060"]), .json(page)])
/// // … run the code under test …
/// #expect(transport.requests.count == 2)
/// ```
public final class MockTransport: HTTPTransport, Sendable {
    /// One scripted answer.
    public enum Reply: Sendable {
        /// Answer with this response.
        case response(TransportResponse)
        /// Fail the request with this error, as a transport does when no response arrives.
        case failure(any Error)
        /// Answer by running the closure on the request.
        case handler(@Sendable (TransportRequest) async throws -> TransportResponse)

        /// A response with `status`, `headers` and `body`.
        public static func status(_ status: Int, headers: [String: String] = [:], body: Data = Data()) -> Reply {
            .response(TransportResponse(status: .init(code: status), headerFields: fields(headers), body: body))
        }

        /// A `200` (or `status`) response with a JSON body.
        public static func json(_ body: String, status: Int = 200, headers: [String: String] = [:]) -> Reply {
            json(Data(body.utf8), status: status, headers: headers)
        }

        /// A `200` (or `status`) response with a JSON body.
        public static func json(_ body: Data, status: Int = 200, headers: [String: String] = [:]) -> Reply {
            var all = headers
            all["content-type"] = all["content-type"] ?? "application/json"
            return .status(status, headers: all, body: body)
        }

        /// A `URLError`-style failure: connection lost.
        public static var connectionReset: Reply {
            .failure(MockTransportError(reason: "connection reset by peer"))
        }
    }

    private struct State {
        var replies: [Reply]
        var requests: [TransportRequest] = []
    }

    private let state: Locked<State>

    /// Creates a transport that answers the n-th request with the n-th reply.
    ///
    /// - Parameter replies: The scripted replies. A request beyond them fails with ``MockTransportError``.
    public init(_ replies: [Reply] = []) {
        state = Locked(State(replies: replies))
    }

    /// Adds replies after the ones not yet used.
    public func enqueue(_ replies: Reply...) {
        state.withLock { $0.replies.append(contentsOf: replies) }
    }

    /// Every request received so far, in order.
    public var requests: [TransportRequest] {
        state.withLock { $0.requests }
    }

    /// The number of scripted replies not yet used.
    public var pendingReplies: Int {
        state.withLock { $0.replies.count }
    }

    /// Records `request` and answers with the next scripted reply.
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        try Task.checkCancellation()
        let reply = state.withLock { state -> Reply? in
            state.requests.append(request)
            return state.replies.isEmpty ? nil : state.replies.removeFirst()
        }
        switch reply {
        case .response(let response): return response
        case .failure(let error): throw error
        case .handler(let handler): return try await handler(request)
        case nil: throw MockTransportError(reason: "no scripted reply left for \(request.method) \(request.url.path)")
        }
    }

    static func fields(_ headers: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return fields
    }
}

/// The failure a test transport reports for an injected network fault or a request it has no answer for.
public struct MockTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var reason: String

    /// Creates an error.
    public init(reason: String) {
        self.reason = reason
    }

    /// The reason.
    public var description: String { reason }
}
