import ArgumentParser
import Foundation
import Hosts
import Migration
import MigrationPlanning
import Rehearsal
import Reports
import ZooKeeperTestSupport

/// The longest client stall of each strategy, rehearsed one after another in the same run on the
/// same machine (issue 6). Needs root (the rehearsal's network namespaces).
struct StallBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stalls",
        abstract: "Rehearse each strategy on 3+3 sandbox servers and compare the longest client stall, failed operations and lost writes.")

    @Option(help: "Strategies, comma-separated; a +reconfig suffix (mitosis+reconfig) runs the sandboxes with reconfigEnabled=true, so mitosis joins by reconfig.")
    var strategies = "mitosis,mitosis+reconfig,mitosis-observers,reconfig,replace"
    @Option(help: "Rehearsals per strategy (the worst is reported, and each one).") var rounds = 1
    @Option(help: "ZooKeeper version.") var zookeeper = "3.8.0"
    @Option(help: "Seconds between the restarts of a rolling restart.") var pause: Double = 3
    @Option(help: "Where the reports go.") var out = "mitosis-bench-stalls"

    func run() async throws {
        let version = try ZooKeeperDistribution.named(zookeeper)
        var rows: [[String]] = [["strategy", "round", "longest stall kafka", "longest stall writers", "failed ops", "lost writes", "sessions expired", "elections", "source / destination", "wall time", "verdict"]]
        for name in strategies.split(separator: ",").map(String.init) {
            let reconfigEnabled = name.hasSuffix("+reconfig")
            guard let strategy = StrategyKind(rawValue: reconfigEnabled ? String(name.dropLast("+reconfig".count)) : name) else {
                throw ValidationError("unknown strategy \(name)")
            }
            for round in 1...max(rounds, 1) {
                var options = RehearsalOptions(
                    strategy: strategy, sourceVersion: version, rollingRestartPause: .milliseconds(Int64(pause * 1000)),
                    outputDirectory: "\(out)/\(name)-\(round)")
                options.reconfigEnabled = reconfigEnabled
                if let network = ProcessInfo.processInfo.environment["MITOSIS_SANDBOX_NETWORK"] { options.networkID = network }
                FileHandle.standardError.write(Data("rehearsing \(name) (round \(round))…\n".utf8))
                let result = try await Rehearsal.run(options)
                let verdict = { (item: String) in result.report.verdict.first { $0.name == item }?.value ?? "-" }
                rows.append([
                    name, "\(round)", verdict("longest stall (kafka)"), verdict("longest stall (writers)"), verdict("failed client operations"),
                    verdict("acknowledged writes lost"), verdict("sessions expired (moving clients)"), verdict("ZooKeeper leader elections"),
                    "\(verdict("leader elections on the source")) / \(verdict("leader elections on the destination"))",
                    String(format: "%.0f s", result.report.duration), result.passed ? "passed" : "FAILED",
                ])
            }
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}
