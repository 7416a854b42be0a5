import CronScheduler
import Foundation

/// Parses the input as a cron expression. When it parses, the next fire times in three zones (UTC, one with
/// daylight saving, one with a half-hour offset) must rise strictly and each must be a time the expression
/// matches again when asked from just before it. A crash, a hang or a broken invariant is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCron(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let expression = try? CronExpression(text) else { return 0 }
    let start = Date(timeIntervalSince1970: 1_774_742_400)  // 2026-03-29T00:00:00Z, a DST change in Europe
    for zone in CronFuzzZones.all {
        var after = start
        for _ in 0..<4 {
            guard let next = expression.next(after: after, in: zone) else {
                fatalError("'\(text)' parsed, so it fires, but next(after: \(after)) in \(zone.identifier) is nil")
            }
            guard next > after else {
                fatalError("'\(text)': next(after: \(after)) in \(zone.identifier) is \(next), not after it")
            }
            guard expression.next(after: next.addingTimeInterval(-1), in: zone) == next else {
                fatalError("'\(text)': \(next) in \(zone.identifier) is not the fire time found again from 1 s before")
            }
            after = next
        }
    }
    return 0
}

enum CronFuzzZones {
    static let all: [TimeZone] = ["UTC", "Europe/Berlin", "Asia/Kolkata"].compactMap { TimeZone(identifier: $0) }
}
