import Foundation
import HarvestTesting
import Logging
import TableStorage
import Testing

@Suite("FileTableStore")
struct FileTableStoreTests {
    @Test("passes the TableStore conformance suite")
    func conformance() async throws {
        let root = try TemporaryDirectory()
        let counter = Counter()
        try await TableStoreConformance {
            try await FileTableStore(
                directory: root.url.appending(path: "store\(counter.next())"), configuration: .smallPadding)
        }.run()
    }

    @Test("passes the conformance suite (serial checks) when reopened before every call")
    func conformanceAcrossReopen() async throws {
        let root = try TemporaryDirectory()
        let counter = Counter()
        try await TableStoreConformance {
            ReopeningStore(directory: root.url.appending(path: "store\(counter.next())"))
        }.run(TableStoreConformance.checkNames.filter { $0 != "concurrentWriters" })
    }
}
