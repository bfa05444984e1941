import Ensemble
import Foundation
import Hosts
import Kafka
import NIOCore
import ZooKeeper

/// `mitosis rehearse --strategy kraft`: a ZooKeeper → KRaft migration (KIP-866) rehearsed on real
/// ZooKeeper in a network-namespace sandbox. The Kafka brokers and the KRaft controller quorum are
/// *simulated* (`mitosis kafka kraft simulate`, one process per sandbox host): they read their real
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
    /// Run a rollback drill at each phase before finalization.
    public var rollbackDrills: Bool

    public init(brokers: Int = 3, networkID: String? = nil, outputDirectory: String? = nil, executable: String, keepSandboxes: Bool = false,
                tickMilliseconds: Int = 200, gateTimeout: Duration = .seconds(60), rollbackDrills: Bool = true) {
        self.brokers = brokers
        self.networkID = networkID ?? "mk\(ProcessInfo.processInfo.processIdentifier)"
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        self.outputDirectory = outputDirectory ?? "mitosis-kraft-rehearsal-\(stamp)"
        self.executable = executable; self.keepSandboxes = keepSandboxes; self.tickMilliseconds = tickMilliseconds
        self.gateTimeout = gateTimeout; self.rollbackDrills = rollbackDrills
    }
}

/// What the rehearsal saw: each gate passed (in order), each rollback drill and its checks.
public struct KRaftRehearsalResult: Sendable, Codable {
    public struct Gate: Sendable, Codable { public var phase: String; public var gate: String; public var seconds: Double }
    public struct Drill: Sendable, Codable {
        public var phase: String
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
struct SimulatedKafkaNode: Sendable {
    var host: SandboxHost
    var role: KafkaNodeFile.Role
    var id: Int
    var base: String { host.directory + "/kafka" }
    var configPath: String { base + "/server.properties" }
    var dataPath: String { base + "/data" }
    var logPath: String { base + "/node.log" }
    var controlPath: String { base + "/kafka.sh" }

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

/// The phases of KIP-866 as config edits and restarts through the host driver, each gated on
/// ZooKeeper (KRAFT.md §5). The one place that drives phases: the plan executor of
/// `kafka kraft run` can replace it.
struct KRaftPhaseDriver: Sendable {
    let manager: SandboxManager
    let brokers: [SimulatedKafkaNode]
    let controller: SimulatedKafkaNode
    let zookeeperConnect: String
    let controllerAddress: String

    func driver(_ node: SimulatedKafkaNode) throws -> SandboxHostDriver { try manager.hostDriver(for: node.host.name) }

    /// Edits a node's real server.properties: sets and removes keys, keeping everything else.
    func edit(_ node: SimulatedKafkaNode, set: [(String, String)], remove: [String]) async throws {
        let driver = try driver(node)
        var document = PropertiesDocument(try await driver.readFile(node.configPath) ?? "")
        for key in remove { _ = document.removeValue(forKey: key) }
        for (key, value) in set { document.setValue(value, forKey: key) }
        _ = try await driver.writeFile(node.configPath, contents: document.rendered)
    }

    func restart(_ node: SimulatedKafkaNode) async throws {
        try await driver(node).check("/bin/sh \(shellQuoted(node.controlPath)) restart", timeout: .seconds(30), operation: "restart the simulated \(node.role.rawValue) \(node.id)")
    }
    func stop(_ node: SimulatedKafkaNode) async throws {
        try await driver(node).check("/bin/sh \(shellQuoted(node.controlPath)) stop", timeout: .seconds(30), operation: "stop the simulated \(node.role.rawValue) \(node.id)")
    }

