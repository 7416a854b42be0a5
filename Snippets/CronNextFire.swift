// snippet.hide
// swift-format-ignore-file: OrderedImports
// Docs/CronScheduler.md: a cron expression's fire times. CI builds and runs it.
import Foundation

// snippet.show
import CronScheduler

let expression = try CronExpression("30 2 * * MON-FRI")
let berlin = TimeZone(identifier: "Europe/Berlin")!
let next = expression.next(after: .now, in: berlin)  // the next fire time
let last = expression.previous(before: .now, in: berlin)  // the last one
for date in expression.fireDates(after: .now, in: berlin).prefix(5) { print(date) }  // lazy
// snippet.hide
precondition(next != nil && last != nil && last! < next!)
// 2026-03-27 is a Friday before the switch to summer time: 02:30 Berlin is 01:30 UTC that day, and the
// next fire after it is Monday 2026-03-30 at 02:30 CEST, 00:30 UTC.
let friday = Date(timeIntervalSince1970: 1_774_575_000)  // 2026-03-27T01:30:00Z
precondition(expression.next(after: friday.addingTimeInterval(-1), in: berlin) == friday)
precondition(expression.next(after: friday, in: berlin) == Date(timeIntervalSince1970: 1_774_830_600))
