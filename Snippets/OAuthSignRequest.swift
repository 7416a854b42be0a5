// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/OAuthSigning.md: signing a request. CI builds and runs it; the hidden lines check the header against
// Twitter's documented example ("Creating a signature"), with its nonce and timestamp.
import Foundation
import HTTPTypes
import HarvestTesting

let environment = [
    "TWITTER_CONSUMER_SECRET": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "TWITTER_ACCESS_TOKEN_SECRET": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
]
// snippet.show
import OAuthSigning

let credentials = OAuth1Credentials(
    consumerKey: "xvz1evFS4wEEPTGEFPHBog",
    consumerSecret: Secret(environment["TWITTER_CONSUMER_SECRET"] ?? ""),
    token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    tokenSecret: Secret(environment["TWITTER_ACCESS_TOKEN_SECRET"] ?? ""))
let signer = OAuth1Signer(credentials: credentials)

// A URL and (for POST) the decoded form parameters:
let header = try signer.authorizationHeader(
    method: "POST", url: URL(string: "https://api.twitter.com/1.1/statuses/update.json?include_entities=true")!,
    formParameters: [("status", "Hello Ladies + Gentlemen, a signed OAuth request!")])

// Or a swift-http-types request; a form-encoded body is signed too:
var request = HTTPRequest(
    method: .get, scheme: "https", authority: "api.twitter.com",
    path: "/1.1/search/tweets.json?q=%23mobileservices&since_id=1741692715592455650")
try signer.sign(&request)
// snippet.hide
precondition(header.hasPrefix("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\""), header)
precondition(request.headerFields[.authorization]?.hasPrefix("OAuth ") == true)
// The documented example's signature, with its nonce and timestamp.
let documented = OAuth1Signer(
    credentials: credentials, clock: ManualClock(now: Date(timeIntervalSince1970: 1_318_622_958)),
    nonce: .fixed("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"))
let example = try documented.authorizationHeader(
    method: "POST", url: URL(string: "https://api.twitter.com/1.1/statuses/update.json?include_entities=true")!,
    formParameters: [("status", "Hello Ladies + Gentlemen, a signed OAuth request!")])
precondition(example.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""), example)
