import ArgumentParser
import Ensemble
import Foundation
import ZooKeeperProtocol
import Hosts
import Migration
import MigrationPlanning
import Rehearsal
import Reports

struct RehearseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rehearse",
        abstract: "Rehearse a migration end to end on real ZooKeeper servers in a network-namespace sandbox (needs root).",
        discussion: """
            With no options: a 3-server ZooKeeper 3.8.0 source holding data, an empty 3-server destination, \
            simulated Kafka brokers and numbered writers as live clients, and the mitosis strategy proved and \
            executed end to end. Prints a verdict (acknowledged writes lost, longest stall per client group, \
            failed operations, sessions expired, elections, data diff at the split) and writes an HTML report \
            with a timeline. Exit code 1 when the verdict fails.
            """)

    @Option(help: "mitosis, mitosis-observers, reconfig, replace (each server swapped for a new host behind its stable address) or copy (block & copy into a destination that already holds another application's data); kraft rehearses a ZooKeeper → KRaft migration (simulated brokers and KRaft controller, real ZooKeeper, a rollback drill at each phase; --brokers applies).") var strategy: String = "mitosis"
    @Option(help: "The source's ZooKeeper version: 3.8.0, 3.9.3 or 3.4.13.") var zookeeper: String = "3.8.0"
    @Option(help: "The destination's version (default: the source's).") var destinationZookeeper: String?
    @Option(help: "Servers in the source.") var servers: Int = 3
    @Option(help: "Servers in the destination.") var destinationServers: Int = 3
    @Option(help: "Znodes in the data set.") var nodes: Int = 2000
    @Option(help: "Simulated Kafka brokers.") var brokers: Int = 3
    @Option(help: "Numbered writers.") var writers: Int = 2
    @Option(help: "Writes per second per writer.") var rate: Double = 20
    @Option(help: "Seconds between the restarts of a rolling restart.") var pause: Double = 3
    @Option(help: "Kill a source server when this step starts (a step id, or random); it comes back after a few seconds.") var killServerAt: String?
    @Option(help: "Stop the executor when this step starts, as if the tool were killed, then resume from the journal (a step id, or random).") var killToolAt: String?
    @Option(help: "Where the report goes (default: ./mitosis-rehearsal-<time>).") var out: String?
    @Flag(help: "Restart the source's first leader before the plan, so that the leader is not the server a rolling restart reaches last.") var moveLeadership = false
    @Flag(help: "Leave the sandboxes running afterwards.") var keep = false
    @Option(help: "Strategy replace: interface (addresses moved with ip addr, Zalando) service (service addresses whose DNAT rules, as kube-proxy writes them, are pointed at the new host, HubSpot), or follows (the same rules, pointed by a controller that plays the platform: the address follows whichever server runs, the plan moves nothing and checks the effect; HubSpot's no-move variant).") var stableAddresses: String = "interface"
    @Flag(help: "With --strategy replace --stable-addresses service: start with servers and clients on the hosts' own addresses (the services exist, nobody uses them yet), so that the plan runs HubSpot's four phases: services, clients, peers (quorumListenOnAllIPs, one rolling restart), then the replacement.") var fromHostAddresses = false
    @Flag(help: "Run the sandboxes with reconfigEnabled=true (3.5+): mitosis then joins the destination by reconfig, with no restart of the source.") var reconfigEnabled = false
    @Flag(help: "Print the report as JSON on stdout.") var json = false

    func validate() throws {
        if strategy == "kraft" {
            guard (1...7).contains(brokers) else { throw ValidationError("--brokers is 1 to 7 for strategy kraft") }
            return
        }
        guard let kind = StrategyKind(rawValue: strategy) else {
            throw ValidationError("unknown strategy '\(strategy)'; choose one of \(StrategyKind.allCases.map(\.rawValue).joined(separator: ", ")), kraft")
        }
        guard let addresses = StableAddress.Kind(rawValue: stableAddresses), addresses != .command else {
            throw ValidationError("--stable-addresses is '\(stableAddresses)'; choose interface, service or follows")
        }
        if fromHostAddresses && (kind != .replace || stableAddresses != StableAddress.Kind.service.rawValue) {
            throw ValidationError("--from-host-addresses starts HubSpot's path before its services are used: it needs --strategy replace --stable-addresses service")
        }
        if kind == .replace && destinationServers != servers {
            throw ValidationError("strategy replace swaps each server one for one (same id, same stable address), so --destination-servers must equal --servers (\(servers)); to change the size use mitosis or reconfig")
        }
        if let source = ZooKeeperVersion(parsing: zookeeper), let destination = ZooKeeperVersion(parsing: destinationZookeeper ?? zookeeper),
            let refusal = Planner.versionRefusal(kind, source: source, destination: destination)
        {
            throw ValidationError("strategy \(kind) cannot move ZooKeeper \(source) onto \(destination): \(refusal)")
        }
        if reconfigEnabled, zookeeper.hasPrefix("3.4") || (destinationZookeeper ?? zookeeper).hasPrefix("3.4") {
            throw ValidationError("--reconfig-enabled needs ZooKeeper 3.5 or later on both sides (reconfig came in 3.5.0); drop it for 3.4.13")
        }
        guard (1...7).contains(servers), (1...7).contains(destinationServers) else { throw ValidationError("--servers and --destination-servers are 1 to 7") }
        guard nodes >= 1, brokers >= 1, writers >= 1, rate > 0, pause >= 0 else {
            throw ValidationError("--nodes, --brokers and --writers must be at least 1, --rate positive and --pause not negative")
        }
    }

    func run() async throws {
        if strategy == "kraft" { return try await rehearseKRaft(brokers: brokers, out: out, keep: keep, json: json) }
        var options = RehearsalOptions(
            strategy: StrategyKind(rawValue: strategy)!, sourceVersion: try ZooKeeperDistribution.named(zookeeper),
            destinationVersion: try destinationZookeeper.map(ZooKeeperDistribution.named), sourceServers: servers,
            destinationServers: destinationServers, dataNodes: nodes, brokers: brokers, writers: writers, writesPerSecond: rate,
            rollingRestartPause: .milliseconds(Int64(pause * 1000)), killServerAt: killServerAt.map { StepID(rawValue: $0) },
            killToolAt: killToolAt.map { StepID(rawValue: $0) }, outputDirectory: out, keepSandboxes: keep)
        if let network = ProcessInfo.processInfo.environment["MITOSIS_SANDBOX_NETWORK"] { options.networkID = network }
        options.moveLeadership = moveLeadership
        options.reconfigEnabled = reconfigEnabled
        options.stableAddressKind = StableAddress.Kind(rawValue: stableAddresses) ?? .interface
        options.fromHostAddresses = fromHostAddresses
        let started = ContinuousClock.now
        let result = try await Rehearsal.run(options) { message in
            let elapsed = ContinuousClock.now - started
            Output.note(String(format: "[%6.1f s] ", elapsed.seconds) + message)
        }
        if json {
            Output.line(String(decoding: try result.report.jsonData(), as: UTF8.self))
        } else {
            Output.line(renderTerminalSummary(result.report, colors: isatty(1) != 0))
        }
        Output.note("report: \(result.directory)/report.html")
        if !result.passed { throw ExitCode.failure }
    }
}
