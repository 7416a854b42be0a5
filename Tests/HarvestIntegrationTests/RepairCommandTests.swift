import Foundation
import TableStorage
import Testing

/// `harvest verify` and `harvest repair` on a file store with a flipped byte in the middle of its log, run as
/// the real command.
@Suite("harvest verify and repair")
struct RepairCommandTests {
    @Test("verify reports the damage and changes nothing; repair keeps a copy, salvages, and the store opens")
    func verifyThenRepair() async throws {
        let scratch = try Scratch()
        defer { withExtendedLifetime(scratch) {} }
        let root = scratch.url
        let spec = try await scratch.harvested("file", at: "store")
        let sound = try await HarvestCommand.run(["verify", "--store", spec], environment: [:])
        #expect(sound.status == 0, "\(sound.output) \(sound.errorOutput)")
        #expect(sound.output.contains("sound"), "\(sound.output)")

        // Flip one byte of a line in the middle of the log: later batches still commit, so this is damage,
        // not a torn tail.
        let log = root.appending(path: "store/store.jsonl")
        var bytes = try [UInt8](Data(contentsOf: log))
        let committed = bytes.lastIndex { $0 != UInt8(ascii: " ") && $0 != 0x0A }.map { $0 + 1 } ?? 0
        let lineStart = try #require(bytes[(committed / 2)...].firstIndex(of: 0x0A)) + 1
        bytes[lineStart + 60] ^= 0x01
        try Data(bytes).write(to: log)

        let damaged = try await HarvestCommand.run(["verify", "--store", spec], environment: [:])
        #expect(damaged.reason == .exit)
        #expect(damaged.status == 1)
        #expect(damaged.output.contains("damaged at byte \(lineStart)"), "\(damaged.output)")
        #expect(damaged.output.contains("harvest repair"), "\(damaged.output)")
        #expect(try [UInt8](Data(contentsOf: log)) == bytes, "verify changed the store")
        let refused = try await HarvestCommand.run(["browse", "--store", spec], environment: [:])
        #expect(refused.status == 1)
        #expect(refused.errorLines.count == 1)

        let repair = try await HarvestCommand.run(["repair", "--store", spec], environment: [:])
        #expect(repair.status == 0, "\(repair.output) \(repair.errorOutput)")
        #expect(repair.output.contains("dropped everything from byte"), "\(repair.output)")
        #expect(repair.output.contains("repaired, opens again"), "\(repair.output)")
        let names = try FileManager.default.contentsOfDirectory(atPath: root.appending(path: "store").path)
        let kept = try #require(names.first { $0.hasPrefix("store.jsonl.damaged-") })
        #expect(try [UInt8](Data(contentsOf: root.appending(path: "store/\(kept)"))) == bytes)
        #expect(names.contains { $0.hasPrefix("store.jsonl.salvaged-") })

        let after = try await HarvestCommand.run(["verify", "--store", spec], environment: [:])
        #expect(after.status == 0, "\(after.output)")
        let browse = try await HarvestCommand.run(["browse", "--store", spec, "--json"], environment: [:])
        #expect(browse.status == 0, "\(browse.errorOutput)")
        let again = try await HarvestCommand.run(["repair", "--store", spec], environment: [:])
        #expect(again.output.contains("nothing to repair"), "\(again.output)")
    }

    @Test("a write cut short at the end is sound for verify, which says the next open drops it")
    func tornTail() async throws {
        let scratch = try Scratch()
        defer { withExtendedLifetime(scratch) {} }
        let root = scratch.url
        let spec = try await scratch.harvested("file", at: "store")
        let log = root.appending(path: "store/store.jsonl")
        var bytes = try [UInt8](Data(contentsOf: log))
        // After the last line's newline, over the padding: the start of a line the kill cut short.
        let end = try #require(bytes.lastIndex { $0 != UInt8(ascii: " ") && $0 != 0x0A }) + 2
        let torn = Array(#"{"crc":"1234abcd","len":       300,"rec":{"op":"put""#.utf8)
        bytes.replaceSubrange(end..<end + torn.count, with: torn)
        try Data(bytes).write(to: log)
        let verify = try await HarvestCommand.run(["verify", "--store", spec], environment: [:])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("drops a write cut short after byte \(end)"), "\(verify.output)")
        #expect(try [UInt8](Data(contentsOf: log)) == bytes, "verify changed the store")
    }

    @Test("verify runs SQLite's integrity check on a SQLite store")
    func verifySQLite() async throws {
        let scratch = try Scratch()
        defer { withExtendedLifetime(scratch) {} }
        let spec = try await scratch.harvested("sqlite", at: "store.sqlite")
        let verify = try await HarvestCommand.run(["verify", "--store", spec], environment: [:])
        #expect(verify.status == 0, "\(verify.output) \(verify.errorOutput)")
        #expect(verify.output.contains("integrity check passed"), "\(verify.output)")
    }

    @Test("repair refuses what it cannot repair, in one line")
    func refusals() async throws {
        for arguments in [["repair", "--store", "memory"], ["repair", "--store", "sqlite:/nonexistent/x.sqlite"]] {
            let run = try await HarvestCommand.run(arguments, environment: [:])
            #expect(run.reason == .exit)
            #expect(run.status == 1)
            #expect(run.errorLines.count == 1, "\(run.errorOutput)")
        }
    }
}

/// A new temporary directory, removed with this value.
private final class Scratch {
    let url = FileManager.default.temporaryDirectory.appending(path: "th-repair-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The store spec `KIND:<scratch>/PATH`, after one `harvest once --demo` into it succeeded.
    func harvested(_ kind: String, at path: String) async throws -> String {
        let spec = "\(kind):\(url.appending(path: path).path)"
        let once = try await HarvestCommand.run(["once", "--demo", "--store", spec, "--show", "0"], environment: [:])
        #expect(once.status == 0, "\(once.errorOutput)")
        return spec
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// `harvest browse` while another process holds the file store for writing, as `harvest run` does (#13 item 6).
@Suite("harvest browse beside a writer")
struct BrowseBesideWriterTests {
    @Test("browse reads a file store that a writer holds; once is still refused with locked")
    func browseWhileHeld() async throws {
        let scratch = try Scratch()
        defer { withExtendedLifetime(scratch) {} }
        let spec = try await scratch.harvested("file", at: "store")
        // This process holds the store for writing, as a running `harvest run` would.
        let writer = try await FileTableStore(directory: scratch.url.appending(path: "store"))
        defer { writer.close() }
        let stored = try await writer.count(Query("Updates"))
        #expect(stored > 0)
        let browse = try await HarvestCommand.run(["browse", "--store", spec, "--json"], environment: [:])
        #expect(browse.status == 0, "\(browse.errorOutput)")
        #expect(browse.errorLines.isEmpty, "\(browse.errorOutput)")
        #expect(!browse.output.isEmpty)
        let once = try await HarvestCommand.run(["once", "--demo", "--store", spec], environment: [:])
        #expect(once.status != 0)
        #expect(once.errorOutput.contains("locked"), "\(once.errorOutput)")
    }
}
