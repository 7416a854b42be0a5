import OAuthSigning
import Testing

@testable import TwitterSearch

/// The app-only token is obtained once for many concurrent requests, without a task of its own.
@Suite("BearerTokenCache")
struct BearerTokenCacheTests {
    /// An `obtain` that blocks until released, counting its calls.
    final class Gate: Sendable {
        let calls = Counter()
        let release: AsyncStream<Result<String, TestError>>
        let sink: AsyncStream<Result<String, TestError>>.Continuation

        init() { (release, sink) = AsyncStream.makeStream() }

        func obtain() async throws -> Secret {
            await calls.increment()
            var iterator = release.makeAsyncIterator()
            guard let result = await iterator.next() else { throw CancellationError() }
            return Secret(try result.get())
        }
    }

    struct TestError: Error, Equatable {}

    actor Counter {
        private(set) var value = 0
        func increment() { value += 1 }
    }

    private static func waitForWaiters(_ cache: BearerTokenCache, _ count: Int) async {
        while await cache.waiterCount < count { await Task.yield() }
    }

    @Test("ten requests at once obtain the token once, and all get it")
    func obtainsOnce() async throws {
        let cache = BearerTokenCache()
        let gate = Gate()
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await cache.token(obtain: gate.obtain).revealed } }
            await Self.waitForWaiters(cache, 9)
            gate.sink.yield(.success("token-1"))
            var tokens: [String] = []
            for try await token in group { tokens.append(token) }
            #expect(tokens == Array(repeating: "token-1", count: 10))
        }
        #expect(await gate.calls.value == 1)
        #expect(try await cache.token(obtain: gate.obtain).revealed == "token-1")
        #expect(await gate.calls.value == 1)
    }

    @Test("a failure reaches every waiting request, and the next request obtains again")
    func failureReachesWaiters() async throws {
        let cache = BearerTokenCache()
        let gate = Gate()
        await withTaskGroup(of: Result<Secret, any Error>.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    do { return .success(try await cache.token(obtain: gate.obtain)) } catch { return .failure(error) }
                }
            }
            await Self.waitForWaiters(cache, 2)
            gate.sink.yield(.failure(TestError()))
            for await result in group { #expect(throws: TestError.self) { try result.get() } }
        }
        #expect(await gate.calls.value == 1)
        gate.sink.yield(.success("token-2"))
        #expect(try await cache.token(obtain: gate.obtain).revealed == "token-2")
        #expect(await gate.calls.value == 2)
    }

    @Test("when the obtaining request is cancelled, a waiting one obtains the token itself")
    func cancelledObtainer() async throws {
        let cache = BearerTokenCache()
        let calls = Counter()
        let first = Task {
            try await cache.token {
                await calls.increment()
                try await Task.sleep(for: .seconds(3600))  // until cancelled
                return Secret("never")
            }
        }
        while await calls.value == 0 { await Task.yield() }
        let second = Task { try await cache.token { Secret("token-3") }.revealed }
        await Self.waitForWaiters(cache, 1)
        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(try await second.value == "token-3")
    }
}
