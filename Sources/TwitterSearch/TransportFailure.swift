import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension SearchError {
    /// The error a failed `HTTPTransport.send` becomes: a ``SearchError`` the transport threw keeps its code and
    /// message; a `URLError` gets a readable line (``URLSessionTransport``, `FaultTransport`); anything else is
    /// ``Code/transport`` with its description on one line.
    static func transportFailure(_ error: any Error, url: URL) -> SearchError {
        if let error = error as? SearchError { return error }
        if let error = error as? URLError { return SearchError(urlError: error, url: url, limit: nil) }
        return SearchError(.transport, message: TransportText.oneLine(String(describing: error)))
    }

    /// A one-line error for a `URLError` of a request to `url`, never the `Error Domain=…` dump.
    init(urlError error: URLError, url: URL, limit: Duration?) {
        let host = url.host ?? "the server"
        let endpoint = "\(host):\(url.port ?? (url.scheme?.lowercased() == "http" ? 80 : 443))"
        switch error.code {
        case .timedOut:
            self.init(
                .timedOut, message: limit.map { "no response within \(TransportText.duration($0))" } ?? "timed out")
        case .cannotFindHost, .dnsLookupFailed:
            self.init(.transport, message: "could not resolve host \(host)")
        case .cannotConnectToHost:
            self.init(.transport, message: "could not connect to \(endpoint)")
        case .networkConnectionLost:
            self.init(.transport, message: "the server closed the connection before the response was complete")
        case .badServerResponse, .cannotParseResponse:
            self.init(.transport, message: "malformed HTTP response from \(endpoint)")
        case .notConnectedToInternet:
            self.init(.transport, message: "no network connection")
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            self.init(.transport, message: "TLS with \(endpoint) failed")
        case .dataLengthExceedsMaximum:
            self.init(.responseTooLarge, message: "response body too large")
        case .httpTooManyRedirects, .redirectToNonExistentLocation:
            self.init(.transport, message: "too many redirects")
        case .cancelled:
            self.init(.transport, message: "the request was cancelled")
        default:
            self.init(.transport, message: "network error talking to \(endpoint) (URLError \(error.code.rawValue))")
        }
    }
}
