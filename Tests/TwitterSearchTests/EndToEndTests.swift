import Crypto
import Foundation
import HarvestClock
import HarvestLocking
import HarvestTestServer
import HarvestTesting
import OAuthSigning
import Testing
import TwitterSearch

/// An OAuth 1.0a HMAC-SHA1 verifier written from RFC 5849 §3.4 alone, independent of OAuthSigning.
enum IndependentOAuth {
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Whether the request's `Authorization` header carries a valid signature for these secrets.
    static func verify(_ request: TestHTTPServer.Request, consumerSecret: String, tokenSecret: String) -> Bool {
        guard let header = request.headers["authorization"], header.hasPrefix("OAuth ") else { return false }
        var oauth: [(String, String)] = []
        for part in header.dropFirst(6).components(separatedBy: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return false }
            let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            oauth.append((String(pair[0]), value.removingPercentEncoding ?? value))
        }
        guard let signature = oauth.first(where: { $0.0 == "oauth_signature" })?.1 else { return false }
        var pairs: [(String, String)] = oauth.filter { $0.0 != "oauth_signature" && $0.0 != "realm" }
        for item in request.query { pairs.append((item.name, item.value)) }
        let encoded: [(String, String)] = pairs.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { (a: (String, String), b: (String, String)) -> Bool in
            a.0 == b.0 ? a.1 < b.1 : a.0 < b.0
        }
        let parameters = sorted.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let baseURL = "http://\(request.headers["host"] ?? "")\(request.path)"
        let base = "\(request.method)&\(encode(baseURL))&\(encode(parameters))"
        let key = SymmetricKey(data: Data("\(encode(consumerSecret))&\(encode(tokenSecret))".utf8))
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(base.utf8), using: key)
        return Data(mac).base64EncodedString() == signature
    }
}

@Suite("End to end over the default transport (AsyncHTTPClientTransport.shared)")
struct EndToEndTests {
    private static let consumerSecret = "kd94hf93k423kf44&+/ü"
    private static let tokenSecret = "pfkkdhi9sl3r4s00"
    private static let base: UInt64 = 1_500_000_000_000_000_000  // far above 2^53

    /// 260 tweets, newest first; every seventh a retweet, every eleventh a reply.
    private static let corpus: [(id: UInt64, refs: [String])] = (1...260).reversed().map {
        (k: Int) -> (id: UInt64, refs: [String]) in
        let refs: [String] = k % 7 == 0 ? ["retweeted"] : (k % 11 == 0 ? ["replied_to"] : [])
        return (base + UInt64(k) * 1000 + 1, refs)
    }

    /// The server's search: tweets with since < id <= bound, at most `count`; the next cursor repeats the
    /// last tweet (as an overlapping API would) so the client must drop the duplicate.
    private static func slice(since: UInt64, bound: UInt64, count: Int) -> (
        tweets: ArraySlice<(id: UInt64, refs: [String])>, more: Bool
    ) {
        let eligible = corpus.filter { $0.id > since && $0.id <= bound }
        return (eligible.prefix(count), eligible.count > count)
    }

