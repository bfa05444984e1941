import Foundation

// The decisions of a *simulated* Kafka broker and KRaft controller during a ZooKeeper → KRaft
// migration (KIP-866): pure functions of a node's server.properties, its metadata log and what
// ZooKeeper holds. The ZooKeeper-facing driver (KRaftSimulatedNodes.swift) carries them out.
// Facts and sources: ../shared/KRAFT.md, checked against apache/kafka 3.9 (KafkaConfig.validateValues,
// ActivationRecordsGenerator, KRaftMigrationDriver, KafkaZkClient, ZkData). Messages quote Kafka's.

/// Why a simulated node refuses to start or to go on, with Kafka's own message where Kafka has one.
public struct KRaftSimulationRefusal: Error, CustomStringConvertible, Sendable, Equatable {
    /// Where: the config file and line, or the znode.
    public var location: String
    /// Kafka's message (or, for a limit of the simulator, a sentence that says so).
    public var message: String
    /// What to change.
    public var fix: String
    public init(_ location: String, _ message: String, fix: String) { self.location = location; self.message = message; self.fix = fix }
    public var description: String { "\(location): \(message) — \(fix)" }
}

/// `ZkMigrationState` as Kafka records it in the metadata log (`ZkMigrationStateRecord`).
public enum ZkMigrationState: Int, Sendable, Codable, CustomStringConvertible {
    case none = 0, migration = 1, preMigration = 2, postMigration = 3
    public var description: String {
        switch self {
        case .none: "NONE"
        case .migration: "MIGRATION"
        case .preMigration: "PRE_MIGRATION"
        case .postMigration: "POST_MIGRATION"
        }
    }
}

// MARK: - startup from server.properties

/// What a simulated broker does, from its server.properties (KRAFT.md §1).
public struct SimulatedBrokerPlan: Sendable, Equatable {
    public var id: Int
    /// `.zookeeper`, `.migration` (registers in ZooKeeper and tells the controller it migrates) or
    /// `.kraft` (never touches ZooKeeper).
    public var mode: KafkaNodeMode
    /// `zookeeper.connect` (nil in KRaft mode).
    public var zookeeperConnect: String?
    /// `inter.broker.protocol.version` (nil in KRaft mode, where it is removed).
    public var interBrokerProtocol: String?
    /// Advertised endpoints `NAME://host:port`, in the file's order, and each one's security protocol.
    public var endpoints: [(listener: String, host: String, port: Int, protocol: String)]
    public var rack: String?

    public static func == (lhs: SimulatedBrokerPlan, rhs: SimulatedBrokerPlan) -> Bool {
        lhs.id == rhs.id && lhs.mode == rhs.mode && lhs.zookeeperConnect == rhs.zookeeperConnect
            && lhs.interBrokerProtocol == rhs.interBrokerProtocol && lhs.rack == rhs.rack
            && lhs.endpoints.map { "\($0.listener)://\($0.host):\($0.port)/\($0.protocol)" } == rhs.endpoints.map { "\($0.listener)://\($0.host):\($0.port)/\($0.protocol)" }
    }

    /// The `/brokers/ids/<id>` znode a ZooKeeper-mode or migrating broker registers
    /// (`BrokerIdZNode.encode`, version 5 since IBP 2.7): host and port of the first PLAINTEXT
    /// endpoint (null and -1 without one), every endpoint but controller listeners.
    public func registration(timestampMilliseconds: Int64, jmxPort: Int = -1) -> BrokerRegistration {
        let plaintext = endpoints.first { $0.protocol == "PLAINTEXT" }
        return BrokerRegistration.kafka3(host: plaintext?.host, port: plaintext?.port ?? -1,
                                         endpoints: endpoints.map { "\($0.listener)://\($0.host):\($0.port)" },
                                         listenerSecurityProtocolMap: endpoints.map { ($0.listener, $0.protocol) },
                                         rack: rack, jmxPort: jmxPort, timestamp: String(timestampMilliseconds))
    }
}

/// What a simulated KRaft controller runs with, from its server.properties.
public struct SimulatedControllerPlan: Sendable, Equatable {
    public var nodeID: Int
    public var migrationEnabled: Bool
    /// `zookeeper.connect` (required with the flag).
    public var zookeeperConnect: String?
}

