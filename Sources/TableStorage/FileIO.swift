#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The system calls ``FileTableStore`` writes with, as a seam: tests replace them to simulate a full disk or a
/// failing `fsync`.
package struct FileIO: Sendable {
    /// Writes bytes at an offset; returns the count written, or `-errno`.
    package var write: @Sendable (_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, _ offset: Int64) -> Int
    /// Flushes a file's data to stable storage; returns 0 or `errno`.
    package var sync: @Sendable (_ descriptor: Int32) -> Int32

    package init(
        write: @escaping @Sendable (Int32, UnsafeRawBufferPointer, Int64) -> Int,
        sync: @escaping @Sendable (Int32) -> Int32
    ) {
        self.write = write
        self.sync = sync
    }

    /// The real system calls: `pwrite` and `fdatasync` (`fsync` where there is none).
    package static var system: FileIO {
        FileIO(
            write: { descriptor, bytes, offset in
                let result = pwrite(descriptor, bytes.baseAddress, bytes.count, off_t(offset))
                return result < 0 ? -Int(errno) : result
            },
            sync: { descriptor in
                #if canImport(Darwin)
                    fsync(descriptor) == 0 ? 0 : errno
                #else
                    fdatasync(descriptor) == 0 ? 0 : errno
                #endif
            })
    }
}

/// Thin wrappers over the POSIX calls the file store uses, mapping `errno` to ``StorageError``.
package enum POSIX {
    /// The error for an `errno` from an operation on `file`.
    package static func error(_ code: Int32, file: String, doing what: String) -> StorageError {
        let message = "\(what): \(String(cString: strerror(code)))"
        switch code {
        case ENOSPC, EDQUOT: return StorageError(.diskFull, file: file, message: message)
        case EACCES, EPERM, EROFS: return StorageError(.readOnly, file: file, message: message)
        case EWOULDBLOCK: return StorageError(.locked, file: file, message: message)
        default: return StorageError(.io, file: file, message: message)
        }
    }

    /// Opens an existing file for reading only.
    package static func openReadOnly(_ path: String) throws(StorageError) -> Int32 {
        let descriptor = Glibc_open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw error(errno, file: path, doing: "open") }
        return descriptor
    }

    /// Opens (creating if asked) a file for reading and writing.
    package static func open(_ path: String, create: Bool) throws(StorageError) -> (descriptor: Int32, created: Bool) {
        let existing = Glibc_open(path, O_RDWR | O_CLOEXEC)
        if existing >= 0 { return (existing, false) }
        let code = errno
        guard create, code == ENOENT else { throw error(code, file: path, doing: "open") }
        let created = Glibc_open(path, O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0o644)
        guard created >= 0 else { throw error(errno, file: path, doing: "create") }
        return (created, true)
    }

    private static func Glibc_open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
        #if canImport(Darwin)
            Darwin.open(path, flags, mode)
        #elseif canImport(Musl)
            Musl.open(path, flags, mode)
        #else
            Glibc.open(path, flags, mode)
        #endif
    }

    /// Flushes a directory, so that files created or renamed in it survive a power loss.
    package static func syncDirectory(_ path: String) throws(StorageError) {
        let descriptor = Glibc_open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard descriptor >= 0 else { throw error(errno, file: path, doing: "open directory") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw error(errno, file: path, doing: "fsync directory") }
    }

    /// Reads exactly `count` bytes at `offset` into `buffer` (from `into`); returns how many were read
    /// (fewer only at the end of the file).
    package static func read(
        _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, count: Int, at offset: Int64, file: String
    ) throws(StorageError) -> Int {
        var done = 0
        while done < count {
            let result = pread(
                descriptor, buffer.baseAddress.map { $0 + done }, count - done, off_t(offset) + off_t(done))
            if result < 0 {
                if errno == EINTR { continue }
                throw error(errno, file: file, doing: "read")
            }
            if result == 0 { break }
            done += result
        }
        return done
    }

    /// The size of an open file.
    package static func size(_ descriptor: Int32, file: String) throws(StorageError) -> Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw error(errno, file: file, doing: "stat") }
        return Int64(info.st_size)
    }

    /// Cuts a file to `length` bytes.
    package static func truncate(_ descriptor: Int32, to length: Int64, file: String) throws(StorageError) {
        guard ftruncate(descriptor, off_t(length)) == 0 else { throw error(errno, file: file, doing: "truncate") }
    }

    /// Takes an exclusive advisory lock, giving a holder up to about 50 ms to let go.
    ///
    /// A `flock` belongs to the open file description, which a child process shares from `fork` until its
    /// `exec` closes the close-on-exec descriptors. So while this process spawns a child (Foundation's
    /// `Process`, `posix_spawn`), a lock it has just released can still look held for a moment. A short,
    /// bounded retry covers that window; a store that another process really holds is refused after it.
    package static func lock(_ descriptor: Int32, file: String) throws(StorageError) {
        var attempts = 0
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else { throw error(code, file: file, doing: "lock") }
            attempts += 1
            guard attempts < 50 else {
                throw StorageError(.locked, file: file, message: "another process has the store open")
            }
            usleep(1000)
        }
    }

    /// Renames a file, replacing the target.
    package static func rename(_ from: String, to: String) throws(StorageError) {
        #if canImport(Darwin)
            let result = Darwin.rename(from, to)
        #elseif canImport(Musl)
            let result = Musl.rename(from, to)
        #else
            let result = Glibc.rename(from, to)
        #endif
        guard result == 0 else { throw error(errno, file: to, doing: "rename") }
    }

    /// Removes a file if it exists.
    package static func remove(_ path: String) throws(StorageError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw error(errno, file: path, doing: "remove") }
    }

    /// Creates a directory (and its parents) if it does not exist, flushing each parent it changes.
    package static func makeDirectory(_ path: String) throws(StorageError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw StorageError(.io, file: path, message: "not a directory")
            }
            return
        }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let parentPath = parent.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : parent
        if parentPath != path { try makeDirectory(parentPath) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw error(errno, file: path, doing: "create directory")
        }
        try syncDirectory(parentPath)
    }

    /// Closes a descriptor.
    package static func close(_ descriptor: Int32) {
        #if canImport(Darwin)
            _ = Darwin.close(descriptor)
        #elseif canImport(Musl)
            _ = Musl.close(descriptor)
        #else
            _ = Glibc.close(descriptor)
        #endif
    }
}
