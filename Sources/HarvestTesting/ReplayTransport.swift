import Foundation
import HarvestLocking
import TwitterSearch

/// An `HTTPTransport` that serves recorded response bodies, one per request, in order.
///
/// Feed it the fixture files of a page walk (or a directory of them, served in file-name order) and point
/// a `SearchClient` at it: the client sees the recorded API.
///
/// ```swift
/// let transport = try ReplayTransport(directory: URL(fileURLWithPath: "/tmp/corpus/v2"))
/// ```
public final class ReplayTransport: HTTPTransport, Sendable {
    private struct State {
        var next = 0
        var requests: [TransportRequest] = []
    }

    private let responses: [TransportResponse]
    private let loops: Bool
    private let state = Locked(State())

    /// Creates a transport serving `responses` in order.
    ///
    /// - Parameters:
    ///   - responses: The recorded responses.
    ///   - loops: Whether to start again after the last one. The default is `false`: a request beyond the
    ///     recording fails with ``MockTransportError``.
    public init(responses: [TransportResponse], loops: Bool = false) {
        self.responses = responses
        self.loops = loops
    }

    /// Creates a transport serving the bodies of `files` in order, each as a `200` JSON response.
    ///
    /// - Parameters:
    ///   - files: Response bodies recorded from the API.
    ///   - headers: Header fields added to every response (such as `x-rate-limit-remaining`).
    ///   - loops: Whether to start again after the last file.
    /// - Throws: The error of a file that cannot be read.
    public convenience init(files: [URL], headers: [String: String] = [:], loops: Bool = false) throws {
        var fields = MockTransport.fields(headers)
        if fields[.contentType] == nil { fields[.contentType] = "application/json" }
        let responses = try files.map {
            TransportResponse(status: .ok, headerFields: fields, body: try Data(contentsOf: $0))
        }
        self.init(responses: responses, loops: loops)
    }

    /// Creates a transport serving every `.json` file of `directory`, in file-name order.
    ///
    /// - Throws: The error of a directory or file that cannot be read.
    public convenience init(directory: URL, headers: [String: String] = [:], loops: Bool = false) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        try self.init(files: names.map { directory.appendingPathComponent($0) }, headers: headers, loops: loops)
    }

    /// Every request received so far, in order.
    public var requests: [TransportRequest] {
        state.withLock { $0.requests }
    }

    /// Answers with the next recorded response.
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        try Task.checkCancellation()
        let index = state.withLock { state -> Int in
            state.requests.append(request)
            defer { state.next += 1 }
            return state.next
        }
        if index < responses.count { return responses[index] }
        if loops, !responses.isEmpty { return responses[index % responses.count] }
        throw MockTransportError(reason: "the recording has no response \(index + 1)")
    }
}
