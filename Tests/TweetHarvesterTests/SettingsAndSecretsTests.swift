import Foundation
import HarvestDemo
import HarvestTesting
import InMemoryLogging
import Logging
import OAuthSigning
import TableStorage
import Testing
import TwitterSearch

@testable import TweetHarvester

@Suite("Settings, credentials and secrets")
struct SettingsAndSecretsTests {
    private static let secrets = [
        "TWITTER_CONSUMER_KEY": "xvz1evFS4wEEPTGEFPHBog",
        "TWITTER_CONSUMER_SECRET": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "TWITTER_ACCESS_TOKEN": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        "TWITTER_ACCESS_TOKEN_SECRET": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    ]
    private static let secretValues = [
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        "AAAAbearer0secret0value",
    ]

    private static func containsSecret(_ text: String) -> Bool {
        secretValues.contains { text.contains($0) }
    }

    @Test("the environment's four OAuth 1.0a variables give user-context credentials")
    func oauth1FromEnvironment() throws {
        let settings = try HarvestSettings.fromEnvironment(Self.secrets)
        guard case .oauth1(let credentials) = settings.credentials else {
            Issue.record("expected OAuth 1.0a credentials, got \(settings.credentials)")
            return
        }
        #expect(credentials.consumerKey == "xvz1evFS4wEEPTGEFPHBog")
        #expect(credentials.token == "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb")
        #expect(settings.query == "#mobileservices")
        #expect(settings.table == "Updates")
        #expect(settings.api == .v2)
    }

    @Test("a bearer token wins; a consumer key and secret alone are app-only")
    func otherCredentials() throws {
        var environment = Self.secrets
        environment["TWITTER_BEARER_TOKEN"] = "AAAAbearer0secret0value"
        guard case .bearer = try HarvestSettings.fromEnvironment(environment).credentials else {
            Issue.record("expected bearer credentials")
            return
        }
        let appOnly = Self.secrets.filter { $0.key.hasPrefix("TWITTER_CONSUMER") }
        guard case .appOnly(let key, _) = try HarvestSettings.fromEnvironment(appOnly).credentials else {
            Issue.record("expected app-only credentials")
            return
        }
        #expect(key == "xvz1evFS4wEEPTGEFPHBog")
    }

    /// Incomplete environments and the variable each must name.
    private static let incomplete: [([String: String], String)] = [
        ([:], "TWITTER_BEARER_TOKEN"),
        (["TWITTER_CONSUMER_KEY": "k"], "TWITTER_CONSUMER_SECRET"),
        (
            ["TWITTER_CONSUMER_KEY": "k", "TWITTER_CONSUMER_SECRET": "s", "TWITTER_ACCESS_TOKEN": "t"],
            "TWITTER_ACCESS_TOKEN_SECRET"
        ),
        (
            ["TWITTER_CONSUMER_KEY": "k", "TWITTER_CONSUMER_SECRET": "s", "TWITTER_ACCESS_TOKEN_SECRET": "t"],
            "TWITTER_ACCESS_TOKEN"
        ),
        (["TWITTER_BEARER_TOKEN": "  "], "TWITTER_BEARER_TOKEN"),
    ]

