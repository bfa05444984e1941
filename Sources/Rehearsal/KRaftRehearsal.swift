import Ensemble
import Foundation
import Hosts
import Kafka
import Migration
import MigrationPlanning
import NIOCore
import ZooKeeper

/// `mitosis rehearse --strategy kraft`: a ZooKeeper → KRaft migration (KIP-866) rehearsed on real
/// ZooKeeper in a network-namespace sandbox, by the real plan: the rehearsal writes an inventory for
/// its sandbox hosts, then plans (`KRaftPlanner`, as `kafka kraft plan`), proves (`KRaftProver`),
/// runs (`KRaftExecutor`, as `kafka kraft run --through PHASE`) and rolls back (`KRaftRollback`, as
/// `kafka kraft rollback`). The Kafka brokers and the KRaft controller quorum are *simulated*
/// (`mitosis kafka kraft simulate`, one process per sandbox host): they read their real
/// server.properties at each start and write to ZooKeeper what Kafka's code writes. ZooKeeper, the
/// files, the processes and the commands that restart them are real.
public struct KRaftRehearsalOptions: Sendable {
    public var brokers: Int
    public var networkID: String
    public var outputDirectory: String
    /// The `mitosis` binary the sandbox hosts run (`kafka kraft simulate`).
    public var executable: String
    public var keepSandboxes: Bool
    /// The controller's metadata-log tick (Kafka: 500 ms).
    public var tickMilliseconds: Int
    /// How long a gate may wait.
    public var gateTimeout: Duration
    /// How long the partitions must stay healthy before each broker restart and before finalization
    /// (`kafka kraft run --healthy-period`).
    public var healthyPeriod: Duration
    /// The phases after which a rollback drill runs (each on a migration started again from the
    /// beginning). Finalization cannot be rolled back.
    public var drillPhases: [KRaftPhase]

    public init(brokers: Int = 3, networkID: String? = nil, outputDirectory: String? = nil, executable: String, keepSandboxes: Bool = false,
                tickMilliseconds: Int = 200, gateTimeout: Duration = .seconds(60), healthyPeriod: Duration = .milliseconds(200),
                drillPhases: [KRaftPhase] = KRaftPhase.allCases.filter { $0 < .finalize }) {
        self.brokers = brokers
        self.networkID = networkID ?? "mk\(ProcessInfo.processInfo.processIdentifier)"
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        self.outputDirectory = outputDirectory ?? "mitosis-kraft-rehearsal-\(stamp)"
        self.executable = executable; self.keepSandboxes = keepSandboxes; self.tickMilliseconds = tickMilliseconds
        self.gateTimeout = gateTimeout; self.healthyPeriod = healthyPeriod; self.drillPhases = drillPhases.filter { $0 < .finalize }
    }
}

/// What the rehearsal saw: each gate the final run passed (from its journal), each rollback drill and its checks.
public struct KRaftRehearsalResult: Sendable, Codable {
    public struct Gate: Sendable, Codable {
        public var phase: String
        public var step: String
        public var gate: String
        /// Since its step started (the journal's times, to the second).
        public var seconds: Double
    }
    public struct Drill: Sendable, Codable {
        /// The phase the plan ran through (`--through`) before the rollback.
        public var phase: String
        /// The plan's steps the run finished before the rollback.
        public var stepsRun: [String]
        /// What `KRaftRollback` did.
        public var rollback: [String]
        /// What a ZooKeeper-mode controller found after the rollback.
        public var checks: [String: Bool]
        public var passed: Bool { checks.values.allSatisfy { $0 } }
    }
    public var gates: [Gate] = []
    public var drills: [Drill] = []
    public var finalized = false
    /// Appends the writer had acknowledged, and those no broker holds at the end.
    public var ackedWrites = 0
    public var lostWrites: [String] = []
    public var passed: Bool { finalized && drills.allSatisfy(\.passed) && ackedWrites > 0 && lostWrites.isEmpty }
}

