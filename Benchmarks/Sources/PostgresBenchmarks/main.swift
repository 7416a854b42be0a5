try await runPostgresBenchmarks()
