import Foundation

/// One benchmark line: `name: value unit`, the format of `../shared/anchors/`.
func report(_ name: String, _ value: Double, _ unit: String) {
    let formatted: String
    if value >= 100 {
        formatted = String(Int(value.rounded()))
    } else if value >= 1 {
        formatted = String(format: "%.2f", value)
    } else {
        formatted = String(format: "%.3g", value)
    }
    print("\(name): \(formatted) \(unit)")
}

/// Runs `body` once to warm up, then `repetitions` times, and returns the median wall time in seconds.
///
/// `body` returns a value that is folded into a sink so the optimiser cannot drop the work.
func medianSeconds<T>(repetitions: Int = 5, _ body: () throws -> T) rethrows -> Double {
    blackHole(try body())
    var times: [Double] = []
    for _ in 0..<repetitions {
        let start = ContinuousClock.now
        blackHole(try body())
        let elapsed = ContinuousClock.now - start
        times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    times.sort()
    return times[times.count / 2]
}

/// The async form of ``medianSeconds(repetitions:_:)``.
func medianSeconds<T>(repetitions: Int = 5, _ body: () async throws -> T) async rethrows -> Double {
    blackHole(try await body())
    var times: [Double] = []
    for _ in 0..<repetitions {
        let start = ContinuousClock.now
        blackHole(try await body())
        let elapsed = ContinuousClock.now - start
        times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    times.sort()
    return times[times.count / 2]
}

@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// The shared corpus written by `../shared/anchors/make_corpus.py` (`CORPUS_DIR`, default `/tmp/corpus`).
var corpusDirectory: URL {
    URL(fileURLWithPath: ProcessInfo.processInfo.environment["CORPUS_DIR"] ?? "/tmp/corpus")
}

/// A named group of benchmark lines.
struct BenchmarkGroup: Sendable {
    var name: String
    /// Whether a run of every group (no names given) skips this one, because another group covers it.
    var onlyByName = false
    var run: @Sendable () async throws -> Void
}