public enum KRaftRehearsal {
    public static func run(_ options: KRaftRehearsalOptions, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> KRaftRehearsalResult {
        try await Rehearsal.withSandboxNetwork(options.networkID, output: options.outputDirectory, keep: options.keepSandboxes) { manager, group, directory in
            let result = try await KRaftRehearsing(options: options, manager: manager, group: group, directory: directory.path, progress: progress).run()
            try JSONEncoder().encode(result).write(to: directory.appendingPathComponent("kraft-rehearsal.json"))
            return result
        }
    }
}

/// One simulated Kafka node on its own sandbox host: its real server.properties, data directory
/// and a control script (restart | stop) that runs `mitosis kafka kraft simulate` in the background.
/// The inventory names the script as the member's `restart` and `stop` commands.
struct SimulatedKafkaNode: Sendable {
    var host: SandboxHost
    var role: KafkaNodeFile.Role
    var id: Int
    var base: String { host.directory + "/kafka" }
    var configPath: String { base + "/server.properties" }
    var dataPath: String { base + "/data" }
    var logPath: String { base + "/node.log" }
    var controlPath: String { base + "/kafka.sh" }
    var member: String { "\(role.rawValue)-\(id)" }

    var inventoryMember: ClientGroupMember {
        ClientGroupMember(name: member, host: host.name, configPath: configPath,
                          restart: "/bin/sh \(shellQuoted(controlPath)) restart", stop: "/bin/sh \(shellQuoted(controlPath)) stop")
    }

    /// The file before the migration: a ZooKeeper-mode broker, or a controller not yet provisioned.
    func initialProperties(zookeeperConnect: String) -> String {
        role == .broker
            ? "broker.id=\(id)\nlisteners=PLAINTEXT://\(host.address):9092\ninter.broker.protocol.version=3.9\nzookeeper.connect=\(zookeeperConnect)\nlog.dirs=\(dataPath)\n"
            : "process.roles=controller\nnode.id=\(id)\nlisteners=CONTROLLER://\(host.address):9093\ncontroller.listener.names=CONTROLLER\n"
                + "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\ncontroller.quorum.voters=\(id)@\(host.address):9093\nmetadata.log.dir=\(dataPath)\n"
    }

    func controlScript(executable: String, channel: String, tickMilliseconds: Int) -> String {
        let pid = shellQuoted(base + "/node.pid"), log = shellQuoted(logPath)
        return """
            #!/bin/sh
            # The rehearsal's simulated Kafka \(role.rawValue) \(id) on \(host.name): restart | stop
            case "$1" in
            restart)
                if [ -f \(pid) ]; then kill "$(cat \(pid))" 2>/dev/null; while kill -0 "$(cat \(pid))" 2>/dev/null; do sleep 0.05; done; fi
                setsid \(shellQuoted(executable)) kafka kraft simulate --role \(role.rawValue)\(role == .broker ? " --serve-appends" : "") --config \(shellQuoted(configPath)) --data \(shellQuoted(dataPath)) --channel \(shellQuoted(channel)) --tick-ms \(tickMilliseconds) </dev/null >>\(log) 2>&1 &
                echo $! > \(pid) ;;
            stop)
                if [ -f \(pid) ]; then kill "$(cat \(pid))" 2>/dev/null; while kill -0 "$(cat \(pid))" 2>/dev/null; do sleep 0.05; done; rm -f \(pid); fi ;;
            *) echo "usage: $0 restart|stop" >&2; exit 2 ;;
            esac

            """
    }
}


/// One KRaft rehearsal in progress.
struct KRaftRehearsing {
    let options: KRaftRehearsalOptions
    let manager: SandboxManager
    let group: any EventLoopGroup
    let directory: String
    let progress: @Sendable (String) -> Void
    static let chroot = "/kafka"
    static let topic = "orders"
    static let brokerGroup = "kafka-brokers"
    static let controllerGroup = "kraft-controllers"
    static let kafkaVersion = KafkaVersion("3.9.0")

