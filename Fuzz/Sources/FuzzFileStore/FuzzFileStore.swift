import Foundation
import TableStorage

/// Opens a `FileTableStore` whose log is made from the input, structure-aware: each input line is one log record
/// (a `rec` value such as `{"op":"put","t":"Updates","row":0,"v":{"twitterId":1}}`), framed here with a valid
/// length and CRC-32 so that the fuzzer reaches what an open does with well-formed frames holding impossible
/// states (row numbers out of range, keys stored twice, unknown tables). A line that starts with a byte 0x01 is
/// written as it is, unframed (torn tails and damage in the middle). The store is opened strictly and with
/// salvage; when an open succeeds, every table is read back, and no row of a keyed table may appear twice.
/// A crash, a hang, memory past libFuzzer's `-rss_limit_mb` or a broken invariant is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFileStore(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let log = FuzzLog.build(from: input)
    let directory = FuzzLog.directory
    let logURL = directory.appendingPathComponent(FileTableStore.logFileName)
    do {
        try log.write(to: logURL)
    } catch {
        fatalError("cannot write the fuzz log at \(logURL.path): \(error)")
    }
    for recovery in [FileTableStore.Recovery.strict, .salvage] {
        FuzzLog.blocking { try await FuzzLog.openAndRead(directory, recovery: recovery) }
        // Salvage moves the damaged tail aside; the next input starts from a clean directory.
        try? log.write(to: logURL)
    }
    FuzzLog.removeSalvaged(in: directory)
    return 0
}

enum FuzzLog {
    /// One directory for the whole fuzzing process.
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fuzz-file-store-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func build(from input: UnsafeBufferPointer<UInt8>) -> Data {
        var log = Data()
        for line in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.first == 0x01 {
                log.append(contentsOf: line.dropFirst())
                continue
            }
            let body = Array(line)
            let header = "{\"crc\":\"\(hex(crc32(body)))\",\"len\":\(pad(body.count)),\"rec\":"
            log.append(contentsOf: Array(header.utf8))
            log.append(contentsOf: body)
            log.append(contentsOf: Array("}\n".utf8))
        }
        return log
    }

    static func openAndRead(_ directory: URL, recovery: FileTableStore.Recovery) async throws {
        var configuration = FileTableStore.Configuration()
        configuration.recovery = recovery
        configuration.preallocationSize = 0
        guard let store = try? await FileTableStore(directory: directory, configuration: configuration) else { return }
        defer { store.close() }
        for table in (try? await store.tableNames()) ?? [] {
            guard let definition = try? await store.definition(of: table),
                let rows = try? await store.read(Query(table))
            else { continue }
            guard let key = definition.uniqueKey else { continue }
            var seen = Set<Value>()
            for row in rows {
                guard let value = row[key] else { continue }
                if !seen.insert(value).inserted {
                    fatalError("table \(table) shows key \(value) twice after an open (\(recovery))")
                }
            }
        }
    }

    static func removeSalvaged(in directory: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.contains("salvaged") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// Runs `body` to the end on another thread and waits for it: libFuzzer calls the harness synchronously, on a
    /// thread of its own, never on Swift's cooperative pool.
    static func blocking(_ body: @escaping @Sendable () async throws -> Void) {
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            try? await body()
            done.signal()
        }
        done.wait()
    }

    static func pad(_ length: Int) -> String {
        let digits = String(length)
        return String(repeating: " ", count: max(0, 10 - digits.count)) + digits
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// CRC-32 (IEEE 802.3, reflected, as zlib), bit by bit: slow and obviously right; the store's own is tested
    /// against the same check value.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