public enum SimulatedNodeStartup {
    /// A broker's startup checks, as `KafkaConfig.validateValues` makes them (3.9).
    public static func broker(_ file: KafkaNodeFile) -> Result<SimulatedBrokerPlan, KRaftSimulationRefusal> {
        let roles = file.processRoles
        if roles.contains("controller") {
            return .failure(KRaftSimulationRefusal(file.at("process.roles"),
                "process.roles=\(roles.joined(separator: ",")): combined mode is not supported by the ZooKeeper migration (KIP-866); a combined node's broker never registers (BROKER_ID_NOT_REGISTERED)",
                fix: "run dedicated controllers (process.roles=controller) and brokers (process.roles=broker)"))
        }
        if let node = file.value("node.id"), let broker = file.value("broker.id"), node != broker {
            return .failure(KRaftSimulationRefusal(file.at("node.id"), "You must set `node.id` to the same value as `broker.id`.",
                                                   fix: "keep the broker's id: node.id=\(broker)"))
        }
        guard let id = file.nodeID, id >= 0 else {
            let key = roles.isEmpty ? "broker.id" : "node.id"
            let message = roles.isEmpty ? "broker.id must be greater than or equal to 0"
                : "Missing configuration `node.id` which is required when `process.roles` is defined (i.e. when running in KRaft mode)."
            return .failure(KRaftSimulationRefusal(file.at(key), message, fix: "set \(key) to the broker's id (generated ids are not supported by the migration)"))
        }
        let mode = file.mode
        let hasQuorum = file.value("controller.quorum.voters") != nil || file.value("controller.quorum.bootstrap.servers") != nil
        switch mode {
        case .kraft:
            guard hasQuorum else {
                return .failure(KRaftSimulationRefusal(file.source,
                    "If using process.roles, either controller.quorum.bootstrap.servers must contain the set of bootstrap controllers or controller.quorum.voters must contain a parseable set of controllers.",
                    fix: "add controller.quorum.voters (3.6–3.8) or controller.quorum.bootstrap.servers (3.9)"))
            }
        case .zookeeper, .migration:
            guard file.value("zookeeper.connect") != nil else {
                return .failure(KRaftSimulationRefusal(file.source, "Missing required configuration `zookeeper.connect` which has no default value.",
                                                       fix: "add zookeeper.connect=host:2181[,…][/chroot]"))
            }
            if mode == .migration {
                guard hasQuorum else {
                    return .failure(KRaftSimulationRefusal(file.at("zookeeper.metadata.migration.enable"),
                        "If using zookeeper.metadata.migration.enable, either controller.quorum.bootstrap.servers must contain the set of bootstrap controllers or controller.quorum.voters must contain a parseable set of controllers.",
                        fix: "add the controllers' quorum (controller.quorum.voters or controller.quorum.bootstrap.servers)"))
                }
                guard !file.controllerListenerNames.isEmpty else {
                    return .failure(KRaftSimulationRefusal(file.at("zookeeper.metadata.migration.enable"),
                        "controller.listener.names must not be empty when running in ZooKeeper migration mode: []",
                        fix: "add controller.listener.names=CONTROLLER and map it in listener.security.protocol.map"))
                }
                let ibp = file.value("inter.broker.protocol.version").flatMap(KafkaVersion.init)
                guard let ibp, ibp.atLeast(3, 4) else {
                    return .failure(KRaftSimulationRefusal(file.at("inter.broker.protocol.version"),
                        "Cannot enable ZooKeeper migration without setting 'inter.broker.protocol.version' to 3.4 or higher",
                        fix: "set inter.broker.protocol.version to the brokers' release (e.g. 3.9) and roll the brokers first"))
                }
            }
        }
        return .success(SimulatedBrokerPlan(id: id, mode: mode, zookeeperConnect: mode == .kraft ? nil : file.value("zookeeper.connect"),
                                            interBrokerProtocol: mode == .kraft ? nil : file.value("inter.broker.protocol.version"),
                                            endpoints: advertisedEndpoints(file), rack: file.value("broker.rack")))
    }