    func run() async throws -> KRaftRehearsalResult {
        let ensemble = try await manager.up(.init(name: "zk", servers: 1, version: .v3_8_0, start: true))
        let hosts = try await manager.up(.init(name: "kafka", servers: options.brokers + 1, start: false))
        let connect = ensemble.connectionString + Self.chroot
        progress("ZooKeeper \(ensemble.connectionString) (real); \(options.brokers) simulated brokers and 1 simulated KRaft controller on their own sandbox hosts")
        let brokers = hosts.hosts.prefix(options.brokers).enumerated().map { SimulatedKafkaNode(host: $0.element, role: .broker, id: $0.offset + 1) }
        let controller = SimulatedKafkaNode(host: hosts.hosts[options.brokers], role: .controller, id: 3000)
        let channel = directory + "/kraft-channel"
        try FileManager.default.createDirectory(atPath: channel, withIntermediateDirectories: true)
        for node in brokers + [controller] {
            let driver = try manager.hostDriver(for: node.host.name)
            _ = try await driver.check("mkdir -p \(shellQuoted(node.dataPath))", operation: "create \(node.dataPath)")
            _ = try await driver.writeFile(node.controlPath, contents: node.controlScript(executable: options.executable, channel: channel, tickMilliseconds: options.tickMilliseconds))
            _ = try await driver.writeFile(node.configPath, contents: node.initialProperties(zookeeperConnect: connect))
        }
        // The inventory an operator would write: the brokers and the controller as client groups.
        let inventory = Inventory(
            ensembles: [ensemble.ensembleSpec], hosts: ensemble.hostSpecs + hosts.hostSpecs,
            clientGroups: [ClientGroup(name: Self.brokerGroup, ensemble: ensemble.name, chroot: Self.chroot, members: brokers.map(\.inventoryMember)),
                           ClientGroup(name: Self.controllerGroup, ensemble: ensemble.name, chroot: Self.chroot, members: [controller.inventoryMember])])
        try SandboxInventory.yaml(inventory).write(toFile: directory + "/inventory.yaml", atomically: true, encoding: .utf8)
        let hostDirectory = InventoryHostDirectory(inventory: inventory, sandbox: manager, eventLoopGroup: group)
        let zk = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(ensemble.connectionString), eventLoopGroup: group)
        do { try await zk.create(Self.chroot) } catch let error as ZooKeeperError where error.code == .nodeExists {}
        await zk.close()
        let kafka = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(connect), eventLoopGroup: group)
        let cluster: KRaftRehearsalCluster
        do {
            cluster = KRaftRehearsalCluster(zookeeper: kafka, brokers: brokers, controller: controller,
                                            nodes: try KRaftNodeAccess.members(of: [Self.brokerGroup, Self.controllerGroup], in: inventory, hosts: hostDirectory))
        } catch {
            await kafka.close()
            await hostDirectory.close()
            throw error
        }
        let outcome = await Result(catching: { try await rehearse(cluster) })
        for node in cluster.nodes { try? await cluster.control(node, stop: true) }
        await kafka.close()
        await hostDirectory.close()
        return try outcome.get()
    }

    /// Kafka's layout as a ZooKeeper-mode cluster leaves it: cluster id, one topic (topic_id, a
    /// partition per broker, full ISRs), controller epoch 5.
    func writeLayout(_ zk: ZooKeeperClient) async throws {
        func create(_ path: String, _ text: String) async throws {
            var prefix = ""
            for segment in ZooKeeperPath.parent(of: path).split(separator: "/") {
                prefix += "/" + segment
                do { try await zk.create(prefix) } catch let error as ZooKeeperError where error.code == .nodeExists {}
            }
            try await zk.create(path, data: Array(text.utf8))
        }
        try await create(ClusterIDZNode.path, String(decoding: ClusterIDZNode(id: "Y8Lk3YQwQ1q0rZ0eR1vJ1A").data(), as: UTF8.self))
        try await create(ControllerEpochZNode.path, "5")
        let ids = (1...options.brokers).map { BrokerID($0) }
        var partitions: [Int: [BrokerID]] = [:]
        for index in 0..<options.brokers { partitions[index] = (0..<min(3, ids.count)).map { ids[(index + $0) % ids.count] } }
        try await create(TopicAssignmentZNode.path(Self.topic), String(decoding: TopicAssignmentZNode(version: 3, partitions: partitions, topicID: "nBsQmVY3Ti6h8KQ5bKmqzQ").data(), as: UTF8.self))
        for (partition, replicas) in partitions {
            try await create(PartitionStateZNode.path(TopicPartition(Self.topic, partition)),
                             String(decoding: PartitionStateZNode(leader: replicas[0], leaderEpoch: 0, controllerEpoch: 5, isr: replicas).data(), as: UTF8.self))
        }
    }

    func rehearse(_ cluster: KRaftRehearsalCluster) async throws -> KRaftRehearsalResult {
        var result = KRaftRehearsalResult()
        let checks = KRaftRehearsalChecks(zk: cluster.zookeeper, timeout: options.gateTimeout, brokers: Set(cluster.brokers.map(\.id)),
                                          nodeLog: { node in (try? String(contentsOfFile: node.logPath, encoding: .utf8)) ?? "" })

        // 1. A ZooKeeper-mode cluster: brokers registered, one of them the ZooKeeper controller.
        try await writeLayout(cluster.zookeeper)
        for node in cluster.nodes where node.member.name.hasPrefix("broker-") { try await cluster.control(node, stop: false) }
        try await checks.zooKeeperMode(brokers: cluster.brokers)
        progress("zookeeper mode: every broker registered, a ZooKeeper-mode controller elected")
        let writer = try await startWriter(brokers: cluster.brokers)
        let outcome = await Result(catching: { try await migrate(cluster, checks, result: &result) })
        await stopWriter(writer)
        try outcome.get()
        // Every acknowledged append must be held by some broker (their real data directories).
        let acked = writer.acked()
        var stored: Set<String> = []
        for broker in cluster.brokers {
            for (partition, payloads) in SimulatedPartitionStore.stored(dataDirectory: broker.dataPath) { stored.formUnion(payloads.map { "\(partition) \($0)" }) }
        }
        result.ackedWrites = acked.count
        result.lostWrites = acked.filter { !stored.contains($0) }.sorted()
        progress("writer: \(acked.count) appends acknowledged, \(result.lostWrites.count) lost")
        return result
    }

    /// How the rehearsal runs the plan: `kafka kraft run`'s and `rollback`'s options, with waits
    /// scaled to the simulator's tick.
    var runOptions: KRaftExecutor.Options {
        KRaftExecutor.Options(healthyPeriod: options.healthyPeriod, pollInterval: .milliseconds(100), gateTimeout: options.gateTimeout,
                              dualWriteInterval: .milliseconds(Int64(3 * options.tickMilliseconds)), restartTimeout: .seconds(30),
                              kafkaVersion: Self.kafkaVersion)
    }

    /// A rollback drill after each phase of `drillPhases` (each on a migration planned and started
    /// again from the beginning), then the migration phase by phase to finalization.
    func migrate(_ cluster: KRaftRehearsalCluster, _ checks: KRaftRehearsalChecks, result: inout KRaftRehearsalResult) async throws {
        for (index, phase) in options.drillPhases.enumerated() {
            let attempt = try await attempt("\(index + 1)-drill-\(phase.rawValue)", through: phase, cluster)
            progress("rollback drill from '\(phase.rawValue)' (after \(attempt.done.count) steps): kafka kraft rollback")
            let rollback = try await KRaftRollback(plan: attempt.plan, zookeeper: cluster.zookeeper, nodes: cluster.nodes, journal: attempt.journal, options: runOptions)
                .run { event in if event.kind == .failed { progress("  ✗ \(event.summary)") } }
            try await checks.zooKeeperMode(brokers: cluster.brokers)
            let drill = KRaftRehearsalResult.Drill(phase: phase.rawValue, stepsRun: attempt.done, rollback: rollback.actions,
                                                   checks: try await checks.zooKeeperControllerCanRun(brokers: cluster.brokers))
            result.drills.append(drill)
            progress("rollback drill from '\(phase.rawValue)': \(drill.passed ? "passed" : "FAILED") \(drill.checks.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value ? "yes" : "NO")" }.joined(separator: "; "))")
        }
        let migration = try await attempt("\(options.drillPhases.count + 1)-migration", through: .finalize, cluster)
        // The gates the run passed, from its journal.
        var started: [StepID: Date] = [:]
        for event in try migration.journal.load().events {
            guard let step = event.step else { continue }
            if event.kind == .stepStarted { started[step] = event.time }
            guard event.kind == .gatePassed, let planned = migration.plan.plan.steps.first(where: { $0.id == step.rawValue }) else { continue }
            result.gates.append(.init(phase: planned.phase.rawValue, step: step.rawValue, gate: event.summary.replacingOccurrences(of: "gate passed: ", with: ""),
                                      seconds: started[step].map { event.time.timeIntervalSince($0) } ?? 0))
        }
        // Finalization: the controller stops writing ZooKeeper.
        try await checks.finalized(cluster.controller)
        result.finalized = true
        progress("finalized: POST_MIGRATION written; /migration frozen while the metadata log advances")
    }

    /// `kafka kraft plan` from the files and ZooKeeper as they are now, proved, written to
    /// `kraft-NAME/` (plan.json with its proof, runbook.md) and read back and proved again as
    /// `kafka kraft run` reads it, then `kafka kraft run --through P` for each phase up to `last`,
    /// resumed from its journal (`kraft-NAME/journal.jsonl`) phase after phase.
    func attempt(_ name: String, through last: KRaftPhase, _ cluster: KRaftRehearsalCluster) async throws -> (plan: ProvenKRaftPlan, journal: Journal, done: [String]) {
        let output = directory + "/kraft-" + name
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let planned = try await KRaftPlanner.plan(zookeeper: cluster.zookeeper, nodes: cluster.nodes, brokerGroup: Self.brokerGroup, brokers: cluster.brokers.map(\.member),
                                                  controllerGroup: Self.controllerGroup, controllers: [cluster.controller.member], kafkaVersion: Self.kafkaVersion)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let path = output + "/plan.json"
        try encoder.encode(try KRaftProver.prove(planned).recorded).write(to: URL(fileURLWithPath: path))
        try planned.runbook().write(toFile: output + "/runbook.md", atomically: true, encoding: .utf8)
        let plan = try KRaftProver.verify(try JSONDecoder().decode(KRaftPlan.self, from: Data(contentsOf: URL(fileURLWithPath: path))), source: path)
        progress("\(name): planned and proved (\(plan.plan.steps.count) steps, \(output)/plan.json)")
        let journal = Journal(path: output + "/journal.jsonl")
        var done: [String] = []
        for phase in KRaftPhase.allCases where phase <= last {
            var settings = runOptions
            settings.through = phase
            let report = try await KRaftExecutor(plan: plan, zookeeper: cluster.zookeeper, nodes: cluster.nodes, journal: journal, options: settings)
                .run(resume: phase != KRaftPhase.allCases[0]) { event in if event.kind == .failed { progress("  ✗ \(event.summary)") } }
            done += report.done
            progress("\(name): through \(phase.rawValue) ✓ (\(report.done.joined(separator: ", ")))")
        }
        return (plan, journal, done)
    }

    /// One produce-style writer (python, on its own sandbox host): appends `w-<n>` round robin to
    /// the topic's partitions, on the leader, retrying on another broker until one acknowledges.
    func startWriter(brokers: [SimulatedKafkaNode]) async throws -> KRaftWriter {
        let host = try await manager.up(.init(name: "writer", servers: 1, start: false)).hosts[0]
        let writer = KRaftWriter(host: host)
        let driver = try manager.hostDriver(for: host.name)
        _ = try await driver.writeFile(writer.scriptPath, contents: KRaftWriter.program)
        let targets = brokers.map { "\($0.id)=\($0.host.address):9092" }.joined(separator: ",")
        try await driver.check("setsid /usr/bin/python3 \(shellQuoted(writer.scriptPath)) \(targets) \(Self.topic) \(brokers.count) \(shellQuoted(writer.logPath)) </dev/null >>\(shellQuoted(writer.logPath + ".err")) 2>&1 & echo $! > \(shellQuoted(writer.pidPath))",
                               timeout: .seconds(30), operation: "start the writer")
        progress("writer on \(host.name): appends to \(Self.topic) through the simulated brokers")
        return writer
    }

    func stopWriter(_ writer: KRaftWriter) async {
        _ = try? await manager.hostDriver(for: writer.host.name).run("kill $(cat \(shellQuoted(writer.pidPath))) 2>/dev/null; sleep 0.3", timeout: .seconds(10))
    }
}

