import ArgumentParser
import Foundation
import HarvestClock
import HarvestDemo
import Logging
import TableStorage
import TweetHarvester
import TwitterSearch

/// The options `once` and `run` share: what to search, where to store it, and which API to ask.
struct HarvestOptions: ParsableArguments {
    @Option(help: "A search query (default #mobileservices); repeat it for several jobs, one per query.")
    var query: [String] = []

    @Option(help: "Where to store tweets: memory, file:PATH, sqlite:PATH or postgres://USER@HOST:PORT/DB.")
    var store: String = StoreSpec.defaultText

    @Option(help: "The table tweets are stored in.")
    var table: String = "Updates"

    @Flag(help: "Use the built-in simulated search API: no credentials, no network.")
    var demo = false

    @Option(help: "The search endpoint: v2 (/2/tweets/search/recent) or v1.1 (search/tweets.json).")
    var api: String = "v2"

    @Option(name: .customLong("api-base"), help: "The search API's base URL, such as http://127.0.0.1:8080.")
    var apiBase: String = "https://api.twitter.com"

    /// The queries asked for, in order, or the default one.
    var queries: [String] { query.isEmpty ? ["#mobileservices"] : query }

    /// Settings (one per query) and the transport for these options: the demo API, or credentials from the
    /// environment.
    func resolve(clock: any WallClock) throws -> (settings: [HarvestSettings], transport: any HTTPTransport) {
        guard let version = APIVersion(rawValue: api) else {
            throw UsageError("unknown API version \"\(api)\": use v2 or v1.1")
        }
        let base = try InputText.apiBase(apiBase)
        var settings: HarvestSettings
        let transport: any HTTPTransport
        if demo {
            settings = .demo
            transport = DemoTransport(clock: clock)
        } else {
            do {
                settings = try HarvestSettings.fromEnvironment()
            } catch {
                throw UsageError("\(error) (or pass --demo to use the simulated API)")
            }
            transport = AsyncHTTPClientTransport.shared
        }
        settings.api = version
        settings.baseURL = base
        settings.table = table
        guard Set(queries).count == queries.count else { throw UsageError("--query: a query is given twice") }
        let each = try queries.map { query in
            var one = settings
            one.query = query
            // One job per query; the name says which in the scheduler's log lines.
            one.jobName = queries.count > 1 ? "harvest \(query)" : nil
            do {
                try one.validate()
            } catch {
                throw UsageError("\(error)")
            }
            return one
        }
        return (each, transport)
    }
}

extension [HarvestSettings] {
    /// These settings with `ledger` as every job's rate-limit ledger, or as they are when there is none (the jobs,
    /// made from one settings value, then share its in-process ledger).
    func sharingRateLimits(_ ledger: (any RateLimitLedger)?) -> [HarvestSettings] {
        guard let ledger else { return self }
        return map { settings in
            var settings = settings
            settings.search.rateLimits = ledger
            return settings
        }
    }
}

/// Runs a subcommand body; a ``UsageError`` or any other error becomes one line on standard error (control
/// characters escaped) and exit 1.
func reportingErrors(_ command: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("harvest \(command): \(error)")
        throw ExitCode.failure
    }
}
