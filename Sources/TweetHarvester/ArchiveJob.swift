import Foundation
import HarvestClock
import Logging
import TableStorage

/// The archive job: moves (or deletes) tweet rows older than an age or beyond a row count, oldest first, in
/// batches.
///
/// Each batch is first copied to the destination with insert-or-ignore and only then deleted, so an archive
/// interrupted between the two steps is finished by the next one without losing or doubling a row.
struct ArchiveJob {
    let policy: ArchivePolicy
    let table: String
    let store: any TableStore
    let clock: any WallClock
    let logger: Logger

    func run() async throws -> ArchiveReport {
        var report = ArchiveReport()
        report.destination = policy.destination
        try await store.createTable(HarvestTables.tweetTable(table))
        if let destination = policy.destination {
            try await store.createTable(HarvestTables.tweetTable(destination))
        }
        let batchSize = max(1, policy.batchSize)
        if let age = policy.olderThan {
            let cutoff = clock.now.addingTimeInterval(-age.timeInterval)
            while true {
                let oldest = try await store.read(HarvestTables.oldestFirst(in: table, take: batchSize))
                let expired = oldest.prefix { row in
                    if case .date(let date)? = row["date"] { return date < cutoff }
                    return false
                }
                guard !expired.isEmpty else { break }
                try await archive(Array(expired), &report)
                report.byAge += expired.count
                if expired.count < oldest.count { break }
            }
        }
        if let limit = policy.keepingAtMost {
            var excess = try await store.count(Query(table)) - max(0, limit)
            while excess > 0 {
                let oldest = try await store.read(HarvestTables.oldestFirst(in: table, take: min(batchSize, excess)))
                guard !oldest.isEmpty else { break }
                try await archive(oldest, &report)
                report.byCount += oldest.count
                excess -= oldest.count
            }
        }
        logger.info(
            "archive run finished",
            metadata: [
                "th.byAge": "\(report.byAge)", "th.byCount": "\(report.byCount)", "th.batches": "\(report.batches)",
            ])
        return report
    }

    /// Copies `rows` (the oldest of the table, in id order) to the destination, then deletes them.
    private func archive(_ rows: [TableRow], _ report: inout ArchiveReport) async throws {
        guard let last = rows.last.flatMap(HarvestTables.tweetID(of:)) else { return }
        if let destination = policy.destination {
            _ = try await store.insert(rows, into: destination, onConflict: .ignore)
        }
        _ = try await store.delete(HarvestTables.upTo(last, in: table))
        report.batches += 1
        logger.debug("archive batch written", metadata: ["th.rows": "\(rows.count)"])
    }
}
