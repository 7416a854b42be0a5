import Foundation
import HarvestTestServer
import InMemoryLogging
import Logging
import TableStorage
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tests that run `StorageCrashWorker` as a separate process: `kill -9` while it writes, and the lock.
///
/// CI runs a few dozen kills; for a soak, set `TH_STORAGE_SOAK` to the number of kills, e.g.
/// `TH_STORAGE_SOAK=2000 swift test -Xswiftc -warnings-as-errors --filter CrashTests`.
@Suite("FileTableStore across processes", .serialized)
struct CrashTests {
    @Test("kill -9 at random moments: every acknowledged batch is there, whole, once; no batch is partial")
    func killNineWhileWriting() async throws {
        let root = try TemporaryDirectory()
        let kills = ProcessInfo.processInfo.environment["TH_STORAGE_SOAK"].flatMap(Int.init) ?? 30
        var random = SystemRandomNumberGenerator()
        var acknowledged: [Int64: Int] = [:]
        var directory = root.url
        for kill in 0..<kills {
            if kill % 20 == 0 {
                // A fresh store now and then keeps each check's work bounded in a long soak.
                directory = root.url.appending(path: "store\(kill / 20)")
                acknowledged = [:]
            }
            // Odd kills write in small pieces; every third kill writes a checkpoint after each batch.
            let worker = try Worker(
                ["write", directory.path] + (kill % 2 == 1 ? ["chunked"] : []) + (kill % 3 == 0 ? ["checkpoint"] : []))
            let ready = try await worker.line()
            #expect(ready?.hasPrefix("ready") == true, "kill \(kill): \(ready ?? "no output")")
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                guard let line = try await worker.line() else { break }
                Self.record(line, into: &acknowledged)
            }
            // A moment inside the next batch's write, fsync or acknowledgement.
            try await Task.sleep(for: .microseconds(Int.random(in: 0...2_000, using: &random)))
            worker.kill()
            worker.closeInput()
            // Acknowledgements printed before the kill count: the worker had its insert returned.
            while let line = try await worker.line() { Self.record(line, into: &acknowledged) }
            await worker.wait()
            try await Self.verify(directory, acknowledged: acknowledged, kill: kill)
        }
    }

    private static func record(_ line: String, into acknowledged: inout [Int64: Int]) {
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[0] == "ack", let batch = Int64(parts[1]), let size = Int(parts[2]) else { return }
        acknowledged[batch] = size
    }

    /// Checks the store after a kill: opened as it is (from its checkpoint, if one holds), and as a full replay
    /// of the log gives it.
    private static func verify(_ directory: URL, acknowledged: [Int64: Int], kill: Int) async throws {
        var replay = FileTableStore.Configuration()
        replay.checkpointInterval = 0
        let replayed = try await FileTableStore(directory: directory, configuration: replay)
        let everything = try await replayed.read(Query("Log"))
        replayed.close()
        let handler = InMemoryLogHandler()
        let store = try await FileTableStore(
            directory: directory, logger: Logger(label: "test", factory: { _ in handler }))
        defer { store.close() }
        #expect(try await store.read(Query("Log")) == everything, "kill \(kill): the checkpoint gives the log's rows")
        var batches: [Int64: [Int64]] = [:]
        for record in try await store.read(Query("Log")) {
            guard case .int(let batch)? = record["batch"], case .int(let index)? = record["index"] else {
                Issue.record("kill \(kill): a row without batch or index: \(record)")
                continue
            }
            let text = "batch \(batch) row \(index) " + String(repeating: "x", count: Int(batch % 7) * 40)
            #expect(record["text"] == .string(text), "kill \(kill): row \(batch).\(index) is whole")
            batches[batch, default: []].append(index)
        }
        for (batch, size) in acknowledged {
            #expect(batches[batch] == Array(0..<Int64(size)), "kill \(kill): acknowledged batch \(batch) is there once")
        }
        for (batch, indexes) in batches {
            #expect(indexes == Array(0..<Int64(indexes.count)), "kill \(kill): batch \(batch) is whole and once")
        }
        if let newest = batches.keys.max() {
            #expect(Set(batches.keys) == Set(0...newest), "kill \(kill): no batch is missing")
        }
    }

    @Test("a store another process holds open is refused with locked, and opens once that process exits")
    func lockAcrossProcesses() async throws {
        let root = try TemporaryDirectory()
        let holder = try Worker(["hold", root.path])
        #expect(try await holder.line() == "locked")
        let error = await #expect(throws: StorageError.self) { try await FileTableStore(directory: root.url) }
        #expect(error?.code == .locked)
        #expect(error?.description.contains("another process") == true)
        holder.closeInput()
        await holder.wait()
        let store = try await FileTableStore(directory: root.url)
        store.close()
    }
}

/// A running `StorageCrashWorker`.
private final class Worker: @unchecked Sendable {
    // @unchecked: the Process and pipes are used from one test at a time; reads are serialised by awaiting.
    private let process = Process()
    private let output = Pipe()
    private let input = Pipe()
    private var buffer: [UInt8] = []
    private var finished = false

    /// The worker binary, built next to the test bundle by `swift build --build-tests`.
    static var executable: URL {
        get throws {
            if let path = ProcessInfo.processInfo.environment["TH_STORAGE_WORKER"] { return URL(fileURLWithPath: path) }
            let candidates = [
                Bundle.main.bundleURL.deletingLastPathComponent(),
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                Bundle.main.bundleURL,
            ].map { $0.appending(path: "StorageCrashWorker") }
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw WorkerMissing(searched: candidates.map(\.path))
            }
            return found
        }
    }

    struct WorkerMissing: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "StorageCrashWorker not found (build it with swift build --build-tests); looked in \(searched)"
        }
    }

    init(_ arguments: [String]) throws {
        process.executableURL = try Self.executable
        process.arguments = arguments
        process.standardOutput = output
        process.standardInput = input
        try process.run()
    }

    /// The next line the worker printed, or `nil` at the end of its output.
    func line() async throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            if finished { return nil }
            let handle = output.fileHandleForReading
            let chunk: Data = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: handle.availableData) }
            }
            if chunk.isEmpty { finished = true } else { buffer += chunk }
        }
    }

    func kill() {
        #if canImport(Glibc)
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
        #else
            _ = Darwin.kill(process.processIdentifier, SIGKILL)
        #endif
    }

    func closeInput() { try? input.fileHandleForWriting.close() }

    /// Waits for the worker to exit, on a thread of its own: `waitUntilExit` blocks.
    func wait() async { await offThePool { self.process.waitUntilExit() } }
}