    /// A controller's startup checks: dedicated (`process.roles=controller`), `node.id`, the flag
    /// needs `zookeeper.connect`; one voter (the simulator runs the quorum as one process).
    public static func controller(_ file: KafkaNodeFile) -> Result<SimulatedControllerPlan, KRaftSimulationRefusal> {
        let roles = file.processRoles
        guard roles == ["controller"] else {
            return .failure(KRaftSimulationRefusal(file.at("process.roles"),
                roles.contains("broker") ? "process.roles=\(roles.joined(separator: ",")): combined mode is not supported by the ZooKeeper migration (KIP-866)"
                    : "process.roles must be controller for a KRaft controller, found \(roles.isEmpty ? "nothing" : roles.joined(separator: ","))",
                fix: "set process.roles=controller"))
        }
        guard let id = file.value("node.id").flatMap({ Int($0) }), id >= 0 else {
            return .failure(KRaftSimulationRefusal(file.at("node.id"),
                "Missing configuration `node.id` which is required when `process.roles` is defined (i.e. when running in KRaft mode).",
                fix: "set node.id to an id no broker uses"))
        }
        if file.migrationEnabled, file.value("zookeeper.connect") == nil {
            return .failure(KRaftSimulationRefusal(file.at("zookeeper.metadata.migration.enable"),
                "If using `zookeeper.metadata.migration.enable` in KRaft mode, `zookeeper.connect` must also be set.",
                fix: "add the brokers' zookeeper.connect (same chroot)"))
        }
        if let voters = file.value("controller.quorum.voters") {
            let ids = voters.split(separator: ",").compactMap { $0.split(separator: "@").first.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
            if !ids.contains(id) {
                return .failure(KRaftSimulationRefusal(file.at("controller.quorum.voters"),
                    "If process.roles contains the 'controller' role, the node id \(id) must be included in the set of voters controller.quorum.voters=\(ids)",
                    fix: "add \(id)@host:port to controller.quorum.voters"))
            }
            if ids.count > 1 {
                return .failure(KRaftSimulationRefusal(file.at("controller.quorum.voters"),
                    "the simulated KRaft quorum is one process (one voter); this file lists \(ids.count)",
                    fix: "list only this controller in controller.quorum.voters for a rehearsal"))
            }
        }
        return .success(SimulatedControllerPlan(nodeID: id, migrationEnabled: file.migrationEnabled,
                                                zookeeperConnect: file.value("zookeeper.connect")))
    }

    /// `advertised.listeners`, else `listeners`, without controller listeners; an empty host means
    /// the machine's name (Kafka uses the canonical host name).
    static func advertisedEndpoints(_ file: KafkaNodeFile) -> [(listener: String, host: String, port: Int, protocol: String)] {
        let map = file.securityProtocolMap, controllers = Set(file.controllerListenerNames)
        let text = file.value("advertised.listeners") ?? file.value("listeners") ?? "PLAINTEXT://:9092"
        return text.split(separator: ",").compactMap { entry in
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            guard let separator = trimmed.range(of: "://") else { return nil }
            let name = String(trimmed[..<separator.lowerBound]).uppercased()
            guard !controllers.contains(name) else { return nil }
            let address = trimmed[separator.upperBound...]
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
            var host = String(address[..<colon])
            if host.isEmpty || host == "0.0.0.0" { host = ProcessInfo.processInfo.hostName }
            return (name, host, port, map[name] ?? name)
        }
    }
}

// MARK: - controller activation (ActivationRecordsGenerator)

/// What a controller does when it becomes active, from its metadata log and its flag.
public enum ControllerActivation: Sendable, Equatable {
    /// Empty log, flag on: write PRE_MIGRATION and start the migration driver.
    case beginPreMigration
    /// Empty log, flag off: a de-novo KRaft cluster (ZooKeeper untouched).
    case deNovoKRaft
    /// Log in PRE_MIGRATION or MIGRATION, flag on: the driver runs (load or dual-write).
    case runDriver(ZkMigrationState)
    /// Log in MIGRATION, flag off: write POST_MIGRATION — finalization, irreversible.
    case finalize
    /// POST_MIGRATION (flag ignored) or NONE with the flag off: KRaft only.
    case kraftOnly(message: String)
    /// Kafka refuses to activate (the controller exits).
    case refuse(String)