    @Test(
        "a walk with a 429, two 503s and a cut-off body ends with exactly the right tweets, in order, once",
        arguments: APIVersion.allCases)
    func endToEnd(api: APIVersion) async throws {
        let sinceID = Self.base + 15 * 1000 + 1
        let badSignatures = Locked(0)
        let arrivals = Locked(0)
        let clock = ImmediateClock(now: Date(timeIntervalSince1970: 1_700_000_000))
        let handler: @Sendable (TestHTTPServer.Request) -> TestHTTPServer.Response = { request in
            guard IndependentOAuth.verify(request, consumerSecret: Self.consumerSecret, tokenSecret: Self.tokenSecret)
            else {
                badSignatures.withLock { $0 += 1 }
                return .json(#"{"errors":[{"code":32,"message":"Could not authenticate you."}]}"#, status: 401)
            }
            let index = arrivals.withLock { value -> Int in
                defer { value += 1 }
                return value
            }
            switch index {
            case 0:
                let reset = Int(clock.now.timeIntervalSince1970) + 30
                return .json(
                    #"{"title":"Too Many Requests","status":429}"#, status: 429,
                    headers: [
                        ("x-rate-limit-limit", "450"), ("x-rate-limit-remaining", "0"),
                        ("x-rate-limit-reset", "\(reset)"),
                    ])
            case 2, 3:
                return .json(#"{"title":"Service Unavailable"}"#, status: 503)
            default:
                break
            }
            let since = request.queryValue("since_id").flatMap { UInt64($0) } ?? 0
            let full: TestHTTPServer.Response
            if api == .v2 {
                let bound =
                    request.queryValue("next_token").flatMap { UInt64($0) } ?? request.queryValue("until_id").flatMap {
                        UInt64($0)
                    }.map { $0 - 1 } ?? .max
                let (tweets, more) = Self.slice(
                    since: since, bound: bound, count: Int(request.queryValue("max_results") ?? "10") ?? 10)
                full = .json(
                    v2Page(
                        tweets.map { ($0.id, "tweet \($0.id)", $0.refs) },
                        next: more ? tweets.last.map { String($0.id) } : nil),
                    headers: [("x-rate-limit-remaining", "440"), ("x-rate-limit-reset", "1700000900")])
            } else {
                let bound = request.queryValue("max_id").flatMap { UInt64($0) } ?? .max
                let (tweets, more) = Self.slice(
                    since: since, bound: bound, count: Int(request.queryValue("count") ?? "15") ?? 15)
                full = .json(
                    v1Page(
                        tweets.map { ($0.id, "tweet \($0.id)", $0.refs == ["retweeted"], $0.refs == ["replied_to"]) },
                        nextResults: more ? "?max_id=\((tweets.last?.id ?? 1) - 1)&q=x" : nil))
            }
            if index == 4 {
                var cut = full
                cut.cutAfter = full.body.count / 2
                return cut
            }
            return full
        }
        let path = api == .v2 ? "/2/tweets/search/recent" : "/1.1/search/tweets.json"
        try await TestHTTPServer.withServer([.init("GET", path, handler: handler)]) { server in
            var configuration = SearchClient.Configuration()
            configuration.api = api
            configuration.baseURL = server.baseURL
            configuration.policy.random = .fixed(0.3)
            let credentials = OAuth1Credentials(
                consumerKey: "dpf43f3p2l4k3l03", consumerSecret: Secret(Self.consumerSecret), token: "nnch734d00sl2jdk",
                tokenSecret: Secret(Self.tokenSecret))
            let client = try SearchClient(
                credentials: .oauth1(credentials), configuration: configuration, clock: clock)
            var pages: [SearchPage] = []
            for try await page in client.pages(SearchQuery("#mobile services", sinceID: sinceID)) { pages.append(page) }

            let expected = Self.corpus.filter { $0.id > sinceID }.map(\.id)
            let received = pages.flatMap(\.tweets).map(\.id)
            #expect(received == expected)
            #expect(Set(received).count == received.count)
            #expect(received.count == 245)
            #expect(pages.last?.isLast == true)
            #expect(
                pages.flatMap(\.tweets).filter(\.isRetweet).count
                    == expected.filter { ($0 - Self.base - 1) / 1000 % 7 == 0 }.count)
            #expect(badSignatures.withLock { $0 } == 0)
            // 3 pages + a 429 + two 503s + one cut body = 7 requests, every one verified.
            #expect(server.requests.count == 7)
            // The 429 waited 30 s plus the 1 s margin; the three retries backed off 0.35 s, 0.7 s, 1.4 s.
            let sleeps = clock.sleeps
            #expect(sleeps.count == 4)
            #expect(sleeps.first == Date(timeIntervalSince1970: 1_700_000_031))
        }
    }

    @Test("the independent verifier rejects a signature made with the wrong secret")
    func verifierRejectsWrongSecret() async throws {
        let accepted = Locked<[Bool]>([])
        try await TestHTTPServer.withServer([
            .init("GET", "/check") { request in
                accepted.withLock {
                    $0.append(IndependentOAuth.verify(request, consumerSecret: "right", tokenSecret: "t"))
                }
                return .json("{}")
            }
        ]) { server in
            let url = server.baseURL.appendingPathComponent("check")
            for secret in ["right", "wrong"] {
                let signer = OAuth1Signer(
                    credentials: OAuth1Credentials(
                        consumerKey: "k", consumerSecret: Secret(secret), token: "a", tokenSecret: Secret("t")))
                var fields = HTTPFields()
                fields[.authorization] = try signer.authorizationHeader(
                    method: "GET", url: url.appending(queryItems: [URLQueryItem(name: "q", value: "a b&c")]))
                _ = try await AsyncHTTPClientTransport.shared.send(
                    TransportRequest(
                        url: url.appending(queryItems: [URLQueryItem(name: "q", value: "a b&c")]), headerFields: fields)
                )
            }
        }
        #expect(accepted.withLock { $0 } == [true, false])
    }
}
