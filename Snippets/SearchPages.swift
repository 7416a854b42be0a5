// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/TwitterSearch.md: a walk page by page. CI builds and runs it on the demo search API.
import HarvestDemo
import TweetHarvester

let (key, secret) = ("xvz1evFS4wEEPTGEFPHBog", "placeholder-consumer-secret")
let (token, tokenSecret) = ("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "placeholder-token-secret")
let newestStoredID: UInt64? = nil
let transport = DemoTransport()
nonisolated(unsafe) var kept = 0
func store(_ tweets: [Tweet]) async throws { kept += tweets.count }
// snippet.show
import OAuthSigning
import TwitterSearch

let client = try SearchClient(
    credentials: .oauth1(
        OAuth1Credentials(
            consumerKey: key, consumerSecret: Secret(secret), token: token, tokenSecret: Secret(tokenSecret))),
    transport: transport)  // by default `AsyncHTTPClientTransport.shared`, to api.twitter.com
for try await page in client.pages(SearchQuery("#mobileservices", sinceID: newestStoredID)) {
    let kept = page.tweets.filter { !$0.isRetweet && !$0.isReply }
    try await store(kept)  // page by page
}
// snippet.hide
precondition(kept > 0, "the walk kept no tweet")