    /// `logState` nil = an empty metadata log.
    public static func decide(logState: ZkMigrationState?, migrationEnabled: Bool) -> ControllerActivation {
        guard let logState else { return migrationEnabled ? .beginPreMigration : .deNovoKRaft }
        switch (logState, migrationEnabled) {
        case (.none, true): return .refuse("Should not have ZK migrations enabled on a cluster that was created in KRaft mode.")
        case (.none, false): return .kraftOnly(message: "This is expected because this is a de-novo KRaft cluster.")
        case (.preMigration, false):
            // Kafka activates, but no migration driver runs and nothing can be written until a
            // migration-enabled controller completes the load.
            return .kraftOnly(message: "Loaded ZK migration state of PRE_MIGRATION with 'zookeeper.metadata.migration.enable' false: no driver runs; the migration is stuck until the flag is set again.")
        case (.preMigration, true), (.migration, true): return .runDriver(logState)
        case (.migration, false): return .finalize
        case (.postMigration, let flag):
            return .kraftOnly(message: flag ? "Ignoring 'zookeeper.metadata.migration.enable' value of 'true' since the ZK migration has been completed." : "Loaded ZK migration state of POST_MIGRATION.")
        }
    }
}

// MARK: - the migration driver's next step (KRaftMigrationDriver)

/// Where the driver goes after claiming `/controller`, from the log and `/migration`.
public enum MigrationDriverStart: Sendable, Equatable {
    /// `/migration` shows no completed load: copy ZooKeeper into the log (ZK_MIGRATION).
    case load
    /// The load is done (`kraft_metadata_offset > 0`): reconcile ZooKeeper with the log
    /// (SYNC_KRAFT_TO_ZK), then dual-write.
    case syncKRaftToZooKeeper
    /// The load is "done" per `/migration` but this log never loaded anything: Kafka skips the
    /// load and the sync deletes from ZooKeeper what the (empty) log lacks — the stale-`/migration`
    /// trap (strimzi#11262, KAFKA-17146). The simulator does the same, and says so.
    case staleMigrationSkipsLoad
    /// MIGRATION in the log but `/migration` shows no load: Kafka logs "KRaft controller indicates
    /// an active migration, but the ZK state does not." and the driver goes INACTIVE.
    case inactive(String)

    public static func decide(logState: ZkMigrationState, logHasLoadedTopics: Bool, migration: MigrationZNode) -> MigrationDriverStart {
        switch logState {
        case .migration:
            return migration.initialLoadComplete ? .syncKRaftToZooKeeper
                : .inactive("KRaft controller indicates an active migration, but the ZK state does not.")
        default:
            if !migration.initialLoadComplete { return .load }
            return logHasLoadedTopics ? .syncKRaftToZooKeeper : .staleMigrationSkipsLoad
        }
    }
}

/// The driver's start gate (WAIT_FOR_BROKERS): every `/brokers/ids` child and every replica id in
/// an assignment must be registered with the controller as a migrating ZooKeeper broker.
public enum MigrationStartGate {
    /// The ids still missing, sorted; empty means the load may start.
    public static func missing(zooKeeperBrokers: Set<Int>, replicaIDs: Set<Int>, migrating: Set<Int>) -> [Int] {
        zooKeeperBrokers.union(replicaIDs).subtracting(migrating).sorted()
    }
    /// Kafka's log line for the wait.
    public static func waitingMessage(zooKeeperBrokers: Set<Int>, replicaIDs: Set<Int>, migrating: Set<Int>) -> String? {
        let unregistered = zooKeeperBrokers.subtracting(migrating).sorted()
        if !unregistered.isEmpty { return "Still waiting for ZK brokers \(unregistered) to register with KRaft." }
        let inMetadata = replicaIDs.subtracting(migrating).sorted()
        if !inMetadata.isEmpty { return "Still waiting for ZK brokers \(inMetadata) found in metadata to register with KRaft." }
        return nil
    }
}

// MARK: - the multi-ops Kafka sends

/// The ZooKeeper writes of a KRaft controller in migration, op by op, as KafkaZkClient sends them.
public enum KRaftControllerWrites {
    /// `tryRegisterKRaftControllerAsActiveController`: SetData `/controller_epoch` = old + 1 with
    /// CAS on its version; delete the old `/controller` (its version) if there is one; create a
    /// PERSISTENT `/controller` with `kraftControllerEpoch`. Refused when the stored KRaft epoch
    /// is not older, or when `/controller_epoch` is absent.
    public static func claimController(nodeID: Int, kraftEpoch: Int, timestamp: Int64, controllerEpoch: (epoch: Int, version: Int32)?,
                                       currentController: (node: ControllerZNode, version: Int32)?) -> Result<[SimulatedZooKeeperOp], KRaftSimulationRefusal> {
        if let stored = currentController?.node.kraftControllerEpoch, stored >= kraftEpoch {
            return .failure(KRaftSimulationRefusal(ControllerZNode.path,
                "Cannot register KRaft controller \(nodeID) with epoch \(kraftEpoch) as the current controller register in ZK has the same or newer epoch \(stored).",
                fix: "a newer KRaft leader holds /controller; stop this controller"))
        }
        guard let controllerEpoch else {
            return .failure(KRaftSimulationRefusal(ControllerEpochZNode.path,
                "Cannot register KRaft controller \(nodeID) as the active controller since there is no ZK controller epoch present.",
                fix: "the cluster never had a ZooKeeper controller: start the ZooKeeper-mode brokers first"))
        }
        var ops: [SimulatedZooKeeperOp] = [.setData(ControllerEpochZNode.path, ControllerEpochZNode(epoch: controllerEpoch.epoch + 1).data(), version: controllerEpoch.version)]
        if let current = currentController { ops.append(.delete(ControllerZNode.path, version: current.version)) }
        ops.append(.createPersistent(ControllerZNode.path, ControllerZNode(kraftController: nodeID, timestamp: timestamp, kraftControllerEpoch: kraftEpoch).data()))
        return .success(ops)
    }

