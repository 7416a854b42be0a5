import Foundation
import HTTPTypes
import HarvestTesting
import OAuthSigning
import Testing

/// The examples published in RFC 5849, in OAuth Core 1.0 and in Twitter's "Creating a signature" page,
/// reproduced character for character.
@Suite("Published OAuth 1.0a examples")
struct PublishedVectorTests {
    // Twitter's documented example (developer.twitter.com, "Creating a signature").
    static let twitter = OAuth1Credentials(
        consumerKey: "xvz1evFS4wEEPTGEFPHBog",
        consumerSecret: Secret("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
        token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        tokenSecret: Secret("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"))
    static let twitterURL = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
    static let twitterForm = [(name: "status", value: "Hello Ladies + Gentlemen, a signed OAuth request!")]
    static let twitterNonce = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"

    // RFC 5849 §1.2 (and OAuth Core 1.0 Appendix A): the photos.example.net printer.
    static let photos = OAuth1Credentials(
        consumerKey: "dpf43f3p2l4k3l03", consumerSecret: Secret("kd94hf93k423kf44"),
        token: "nnch734d00sl2jdk", tokenSecret: Secret("pfkkdhi9sl3r4s00"))

    @Test("Twitter's example: the documented signature base string")
    func twitterBaseString() throws {
        let base = try OAuth1Signer(credentials: Self.twitter).signatureBaseString(
            method: "POST", url: Self.twitterURL, formParameters: Self.twitterForm, nonce: Self.twitterNonce,
            timestamp: "1318622958")
        #expect(
            base
                == "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26"
                + "oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"
                + "%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-"
                + "GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B"
                + "%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521")
    }

