import ArgumentParser
import Foundation
import HarvestClock
import Logging
import TableStorage
import TweetHarvester
import TwitterSearch

/// The options `once` and `run` share: what to search, where to store it, and which API to ask.
struct HarvestOptions: ParsableArguments {
    @Option(help: "The search query.")
    var query: String = "#mobileservices"

    @Option(help: "Where to store tweets: memory, file:PATH or sqlite:PATH.")
    var store: String = StoreSpec.defaultText

    @Option(help: "The table tweets are stored in.")
    var table: String = "Updates"

    @Flag(help: "Use the built-in simulated search API: no credentials, no network.")
    var demo = false

    @Option(help: "The search endpoint: v2 (/2/tweets/search/recent) or v1.1 (search/tweets.json).")
    var api: String = "v2"

    @Option(name: .customLong("api-base"), help: "The search API's base URL, such as http://127.0.0.1:8080.")
    var apiBase: String = "https://api.twitter.com"

    /// Settings and transport for these options: the demo API, or credentials from the environment.
    func resolve(clock: any WallClock) throws -> (settings: HarvestSettings, transport: any HTTPTransport) {
        guard let version = APIVersion(rawValue: api) else {
            throw UsageError("unknown API version \"\(api)\": use v2 or v1.1")
        }
        guard let base = URL(string: apiBase), let scheme = base.scheme, ["http", "https"].contains(scheme),
            base.host != nil
        else {
            throw UsageError("bad --api-base \"\(apiBase)\": use an http or https URL such as https://api.twitter.com")
        }
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
        settings.query = query
        settings.table = table
        do {
            try settings.validate()
        } catch {
            throw UsageError("\(error)")
        }
        return (settings, transport)
    }
}

/// Runs a subcommand body; a ``UsageError`` or any other error becomes one line on standard error and exit 1.
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
