import Foundation
import HTTPTypes
import HarvestDemo
import HarvestTestServer
import TwitterSearch

@testable import TweetHarvester

/// The demo search API behind the test server: requests arrive over HTTP and are answered as the real API
/// would at the demo clock's time.
enum DemoOverHTTP {
    /// A route that answers `GET path` from `demo`, after `delay` (called per request, in microseconds).
    ///
    /// With a `hold`, every request passes it first: the armed one waits there until the test releases it.
    static func route(
        _ path: String, _ demo: DemoTransport, hold: RequestHold? = nil,
        delay: @escaping @Sendable () -> UInt32 = { 0 }
    ) -> TestHTTPServer.Route {
        TestHTTPServer.Route("GET", path) { request in
            hold?.pass(request)
            let pause = delay()
            if pause > 0 { usleep(pause) }
            return answer(request, from: demo)
        }
    }

    /// The demo API's answer to a request the server received.
    static func answer(_ request: TestHTTPServer.Request, from demo: DemoTransport) -> TestHTTPServer.Response {
        guard let url = URL(string: "http://127.0.0.1" + request.target) else {
            return TestHTTPServer.Response(status: 400)
        }
        var fields = HTTPFields()
        for (name, value) in request.headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        let response = demo.response(to: TransportRequest(url: url, headerFields: fields))
        return TestHTTPServer.Response(
            status: response.status.code, headers: response.headerFields.map { ($0.name.rawName, $0.value) },
            body: response.body)
    }
}
