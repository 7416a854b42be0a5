import Foundation
import HarvestTesting
import OAuthSigning
import Testing
import TwitterSearch

/// The samples of `Docs/HarvestTesting.md` that are tests. `.ci/check-doc-samples` checks that the document shows
/// exactly the lines between `sample:` and `sample: end` that are not hidden.
@Suite("Doc samples: HarvestTesting")
struct HarvestTestingDocSamples {
    /// The real v2 page, as the last page of a walk (without its `next_token`).
    static var recentPage: Data {
        get throws {
            let text = try String(decoding: Fixture.v2Minimal, as: UTF8.self)
            let trimmed = text.replacingOccurrences(
                of: #","next_token":"b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul""#, with: "")
            #expect(trimmed != text, "the fixture's next_token moved; update the sample's page")
            return Data(trimmed.utf8)
        }
    }

    // sample: HarvestTestingRateLimit
    @Test("429 waits out the reset, then retries once")
    func waitsOutRateLimit() async throws {
        // snippet.hide
        let recentPage = try Self.recentPage
        // snippet.show
        let clock = ManualClock(now: Date(timeIntervalSince1970: 1_700_000_000))
        let transport = MockTransport([
            .status(429, headers: ["x-rate-limit-reset": "1700000060"]),
            .json(recentPage),
        ])
        let client = try SearchClient(
            credentials: .bearer(BearerCredentials(token: Secret("t"))),
            transport: transport, clock: clock)
        async let tweets = client.search(SearchQuery("#mobileservices"))
        await clock.waitForSleepers(1)
        #expect(clock.nextSleeperDeadline == Date(timeIntervalSince1970: 1_700_000_061))  // reset + 1 s margin
        clock.advance(by: .seconds(61))
        #expect(try await tweets.count == 10)
        #expect(transport.requests.count == 2)
    }
    // sample: end
}
