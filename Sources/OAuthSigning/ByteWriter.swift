/// A growable byte buffer written through a raw pointer: the signer's hot path appends one byte at a
/// time, and `Array.append` pays a uniqueness and capacity check per byte. Callers reserve the worst
/// case up front, so growing is rare; it still happens safely when an estimate was short.
struct ByteWriter: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    private mutating func grow(toAtLeast needed: Int) {
        let newCapacity = Swift.max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(toAtLeast: count + extra) }
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(toAtLeast: count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        reserve(bytes.count)
        if let source = bytes.baseAddress { (base + count).update(from: source, count: bytes.count) }
        count += bytes.count
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends the RFC 5849 §3.6 encoding of `bytes`.
    @inline(__always)
    mutating func appendPercentEncoded(_ bytes: UnsafeBufferPointer<UInt8>) {
        reserve(bytes.count * 3)
        var cursor = base + count
        for byte in bytes {
            if PercentEncoding.isUnreserved(byte) {
                cursor.pointee = byte
                cursor += 1
            } else {
                cursor[0] = UInt8(ascii: "%")
                cursor[1] = PercentEncoding.hexDigit(byte >> 4)
                cursor[2] = PercentEncoding.hexDigit(byte & 0x0F)
                cursor += 3
            }
        }
        count = cursor - base
    }

    /// Appends `text` §3.6-encoded.
    @inline(__always)
    mutating func appendPercentEncoded(_ text: String) {
        var text = text
        text.withUTF8 { appendPercentEncoded($0) }
    }

    /// Appends bytes that are already §3.6-encoded, encoded once more: only `%` changes, to `%25`.
    @inline(__always)
    mutating func appendReencoded(_ bytes: UnsafeBufferPointer<UInt8>) {
        reserve(bytes.count * 3)
        var cursor = base + count
        for byte in bytes {
            cursor.pointee = byte
            cursor += 1
            if byte == UInt8(ascii: "%") {
                cursor[0] = UInt8(ascii: "2")
                cursor[1] = UInt8(ascii: "5")
                cursor += 2
            }
        }
        count = cursor - base
    }

    /// Removes everything, keeping the storage.
    mutating func removeAll() { count = 0 }

    /// The bytes written so far; valid until the next write.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// The bytes written so far as a string.
    var string: String { String(decoding: bytes, as: UTF8.self) }
}
