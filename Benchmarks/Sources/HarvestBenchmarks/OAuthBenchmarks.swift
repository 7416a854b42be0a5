import Crypto
import Foundation
import OAuthSigning

/// OAuth 1.0a signing of a typical search request, the work of `../shared/anchors/oauth_sign.py`:
/// GET search/tweets.json with `q`, `result_type` and a varying `since_id` above 2^53, fixed nonces
/// and timestamps, Twitter's documented example credentials, the full `Authorization` header.
let oauthBenchmarks = BenchmarkGroup(name: "oauth") {
    let count = 100_000
    let credentials = OAuth1Credentials(
        consumerKey: "xvz1evFS4wEEPTGEFPHBog", consumerSecret: Secret("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
        token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        tokenSecret: Secret("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"))
    let signer = OAuth1Signer(credentials: credentials)
    let base = "https://api.twitter.com/1.1/search/tweets.json?q=%23mobileservices&result_type=recent&since_id="
    let since0: UInt64 = 1_741_692_715_592_455_650
    let urls = (0..<count).map { base + String(since0 + UInt64($0) * 4_194_304) }
    let nonces = (0..<count).map { index in
        String(
            Insecure.SHA1.hash(data: Data("nonce\(index)".utf8)).map { String(format: "%02x", $0) }.joined().prefix(32))
    }
    let stamps = (0..<count).map { String(1_704_067_200 + $0) }

    // The header must be the documented one before anything is timed.
    let check = try signer.authorizationHeader(
        method: "POST", url: "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        formParameters: [("status", "Hello Ladies + Gentlemen, a signed OAuth request!")],
        nonce: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", timestamp: "1318622958")
    guard check.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\"") else {
        throw BenchmarkFailure("the signer does not reproduce Twitter's documented signature")
    }

    let signSeconds = try medianSeconds {
        var length = 0
        for index in 0..<count {
            length &+= try signer.authorizationHeader(
                method: "GET", url: urls[index], nonce: nonces[index], timestamp: stamps[index]
            ).utf8.count
        }
        return length
    }
    let signRate = Double(count) / signSeconds
    report("oauth.sign.hmac-sha1", signRate, "signatures/s")

    // The crypto floor: HMAC-SHA1 and base64 of a base string of the same length as a real one.
    let realBase = try signer.signatureBaseString(method: "GET", url: urls[0], nonce: nonces[0], timestamp: stamps[0])
    let key = SymmetricKey(
        data: Data("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw&LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE".utf8))
    let messages = (0..<count).map { index in
        Array(realBase.utf8.dropLast(8)) + Array(String(format: "%08d", index).utf8)
    }
    let hmacSeconds = medianSeconds {
        var length = 0
        for message in messages {
            length &+=
                Data(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key)).base64EncodedString().utf8.count
        }
        return length
    }
    let hmacRate = Double(count) / hmacSeconds
    report("oauth.hmac-sha1.bare", hmacRate, "ops/s")
    report("oauth.sign.cost-over-bare-hmac", hmacRate / signRate, "x")
}

/// A benchmark that could not check its own result.
struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