    var quorum: [(String, String)] {
        [("controller.quorum.voters", "\(controller.id)@\(controllerAddress):9093"), ("controller.listener.names", "CONTROLLER"),
         ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT")]
    }
    static let migrationFlag = "zookeeper.metadata.migration.enable"

    /// Phase 2: provision the controller (flag on, zookeeper.connect).
    func provisionController() async throws {
        try await edit(controller, set: [(Self.migrationFlag, "true"), ("zookeeper.connect", zookeeperConnect)], remove: [])
        try await restart(controller)
    }
    /// Deprovision: stop it and wipe its metadata log (a retry must start from an empty log).
    func deprovisionController() async throws {
        try await stop(controller)
        _ = try await driver(controller).check("rm -rf \(shellQuoted(controller.dataPath))", timeout: .seconds(30), operation: "wipe the controller's metadata log")
    }
    /// Phases 3 and 4 (and the rollbacks' rolls): one broker's file into `mode`, then a restart.
    func rollBroker(_ node: SimulatedKafkaNode, to mode: KafkaNodeMode) async throws {
        switch mode {
        case .zookeeper:
            try await edit(node, set: [("broker.id", String(node.id)), ("inter.broker.protocol.version", "3.9"), ("zookeeper.connect", zookeeperConnect)],
                           remove: [Self.migrationFlag, "process.roles", "node.id"] + quorum.map(\.0))
        case .migration:
            try await edit(node, set: [("broker.id", String(node.id)), ("inter.broker.protocol.version", "3.9"), ("zookeeper.connect", zookeeperConnect),
                                       (Self.migrationFlag, "true")] + quorum, remove: ["process.roles", "node.id"])
        case .kraft:
            try await edit(node, set: [("node.id", String(node.id)), ("process.roles", "broker")] + quorum,
                           remove: ["broker.id", Self.migrationFlag, "zookeeper.connect", "inter.broker.protocol.version"])
        }
        try await restart(node)
    }
    /// Phase 5: the flag and zookeeper.connect off the controller, restart. Irreversible.
    func finalize() async throws {
        try await edit(controller, set: [], remove: [Self.migrationFlag, "zookeeper.connect"])
        try await restart(controller)
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

    func run() async throws -> KRaftRehearsalResult {
        let ensemble = try await manager.up(.init(name: "zk", servers: 1, version: .v3_8_0, start: true))
        let hosts = try await manager.up(.init(name: "kafka", servers: options.brokers + 1, start: false))
        let connect = ensemble.connectionString + Self.chroot
        progress("ZooKeeper \(ensemble.connectionString) (real); \(options.brokers) simulated brokers and 1 simulated KRaft controller on their own sandbox hosts")
        let brokers = hosts.hosts.prefix(options.brokers).enumerated().map { SimulatedKafkaNode(host: $0.element, role: .broker, id: $0.offset + 1) }
        let controllerHost = hosts.hosts[options.brokers]
        let controller = SimulatedKafkaNode(host: controllerHost, role: .controller, id: 3000)
        let channel = directory + "/kraft-channel"
        try FileManager.default.createDirectory(atPath: channel, withIntermediateDirectories: true)
        let phases = KRaftPhaseDriver(manager: manager, brokers: brokers, controller: controller, zookeeperConnect: connect, controllerAddress: controllerHost.address)
        for node in brokers + [controller] {
            let driver = try manager.hostDriver(for: node.host.name)
            _ = try await driver.check("mkdir -p \(shellQuoted(node.dataPath))", operation: "create \(node.dataPath)")
            _ = try await driver.writeFile(node.controlPath, contents: node.controlScript(executable: options.executable, channel: channel, tickMilliseconds: options.tickMilliseconds))
            let text = node.role == .broker
                ? "broker.id=\(node.id)\nlisteners=PLAINTEXT://\(node.host.address):9092\ninter.broker.protocol.version=3.9\nzookeeper.connect=\(connect)\nlog.dirs=\(node.dataPath)\n"
                : "process.roles=controller\nnode.id=\(node.id)\nlisteners=CONTROLLER://\(node.host.address):9093\ncontroller.listener.names=CONTROLLER\ncontroller.quorum.voters=\(node.id)@\(node.host.address):9093\n"
            _ = try await driver.writeFile(node.configPath, contents: text)
        }
        let zk = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(ensemble.connectionString), eventLoopGroup: group)
        do { try await zk.create(Self.chroot) } catch let error as ZooKeeperError where error.code == .nodeExists {}
        await zk.close()
        let kafka = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(connect), eventLoopGroup: group)
        do {
            let result = try await rehearse(phases, kafka, brokers: brokers)
            for node in brokers + [controller] { try? await phases.stop(node) }
            await kafka.close()
            return result
        } catch {
            for node in brokers + [controller] { try? await phases.stop(node) }
            await kafka.close()
            throw error
        }
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

    func rehearse(_ phases: KRaftPhaseDriver, _ zk: ZooKeeperClient, brokers: [SimulatedKafkaNode]) async throws -> KRaftRehearsalResult {
        var result = KRaftRehearsalResult()
        let gates = KRaftGates(zk: zk, timeout: options.gateTimeout, brokers: Set(brokers.map(\.id)), channel: SimulatedRegistrationChannel(directory: directory + "/kraft-channel"),
                               nodeLog: { node in (try? String(contentsOfFile: node.logPath, encoding: .utf8)) ?? "" })
        func gate(_ phase: String, _ name: String, _ body: () async throws -> Void) async throws {
            result.gates.append(try await timedGate(phase, name, body))
        }

        // 1. A ZooKeeper-mode cluster: brokers registered, one of them the ZooKeeper controller.
        try await writeLayout(zk)
        for broker in brokers { try await phases.restart(broker) }
        try await gate("zookeeper mode", "every broker registered, a ZooKeeper-mode controller elected") { try await gates.zooKeeperMode(brokers: brokers) }
        let writer = try await startWriter(brokers: brokers)
        do {
            try await migrate(phases, gates, zk, brokers: brokers, result: &result)
        } catch {
            await stopWriter(writer)
            throw error
        }
        await stopWriter(writer)
        // Every acknowledged append must be held by some broker (their real data directories).
        let acked = writer.acked()
        var stored: Set<String> = []
        for broker in brokers {
            for (partition, payloads) in SimulatedPartitionStore.stored(dataDirectory: broker.dataPath) { stored.formUnion(payloads.map { "\(partition) \($0)" }) }
        }
        result.ackedWrites = acked.count
        result.lostWrites = acked.filter { !stored.contains($0) }.sorted()
        progress("writer: \(acked.count) appends acknowledged, \(result.lostWrites.count) lost")
        return result
    }

    /// Runs one gate and says so.
    func timedGate(_ phase: String, _ name: String, _ body: () async throws -> Void) async throws -> KRaftRehearsalResult.Gate {
        let start = ContinuousClock.now
        try await body()
        let took = (ContinuousClock.now - start).components
        progress("\(phase): \(name) ✓")
        return .init(phase: phase, gate: name, seconds: Double(took.seconds) + Double(took.attoseconds) / 1e18)
    }

    /// The migration, with a rollback drill from each phase before finalization.
    func migrate(_ phases: KRaftPhaseDriver, _ gates: KRaftGates, _ zk: ZooKeeperClient, brokers: [SimulatedKafkaNode], result: inout KRaftRehearsalResult) async throws {
        func gate(_ phase: String, _ name: String, _ body: () async throws -> Void) async throws {
            result.gates.append(try await timedGate(phase, name, body))
        }

        // The migration up to dual-write, and (drills) its rollback from each phase.
        func provision() async throws {
            try await phases.provisionController()
            try await gate("controllers provisioned", "/migration created by the controller") { try await gates.migrationCreated(phases.controller) }
        }
        func rollToMigration() async throws {
            for broker in brokers {
                try await phases.rollBroker(broker, to: .migration)
                try await gate("brokers into migration mode", "broker \(broker.id) back, registered as migrating") { try await gates.brokerBack(broker, mode: .migration) }
            }
            try await gate("brokers into migration mode", "load complete (kraft_metadata_offset > 0), /controller held by KRaft") { try await gates.loadComplete() }
            try await gate("brokers into migration mode", "dual-write alive (/migration advancing)") { try await gates.dualWriteAlive() }
        }
        func rollToKRaft() async throws {
            for broker in brokers {
                try await phases.rollBroker(broker, to: .kraft)
                try await gate("brokers into KRaft", "broker \(broker.id) gone from /brokers/ids, in KRaft mode") { try await gates.brokerBack(broker, mode: .kraft) }
            }
            try await gate("brokers into KRaft", "dual-write alive (/migration advancing)") { try await gates.dualWriteAlive() }
        }
        /// The docs' rollback, then the checks a ZooKeeper-mode controller needs.
        func rollback(_ phase: String, brokersIn mode: KafkaNodeMode?) async throws {
            progress("rollback drill from '\(phase)'")
            if mode == .kraft {
                // Roll 1: back to ZooKeeper registration, the flag kept.
                for broker in brokers {
                    try await phases.rollBroker(broker, to: .migration)
                    try await gates.brokerBack(broker, mode: .migration)
                }
            }
            try await phases.deprovisionController()
            // Quickly: /controller, then /migration (read first, for the record).
            // Quickly: the KRaft controller's persistent /controller (once brokers migrate it holds
            // it), then /migration, so no re-provisioned controller finds a stale one.
            if mode != nil { try await deleteIfPresent(zk, ControllerZNode.path) }
            try await deleteIfPresent(zk, MigrationZNode.path)
            if mode != nil {
                for broker in brokers {
                    try await phases.rollBroker(broker, to: .zookeeper)
                    try await gates.brokerBack(broker, mode: .zookeeper)
                }
            }
            try await gates.zooKeeperMode(brokers: brokers)
            let drill = KRaftRehearsalResult.Drill(phase: phase, checks: try await gates.zooKeeperControllerCanRun(brokers: brokers))
            result.drills.append(drill)
            progress("rollback drill from '\(phase)': \(drill.passed ? "passed" : "FAILED") \(drill.checks.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value ? "yes" : "NO")" }.joined(separator: "; "))")
        }

        if options.rollbackDrills {
            try await provision()
            try await rollback("controllers provisioned", brokersIn: nil)
            try await provision()
            try await rollToMigration()
            try await rollback("brokers in migration mode", brokersIn: .migration)
            try await provision()
            try await rollToMigration()
            try await rollToKRaft()
            try await rollback("brokers in KRaft mode", brokersIn: .kraft)
        }
        try await provision()
        try await rollToMigration()
        try await rollToKRaft()
        // 5. Finalize (the point of no return): the controller stops writing ZooKeeper.
        try await phases.finalize()
        try await gate("finalized", "POST_MIGRATION written; /migration frozen while the log advances") { try await gates.finalized(phases.controller) }
        result.finalized = true
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

    func deleteIfPresent(_ zk: ZooKeeperClient, _ path: String) async throws {
        do { try await zk.delete(path) } catch let error as ZooKeeperError where error.code == .noNode {}
    }
}

/// The rehearsal's gates: each reads ZooKeeper (and the channel or a node's log where ZooKeeper
/// cannot tell) until the condition holds, or fails naming what it last saw.
struct KRaftGates: Sendable {
    let zk: ZooKeeperClient
    let timeout: Duration
    let brokers: Set<Int>
    let channel: SimulatedRegistrationChannel
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
    func migration() async throws -> MigrationZNodeReading { MigrationZNodeReading(try await KRaftZooKeeperView.readMigration(zk)) }

