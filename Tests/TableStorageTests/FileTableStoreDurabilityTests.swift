import Foundation
import HarvestLocking
import InMemoryLogging
import Logging
import TableStorage
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Torn tails, bit flips, salvage, full disks, read-only directories, compaction and the log's format.
@Suite("FileTableStore durability")
struct FileTableStoreDurabilityTests {
    private static let logName = FileTableStore.logFileName

    /// Writes a store with three batches to `directory`; returns the log size after each batch.
    private static func threeBatches(in directory: URL) async throws -> [Int64] {
        let store = try await FileTableStore(directory: directory)
        defer { store.close() }
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["author"]))
        var sizes = [store.logSize]
        for batch in 0..<3 {
            _ = try await store.insert(batchRows(batch), into: "Updates", onConflict: .fail)
            sizes.append(store.logSize)
        }
        return sizes
    }

    /// Writes the three-batch store under `root/original`; returns the sizes and the log's bytes.
    private static func original(in root: TemporaryDirectory) async throws -> (sizes: [Int64], bytes: [UInt8]) {
        let directory = root.url.appending(path: "original")
        let sizes = try await threeBatches(in: directory)
        let file = try [UInt8](Data(contentsOf: directory.appending(path: logName)))
        // Past the committed content the file holds only padding: spaces and a final newline.
        #expect(file[Int(sizes[3])...].allSatisfy { $0 == UInt8(ascii: " ") || $0 == 0x0A })
        return (sizes, Array(file[..<Int(sizes[3])]))
    }

    private static func batchRows(_ batch: Int) -> [TableRow] {
        (0..<3).map { index in
            [
                "twitterId": .int(Int64(1_800_000_000_000_000_000 + batch * 10 + index)),
                "text": .string("tweet \(batch).\(index) with \"quotes\" and é"),
                "author": .string("author\(index)"),
                "date": .date(Date(timeIntervalSinceReferenceDate: 800_000_000.5 + Double(batch))),
            ]
        }
    }

    private static func rows(upTo batches: Int) -> [TableRow] {
        (0..<batches).flatMap { batchRows($0) }
    }

    private static func capturingLogger() -> (Logger, InMemoryLogHandler) {
        let handler = InMemoryLogHandler()
        return (Logger(label: "test", factory: { _ in handler }), handler)
    }

    /// Copies the log's first `length` bytes (with `mutate` applied) into a fresh store directory.
    private static func copy(_ bytes: [UInt8], into root: URL, name: String) throws -> URL {
        let directory = root.appending(path: name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: directory.appending(path: logName))
        return directory
    }

    @Test("a log cut at every byte of the last batch opens with exactly the batches before it")
    func truncationAtEveryOffset() async throws {
        let root = try TemporaryDirectory()
        let (sizes, bytes) = try await Self.original(in: root)
        #expect(Int64(bytes.count) == sizes[3])
        for cut in Int(sizes[2])...bytes.count {
            let directory = try Self.copy(Array(bytes[0..<cut]), into: root.url, name: "cut\(cut)")
            let (logger, handler) = Self.capturingLogger()
            var configuration = FileTableStore.Configuration()
            configuration.preallocationSize = 256  // hundreds of stores here: keep each padding small
            let store = try await FileTableStore(directory: directory, configuration: configuration, logger: logger)
            let expected = cut == bytes.count ? 3 : 2
            let read = try await store.read(Query("Updates"))
            #expect(read == Self.rows(upTo: expected), "cut at \(cut)")
            #expect(store.logSize == (cut == bytes.count ? sizes[3] : sizes[2]), "cut at \(cut)")
            let warned = handler.entries.contains { $0.level == .warning }
            #expect(warned == (cut != bytes.count && cut != Int(sizes[2])), "cut at \(cut)")
            // The store stays writable after the tail is dropped.
            _ = try await store.insert([["twitterId": 7, "author": "later"]], into: "Updates", onConflict: .fail)
            store.close()
            let reopened = try await FileTableStore(directory: directory)
            #expect(try await reopened.count(Query("Updates")) == expected * 3 + 1)
            reopened.close()
            try FileManager.default.removeItem(at: directory)
        }
    }

    @Test(
        "a write torn at every byte of the last batch over padding (spaces) or unwritten space (zeros) is dropped",
        arguments: [UInt8(ascii: " "), 0])
    func tornOverPadding(_ filler: UInt8) async throws {
        let root = try TemporaryDirectory()
        let (sizes, bytes) = try await Self.original(in: root)
        for cut in Int(sizes[2])..<bytes.count {
            // What a kill or a power loss leaves when the batch was being written over space the file had.
            let torn = Array(bytes[0..<cut]) + [UInt8](repeating: filler, count: 300)
            let directory = try Self.copy(torn, into: root.url, name: "torn\(cut)")
            let (logger, handler) = Self.capturingLogger()
            var configuration = FileTableStore.Configuration()
            configuration.preallocationSize = 256
            let store = try await FileTableStore(directory: directory, configuration: configuration, logger: logger)
            #expect(try await store.read(Query("Updates")) == Self.rows(upTo: 2), "torn at \(cut)")
            #expect(store.logSize == sizes[2], "torn at \(cut)")
            let warned = handler.entries.contains { $0.level == .warning }
            #expect(warned == (cut != Int(sizes[2]) || filler == 0), "torn at \(cut)")
            store.close()
            try FileManager.default.removeItem(at: directory)
        }
    }

    /// The offsets at which the log's lines start.
    private static func lineStarts(_ bytes: [UInt8]) -> [Int] {
        var starts = [0]
        for (index, byte) in bytes.enumerated() where byte == 0x0A && index + 1 < bytes.count {
            starts.append(index + 1)
        }
        return starts
    }

    @Test("a bit flipped anywhere in a committed batch is refused with the file and the line's offset")
    func bitFlipsAreDetected() async throws {
        let root = try TemporaryDirectory()
        let (sizes, bytes) = try await Self.original(in: root)
        let starts = Self.lineStarts(bytes)
        // Every byte of the second batch, one bit each (the bit varies with the offset).
        for offset in Int(sizes[1])..<Int(sizes[2]) {
            var damaged = bytes
            damaged[offset] ^= UInt8(1 << (offset % 8))
            let directory = try Self.copy(damaged, into: root.url, name: "flip\(offset)")
            let lineStart = starts.last { $0 <= offset } ?? 0
            let error = await #expect(throws: StorageError.self, "flip at \(offset)") {
                try await FileTableStore(directory: directory)
            }
            #expect(error?.code == .malformedStore, "flip at \(offset)")
            #expect(error?.offset == Int64(lineStart), "flip at \(offset)")
            #expect(error?.file == directory.appending(path: Self.logName).path, "flip at \(offset)")
            // Nothing was cut off: the damaged file is as it was.
            #expect(try Data(contentsOf: directory.appending(path: Self.logName)) == Data(damaged))
            try FileManager.default.removeItem(at: directory)
        }
    }

    @Test("a flipped bit in the last commit line reads as a torn write: the last batch is dropped")
    func flipInLastCommitLine() async throws {
        let root = try TemporaryDirectory()
        var (sizes, bytes) = try await Self.original(in: root)
        let lastLine = Self.lineStarts(bytes).last ?? 0
        bytes[lastLine + 50] ^= 0x04
        let directory = try Self.copy(bytes, into: root.url, name: "flipped")
        let store = try await FileTableStore(directory: directory)
        #expect(try await store.read(Query("Updates")) == Self.rows(upTo: 2))
        #expect(store.logSize == sizes[2])
    }

    @Test("salvage keeps the batches before the damage, moves the rest aside and opens")
    func salvage() async throws {
        let root = try TemporaryDirectory()
        var (sizes, bytes) = try await Self.original(in: root)
        bytes[Int(sizes[1]) + 60] ^= 0x01
        let directory = try Self.copy(bytes, into: root.url, name: "damaged")
        var configuration = FileTableStore.Configuration()
        configuration.recovery = .salvage
        let (logger, handler) = Self.capturingLogger()
        let store = try await FileTableStore(directory: directory, configuration: configuration, logger: logger)
        #expect(try await store.read(Query("Updates")) == Self.rows(upTo: 1))
        let aside = directory.appending(path: "\(Self.logName).salvaged-\(sizes[1])")
        #expect(try [UInt8](Data(contentsOf: aside)) == Array(bytes[Int(sizes[1])...]))
        #expect(handler.entries.contains { $0.level == .warning && $0.metadata["th.salvaged"] != nil })
        _ = try await store.insert(Self.batchRows(5), into: "Updates", onConflict: .fail)
        store.close()
        let reopened = try await FileTableStore(directory: directory)
        #expect(try await reopened.count(Query("Updates")) == 6)
    }

    @Test("a file that is not a store log is refused, never cut off")
    func foreignFile() async throws {
        let root = try TemporaryDirectory()
        let foreign = Array(#"{"twitterId": 1, "text": "not framed"}"#.utf8) + [0x0A]
        let directory = try Self.copy(foreign, into: root.url, name: "foreign")
        let error = await #expect(throws: StorageError.self) { try await FileTableStore(directory: directory) }
        #expect(error?.code == .malformedStore)
        #expect(error?.offset == 0)
        #expect(try [UInt8](Data(contentsOf: directory.appending(path: Self.logName))) == foreign)
    }

    @Test("a full disk fails the batch with diskFull, cuts the partial write off and loses nothing committed")
    func diskFull() async throws {
        let root = try TemporaryDirectory()
        let disk = FaultyDisk()
        var configuration = FileTableStore.Configuration()
        configuration.io = disk.io
        let store = try await FileTableStore(directory: root.url, configuration: configuration)
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        _ = try await store.insert(Self.batchRows(0), into: "Updates", onConflict: .fail)
        let before = store.logSize
        disk.setBudget(150)
        let error = await #expect(throws: StorageError.self) {
            try await store.insert(Self.batchRows(1), into: "Updates", onConflict: .fail)
        }
        #expect(error?.code == .diskFull)
        #expect(disk.bytesWritten > 0, "the failing batch was partly written before the disk filled")
        #expect(store.logSize == before)
        let onDisk = try FileManager.default.attributesOfItem(atPath: root.path + "/" + Self.logName)[.size] as? Int
        #expect(onDisk == Int(before), "the partial write is cut off")
        #expect(try await store.read(Query("Updates")) == Self.rows(upTo: 1))
        disk.setBudget(nil)
        _ = try await store.insert(Self.batchRows(1), into: "Updates", onConflict: .fail)
        store.close()
        let (logger, handler) = Self.capturingLogger()
        let reopened = try await FileTableStore(directory: root.url, logger: logger)
        #expect(try await reopened.read(Query("Updates")) == Self.rows(upTo: 2))
        #expect(handler.entries.isEmpty, "nothing to repair")
    }

    @Test("on a disk with room for a batch but not its padding, the batch commits without padding")
    func diskFullForPaddingOnly() async throws {
        let root = try TemporaryDirectory()
        let disk = FaultyDisk()
        var configuration = FileTableStore.Configuration()
        configuration.io = disk.io
        configuration.preallocationSize = 4096
        let store = try await FileTableStore(directory: root.url, configuration: configuration)
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        // Fill the padding the table's commit left, so that the next batch needs new padding.
        var batch = 0
        var batchSize: Int64 = 0
        while try Self.fileSize(root) - store.logSize >= max(batchSize, 1) {
            let before = store.logSize
            _ = try await store.insert(Self.batchRows(batch), into: "Updates", onConflict: .fail)
            batchSize = store.logSize - before
            batch += 1
        }
        #expect(batch > 3, "the padding took several batches")
        // Room for the batch (and a little), not for 4 KiB of padding after it.
        disk.setBudget(Int(batchSize) + 100)
        _ = try await store.insert(Self.batchRows(batch), into: "Updates", onConflict: .fail)
        #expect(try Self.fileSize(root) == store.logSize, "the batch is the file's end: no padding, none left over")
        #expect(try await store.count(Query("Updates")) == (batch + 1) * 3)
        store.close()
        let (logger, handler) = Self.capturingLogger()
        let reopened = try await FileTableStore(directory: root.url, logger: logger)
        #expect(try await reopened.count(Query("Updates")) == (batch + 1) * 3)
        #expect(handler.entries.isEmpty, "nothing to repair")
    }

    private static func fileSize(_ root: TemporaryDirectory) throws -> Int64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: root.path + "/" + logName)
        return Int64(attributes[.size] as? Int ?? 0)
    }

    @Test("a failing fsync fails the batch with an io error and the batch is not applied")
    func failingSync() async throws {
        let root = try TemporaryDirectory()
        let disk = FaultyDisk()
        var configuration = FileTableStore.Configuration()
        configuration.io = disk.io
        let store = try await FileTableStore(directory: root.url, configuration: configuration)
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId"))
        disk.setSyncError(EIO)
        let error = await #expect(throws: StorageError.self) {
            try await store.insert(Self.batchRows(0), into: "Updates", onConflict: .fail)
        }
        #expect(error?.code == .io)
        #expect(error?.message.contains("fdatasync") == true)
        #expect(try await store.count(Query("Updates")) == 0)
        disk.setSyncError(0)
        _ = try await store.insert(Self.batchRows(0), into: "Updates", onConflict: .fail)
        #expect(try await store.count(Query("Updates")) == 3)
    }

    @Test("a directory that cannot be written is refused with readOnly")
    func readOnlyDirectory() async throws {
        // /sys refuses new entries even to root (EPERM), and to others (EACCES).
        let error = await #expect(throws: StorageError.self) {
            try await FileTableStore(directory: URL(fileURLWithPath: "/sys/th-storage-test/store"))
        }
        #expect(error?.code == .readOnly)
        #expect(error?.file == "/sys/th-storage-test")
    }

    @Test("a second opener in the same process is refused with locked until the first closes")
    func lockedInProcess() async throws {
        let root = try TemporaryDirectory()
        let first = try await FileTableStore(directory: root.url)
        let error = await #expect(throws: StorageError.self) { try await FileTableStore(directory: root.url) }
        #expect(error?.code == .locked)
        first.close()
        let second = try await FileTableStore(directory: root.url)
        second.close()
    }

    @Test("compaction drops deleted and replaced rows, keeps every live row, and survives a reopen")
    func compaction() async throws {
        let root = try TemporaryDirectory()
        let store = try await FileTableStore(directory: root.url)
        try await store.createTable(TableSchema(name: "Updates", uniqueKey: "twitterId", indexes: ["author"]))
        try await store.createTable(TableSchema(name: "Empty"))
        for batch in 0..<5 { _ = try await store.insert(Self.batchRows(batch), into: "Updates", onConflict: .fail) }
        _ = try await store.insert(
            [["twitterId": .int(1_800_000_000_000_000_001), "text": "replaced", "author": "z"]], into: "Updates",
            onConflict: .replace)
        _ = try await store.delete(Query("Updates").filter(TableColumn("author") == "author2"))
        _ = try await store.update(Query("Updates").filter(TableColumn("author") == "author0"), set: ["text": "edited"])
        let expected = try await store.read(Query("Updates"))
        let before = store.logSize
        try await store.compact()
        #expect(store.logSize < before)
        #expect(try await store.read(Query("Updates")) == expected)
        #expect(try await store.newest(in: "Updates", by: "author")?["text"] == "replaced")
        _ = try await store.insert([["twitterId": 1, "author": "after"]], into: "Updates", onConflict: .fail)
        store.close()
        let lines = try String(contentsOf: root.url.appending(path: Self.logName), encoding: .utf8)
            .split(separator: "\n")
        let puts = lines.filter { $0.contains(#""op":"put""#) }.count
        #expect(puts == expected.count + 1, "only live rows are in the log")
        let reopened = try await FileTableStore(directory: root.url)
        #expect(try await reopened.read(Query("Updates").filter(TableColumn("author") != "after")) == expected)
        #expect(try await reopened.tableNames() == ["Empty", "Updates"])
        #expect(try await reopened.definition(of: "Updates").columns["date"] == .date)
    }

    @Test("a compaction that crashed before its rename leaves the log whole and its temporary file is removed")
    func crashedCompaction() async throws {
        let root = try TemporaryDirectory()
        _ = try await Self.threeBatches(in: root.url)
        let leftover = root.url.appending(path: Self.logName + ".compacting")
        try Data("partial".utf8).write(to: leftover)
        let store = try await FileTableStore(directory: root.url)
        #expect(try await store.read(Query("Updates")) == Self.rows(upTo: 3))
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
    }

    @Test("every log line is a JSON object whose record reads back as the row inserted")
    func humanReadableLines() async throws {
        let root = try TemporaryDirectory()
        _ = try await Self.threeBatches(in: root.url)
        let text = try String(contentsOf: root.url.appending(path: Self.logName), encoding: .utf8)
        var values: [[String: Any]] = []
        for line in text.split(separator: "\n") where !line.allSatisfy({ $0 == " " }) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let rec = try #require(object["rec"] as? [String: Any])
            #expect(object["crc"] is String)
            #expect(object["len"] is Int)
            if rec["op"] as? String == "put", let value = rec["v"] as? [String: Any] { values.append(value) }
        }
        #expect(values.count == 9)
        #expect(values.first?["text"] as? String == #"tweet 0.0 with "quotes" and é"#)
        #expect((values.first?["twitterId"] as? NSNumber)?.int64Value == 1_800_000_000_000_000_000)
    }
}

/// A ``FileIO`` whose disk fills after a byte budget and whose fsync can fail.
final class FaultyDisk: Sendable {
    private struct State {
        var budget: Int?
        var written = 0
        var syncError: Int32 = 0
    }
    private let state = Locked(State())

    func setBudget(_ budget: Int?) {
        state.withLock {
            $0.budget = budget; $0.written = 0
        }
    }
    func setSyncError(_ code: Int32) { state.withLock { $0.syncError = code } }
    var bytesWritten: Int { state.withLock { $0.written } }

    var io: FileIO {
        let system = FileIO.system
        return FileIO(
            write: { descriptor, bytes, offset in
                let allowed: Int = self.state.withLock { state in
                    guard let budget = state.budget else { return bytes.count }
                    return min(bytes.count, budget - state.written)
                }
                if allowed <= 0 { return -Int(ENOSPC) }
                let result = system.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes[0..<allowed]), offset)
                if result > 0 { self.state.withLock { $0.written += result } }
                return result
            },
            sync: { descriptor in
                let code = self.state.withLock { $0.syncError }
                return code != 0 ? code : system.sync(descriptor)
            })
    }
}
