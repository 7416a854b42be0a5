import CTableStorage

/// CRC-32 (IEEE 802.3, the checksum of zlib and PNG): by carry-less multiplication where the processor has
/// it (x86-64 with PCLMULQDQ), otherwise by tables, eight bytes at a time.
package enum CRC32 {
    /// Whether ``checksum(_:)-(UnsafeRawBufferPointer)`` folds with carry-less multiplication here.
    package static let isAccelerated = th_crc32_fold_available() != 0

    /// Inputs shorter than this go to the tables: folding needs 64 bytes and has a fixed cost.
    private static let foldingThreshold = 128

    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            tables[byte] = crc
        }
        for byte in 0..<256 {
            var crc = tables[byte]
            for slice in 1..<8 {
                crc = tables[Int(crc & 0xFF)] ^ (crc >> 8)
                tables[slice * 256 + byte] = crc
            }
        }
        return tables
    }()

    /// The checksum of `bytes`.
    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard isAccelerated, bytes.count >= foldingThreshold, let base = bytes.baseAddress else {
            return tableChecksum(bytes)
        }
        let folded = bytes.count & ~15
        let state = th_crc32_fold(
            0xFFFF_FFFF, base.assumingMemoryBound(to: UInt8.self), folded)
        return update(state, UnsafeRawBufferPointer(rebasing: bytes[folded...])) ^ 0xFFFF_FFFF
    }

    /// The checksum of `bytes` by tables alone, whatever the processor (the reference the folding is tested
    /// against).
    package static func tableChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0xFFFF_FFFF, bytes) ^ 0xFFFF_FFFF
    }

    /// Advances the running (inverted) register over `bytes` by tables.
    private static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = state
        tables.withUnsafeBufferPointer { table in
            var index = 0
            let count = bytes.count
            while index + 8 <= count {
                let low =
                    UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16
                    | UInt32(bytes[index + 3]) << 24
                let one = crc ^ low
                crc =
                    table[7 * 256 + Int(one & 0xFF)] ^ table[6 * 256 + Int((one >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((one >> 16) & 0xFF)] ^ table[4 * 256 + Int(one >> 24)]
                    ^ table[3 * 256 + Int(bytes[index + 4])] ^ table[2 * 256 + Int(bytes[index + 5])]
                    ^ table[1 * 256 + Int(bytes[index + 6])] ^ table[Int(bytes[index + 7])]
                index += 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        return crc
    }

    /// The checksum of a byte array.
    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
