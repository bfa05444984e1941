import ArgumentParser
import Ensemble
import Foundation
import Hosts
import Kafka
import Migration
import MigrationPlanning
import NIOCore
import NIOPosix
import ZooKeeper

/// `mitosis kafka switch`: the "switch the client group" step for Kafka brokers, gated on
/// under-replicated partitions, controller last.
struct KafkaSwitch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch",
        abstract: "Point a group of Kafka brokers at another ZooKeeper ensemble: rewrite zookeeper.connect and restart them one at a time, the controller last.",
        discussion: """
            Each broker's server.properties is rewritten (only the zookeeper.connect line changes) just before \
            it restarts through its host (the inventory's restart command). The next broker waits until the \
            restarted one has registered again, its health check passes, and no partition has been \
            under-replicated or offline for --healthy-period seconds. Brokers already on the target that \
            registered since are not restarted again, so the command can be run again after an interruption.
            """)

    @Option(help: "The inventory describing the brokers (client group members with host, configPath, restart, healthCheck).") var inventory: String
    @Option(help: "The client group of brokers.") var group: String
    @Option(help: "The new zookeeper.connect, e.g. 10.0.0.4:2181,10.0.0.5:2181,10.0.0.6:2181/kafka.") var to: String
    @Option(help: "Seconds without under-replicated partitions before the next broker.") var healthyPeriod: Double = 30
    @Flag(help: "Show each broker's file diff and whether it would restart; change nothing.") var dryRun = false
    @Flag(help: "Events as JSON lines.") var json = false

    func run() async throws {
        let parsed = try loadInventory(inventory)
        guard let clientGroup = parsed.clientGroup(named: group) else {
            throw ValidationError("the inventory has no client group '\(group)'; it has \(parsed.clientGroups.map(\.name).joined(separator: ", "))")
        }
        let target = try ConnectionString(parsing: to)
        let usesSandbox = parsed.hosts.contains { if case .sandbox = $0.access { return true } else { return false } }
            && ProcessInfo.processInfo.environment["MITOSIS_IN_NETNS"] == nil
        let sandbox = SandboxManager()
        let work = { (eventLoopGroup: any EventLoopGroup) async throws in
            let directory = InventoryHostDirectory(inventory: parsed, sandbox: sandbox, eventLoopGroup: eventLoopGroup)
            do {
                let brokers = try clientGroup.members.map { BrokerMember(member: $0, driver: try directory.driver(for: $0.host)) }
                try await ZooKeeperClient.withClient(ZooKeeperConfiguration(connectionString: target), eventLoopGroup: eventLoopGroup) { zookeeper in
                    let change = KafkaClientSwitch(
                        zookeeper: zookeeper, brokers: brokers,
                        options: .init(target: target, healthyPeriod: .milliseconds(Int64(healthyPeriod * 1000))))
                    if dryRun {
                        for preview in try await change.preview() {
                            if json { try Output.json(preview); continue }
                            Output.line("broker \(preview.brokerID) (\(preview.member) on \(preview.host)\(preview.isController ? ", controller" : "")): \(preview.restartNeeded ? "restart" : "no restart") — \(preview.reason)")
                            for line in preview.diff { Output.line("  \(line)") }
                        }
                        return
                    }
                    let report = try await change.run { event in
                        if json { try? Output.json(event) } else { Output.note(event.description) }
                    }
                    if json { try Output.json(report) } else { Output.note("switched: restarted \(report.restarted.map(\.description).joined(separator: ", ")); skipped \(report.skipped.map(\.description).joined(separator: ", "))") }
                }
                await directory.close()
            } catch {
                await directory.close()
                throw error
            }
        }
        if usesSandbox {
            try await sandbox.withControlGroup { try await work($0) }
        } else {
            try await work(MultiThreadedEventLoopGroup.singleton)
        }
    }
}
