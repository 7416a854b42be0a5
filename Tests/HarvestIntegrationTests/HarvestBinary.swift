import Foundation

/// The `harvest` binary, built next to the test bundle by `swift build --build-tests` (or named by
/// `TH_HARVEST_BINARY`).
enum HarvestBinary {
    static var url: URL {
        get throws {
            if let path = ProcessInfo.processInfo.environment["TH_HARVEST_BINARY"] { return URL(fileURLWithPath: path) }
            let candidates = [
                Bundle.main.bundleURL.deletingLastPathComponent(),
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                Bundle.main.bundleURL,
            ].map { $0.appending(path: "harvest") }
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw Missing(searched: candidates.map(\.path))
            }
            return found
        }
    }

    struct Missing: Error, CustomStringConvertible {
        var searched: [String]
        var description: String { "harvest not found (swift build --build-tests builds it); looked in \(searched)" }
    }
}
