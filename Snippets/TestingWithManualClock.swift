// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/GettingStarted.md, "In your tests": the demo API on a manual clock. CI builds and runs it.
import Foundation
import HarvestDemo
import HarvestTesting
import TableStorage
import TweetHarvester

// snippet.show
let clock = ManualClock(now: Date(timeIntervalSince1970: 1_790_000_000))
let demo = DemoTransport(clock: clock)
let harvester = try Harvester(settings: .demo, store: InMemoryTableStore(), transport: demo, clock: clock)
let first = try await harvester.runOnce()
clock.advance(by: .seconds(60))
let second = try await harvester.runOnce()  // the minute's tweets (about 240), in three pages
let arrived = demo.timeline(after: first.startedAt, through: clock.now)  // exactly those, newest first
// snippet.hide
precondition(first.fetched > 0, "the first run fetched nothing")
precondition(second.fetched == arrived.count, "the second run fetched \(second.fetched), not \(arrived.count)")
precondition(second.pages == 3, "the second run took \(second.pages) pages, not 3")
