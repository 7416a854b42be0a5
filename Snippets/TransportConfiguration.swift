// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/TwitterSearch.md: a transport of your own, shut down when done. CI builds and runs it against a port
// nothing listens on (127.0.0.1:9), so it ends in a typed error without leaving the machine.
import Foundation
import OAuthSigning

let credentials = SearchCredentials.bearer(BearerCredentials(token: Secret("placeholder-bearer-token")))
var search = SearchClient.Configuration()
search.baseURL = URL(string: "http://127.0.0.1:9")!
search.policy.maxAttempts = 1
var failure: SearchError?
// snippet.show
import TwitterSearch

var configuration = AsyncHTTPClientTransport.Configuration()
configuration.requestTimeout = .seconds(10)
configuration.maxBodySize = 2 * 1024 * 1024
let transport = AsyncHTTPClientTransport(configuration: configuration)
let client = try SearchClient(credentials: credentials, configuration: search, transport: transport)
// snippet.hide
do {
    // snippet.show
    for try await page in client.pages(SearchQuery("#mobileservices")) { print(page.tweets.count) }
    // snippet.hide
} catch let error as SearchError {
    failure = error
}
// snippet.show
try await transport.shutdown()
// snippet.hide
precondition(failure?.code == .transport, "expected a transport error, got \(String(describing: failure))")
precondition(!"\(failure!)".contains("placeholder-bearer-token"))
