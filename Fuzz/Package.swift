// swift-tools-version: 6.1
// libFuzzer harnesses, their own package (like Benchmarks/) so users never resolve or build them. Run them with
// `Fuzz/run.sh [SECONDS]`, which builds with `--sanitize=fuzzer --sanitize=address` and seeds each harness from
// `Fuzz/Corpus/<name>/`. Each harness exports `LLVMFuzzerTestOneInput`; libFuzzer provides `main`, so the
// targets are compiled with `-parse-as-library` (an unsafe flag, allowed in a root package nobody depends on).
import PackageDescription

let harnessSettings: [SwiftSetting] = [
    .unsafeFlags(["-parse-as-library"]),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "TweetHarvesterFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "TweetHarvester", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "fuzz-cron",
            dependencies: [.product(name: "CronScheduler", package: "TweetHarvester")],
            path: "Sources/FuzzCron",
            swiftSettings: harnessSettings
        ),
        // The page decoder's own source files (symlinks to Sources/TwitterSearch: SearchResponse, JSONScanner,
        // Tweet, TwitterDate, SearchError) compiled into the harness, which needs only Foundation: depending on the
        // TwitterSearch product would build AsyncHTTPClient, SwiftNIO and BoringSSL with AddressSanitizer too, most
        // of the fuzzing stage's time in CI.
        .executableTarget(
            name: "fuzz-search-page",
            path: "Sources/FuzzSearchPage",
            swiftSettings: harnessSettings
        ),
        .executableTarget(
            name: "fuzz-file-store",
            dependencies: [.product(name: "TableStorage", package: "TweetHarvester")],
            path: "Sources/FuzzFileStore",
            swiftSettings: harnessSettings
        ),
    ]
)