    @Test("Twitter's example: signature hCtSmYh+iHYCEqBWrE7C7hYmtUk= in the documented header")
    func twitterHeader() throws {
        let header = try OAuth1Signer(credentials: Self.twitter).authorizationHeader(
            method: "POST", url: Self.twitterURL, formParameters: Self.twitterForm, nonce: Self.twitterNonce,
            timestamp: "1318622958")
        #expect(
            header
                == "OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", "
                + "oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\", "
                + "oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\", oauth_signature_method=\"HMAC-SHA1\", "
                + "oauth_timestamp=\"1318622958\", oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\", "
                + "oauth_version=\"1.0\"")
    }

    @Test("Twitter's example signed as an HTTPRequest with a form body gives the same signature")
    func twitterHTTPRequest() throws {
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_318_622_958))
        let signer = OAuth1Signer(credentials: Self.twitter, clock: clock, nonce: .fixed(Self.twitterNonce))
        var request = HTTPRequest(
            method: .post, scheme: "https", authority: "api.twitter.com",
            path: "/1.1/statuses/update.json?include_entities=true")
        request.headerFields[.contentType] = "application/x-www-form-urlencoded"
        let body = Data("status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21".utf8)
        try signer.sign(&request, body: body)
        let header = try #require(request.headerFields[.authorization])
        #expect(header.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""))
    }

    @Test("Twitter's documented percent-encoding examples")
    func twitterPercentEncoding() {
        #expect(PercentEncoding.encode("Ladies + Gentlemen") == "Ladies%20%2B%20Gentlemen")
        #expect(PercentEncoding.encode("An encoded string!") == "An%20encoded%20string%21")
        #expect(PercentEncoding.encode("Dogs, Cats & Mice") == "Dogs%2C%20Cats%20%26%20Mice")
        #expect(PercentEncoding.encode("☃") == "%E2%98%83")
    }

    @Test("RFC 5849 §1.2: the example request without oauth_version, with its realm")
    func rfcSection1_2() throws {
        var configuration = OAuth1Signer.Configuration()
        configuration.includesVersion = false
        configuration.realm = "Photos"
        let header = try OAuth1Signer(credentials: Self.photos, configuration: configuration).authorizationHeader(
            method: "GET", url: "http://photos.example.net/photos?file=vacation.jpg&size=original",
            nonce: "chapoH", timestamp: "137131202")
        #expect(
            header
                == "OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", oauth_nonce=\"chapoH\", "
                + "oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\", oauth_signature_method=\"HMAC-SHA1\", "
                + "oauth_timestamp=\"137131202\", oauth_token=\"nnch734d00sl2jdk\"")
    }

    @Test("OAuth Core 1.0 Appendix A.5: the same request with oauth_version, base string and signature")
    func coreAppendixA() throws {
        let signer = OAuth1Signer(credentials: Self.photos)
        let url = "http://photos.example.net/photos?file=vacation.jpg&size=original"
        let base = try signer.signatureBaseString(
            method: "GET", url: url, nonce: "kllo9940pd9333jh", timestamp: "1191242096")
        #expect(
            base
                == "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03"
                + "%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096"
                + "%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal")
        let header = try signer.authorizationHeader(
            method: "GET", url: url, nonce: "kllo9940pd9333jh", timestamp: "1191242096")
        #expect(header.contains("oauth_signature=\"tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D\""))
    }

    static let section3411Base =
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
        + "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
        + "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"

    @Test("RFC 5849 §3.4.1.1: the signature base string, character for character")
    func rfcSection3_4_1_1() throws {
        var configuration = OAuth1Signer.Configuration()
        configuration.includesVersion = false
        let signer = OAuth1Signer(
            credentials: OAuth1Credentials(
                consumerKey: "9djdj82h48djs9d2", consumerSecret: Secret("j49sk3j29djd"), token: "kkk9d7dh3k39sjv7",
                tokenSecret: Secret("dh893hdasih9")),
            configuration: configuration)
        // The body `c2&a3=2+q`, decoded: `c2` with an empty value and `a3` = "2 q".
        let base = try signer.signatureBaseString(
            method: "POST", url: "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
            formParameters: [("c2", ""), ("a3", "2 q")], nonce: "7d8f3e4a", timestamp: "137131201")
        #expect(base == Self.section3411Base)
    }

    @Test("RFC 5849 §3.4.1.1: the same request with its raw form body `c2&a3=2+q`")
    func rfcSection3_4_1_1Body() throws {
        var configuration = OAuth1Signer.Configuration()
        configuration.includesVersion = false
        let credentials = OAuth1Credentials(
            consumerKey: "9djdj82h48djs9d2", consumerSecret: Secret("j49sk3j29djd"), token: "kkk9d7dh3k39sjv7",
            tokenSecret: Secret("dh893hdasih9"))
        let signer = OAuth1Signer(
            credentials: credentials, configuration: configuration,
            clock: ManualClock(now: Date(timeIntervalSince1970: 137_131_201)),
            nonce: .fixed("7d8f3e4a"))
        var request = HTTPRequest(
            method: .post, scheme: "http", authority: "example.com", path: "/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
        request.headerFields[.contentType] = "application/x-www-form-urlencoded; charset=utf-8"
        try signer.sign(&request, body: Data("c2&a3=2+q".utf8))
        let viaParameters = try signer.authorizationHeader(
            method: "POST", url: "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
            formParameters: [("c2", ""), ("a3", "2 q")], nonce: "7d8f3e4a", timestamp: "137131201")
        #expect(request.headerFields[.authorization] == viaParameters)
    }

    @Test("HMAC-SHA256 and PLAINTEXT on the RFC's photos request")
    func otherMethods() throws {
        let url = "http://photos.example.net/photos?file=vacation.jpg&size=original"
        // The HMAC-SHA256 value is oauthlib's for the same request.
        let sha256 = try OAuth1Signer(credentials: Self.photos, signatureMethod: .hmacSHA256).authorizationHeader(
            method: "GET", url: url, nonce: "chapoH", timestamp: "137131202")
        #expect(sha256.contains("oauth_signature=\"rAAvYu1BQL0v7E7CJl81nKGKZdQr4XFo7E7vbGJxPz4%3D\""))
        #expect(sha256.contains("oauth_signature_method=\"HMAC-SHA256\""))
        // §3.4.4: the PLAINTEXT signature is the key, `kd94hf93k423kf44&pfkkdhi9sl3r4s00`, encoded in the header.
        let plaintext = try OAuth1Signer(credentials: Self.photos, signatureMethod: .plaintext).authorizationHeader(
            method: "GET", url: url, nonce: "chapoH", timestamp: "137131202")
        #expect(plaintext.contains("oauth_signature=\"kd94hf93k423kf44%26pfkkdhi9sl3r4s00\""))
    }
}