/// The rehearsal's cluster: Kafka's ZooKeeper (the chroot), the simulated nodes and the
/// inventory's members that reach them.
struct KRaftRehearsalCluster: Sendable {
    let zookeeper: ZooKeeperClient
    let brokers: [SimulatedKafkaNode]
    let controller: SimulatedKafkaNode
    let nodes: [KRaftNodeAccess]

    /// Runs a member's own `restart` (or `stop`) command through its host: the cluster's start
    /// before the migration and its teardown; the migration's restarts are the plan's.
    func control(_ node: KRaftNodeAccess, stop: Bool) async throws {
        guard let command = stop ? node.member.stop : node.member.restart else { return }
        try await node.driver.check(command, timeout: .seconds(30), operation: "\(stop ? "stop" : "start") \(node.member.name)")
    }
}

/// What the rehearsal checks beside the plan's own gates (those are the executor's): the cluster
/// back in ZooKeeper mode after each rollback and what a ZooKeeper-mode controller needs, and
/// finalization, which ZooKeeper alone cannot show (read from the controller's log and metadata
/// log). Each polls until the condition holds, or fails naming what it last saw.
struct KRaftRehearsalChecks: Sendable {
    let zk: ZooKeeperClient
    let timeout: Duration
    let brokers: Set<Int>
    let nodeLog: @Sendable (SimulatedKafkaNode) -> String

