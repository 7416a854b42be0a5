import Foundation
import HarvestTesting
import OAuthSigning
import Testing

@testable import TwitterSearch

/// The optional tweet fields, decoded from the real fixtures and checked against Foundation's reading of them.
@Suite("TweetFields: language, conversation, metrics, sensitivity, entities and the JSON object")
struct TweetFieldsTests {
    @Test("v2: every asked-for field of the real brexit page is what the fixture says")
    func v2Fixture() throws {
        let data = try Fixture.v2Brexit
        let objects = try #require(try Fixture.object(data)["data"] as? [[String: Any]])
        let tweets = try SearchResponse(decoding: data, api: .v2, fields: .all).tweets
        #expect(tweets.count == objects.count)
        for (tweet, object) in zip(tweets, objects) {
            #expect(tweet.language == object["lang"] as? String)
            #expect(tweet.conversationID.map(String.init) == object["conversation_id"] as? String)
            #expect(tweet.possiblySensitive == object["possibly_sensitive"] as? Bool)
            let metrics = try #require(object["public_metrics"] as? [String: Int])
            #expect(tweet.metrics?.likeCount == metrics["like_count"])
            #expect(tweet.metrics?.retweetCount == metrics["retweet_count"])
            #expect(tweet.metrics?.replyCount == metrics["reply_count"])
            #expect(tweet.metrics?.quoteCount == metrics["quote_count"])
            let entities = object["entities"] as? [String: Any]
            let tags = (entities?["hashtags"] as? [[String: Any]] ?? []).compactMap { $0["tag"] as? String }
            let mentions = (entities?["mentions"] as? [[String: Any]] ?? []).compactMap { $0["username"] as? String }
            let urls = (entities?["urls"] as? [[String: Any]] ?? []).compactMap { $0["expanded_url"] as? String }
            #expect(tweet.entities?.hashtags ?? [] == tags)
            #expect(tweet.entities?.mentions ?? [] == mentions)
            #expect(tweet.entities?.urls ?? [] == urls)
            // The JSON object is the tweet's own, byte for byte: it reads back as the fixture's object.
            let json = try #require(tweet.json)
            let reread = try #require(try JSONSerialization.jsonObject(with: json) as? NSDictionary)
            #expect(reread == object as NSDictionary)
        }
        // The page has more than one language and some metrics above zero, so the checks above can fail.
        #expect(Set(tweets.compactMap(\.language)).count > 1)
        #expect(tweets.contains { ($0.metrics?.retweetCount ?? 0) > 0 })
        #expect(tweets.contains { !($0.entities?.hashtags.isEmpty ?? true) })
    }

    @Test("v1.1: language, sensitivity, retweet and favorite counts and entities of the real tweepy page")
    func v1Fixture() throws {
        let data = try Fixture.v1
        let objects = try #require(try Fixture.object(data)["statuses"] as? [[String: Any]])
        let tweets = try SearchResponse(decoding: data, api: .v1_1, fields: .all).tweets
        #expect(tweets.count == objects.count)
        for (tweet, object) in zip(tweets, objects) {
            #expect(tweet.language == object["lang"] as? String)
            #expect(tweet.conversationID == nil)
            #expect(tweet.possiblySensitive == object["possibly_sensitive"] as? Bool)
            #expect(tweet.metrics?.likeCount == object["favorite_count"] as? Int)
            #expect(tweet.metrics?.retweetCount == object["retweet_count"] as? Int)
            let entities = object["entities"] as? [String: Any]
            let tags = (entities?["hashtags"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            let mentions = (entities?["user_mentions"] as? [[String: Any]] ?? []).compactMap {
                $0["screen_name"] as? String
            }
            #expect(tweet.entities?.hashtags ?? [] == tags)
            #expect(tweet.entities?.mentions ?? [] == mentions)
            let json = try #require(tweet.json)
            let reread = try #require(try JSONSerialization.jsonObject(with: json) as? NSDictionary)
            #expect(reread == object as NSDictionary)
        }
        #expect(tweets.contains { !($0.entities?.mentions.isEmpty ?? true) })
    }

    @Test(
        "fields not asked for stay nil, and the rest of the tweet is the same either way",
        arguments: APIVersion.allCases)
    func notAskedForStaysNil(api: APIVersion) throws {
        let data = api == .v2 ? try Fixture.v2Brexit : try Fixture.v1
        let plain = try SearchResponse(decoding: data, api: api).tweets
        #expect(plain.allSatisfy { $0.language == nil && $0.metrics == nil && $0.entities == nil && $0.json == nil })
        let some = try SearchResponse(decoding: data, api: api, fields: [.language]).tweets
        #expect(some.allSatisfy { $0.metrics == nil && $0.entities == nil && $0.json == nil })
        #expect(some.allSatisfy { $0.language != nil })
        var stripped = try SearchResponse(decoding: data, api: api, fields: .all).tweets
        for index in stripped.indices { stripped[index].takeFields(of: Tweet(id: 0, text: ""), json: nil) }
        #expect(stripped == plain)
    }

    @Test("a v2 request asks for the fields' names and the extra ones, each once; the defaults stay as they were")
    func requestNamesTheFields() async throws {
        let empty = Data(#"{"meta":{"result_count":0}}"#.utf8)
        func fieldsSent(_ configure: (inout SearchClient.Configuration) -> Void) async throws -> [String: String] {
            let transport = MockTransport([.json(empty)])
            var configuration = SearchClient.Configuration()
            configure(&configuration)
            let client = try SearchClient(
                credentials: .bearer(BearerCredentials(token: Secret("t"))), configuration: configuration,
                transport: transport)
            for try await _ in client.pages(SearchQuery("q")) {}
            let url = try #require(transport.requests.first?.url)
            let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
            return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
        }
        let plain = try await fieldsSent { _ in }
        #expect(plain["tweet.fields"] == "created_at,author_id,referenced_tweets,in_reply_to_user_id")
        #expect(plain["expansions"] == "author_id")
        #expect(plain["user.fields"] == "username")
        let asked = try await fieldsSent {
            $0.fields = [.language, .metrics, .entities, .json]
            $0.extraTweetFields = ["context_annotations", "lang"]
            $0.extraExpansions = ["attachments.media_keys", "author_id"]
            $0.extraUserFields = ["verified"]
        }
        #expect(
            asked["tweet.fields"]
                == "created_at,author_id,referenced_tweets,in_reply_to_user_id,lang,public_metrics,entities,context_annotations"
        )
        #expect(asked["expansions"] == "author_id,attachments.media_keys")
        #expect(asked["user.fields"] == "username,verified")
    }
}
