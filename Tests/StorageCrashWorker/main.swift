// A child process for TableStorageTests: it writes to a FileTableStore until it is killed, or holds one open.
//
//   StorageCrashWorker write DIR [chunked] [checkpoint]
//                                       appends eight batches to the table "Log", then waits to be killed; after each insert returns
//                                       it prints "ack BATCH SIZE" (the batch is then committed and durable).
//                                       With "chunked", each write(2) carries at most 97 bytes, so that a kill
//                                       lands inside a batch's bytes (one pwrite of a whole batch is never torn
//                                       by kill -9 on Linux, only by a power loss). With "checkpoint", an index
//                                       checkpoint is written after every batch (so kills land inside it too).
//   StorageCrashWorker hold DIR         opens the store, prints "locked", and keeps it open until stdin closes
import Foundation
import TableStorage

/// Writes a line to standard output at once (unbuffered), so the parent sees each acknowledgement.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The rows of batch `batch`: its size depends on the batch, and every row says which batch and index it is.
func rows(batch: Int64, size: Int) -> [TableRow] {
    (0..<size).map { index in
        [
            "batch": .int(batch), "index": .int(Int64(index)),
            "text": .string("batch \(batch) row \(index) " + String(repeating: "x", count: Int(batch % 7) * 40)),
        ]
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: StorageCrashWorker write DIR [chunked] | hold DIR\n".utf8))
    exit(2)
}
let directory = URL(fileURLWithPath: arguments[2])
do {
    var configuration = FileTableStore.Configuration()
    if arguments.dropFirst(3).contains("checkpoint") { configuration.checkpointInterval = 1 }
    if arguments.dropFirst(3).contains("chunked") {
        let system = FileIO.system
        configuration.io = FileIO(
            write: { descriptor, bytes, offset in
                usleep(50)  // spread a batch's bytes over time, so that a kill often lands inside them
                return system.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes.prefix(97)), offset)
            },
            sync: system.sync)
    }
    let store = try await FileTableStore(directory: directory, configuration: configuration)
    switch arguments[1] {
    case "hold":
        say("locked")
        _ = FileHandle.standardInput.readDataToEndOfFile()
    case "write":
        var generator = SystemRandomNumberGenerator()
        try await store.createTable(TableSchema(name: "Log", indexes: ["batch"]))
        var batch =
            (try await store.newest(in: "Log", by: "batch")).flatMap { record -> Int64? in
                if case .int(let value)? = record["batch"] { return value + 1 }
                return nil
            } ?? 0
        say("ready \(batch)")
        // A bounded number of batches, so a parent slow to kill does not grow the log without end; then wait.
        for _ in 0..<8 {
            let size = Int.random(in: 1...120, using: &generator)
            _ = try await store.insert(rows(batch: batch, size: size), into: "Log", onConflict: .fail)
            say("ack \(batch) \(size)")
            batch += 1
        }
        _ = FileHandle.standardInput.readDataToEndOfFile()
    default:
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