    /// Polls `condition` (nil = holds, else what is missing) until it holds or the gate times out.
    func wait(_ gate: String, _ condition: () async throws -> String?) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = "not checked yet"
        while ContinuousClock.now < deadline {
            guard let missing = try await condition() else { return }
            last = missing
            try await Task.sleep(for: .milliseconds(100))
        }
        throw KRaftSimulationRefusal("gate '\(gate)'", "did not pass within \(timeout): \(last)", fix: "see the nodes' logs (kafka/node.log on each sandbox host)")
    }

    func registered() async throws -> Set<Int> {
        do { return Set(try await zk.getChildren("/brokers/ids").compactMap { Int($0) }) } catch let error as ZooKeeperError where error.code == .noNode { return [] }
    }
    func controller() async throws -> ControllerOwner { ControllerOwner(try await KRaftZooKeeperView.read(zk).controller) }

    func zooKeeperMode(brokers nodes: [SimulatedKafkaNode]) async throws {
        try await wait("zookeeper mode") {
            let ids = try await registered()
            guard ids == brokers else { return "/brokers/ids is \(ids.sorted()), expected \(brokers.sorted())" }
            guard case .zookeeper(let id, _) = try await controller(), brokers.contains(id.rawValue) else { return "no ZooKeeper-mode controller in /controller: \(try await controller())" }
            return nil
        }
    }

    func finalized(_ node: SimulatedKafkaNode) async throws {
        try await wait("finalized") { nodeLog(node).contains("Completing the ZK migration") ? nil : "the controller has not written POST_MIGRATION" }
        let frozen = try await zk.exists(MigrationZNode.path)?.mzxid
        // The controller's own log does not grow by itself; its metadata log does: read it.
        let metadata = node.dataPath + "/__cluster_metadata-0/00000000000000000000.log"
        let records = { ((try? String(contentsOfFile: metadata, encoding: .utf8)) ?? "").split(separator: "\n").count }
        let before = records()
        try await wait("finalized: the metadata log advances") { records() > before + 3 ? nil : "the metadata log has \(records()) records" }
        let after = try await zk.exists(MigrationZNode.path)?.mzxid
        guard after == frozen else { throw KRaftSimulationRefusal("/migration", "written after finalization", fix: "a controller still has the migration flag") }
    }

    /// After a rollback: what a ZooKeeper-mode controller needs (KRAFT.md §3, §5).
    func zooKeeperControllerCanRun(brokers nodes: [SimulatedKafkaNode]) async throws -> [String: Bool] {
        let view = try await KRaftZooKeeperView.read(zk)
        let epoch = view.state.controllerEpoch ?? 0
        let maxState = view.state.partitionStates.values.map(\.controllerEpoch).max() ?? 0
        var checks: [String: Bool] = [:]
        checks["no /migration"] = view.migration == nil
        if case .zookeeper(_, let kraftEpoch) = ControllerOwner(view.controller) { checks["ephemeral /controller by a ZooKeeper broker"] = (kraftEpoch ?? -1) < 0 } else { checks["ephemeral /controller by a ZooKeeper broker"] = false }
        checks["partition-state controller_epoch ≤ /controller_epoch (KAFKA-20488)"] = maxState <= epoch
        checks["no aborted leader election in the brokers' logs"] = !nodes.contains { nodeLog($0).contains("Aborted leader election") }
        checks["every broker registered"] = Set(view.state.brokers.keys.map(\.rawValue)) == brokers
        return checks
    }
}

