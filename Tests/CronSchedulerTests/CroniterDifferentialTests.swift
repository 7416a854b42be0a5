import CronScheduler
import Foundation
import Testing

/// Fire times computed by croniter 7.0.0 (an independent implementation), generated offline by
/// `Resources/generate_croniter_cases.py` and committed as `Resources/croniter_cases.json`.
@Suite("CronExpression against croniter")
struct CroniterDifferentialTests {
    private struct Case: Decodable {
        var expression: String
        var zone: String
        var start: String
        var startEpoch: Int
        var dst: Bool
        var fires: [String]
        var fireEpochs: [Int]
    }

    private static func cases() throws -> [Case] {
        let url = try #require(Bundle.module.url(forResource: "croniter_cases", withExtension: "json"))
        return try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
    }

    @Test("hundreds of random expressions in five zones give croniter's next five fire times")
    func matchesCroniter() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 600)
        var compared = 0
        for testCase in cases where !testCase.dst {
            let zone = try #require(TimeZone(identifier: testCase.zone))
            let expression = try CronExpression(testCase.expression)
            let start = Date(timeIntervalSince1970: TimeInterval(testCase.startEpoch))
            let fires = expression.fireDates(after: start, in: zone).prefix(5).map { Int($0.timeIntervalSince1970) }
            #expect(
                fires == testCase.fireEpochs,
                "\(testCase.expression) in \(testCase.zone) after \(testCase.start): croniter \(testCase.fires)")
            compared += 1
        }
        #expect(compared >= 600)
    }

    @Test("the one-shot next(after:in:) agrees with the lazy sequence on every case")
    func nextAgreesWithSequence() throws {
        for testCase in try Self.cases() {
            let zone = try #require(TimeZone(identifier: testCase.zone))
            let expression = try CronExpression(testCase.expression)
            let start = Date(timeIntervalSince1970: TimeInterval(testCase.startEpoch))
            var previous = start
            for fire in expression.fireDates(after: start, in: zone).prefix(5) {
                #expect(expression.next(after: previous, in: zone) == fire, "\(testCase.expression) \(testCase.zone)")
                previous = fire
            }
        }
    }
}
