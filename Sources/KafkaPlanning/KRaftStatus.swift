import Foundation

/// The phase of a ZooKeeper → KRaft migration as ZooKeeper (and, when given, the nodes' files)
/// shows it. Pure: built from a view and an optional second read of `/migration`. What each
/// signal means is in KRAFT.md §2, §3 and §5.
public struct KRaftStatus: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Codable {
        /// A ZooKeeper-mode controller owns `/controller` and there is no `/migration`.
        case zookeeper
        /// `/migration` exists with no load yet (all -1) and a ZooKeeper controller still owns `/controller`:
        /// controllers are provisioned, brokers not all in migration mode.
        case controllersProvisioned = "controllers-provisioned"
        /// A KRaft controller owns `/controller` and the initial load has not completed.
        case loading
        /// A KRaft controller owns `/controller` and the load completed: the KRaft quorum dual-writes.
        case dualWrite = "dual-write"
        /// Something no phase explains, e.g. `/migration` offset > 0 under a ZooKeeper controller.
        case inconsistent
    }

    public struct ControllerInfo: Sendable, Hashable, Codable {
        /// `zookeeper`, `kraft`, `none` or `unreadable`.
        public var owner: String
        public var id: Int?
        /// `ephemeral` or `persistent`.
        public var znode: String?
        public var kraftControllerEpoch: Int?
        public var problem: String?
    }

    public struct MigrationInfo: Sendable, Hashable, Codable {
        /// `absent`, `created` (all -1), `loaded` (offset > 0), `malformed`, or `not-loaded` (other values ≤ 0).
        public var state: String
        public var kraftControllerID: Int?
        public var kraftControllerEpoch: Int?
        public var kraftMetadataOffset: Int64?
        public var kraftMetadataEpoch: Int?
        public var dataVersion: Int32?
        public var problem: String?
        /// `alive` (offset and mtime advanced between the two reads), `stalled`, or nil when not sampled twice.
        public var dualWrite: String?
        public var offsetAdvancedBy: Int64?
    }

    public struct NodeInfo: Sendable, Hashable, Codable {
        public var source: String
        public var role: KafkaNodeFile.Role
        public var id: Int?
        public var mode: KafkaNodeMode
        /// For brokers: whether `/brokers/ids/<id>` exists (KRaft-mode brokers never register there).
        public var registeredInZooKeeper: Bool?
    }

    public var phase: Phase
    public var summary: String
    public var controller: ControllerInfo
    public var controllerEpoch: Int?
    /// The highest `controller_epoch` in any partition state. While KRaft dual-writes it is the KRaft
    /// controller epoch; a rollback is only safe when it is at most `/controller_epoch` + 1, the epoch
    /// a re-elected ZooKeeper controller gets (KAFKA-20488: partitions stay offline otherwise).
    public var highestPartitionControllerEpoch: Int?
    /// `highestPartitionControllerEpoch` > `controllerEpoch` + 1.
    public var rollbackEpochUnsafe: Bool
    public var migration: MigrationInfo
    /// Brokers with a ZooKeeper registration (`/brokers/ids`).
    public var brokersInZooKeeper: [Int]
    public var nodes: [NodeInfo]

    /// `/migration` read again a few seconds after the view: dual-write is alive when its offset
    /// and mtime advanced.
    public struct SecondRead: Sendable {
        public var migration: KafkaMetadataReader.RawZNode?
        public init(migration: KafkaMetadataReader.RawZNode?) { self.migration = migration }
    }

    public init(view: KRaftZooKeeperView, secondRead: SecondRead? = nil, nodes files: [KafkaNodeFile] = []) {
        let owner = ControllerOwner(view.controller)
        let controller: ControllerInfo
        switch owner {
        case .none: controller = ControllerInfo(owner: "none")
        case .zookeeper(let broker, let epoch):
            controller = ControllerInfo(owner: "zookeeper", id: broker.rawValue, znode: view.controller.map { $0.stat.ephemeralOwner == 0 ? "persistent" : "ephemeral" },
                                        kraftControllerEpoch: epoch)
        case .kraft(let node, let epoch):
            controller = ControllerInfo(owner: "kraft", id: node, znode: "persistent", kraftControllerEpoch: epoch)
        case .unreadable(let reason): controller = ControllerInfo(owner: "unreadable", problem: reason)
        }
        let brokersInZooKeeper = view.state.brokers.keys.map(\.rawValue).sorted()
        let reading = MigrationZNodeReading(view.migration)
        var migration: MigrationInfo
        switch reading {
        case .absent: migration = MigrationInfo(state: "absent")
        case .malformed(let reason): migration = MigrationInfo(state: "malformed", dataVersion: view.migration?.stat.version, problem: reason)
        case .present(let node, let dataVersion, _):
            let allUnset = node.controllerID == -1 && node.controllerEpoch == -1 && node.metadataOffset == -1 && node.metadataEpoch == -1
            migration = MigrationInfo(state: node.initialLoadComplete ? "loaded" : (allUnset ? "created" : "not-loaded"),
                                      kraftControllerID: node.controllerID, kraftControllerEpoch: node.controllerEpoch,
                                      kraftMetadataOffset: node.metadataOffset, kraftMetadataEpoch: node.metadataEpoch, dataVersion: dataVersion)
            if let secondRead, case .present(let next, _, let nextMTime) = MigrationZNodeReading(secondRead.migration), case .present(_, _, let mtime) = reading {
                let advanced = next.metadataOffset > node.metadataOffset && nextMTime > mtime
                migration.dualWrite = advanced ? "alive" : "stalled"
                migration.offsetAdvancedBy = next.metadataOffset - node.metadataOffset
            } else if secondRead != nil {
                migration.dualWrite = "stalled"
            }
        }

        self.controller = controller
        self.migration = migration
        self.controllerEpoch = view.state.controllerEpoch
        let highest = view.state.partitionStates.values.map(\.controllerEpoch).max()
        highestPartitionControllerEpoch = highest
        rollbackEpochUnsafe = highest.map { $0 > (view.state.controllerEpoch ?? 0) + 1 } ?? false
        self.brokersInZooKeeper = brokersInZooKeeper
        let registered = Set(brokersInZooKeeper)
        nodes = files.map { file in
            NodeInfo(source: file.source, role: file.role, id: file.nodeID, mode: file.mode,
                     registeredInZooKeeper: file.role == .broker ? file.nodeID.map(registered.contains) : nil)
        }

        let inZooKeeper = "\(brokersInZooKeeper.count) brokers registered in ZooKeeper"
        switch (owner, reading) {
        case (.kraft(let node, let epoch), .present(let state, _, _)) where state.initialLoadComplete:
            phase = .dualWrite
            let liveness = migration.dualWrite.map { $0 == "alive" ? "; dual-write alive" : "; /migration did not advance between the reads (dual-write stalled, or no metadata change)" } ?? ""
            summary = "KRaft controller \(node) (epoch \(epoch)) owns /controller, the load is done (offset \(state.metadataOffset))\(liveness); \(inZooKeeper)"
                + (brokersInZooKeeper.isEmpty ? " (all brokers in KRaft mode, or down); finalize only once every broker runs in KRaft mode" : "")
        case (.kraft(let node, let epoch), _):
            phase = .loading
            summary = "KRaft controller \(node) (epoch \(epoch)) owns /controller; the load from ZooKeeper has not completed; \(inZooKeeper)"
        case (.zookeeper, .absent), (.none, .absent):
            phase = .zookeeper
            summary = "ZooKeeper mode: no /migration; \(inZooKeeper)"
        case (.zookeeper, .present(let state, _, _)) where !state.initialLoadComplete, (.none, .present(let state, _, _)) where !state.initialLoadComplete:
            phase = .controllersProvisioned
            summary = "/migration created by migration-enabled controllers; a ZooKeeper controller still owns /controller (brokers not all in migration mode yet); \(inZooKeeper)"
        default:
            phase = .inconsistent
            summary = "no phase explains this: /controller is \(controller.owner), /migration is \(migration.state)"
                + (migration.problem.map { " (\($0))" } ?? "")
                + (migration.state == "loaded" ? "; a stale /migration from an earlier attempt (KAFKA-17146): delete it before any controller starts" : "")
        }
    }
}