/// The rehearsal's produce-style writer process and what it logged.
struct KRaftWriter: Sendable {
    var host: SandboxHost
    var scriptPath: String { host.directory + "/kraft_writer.py" }
    var logPath: String { host.directory + "/writer.log" }
    var pidPath: String { host.directory + "/writer.pid" }

    /// "topic-partition payload" of every acknowledged append.
    func acked() -> [String] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 3 && parts[0] == "acked" ? "\(parts[1]) \(parts[2])" : nil
        }
    }

    /// usage: kraft_writer.py ID=HOST:PORT,... TOPIC PARTITIONS LOG — one append at a time; an
    /// append is logged as acked only after a broker answered OK.
    static let program = #"""
        import signal, socket, sys, time
        brokers = dict(entry.split("=", 1) for entry in sys.argv[1].split(","))
        topic, partitions, log = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        running = [True]
        signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
        out = open(log, "a", buffering=1)
        leader, seq = {}, 0
        while running[0]:
            p, payload = seq % partitions, "w-%d" % seq
            acked = False
            while running[0] and not acked:
                order = [leader[p]] if p in leader else []
                order += [b for b in sorted(brokers) if b not in order]
                for b in order:
                    host, port = brokers[b].rsplit(":", 1)
                    try:
                        with socket.create_connection((host, int(port)), timeout=2) as s:
                            s.sendall(("APPEND %s %d %s\n" % (topic, p, payload)).encode())
                            reply = s.makefile().readline().strip()
                    except OSError:
                        continue
                    if reply == "OK":
                        out.write("acked %s-%d %s\n" % (topic, p, payload))
                        leader[p], acked = b, True
                        break
                    if reply.startswith("NOT_LEADER "):
                        leader[p] = reply.split()[1]
                if not acked:
                    time.sleep(0.05)
            seq += 1
            time.sleep(0.02)
        """#
}
