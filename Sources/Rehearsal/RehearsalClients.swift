import Foundation
import Hosts
import Migration
import MigrationPlanning
import NIOCore
import Probes
import ZooKeeper

/// The rehearsal's client groups, driven in-process: `kafka` (simulated brokers, each restarted
/// onto the new connection string as a controlled broker restart would) and `writers`
/// (numbered writers; one member that reconnects all of them). Every other group is a real
/// process on a sandbox host, moved as `mitosis run` moves it: its file edited in its format,
/// its restart command run, its sessions verified through `cons`.
final class RehearsalClients: ClientGroupController {
    static let kafkaGroup = "kafka"
    static let writersGroup = "writers"
    static let writersMember = "writers"

    let kafka: SimulatedKafkaCluster
    let writers: WriterRuns
    let processes: HostClientGroupController

    init(kafka: SimulatedKafkaCluster, writers: WriterRuns, processes: HostClientGroupController) {
        self.kafka = kafka
        self.writers = writers
        self.processes = processes
    }

    func preflightNeeds() -> PreflightNeeds { processes.preflightNeeds() }

    /// The plan as the controller of the real processes sees it: without the in-process groups,
    /// whose members run here and have no host of their own to check or reach.
    static func processGroups(of plan: Plan) -> Plan {
        let inProcess: Set<String> = [kafkaGroup, writersGroup]
        var plan = plan
        plan.clientGroups.removeAll { inProcess.contains($0.name) }
        for index in plan.steps.indices {
            plan.steps[index].actions.removeAll { action in
                switch action {
                case .switchClient(let change): return inProcess.contains(change.client.group)
                case .stopClient(let client): return inProcess.contains(client.group)
                default: return false
                }
            }
            plan.steps[index].gatesBefore.removeAll { if case .clientGroupHealthy(let group) = $0 { inProcess.contains(group) } else { false } }
            plan.steps[index].gatesAfter.removeAll { if case .clientGroupHealthy(let group) = $0 { inProcess.contains(group) } else { false } }
        }
        return plan
    }

    func switchMember(_ change: ClientSwitch) async throws -> [HostChange] {
        let target = try ConnectionString(parsing: change.to)
        switch change.client.group {
        case Self.kafkaGroup:
            let restart = try await kafka.restart(member: change.client.member, connectionString: target)
            return [HostChange(host: change.client.host, changed: true, summary: "restarted \(change.client.member) onto \(change.to) (\(String(format: "%.1f", restart.seconds)) s)")]
        case Self.writersGroup:
            let seconds = try await writers.switchTo(target)
            return [HostChange(host: change.client.host, changed: true, summary: "reconnected the writers to \(change.to) (\(String(format: "%.1f", seconds)) s)")]
        default:
            return try await processes.switchMember(change)
        }
    }

    func hasSwitched(_ change: ClientSwitch) async throws -> Bool {
        switch change.client.group {
        case Self.kafkaGroup:
            let target = try ConnectionString(parsing: change.to)
            return await kafka.status().contains {
                $0.member == change.client.member && $0.connectionString == target.description && !$0.restarting && !$0.stopped
            }
        case Self.writersGroup:
            guard await writers.isWriting else { return false }
            return await writers.connectionString == change.to
        default:
            return try await processes.hasSwitched(change)
        }
    }

    /// Block & copy's block: a broker stops as `systemctl stop kafka` would (its session closes);
    /// the writers stop writing (their acknowledged writes are kept for the verification). Both
    /// stay stopped until the switch starts them on the destination.
    func stopMember(_ client: ClientRef) async throws -> [HostChange] {
        switch client.group {
        case Self.kafkaGroup:
            try await kafka.stop(member: client.member)
            return [HostChange(host: client.host, changed: true, summary: "stopped \(client.member)")]
        case Self.writersGroup:
            let stopped = await writers.pause()
            return [HostChange(host: client.host, changed: stopped, summary: stopped ? "stopped the writers" : "the writers were stopped before")]
        default:
            return try await processes.stopMember(client)
        }
    }

    func health(of group: String) async throws -> (healthy: Bool, detail: String) {
        switch group {
        case Self.kafkaGroup:
            let status = await kafka.status()
            let down = status.filter { $0.restarting || $0.sessionID == nil }.map(\.member)
            let controllers = status.filter(\.isController).count
            if !down.isEmpty { return (false, "\(down.joined(separator: ", ")) not registered") }
            return (true, "\(status.count) brokers registered, \(controllers) controller")
        case Self.writersGroup:
            guard await writers.isWriting else { return (false, "the writers are stopped") }
            return (true, "writing through \(await writers.connectionString)")
        default:
            return try await processes.health(of: group)
        }
    }
}

/// The numbered writers, as successive runs: a switch stops one run and starts the next on the
/// new connection string (numbering continues), which is how a restarted client behaves.
actor WriterRuns {
    private var options: NumberedWritersOptions
    private let origin: ContinuousClock.Instant
    private let eventLoopGroup: any EventLoopGroup
    private var current: NumberedWriters?
    private(set) var finished: [NumberedWritesReport] = []

    init(options: NumberedWritersOptions, origin: ContinuousClock.Instant, eventLoopGroup: any EventLoopGroup) {
        self.options = options
        self.origin = origin
        self.eventLoopGroup = eventLoopGroup
    }

    var connectionString: String { options.connectionString.description }
    var isWriting: Bool { current != nil }

    func start() async throws {
        current = try await NumberedWriters.start(options, origin: origin, eventLoopGroup: eventLoopGroup)
    }

    /// Stops the running writers and starts them on `target`; returns the gap in seconds.
    func switchTo(_ target: ConnectionString) async throws -> Double {
        let began = ContinuousClock.now
        if let current { finished.append(await current.stop()) }
        current = nil
        options.connectionString = target
        try await start()
        let gap = ContinuousClock.now - began
        return gap.seconds
    }

    /// Stops the running writers until the next `switchTo` (block & copy's block window); false
    /// when they were not running.
    func pause() async -> Bool {
        guard let current else { return false }
        finished.append(await current.stop())
        self.current = nil
        return true
    }

    /// Stops the writers; every run's report.
    func stop() async -> [NumberedWritesReport] {
        if let current { finished.append(await current.stop()) }
        current = nil
        return finished
    }
}
