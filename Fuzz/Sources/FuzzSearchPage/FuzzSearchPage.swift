import Foundation

/// Decodes the input as a search page: the first byte picks the API (even: v2, odd: v1.1) and, in its second bit,
/// whether every optional field (`TweetFields.all`) is decoded too; the rest is the body.
/// Decoding either succeeds or throws a `SearchError`; when it succeeds, every tweet's id lies between the
/// page's oldest and newest id. A crash, a hang or a broken invariant is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSearchPage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let api: APIVersion = data[0] % 2 == 0 ? .v2 : .v1_1
    let body = Data(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let fields: TweetFields = data[0] & 2 == 0 ? [] : .all
    guard let page = try? SearchResponse(decoding: body, api: api, fields: fields) else { return 0 }
    guard let oldest = page.oldestID, let newest = page.newestID else {
        if !page.tweets.isEmpty { fatalError("a page with \(page.tweets.count) tweets has no oldest or newest id") }
        return 0
    }
    for tweet in page.tweets where tweet.id < oldest || tweet.id > newest {
        fatalError("tweet \(tweet.id) lies outside the page's ids \(oldest)...\(newest)")
    }
    return 0
}
