// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/TweetHarvester.md: the settings. CI builds and runs it; a placeholder token stands in for yours.
import CronScheduler
import Glibc
import TweetHarvester

setenv("TWITTER_BEARER_TOKEN", "placeholder-token", 1)
// snippet.show
var settings = try HarvestSettings.fromEnvironment()  // TWITTER_BEARER_TOKEN, or TWITTER_CONSUMER_KEY/…_SECRET
settings.query = "#mobileservices"  // the default
settings.table = "Updates"  // the default
settings.api = .v1_1  // default .v2
settings.filters += [.authors(["spam_bot"])]  // default [.retweets, .manualRetweets, .replies]
settings.schedule = .cron(try CronExpression("0 * * * *"), timeZone: .gmt)
settings.archive = ArchivePolicy(olderThan: .seconds(30 * 86_400), moveTo: "UpdatesArchive")
// snippet.hide
precondition(!"\(settings)".contains("placeholder-token"), "the settings' description shows the token")
precondition(settings.filters.count == 4)
