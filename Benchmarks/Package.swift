// swift-tools-version: 6.1
// The benchmarks are their own package (as in SwiftNIO and swift-log), so users of TweetHarvester never
// resolve or build them. Run them in release mode:
//
//     swift run -c release --package-path Benchmarks harvest-bench [FILTER...]
//     bash Benchmarks/postgres/run.sh            (postgres-bench against psycopg, on a throwaway server)
import PackageDescription

let package = Package(
    name: "TweetHarvesterBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "TweetHarvester", path: ".."),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .executableTarget(
            name: "harvest-bench",
            dependencies: [
                .product(name: "HarvestClock", package: "TweetHarvester"),
                .product(name: "OAuthSigning", package: "TweetHarvester"),
                .product(name: "TwitterSearch", package: "TweetHarvester"),
                .product(name: "TableStorage", package: "TweetHarvester"),
                .product(name: "TableStorageSQLite", package: "TweetHarvester"),
                .product(name: "CronScheduler", package: "TweetHarvester"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "TweetHarvester", package: "TweetHarvester"),
                .product(name: "HarvestDemo", package: "TweetHarvester"),
                .product(name: "Logging", package: "swift-log"),
                // The SQLite C API itself, for the baseline without any Swift layer.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            path: "Sources/HarvestBenchmarks"
        ),
        // PostgresTableStore against psycopg (Benchmarks/postgres/run.sh): a target of its own, so that its release
        // build needs neither GRDB nor AsyncHTTPClient.
        .executableTarget(
            name: "postgres-bench",
            dependencies: [
                .product(name: "TableStorage", package: "TweetHarvester"),
                .product(name: "TableStoragePostgres", package: "TweetHarvester"),
                .product(name: "CronScheduler", package: "TweetHarvester"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Sources/PostgresBenchmarks"
        ),
    ]
)
