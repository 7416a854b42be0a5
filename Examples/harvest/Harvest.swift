import ArgumentParser

/// The `harvest` command line: keeps a table of tweets current, and helps debug what it does.
@main
struct Harvest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harvest",
        abstract: "Keep a table of tweets current on a schedule.",
        subcommands: [
            OnceCommand.self, RunCommand.self, BrowseCommand.self, VerifyCommand.self, RepairCommand.self,
            CronCommand.self,
            OAuthCommand.self,
        ]
    )
}
