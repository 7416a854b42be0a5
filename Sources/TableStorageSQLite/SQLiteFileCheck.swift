import Foundation
import TableStorage

/// What can be learned about an SQLite database from its bytes before SQLite itself opens it.
///
/// SQLite keeps no checksum of its pages, so a flipped bit inside a row's payload changes the row silently, and
/// it reads its write-ahead log only up to the first frame whose checksum fails, dropping every later frame
/// without a word. Two checks here turn what can be seen into a `malformedStore` error instead:
/// - the 100-byte header: the magic string, the page size, the file format versions (a damaged write version
///   makes SQLite call the file read-only) and the fixed payload fractions;
/// - the `-wal` file: its header checksum, and whether a committed transaction (a commit frame with the log's
///   salts) lies after the first frame that fails its checksum. A torn frame of the last, uncommitted
///   transaction, or stale frames of an earlier log generation (other salts), are what SQLite's recovery
///   expects and are not damage.
enum SQLiteFileCheck {
    /// The SQLite header's first 16 bytes.
    static let magic = Array("SQLite format 3\u{0}".utf8)

    /// Checks the database header of the file at `path`; a missing or empty file is fine (SQLite creates it).
    static func checkHeader(path: String) throws(StorageError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let header = [UInt8]((try? handle.read(upToCount: 100)) ?? Data())
        if header.isEmpty { return }
        func damaged(_ offset: Int64, _ message: String) -> StorageError {
            StorageError(.malformedStore, file: path, offset: offset, message: message)
        }
        guard header.count == 100 else {
            throw damaged(0, "the file has \(header.count) bytes, shorter than SQLite's 100-byte header")
        }
        guard Array(header[0..<16]) == magic else {
            throw damaged(0, "the file does not start with \"SQLite format 3\": it is not an SQLite database")
        }
        let pageSize = Int(header[16]) << 8 | Int(header[17])
        guard pageSize == 1 || (512...32768).contains(pageSize) && pageSize & (pageSize - 1) == 0 else {
            throw damaged(16, "the page size field is \(pageSize), not a power of two from 512 to 65536")
        }
        for (offset, name) in [(18, "write"), (19, "read")] where header[offset] != 1 && header[offset] != 2 {
            throw damaged(
                Int64(offset),
                "the file format \(name) version is \(header[offset]), not 1 (rollback journal) or 2 (WAL)")
        }
        for (offset, expected) in [(21, 64), (22, 32), (23, 32)] where Int(header[offset]) != expected {
            throw damaged(
                Int64(offset),
                "the payload fraction at byte \(offset) is \(header[offset]), SQLite requires \(expected)")
        }
    }

    /// Checks the write-ahead log beside `path` (`path-wal`); a missing or empty log is fine.
    ///
    /// Reads the log once, frame by frame, keeping one page in memory.
    static func checkWriteAheadLog(path: String) throws(StorageError) {
        let walPath = path + "-wal"
        guard let handle = FileHandle(forReadingAtPath: walPath) else { return }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()).map { Int64($0) } ?? 0
        guard size > 0 else { return }
        try? handle.seek(toOffset: 0)
        func damaged(_ offset: Int64, _ message: String) -> StorageError {
            StorageError(.malformedStore, file: walPath, offset: offset, message: message)
        }
        let header = [UInt8]((try? handle.read(upToCount: 32)) ?? Data())
        guard header.count == 32 else {
            throw damaged(0, "the write-ahead log has \(header.count) bytes, shorter than its 32-byte header")
        }
        let magic = word(header, 0, bigEndian: true)
        guard magic == 0x377F_0682 || magic == 0x377F_0683 else {
            throw damaged(0, "the write-ahead log's magic number is wrong: SQLite would ignore all of it")
        }
        let bigEndian = magic & 1 == 1
        let pageSize = Int(word(header, 8, bigEndian: true))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw damaged(8, "the write-ahead log's page size is \(pageSize): SQLite would ignore all of it")
        }
        var sums = checksum(header, 0..<24, bigEndian: bigEndian, seed: (0, 0))
        guard sums.0 == word(header, 24, bigEndian: true), sums.1 == word(header, 28, bigEndian: true) else {
            throw damaged(24, "the write-ahead log's header checksum fails: SQLite would ignore all of it")
        }
        let salts = (word(header, 16, bigEndian: true), word(header, 20, bigEndian: true))
        let frameSize = Int64(24 + pageSize)
        var offset: Int64 = 32
        var brokenAt: Int64?
        var frameNumber = 0
        while offset + frameSize <= size {
            guard let frame = try? handle.read(upToCount: Int(frameSize)).map({ [UInt8]($0) }),
                frame.count == Int(frameSize)
            else { break }
            frameNumber += 1
            let frameSalts = (word(frame, 8, bigEndian: true), word(frame, 12, bigEndian: true))
            let isCommit = word(frame, 4, bigEndian: true) != 0
            if let brokenAt {
                // Past the break, a commit frame of this log generation is a transaction SQLite will drop.
                if isCommit, frameSalts == salts {
                    throw damaged(
                        brokenAt,
                        "frame \(frameNumber) of the write-ahead log commits a transaction, but an earlier frame "
                            + "fails its checksum: SQLite would drop every transaction from byte \(brokenAt) on")
                }
            } else if frameSalts != salts {
                brokenAt = offset  // an older generation's frames, or damage: decided by what follows
            } else {
                sums = checksum(frame, 0..<8, bigEndian: bigEndian, seed: sums)
                sums = checksum(frame, 24..<frame.count, bigEndian: bigEndian, seed: sums)
                if sums.0 != word(frame, 16, bigEndian: true) || sums.1 != word(frame, 20, bigEndian: true) {
                    brokenAt = offset
                }
            }
            offset += frameSize
        }
    }

    /// The 32-bit word at `offset` of `bytes`.
    private static func word(_ bytes: [UInt8], _ offset: Int, bigEndian: Bool) -> UInt32 {
        let value =
            UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
        return bigEndian ? value.byteSwapped : value
    }

    /// SQLite's write-ahead log checksum of `bytes[range]` (a multiple of 8 bytes), continuing from `seed`.
    private static func checksum(_ bytes: [UInt8], _ range: Range<Int>, bigEndian: Bool, seed: (UInt32, UInt32))
        -> (UInt32, UInt32)
    {
        var (s0, s1) = seed
        var index = range.lowerBound
        while index + 8 <= range.upperBound {
            s0 = s0 &+ word(bytes, index, bigEndian: bigEndian) &+ s1
            s1 = s1 &+ word(bytes, index + 4, bigEndian: bigEndian) &+ s0
            index += 8
        }
        return (s0, s1)
    }
}
