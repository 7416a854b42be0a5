import Foundation

// Each module's benchmarks live in a file of their own and register one group here.
// `harvest-bench` runs every group; `harvest-bench oauth cron` runs the groups whose names are given.
let groups: [BenchmarkGroup] = [
    oauthBenchmarks,
    harvestGroup,
    httpHarvestGroup,
    searchBenchmarks,
    storageGroup,
    storageInsertGroup,
    storageScanGroup,
    fileStoreGroup,
    cronBenchmarks,
    cronLatenessBenchmarks,
]

let wanted = Set(CommandLine.arguments.dropFirst())
print("# date \(ISO8601DateFormatter().string(from: Date()))")
print("# machine nproc=\(ProcessInfo.processInfo.activeProcessorCount)")
// Keep a core busy for a second first: on this VM the first group otherwise runs up to a fifth slower.
let warmUpEnd = ContinuousClock.now + .seconds(1)
var warmUpSpins = 0
while ContinuousClock.now < warmUpEnd { warmUpSpins &+= 1 }
blackHole(warmUpSpins)
for group in groups where wanted.isEmpty ? !group.onlyByName : wanted.contains(group.name) {
    try await group.run()
}
