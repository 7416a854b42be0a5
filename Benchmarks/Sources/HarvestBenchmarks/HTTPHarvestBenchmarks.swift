import Foundation
import Logging
import OAuthSigning
import TableStorage
import TweetHarvester
import TwitterSearch

/// `http`: the whole harvest job over HTTP on 127.0.0.1, as a user runs it — `Harvester` with its default
/// transport, bearer credentials, a base URL of `http://127.0.0.1:PORT`, and a fresh `FileTableStore` in a
/// temporary directory for every walk — against the pages server that `Benchmarks/run-http-bench.sh` starts.
///
/// Only run by name, with the server's address in the environment:
///
///     HTTP_BENCH_BASE_URL=http://127.0.0.1:PORT HTTP_BENCH_API=v2 harvest-bench http
///
/// `HTTP_BENCH_API` is `v2` or `v1.1`; `HTTP_BENCH_RUNS` (5) timed walks after `HTTP_BENCH_WARMUP` (1);
/// `HTTP_BENCH_TAG` names the line (such as `gzip_on`); `HTTP_BENCH_RECEIVED` is the number of tweets the server
/// sends in one walk (the report's `fetched` leaves out the repeats the client drops, so the rate is taken over
/// what was received, as on the Python side); `HTTP_BENCH_EXPECT_ROWS` fails the run unless every walk stored that
/// many rows; `HTTP_BENCH_TRANSPORT=urlsession` passes `URLSessionTransport()` instead of the default. A walk is timed from opening the store to the end of `runOnce()`. After the first walk, a second
/// run on the same store must find nothing new (it sends `since_id`).
///
/// Lines: `http_swift_<api>_<tag>` tweets/s (median), `…_rows` rows, `…_cpu` the process's CPU time (user and
/// system, every thread) a walk (median), `…_maxrss` MiB (the process's peak).
let httpHarvestGroup = BenchmarkGroup(name: "http", onlyByName: true) {
    do {
        try await runHTTPHarvest()
    } catch {
        // One line and a failing exit status for the driver script, not a crash report.
        FileHandle.standardError.write(Data("harvest-bench http: \(error)\n".utf8))
        exit(1)
    }
}

private func runHTTPHarvest() async throws {
    let environment = ProcessInfo.processInfo.environment
    guard let base = environment["HTTP_BENCH_BASE_URL"].flatMap(URL.init(string:)) else {
        print("# http: set HTTP_BENCH_BASE_URL to the pages server (Benchmarks/run-http-bench.sh does)")
        return
    }
    let api: APIVersion = environment["HTTP_BENCH_API"] == "v1.1" ? .v1_1 : .v2
    let runs = environment["HTTP_BENCH_RUNS"].flatMap { Int($0) } ?? 5
    let warmUp = environment["HTTP_BENCH_WARMUP"].flatMap { Int($0) } ?? 1
    let received = environment["HTTP_BENCH_RECEIVED"].flatMap { Int($0) }
    let expectedRows = environment["HTTP_BENCH_EXPECT_ROWS"].flatMap { Int($0) }
    // `urlsession` measures the previous default, `URLSessionTransport`, for comparison.
    let urlSession = environment["HTTP_BENCH_TRANSPORT"] == "urlsession"
    let tag =
        "http_swift\(urlSession ? "_urlsession" : "")_\(api == .v2 ? "v2" : "v11")_\(environment["HTTP_BENCH_TAG"] ?? "gzip_on")"

    var settings = HarvestSettings(credentials: .bearer(BearerCredentials(token: Secret("benchmark-bearer-token"))))
    settings.api = api
    settings.baseURL = base
    // The Python pipeline's rules: native retweets, replies, and manual `RT @` retweets are dropped.
    settings.filters = [.retweets, .replies, .custom("manual retweet") { $0.text.hasPrefix("RT @") }]
    let quiet = Logger(label: "harvest-bench") { _ in SwiftLogNoOpLogHandler() }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("http-bench-swift-\(getpid())")
    defer { try? FileManager.default.removeItem(at: scratch) }

    var times: [Double] = []
    var cpuTimes: [Double] = []
    var storedCounts = Set<Int>()
    var receivedInWalk = 0
    for run in 0..<(warmUp + runs) {
        let directory = scratch.appendingPathComponent("run\(run)")
        let cpuStart = StorageBench.processCPUSeconds()
        let start = ContinuousClock.now
        let store = try await FileTableStore(directory: directory, logger: quiet)
        let harvester =
            try urlSession
            ? Harvester(settings: settings, store: store, transport: URLSessionTransport(), logger: quiet)
            : Harvester(settings: settings, store: store, logger: quiet)
        let report = try await harvester.runOnce()
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpuEnd = StorageBench.processCPUSeconds()
        let cpu = cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system
        let rows = try await store.count(Query(settings.table))
        if run == 0 {
            let again = try await harvester.runOnce()
            guard again.stored == 0, again.newestBefore != nil else {
                throw HTTPBenchmarkError(description: "\(tag): a second run stored \(again.stored) rows")
            }
        }
        store.close()
        try? FileManager.default.removeItem(at: directory)
        let isWarmUp = run < warmUp
        print(
            "# \(tag) run \(run)\(isWarmUp ? " (warm-up)" : ""): \(report.fetched) fetched, \(report.pages) pages, "
                + "\(report.stored) stored, \(rows) rows, \(String(format: "%.3f", seconds)) s, \(String(format: "%.3f", cpu)) s CPU"
        )
        if let expectedRows, rows != expectedRows || report.stored != expectedRows {
            throw HTTPBenchmarkError(description: "\(tag): stored \(rows) rows, expected \(expectedRows)")
        }
        storedCounts.insert(rows)
        receivedInWalk = received ?? report.fetched
        if !isWarmUp {
            times.append(seconds)
            cpuTimes.append(cpu)
        }
    }
    guard storedCounts.count == 1, let rows = storedCounts.first else {
        throw HTTPBenchmarkError(description: "\(tag): runs stored different row counts \(storedCounts.sorted())")
    }
    if !times.isEmpty {
        times.sort()
        report(tag, Double(receivedInWalk) / times[times.count / 2], "tweets/s")
    }
    report("\(tag)_rows", Double(rows), "rows")
    if !cpuTimes.isEmpty {
        cpuTimes.sort()
        report("\(tag)_cpu", cpuTimes[cpuTimes.count / 2] * 1000, "ms CPU a walk")
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    report("\(tag)_maxrss", Double(usage.ru_maxrss) / 1024, "MiB")
}

struct HTTPBenchmarkError: Error, CustomStringConvertible {
    var description: String
}