    @Test("missing credentials name the variable to set", arguments: SettingsAndSecretsTests.incomplete)
    func missingCredentials(environment: [String: String], variable: String) {
        #expect {
            _ = try HarvestSettings.fromEnvironment(environment)
        } throws: { error in
            guard let error = error as? HarvestError else { return false }
            return error.code == .missingCredentials && error.variable == variable
                && error.description.contains(variable)
        }
    }

    /// Credentials with a control character inside, and the variable each error must name.
    private static let folded: [(String, String)] = [
        ("TWITTER_BEARER_TOKEN", "AAAAbearer0secret0value\r\nX-Injected: 1"),
        ("TWITTER_BEARER_TOKEN", "AAAAbearer0secret0value\nmore"),
        ("TWITTER_BEARER_TOKEN", "AAAAbearer0secret0value\u{0}"),
        ("TWITTER_CONSUMER_SECRET", "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw\rx"),
        ("TWITTER_ACCESS_TOKEN_SECRET", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE\u{7F}x"),
        ("TWITTER_ACCESS_TOKEN", "370773112-Gm\tHx"),
    ]

    @Test(
        "a credential with CR, LF or another control character inside is refused, naming the variable, not the value",
        arguments: SettingsAndSecretsTests.folded)
    func controlCharactersInCredentials(variable: String, value: String) {
        var environment = variable == "TWITTER_BEARER_TOKEN" ? [:] : Self.secrets
        environment[variable] = value
        let error = #expect(throws: HarvestError.self) { try HarvestSettings.fromEnvironment(environment) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.variable == variable)
        let text = error.map { "\($0) \(String(reflecting: $0))" } ?? ""
        #expect(text.contains(variable))
        #expect(!Self.containsSecret(text) && !text.contains("370773112"), "secret in: \(text)")
        #expect(!text.contains("\n") && !text.contains("\r"))
    }

    @Test("a line break around a credential, as read from a file, is trimmed, not refused")
    func surroundingLineBreaksAreTrimmed() throws {
        let settings = try HarvestSettings.fromEnvironment(["TWITTER_BEARER_TOKEN": "AAAAbearer0secret0value\r\n"])
        guard case .bearer(let bearer) = settings.credentials else {
            Issue.record("expected bearer credentials")
            return
        }
        #expect(bearer.token == Secret("AAAAbearer0secret0value"))
    }

    @Test("credentials with a control character built in code are refused by validate, before any request")
    func controlCharactersInCodeCredentials() {
        var settings = HarvestSettings.demo
        settings.credentials = .bearer(BearerCredentials(token: Secret("AAAAbearer0secret0value\r\nX: y")))
        let error = #expect(throws: HarvestError.self) {
            _ = try Harvester(settings: settings, store: InMemoryTableStore(), transport: DemoTransport())
        }
        #expect(error?.variable == "credentials.token")
        #expect(error.map { Self.containsSecret("\($0)") } == false)
        settings.credentials = .oauth1(
            OAuth1Credentials(consumerKey: "key\n", consumerSecret: Secret("s"), token: "t", tokenSecret: Secret("ts")))
        #expect { try settings.validate() } throws: { ($0 as? HarvestError)?.variable == "credentials.consumerKey" }
    }

    @Test("settings that cannot work are rejected when the harvester is made, naming the setting")
    func invalidSettings() {
        var settings = HarvestSettings.demo
        settings.pageSize = 500
        #expect(throws: HarvestError.self) {
            _ = try Harvester(settings: settings, store: InMemoryTableStore(), transport: DemoTransport())
        }
        settings = .demo
        settings.query = " "
        #expect { try settings.validate() } throws: { ($0 as? HarvestError)?.variable == "query" }
        settings = .demo
        settings.runsTable = "Updates"
        #expect { try settings.validate() } throws: { ($0 as? HarvestError)?.code == .invalidSetting }
    }

    @Test("no secret in trace logs, reports, settings descriptions, dumps or errors of a run")
    func secretsNeverShow() async throws {
        let scene = Scene()
        var settings = try HarvestSettings.fromEnvironment(Self.secrets)
        settings.pageSize = 100
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .trace
        let harvester = try Harvester(
            settings: settings, store: scene.store, transport: scene.demo, clock: scene.clock, logger: logger)
        let report = try await harvester.runOnce()
        #expect(report.stored > 0)
        // A failing run with a bearer token: its error and the stored failure report must not show the token.
        let failing = InterruptingTransport(base: scene.demo, failing: 1, clock: scene.clock)
        var bearer = settings
        bearer.credentials = .bearer(BearerCredentials(token: Secret("AAAAbearer0secret0value")))
        let failingHarvester = try Harvester(
            settings: bearer.withoutRetries, store: scene.store, transport: failing, clock: scene.clock, logger: logger)
        var errorText = ""
        do {
            _ = try await failingHarvester.runOnce()
        } catch {
            errorText = "\(error) \(String(reflecting: error))"
        }
        #expect(!errorText.isEmpty)
        var dumped = ""
        dump(settings, to: &dumped)
        dump(bearer, to: &dumped)
        let texts =
            logs.entries.map { "\($0.message) \($0.metadata)" } + [
                report.description, settings.description, bearer.description, "\(settings)", dumped, errorText,
            ]
        #expect(logs.entries.contains { $0.level == .trace || $0.level == .debug })
        for text in texts { #expect(!Self.containsSecret(text), "secret in: \(text.prefix(200))") }
        let runs = try await scene.store.read(Query("HarvestRuns"))
        #expect(!runs.contains { Self.containsSecret("\($0)") })
    }
}