    /// `retryMigrationRequestsUntilConnected` wraps each write in its own multi-op:
    /// `CheckOp /controller_epoch` (its version as claimed), then `/migration` — SetData with the new
    /// state (CAS on its version) for the batch's last write, CheckOp otherwise — then the write.
    public static func guarded(_ writes: [SimulatedZooKeeperOp], controllerEpochVersion: Int32, migration: MigrationZNode,
                               migrationVersion: Int32) -> [[SimulatedZooKeeperOp]] {
        writes.enumerated().map { index, write in
            let migrationOp: SimulatedZooKeeperOp = index == writes.count - 1
                ? .setData(MigrationZNode.path, migration.data(), version: migrationVersion)
                : .check(MigrationZNode.path, version: migrationVersion)
            return [.check(ControllerEpochZNode.path, version: controllerEpochVersion), migrationOp, write]
        }
    }
}

/// One ZooKeeper operation of a multi-op, as a plain value (testable without a server).
public enum SimulatedZooKeeperOp: Sendable, Hashable, CustomStringConvertible {
    case createPersistent(String, Data)
    case createEphemeral(String, Data)
    case setData(String, Data, version: Int32)
    case delete(String, version: Int32)
    case check(String, version: Int32)

    public var description: String {
        switch self {
        case .createPersistent(let path, _): "create \(path) (persistent)"
        case .createEphemeral(let path, _): "create \(path) (ephemeral)"
        case .setData(let path, _, let version): "setData \(path) @v\(version)"
        case .delete(let path, let version): "delete \(path) @v\(version)"
        case .check(let path, let version): "check \(path) @v\(version)"
        }
    }
}

// MARK: - the ZooKeeper-mode controller election (KafkaController.elect)

/// What a ZooKeeper-mode (or migrating) broker does when `/controller` is absent:
/// `registerControllerAndIncrementControllerEpoch` — one multi-op creating an EPHEMERAL
/// `/controller` (version 2, `kraftControllerEpoch` -1) and setting `/controller_epoch` to old + 1
/// with CAS. A `/controller` that exists (a ZooKeeper broker's, or a KRaft controller's persistent
/// one) means no election.
public enum ZooKeeperControllerElection {
    public static func ops(brokerID: Int, timestamp: Int64, controllerEpoch: (epoch: Int, version: Int32)) -> [SimulatedZooKeeperOp] {
        [.createEphemeral(ControllerZNode.path, ControllerZNode(kraftController: brokerID, timestamp: timestamp, kraftControllerEpoch: -1).data()),
         .setData(ControllerEpochZNode.path, ControllerEpochZNode(epoch: controllerEpoch.epoch + 1).data(), version: controllerEpoch.version)]
    }

    /// The partitions a ZooKeeper controller of `epoch` cannot elect leaders for: their state was
    /// written by a controller of a later epoch (`PartitionStateMachine` aborts; KAFKA-20488).
    public static func abortedElections(_ states: [TopicPartition: PartitionState], epoch: Int) -> [TopicPartition] {
        states.filter { $0.value.controllerEpoch > epoch }.keys.sorted()
    }
}
