// swift-tools-version: 6.1
import PackageDescription

// Settings every target of this package gets (the "standard cross-repo settings" of async-http-client).
// Warnings are turned into errors on the command line in CI (`-Xswiftc -warnings-as-errors`), never here:
// dependents reject `unsafeFlags`.
let standardSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "TweetHarvester",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "HarvestClock", targets: ["HarvestClock"]),
        .library(name: "OAuthSigning", targets: ["OAuthSigning"]),
        .library(name: "TwitterSearch", targets: ["TwitterSearch"]),
        .library(name: "TableStorage", targets: ["TableStorage"]),
        .library(name: "TableStorageSQLite", targets: ["TableStorageSQLite"]),
        .library(name: "TableStoragePostgres", targets: ["TableStoragePostgres"]),
        .library(name: "CronScheduler", targets: ["CronScheduler"]),
        .library(name: "TweetHarvester", targets: ["TweetHarvester"]),
        .library(name: "HarvestTesting", targets: ["HarvestTesting"]),
        .library(name: "HarvestDemo", targets: ["HarvestDemo"]),
        .executable(name: "harvest", targets: ["harvest"]),
        .executable(name: "GetUpdates", targets: ["GetUpdates"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // MARK: Library modules
        // The lock every module guards shared state with (NSLock, which ThreadSanitizer sees; not a product).
        .target(name: "HarvestLocking"),
        .target(name: "HarvestClock"),
        .target(
            name: "OAuthSigning",
            dependencies: [
                "HarvestClock",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "TwitterSearch",
            dependencies: [
                "HarvestClock", "HarvestLocking",
                "OAuthSigning",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "TableStorage",
            dependencies: [
                "CTableStorage", "HarvestLocking",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // CRC-32 by carry-less multiplication for the file store's log (no listed package has it).
        .target(name: "CTableStorage"),
        .target(
            name: "TableStorageSQLite",
            dependencies: [
                "TableStorage", "HarvestLocking",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "TableStoragePostgres",
            dependencies: [
                "TableStorage", "CronScheduler", "HarvestLocking", "HarvestClock", "TwitterSearch",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .target(
            name: "CronScheduler",
            dependencies: [
                "HarvestClock",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TweetHarvester",
            dependencies: [
                "HarvestClock", "OAuthSigning", "TwitterSearch", "TableStorage", "CronScheduler", "HarvestLocking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The simulated search API: DemoTransport and its timeline, for demos and tests.
        .target(
            name: "HarvestDemo",
            dependencies: [
                "HarvestClock", "TwitterSearch", "HarvestLocking",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "HarvestTesting",
            dependencies: [
                "HarvestClock", "TwitterSearch", "TableStorage", "CronScheduler", "HarvestLocking",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Examples
        .executableTarget(
            name: "harvest",
            dependencies: [
                "OAuthSigning", "TwitterSearch", "TableStorage", "TableStorageSQLite", "TableStoragePostgres",
                "CronScheduler", "TweetHarvester", "HarvestDemo", "HarvestLocking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Examples/harvest"
        ),
        .executableTarget(
            name: "GetUpdates",
            dependencies: [
                "TweetHarvester", "HarvestDemo", "TwitterSearch", "TableStorage", "CronScheduler",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Examples/GetUpdates"
        ),

        // MARK: Tests
        // Each module's tests live in their own target. A target that is not listed here yet is added
        // in the section of the module it tests.
        .testTarget(name: "HarvestClockTests", dependencies: ["HarvestClock"]),

        // MARK: OAuthSigning tests
        .testTarget(
            name: "OAuthSigningTests",
            dependencies: [
                "OAuthSigning", "HarvestClock", "HarvestTesting",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("Resources")]
        ),

        // MARK: TwitterSearch tests
        .target(name: "HarvestTestServer", dependencies: ["HarvestLocking"], path: "Tests/HarvestTestServer"),
        .testTarget(
            name: "TwitterSearchTests",
            dependencies: [
                "TwitterSearch", "HarvestTesting", "HarvestTestServer", "OAuthSigning", "HarvestClock",
                "HarvestLocking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),

        // MARK: TableStorage tests
        .testTarget(
            name: "TableStorageTests",
            dependencies: [
                "TableStorage", "HarvestTesting", "StorageCrashWorker", "HarvestLocking", "HarvestTestServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TableStorageSQLiteTests",
            dependencies: [
                "TableStorage", "TableStorageSQLite", "HarvestTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "TableStoragePostgresTests",
            dependencies: [
                "TableStorage", "TableStoragePostgres", "CronScheduler", "HarvestTesting", "HarvestLocking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // A child process the crash tests kill -9 while it writes (built with the tests).
        .executableTarget(name: "StorageCrashWorker", dependencies: ["TableStorage"], path: "Tests/StorageCrashWorker"),

        // MARK: CronScheduler tests
        .testTarget(
            name: "CronSchedulerTests",
            dependencies: [
                "CronScheduler", "HarvestTesting", "HarvestClock", "HarvestLocking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            exclude: ["Resources/generate_croniter_cases.py"],
            resources: [.copy("Resources/croniter_cases.json")]
        ),

        // MARK: TweetHarvester tests
        .testTarget(
            name: "TweetHarvesterTests",
            dependencies: [
                "TweetHarvester", "HarvestDemo", "HarvestTesting", "HarvestClock", "TwitterSearch", "TableStorage",
                "CronScheduler", "OAuthSigning", "HarvestLocking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "HarvestIntegrationTests",
            dependencies: [
                "TweetHarvester", "HarvestDemo", "HarvestTestServer", "HarvestTesting", "TwitterSearch",
                "TableStorage", "TableStorageSQLite", "TableStoragePostgres", "HarvestClock", "OAuthSigning",
                // Built for the tests that run it as a child process and kill it.
                "harvest",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + standardSettings
}

// The DocC plugin loads only when asked (as GRDB does), so users never resolve it:
// `TH_BUILD_DOCS=1 swift package generate-documentation --target TweetHarvester` (CI builds every module's docs).
if Context.environment["TH_BUILD_DOCS"] != nil {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"))
}