    func zooKeeperMode(brokers nodes: [SimulatedKafkaNode]) async throws {
        try await wait("zookeeper mode") {
            let ids = try await registered()
            guard ids == brokers else { return "/brokers/ids is \(ids.sorted()), expected \(brokers.sorted())" }
            guard case .zookeeper(let id, _) = try await controller(), brokers.contains(id.rawValue) else { return "no ZooKeeper-mode controller in /controller: \(try await controller())" }
            return nil
        }
    }

    func migrationCreated(_ node: SimulatedKafkaNode) async throws {
        try await wait("controllers provisioned") {
            guard case .present = try await migration() else { return "/migration is \(try await migration()); controller log: \(nodeLog(node).suffix(300))" }
            return nil
        }
    }

    func brokerBack(_ node: SimulatedKafkaNode, mode: KafkaNodeMode) async throws {
        try await wait("broker \(node.id) in \(mode.rawValue) mode") {
            let ids = try await registered()
            let announced = channel.live().first { $0.id == node.id }
            switch mode {
            case .zookeeper: return ids.contains(node.id) && announced == nil ? nil : "registered \(ids.sorted()), channel \(String(describing: announced))"
            case .migration: return ids.contains(node.id) && announced?.mode == .migration ? nil : "registered \(ids.sorted()), channel \(String(describing: announced))"
            case .kraft: return !ids.contains(node.id) && announced?.mode == .kraft ? nil : "registered \(ids.sorted()), channel \(String(describing: announced))"
            }
        }
    }

    func loadComplete() async throws {
        try await wait("load complete") {
            guard case .present(let node, _, _) = try await migration(), node.initialLoadComplete else { return "/migration is \(try await migration())" }
            guard case .kraft = try await controller() else { return "/controller is \(try await controller())" }
            return nil
        }
    }

    func dualWriteAlive() async throws {
        guard case .present(let first, _, _) = try await migration() else { throw KRaftSimulationRefusal("/migration", "absent during dual-write", fix: "see the controller's log") }
        try await wait("dual-write alive") {
            guard case .present(let now, _, _) = try await migration() else { return "/migration vanished" }
            return now.metadataOffset > first.metadataOffset ? nil : "kraft_metadata_offset still \(now.metadataOffset)"
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
