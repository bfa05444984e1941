import Foundation
import NIOCore
import ZooKeeper

// The thin ZooKeeper-facing side of the simulated broker and KRaft controller
// (decisions: KRaftSimulation.swift). ZooKeeper, the files and the processes are real; the Kafka
// nodes are simulated: no Kafka protocol, no replication, no real metadata records.

/// How simulated brokers tell the simulated controller their mode, standing in for Kafka's
/// `BrokerRegistrationRequest` (`isMigratingZkBroker`) over the controller listener: one JSON
/// file per broker, `<directory>/broker-<id>.json` = `{"id":1,"mode":"migration","ibp":"3.9","pid":4242}`,
/// written atomically at start and removed at stop. A file whose process is gone (a killed
/// broker) does not count. The directory must be shared by the nodes (sandbox hosts share the
/// machine's file system).
public struct SimulatedRegistrationChannel: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var id: Int
        public var mode: KafkaNodeMode
        public var ibp: String?
        public var pid: Int32
        public init(id: Int, mode: KafkaNodeMode, ibp: String?, pid: Int32) { self.id = id; self.mode = mode; self.ibp = ibp; self.pid = pid }
    }
    public let directory: String
    public init(directory: String) { self.directory = directory }

    func path(_ id: Int) -> String { "\(directory)/broker-\(id).json" }

    public func announce(_ entry: Entry) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try JSONEncoder().encode(entry).write(to: URL(fileURLWithPath: path(entry.id)), options: .atomic)
    }
    public func withdraw(_ id: Int) { try? FileManager.default.removeItem(atPath: path(id)) }

    /// Registrations whose process still runs.
    public func live() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("broker-") && $0.hasSuffix(".json") }.compactMap { name in
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)"),
                  let entry = try? JSONDecoder().decode(Entry.self, from: data) else { return nil }
            return kill(entry.pid, 0) == 0 || errno == EPERM ? entry : nil
        }
    }
}

/// The simulated controller's metadata log: `<data>/__cluster_metadata-0/00000000000000000000.log`,
/// one JSON record a line with its offset and leader epoch, and `<data>/__cluster_metadata-0/quorum-state`
/// with the leader epoch (a one-voter quorum elects itself with epoch + 1 at every start).
public struct SimulatedMetadataLog: Sendable {
    public struct Record: Codable, Sendable, Equatable {
        public var offset: Int64
        public var epoch: Int
        /// `FeatureLevelRecord`, `ZkMigrationStateRecord`, `TopicRecord`, `PartitionRecord`, `NoOpRecord`.
        public var type: String
        public var zkMigrationState: Int?
        public var topic: String?
        public var topicID: String?
        public var partition: Int?
        public var replicas: [Int]?
        public var isr: [Int]?
        public var leader: Int?
        public var leaderEpoch: Int?
    }
    public let directory: String
    public private(set) var records: [Record] = []

    public init(dataDirectory: String) throws {
        directory = "\(dataDirectory)/__cluster_metadata-0"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        records = try text.split(separator: "\n").map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
    }
    var logPath: String { "\(directory)/00000000000000000000.log" }
    var quorumStatePath: String { "\(directory)/quorum-state" }

    public var isEmpty: Bool { records.isEmpty }
    public var nextOffset: Int64 { (records.last?.offset ?? -1) + 1 }
    /// The last `ZkMigrationStateRecord`, nil for an empty log, NONE for a log without one.
    public var zkMigrationState: ZkMigrationState? {
        guard !records.isEmpty else { return nil }
        return records.last { $0.type == "ZkMigrationStateRecord" }.flatMap { $0.zkMigrationState.flatMap(ZkMigrationState.init) } ?? ZkMigrationState.none
    }
    /// Topics as the log knows them.
    public var topics: Set<String> { Set(records.compactMap { $0.type == "TopicRecord" ? $0.topic : nil }) }
    /// The newest partition records, by partition.
    public var partitions: [TopicPartition: Record] {
        var result: [TopicPartition: Record] = [:]
        for record in records where record.type == "PartitionRecord" {
            if let topic = record.topic, let partition = record.partition { result[TopicPartition(topic, partition)] = record }
        }
        return result
    }

    /// Becomes leader: epoch = stored + 1, stored.
    public mutating func electSelf() throws -> Int {
        let stored = (try? String(contentsOfFile: quorumStatePath, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        try String(stored + 1).write(toFile: quorumStatePath, atomically: true, encoding: .utf8)
        return stored + 1
    }

    /// Appends records (offsets assigned) and returns the last offset.
    @discardableResult
    public mutating func append(_ new: [Record], epoch: Int) throws -> Int64 {
        var lines = ""
        for var record in new {
            record.offset = nextOffset
            record.epoch = epoch
            records.append(record)
            lines += String(decoding: try JSONEncoder().encode(record), as: UTF8.self) + "\n"
        }
        try appendAndSync(Data(lines.utf8), to: logPath)
        return records.last?.offset ?? -1
    }

    public static func record(_ type: String, state: ZkMigrationState? = nil) -> Record {
        Record(offset: 0, epoch: 0, type: type, zkMigrationState: state?.rawValue)
    }
}

extension ZooKeeperClient {
    /// Runs a simulated multi-op as one transaction.
    @discardableResult
    public func multi(_ ops: [SimulatedZooKeeperOp]) async throws -> [MultiResult] {
        try await multi(ops.map { op -> MultiOperation in
            switch op {
            case .createPersistent(let path, let data): .create(CreateRequest(path: path, data: Array(data), acl: ACL.openUnsafe, mode: .persistent))
            case .createEphemeral(let path, let data): .create(CreateRequest(path: path, data: Array(data), acl: ACL.openUnsafe, mode: .ephemeral))
            case .setData(let path, let data, let version): .setData(SetDataRequest(path: path, data: Array(data), version: version))
            case .delete(let path, let version): .delete(DeleteRequest(path: path, version: version))
            case .check(let path, let version): .check(CheckVersionRequest(path: path, version: version))
            }
        })
    }
}

/// Appends to a file (created if absent) and syncs it before returning: what is acknowledged after
/// this survives a crash.
func appendAndSync(_ data: Data, to path: String) throws {
    if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    guard let handle = FileHandle(forWritingAtPath: path) else {
        throw KRaftSimulationRefusal(path, "cannot open for appending", fix: "check the data directory's permissions")
    }
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: data)
    try handle.synchronize()
}

private func milliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// A simulated Kafka broker: reads its server.properties at start; in ZooKeeper or migration mode
/// registers `/brokers/ids/<id>` (ephemeral, v5) as `KafkaZkClient.registerBroker` does and holds
/// it with its session; in migration and KRaft mode tells the controller through the channel.
/// Stopping (cancelling `run`) closes the session, so the registration goes at once.
public struct SimulatedBroker: Sendable {
    public let file: KafkaNodeFile
    public let channel: SimulatedRegistrationChannel?
    /// Where appends and the leaders it knows are kept; with it, the broker serves appends on its
    /// first PLAINTEXT listener (KRaftSimulatedAppends.swift).
    public let appendsDirectory: String?
    public let log: @Sendable (String) -> Void

    public init(file: KafkaNodeFile, channel: SimulatedRegistrationChannel?, appendsDirectory: String? = nil, log: @escaping @Sendable (String) -> Void) {
        self.file = file; self.channel = channel; self.appendsDirectory = appendsDirectory; self.log = log
    }

    /// Serves appends when asked to, with the leaders `leadership` gives; nil otherwise.
    private func serveAppends(_ plan: SimulatedBrokerPlan, _ leadership: SimulatedLeadership) async throws -> (any Channel)? {
        guard let appendsDirectory else { return nil }
        guard let endpoint = plan.endpoints.first(where: { $0.protocol == "PLAINTEXT" }) else {
            throw KRaftSimulationRefusal(file.at("listeners"), "no PLAINTEXT listener to serve appends on", fix: "add PLAINTEXT://host:port to listeners")
        }
        let server = try await serveSimulatedAppends(broker: plan.id, host: endpoint.host, port: endpoint.port, leadership: leadership, dataDirectory: appendsDirectory)
        log("[SocketServer brokerId=\(plan.id)] serving appends on \(endpoint.host):\(endpoint.port) for \(leadership.leaders.filter { $0.value == plan.id }.keys.sorted())")
        return server
    }

    /// Runs until cancelled; throws a ``KRaftSimulationRefusal`` when Kafka would not start.
    public func run() async throws {
        let plan = try SimulatedNodeStartup.broker(file).get()
        if plan.mode != .zookeeper {
            guard let channel else {
                throw KRaftSimulationRefusal(file.source, "a broker in \(plan.mode.rawValue) mode needs the controller channel", fix: "pass --channel DIR (the controller's)")
            }
            try channel.announce(.init(id: plan.id, mode: plan.mode, ibp: plan.interBrokerProtocol, pid: getpid()))
        }
        defer { if plan.mode != .zookeeper { channel?.withdraw(plan.id) } }
        guard let connect = plan.zookeeperConnect else {
            log("[KafkaRaftServer nodeId=\(plan.id)] started in KRaft mode (process.roles=broker); ZooKeeper is not used")
            let server = try await serveAppends(plan, SimulatedLeadership.load(appendsDirectory ?? ""))
            await sleepUntilCancelled()
            try? await server?.close()
            return
        }
        let zk = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(connect, sessionTimeout: .seconds(18)))
        var server: (any Channel)?
        do {
            try await register(plan, zk)
            if let appendsDirectory {
                let leadership = SimulatedLeadership(try await KafkaMetadataReader.read(zk).state.partitionStates)
                try leadership.save(appendsDirectory)
                server = try await serveAppends(plan, leadership)
            }
            try await electWhileRunning(plan, zk)
        } catch is CancellationError {
        } catch {
            try? await server?.close()
            await zk.close()
            throw error
        }
        try? await server?.close()
        await zk.close()
    }

    /// `KafkaController.elect()`, polled: when `/controller` is absent, try to become the
    /// ZooKeeper-mode controller; a KRaft controller's persistent `/controller` blocks it.
    private func electWhileRunning(_ plan: SimulatedBrokerPlan, _ zk: ZooKeeperClient) async throws {
        var aborted: Set<TopicPartition> = []
        while (try? await Task.sleep(for: .milliseconds(200))) != nil {
            guard try await zk.exists(ControllerZNode.path) == nil else { continue }
            var epoch: (Int, Int32) = (0, 0)
            do {
                let (data, stat) = try await zk.getData(ControllerEpochZNode.path)
                epoch = (try ControllerEpochZNode(data: Data(data)).epoch, stat.version)
            } catch let error as ZooKeeperError where error.code == .noNode {
                do { try await zk.create(ControllerEpochZNode.path, data: Array("0".utf8)) } catch let error as ZooKeeperError where error.code == .nodeExists { continue }
            }
            do {
                try await zk.multi(ZooKeeperControllerElection.ops(brokerID: plan.id, timestamp: milliseconds(), controllerEpoch: epoch))
            } catch let error as ZooKeeperError where error.code == .nodeExists || error.code == .badVersion {
                continue
            }
            let newEpoch = epoch.0 + 1
            log("[KafkaController id=\(plan.id)] \(plan.id) successfully elected as the controller. Epoch incremented to \(newEpoch)")
            let states = try await KafkaMetadataReader.read(zk).state.partitionStates
            for partition in ZooKeeperControllerElection.abortedElections(states, epoch: newEpoch) where !aborted.contains(partition) {
                aborted.insert(partition)
                log("[Controller id=\(plan.id) epoch=\(newEpoch)] Aborted leader election for partition \(partition) since the LeaderAndIsr path was already written by another controller with epoch \(states[partition]?.controllerEpoch ?? -1) (KAFKA-20488): the partition stays offline")
            }
        }
    }

    private func register(_ plan: SimulatedBrokerPlan, _ zk: ZooKeeperClient) async throws {
        for parent in ["/brokers", "/brokers/ids"] {
            do { try await zk.create(parent) } catch let error as ZooKeeperError where error.code == .nodeExists {}
        }
        let path = BrokerRegistration.path(BrokerID(plan.id))
        let data = plan.registration(timestampMilliseconds: milliseconds()).data()
        do {
            let (_, stat) = try await zk.createReturningStat(path, data: Array(data), mode: .ephemeral)
            log("[KafkaServer id=\(plan.id)] Registered broker \(plan.id) at path \(path) with addresses: \(plan.endpoints.map { "\($0.listener)://\($0.host):\($0.port)" }.joined(separator: ",")), czxid (broker epoch): \(stat.czxid.rawValue) (\(plan.mode == .migration ? "ZooKeeper migration mode" : "ZooKeeper mode"))")
        } catch let error as ZooKeeperError where error.code == .nodeExists {
            let owner = (try? await zk.exists(path))??.ephemeralOwner ?? 0
            let session = await zk.sessionID ?? 0
            throw KRaftSimulationRefusal(path, "Error while creating ephemeral at \(path), node already exists and owner '\(owner)' does not match current session '\(session)'",
                                         fix: "another broker runs with broker.id=\(plan.id), or its session has not expired yet")
        }
    }
}

/// A simulated KRaft controller quorum in one process (one voter). With the migration flag it
/// does what KRaftMigrationDriver does against ZooKeeper: creates `/migration` (all -1), waits for
/// every broker to register as migrating, claims `/controller`, loads ZooKeeper into its metadata
/// log, then dual-writes. Without the flag after the load it finalizes and leaves ZooKeeper alone.
public struct SimulatedKRaftController: Sendable {
    public let file: KafkaNodeFile
    public let dataDirectory: String
    public let channel: SimulatedRegistrationChannel?
    /// How often the log advances (Kafka appends a `NoOpRecord` every `metadata.max.idle.interval.ms`, 500 ms).
    public let tick: Duration
    public let log: @Sendable (String) -> Void

    public init(file: KafkaNodeFile, dataDirectory: String, channel: SimulatedRegistrationChannel?, tick: Duration = .milliseconds(500),
                log: @escaping @Sendable (String) -> Void) {
        self.file = file; self.dataDirectory = dataDirectory; self.channel = channel; self.tick = tick; self.log = log
    }

    /// Runs until cancelled; throws a ``KRaftSimulationRefusal`` where Kafka refuses.
    public func run() async throws {
        let plan = try SimulatedNodeStartup.controller(file).get()
        var metadata = try SimulatedMetadataLog(dataDirectory: dataDirectory)
        let epoch = try metadata.electSelf()
        let prefix = "[QuorumController id=\(plan.nodeID)]"
        log("\(prefix) Becoming the active controller at epoch \(epoch)")
        switch ControllerActivation.decide(logState: metadata.zkMigrationState, migrationEnabled: plan.migrationEnabled) {
        case .refuse(let message):
            throw KRaftSimulationRefusal(metadata.logPath, message, fix: "wipe this controller's metadata log only if the cluster is still in ZooKeeper mode; otherwise remove zookeeper.metadata.migration.enable")
        case .deNovoKRaft:
            try metadata.append([SimulatedMetadataLog.record("FeatureLevelRecord"), SimulatedMetadataLog.record("ZkMigrationStateRecord", state: ZkMigrationState.none)], epoch: epoch)
            log("\(prefix) Setting the ZK migration state to NONE since this is a de-novo KRaft cluster.")
            return try await idle(&metadata, epoch: epoch)
        case .kraftOnly(let message):
            log("\(prefix) \(message)")
            return try await idle(&metadata, epoch: epoch)
        case .finalize:
            try metadata.append([SimulatedMetadataLog.record("ZkMigrationStateRecord", state: .postMigration)], epoch: epoch)
            log("\(prefix) Completing the ZK migration since this controller was configured with 'zookeeper.metadata.migration.enable' set to 'false'.")
            return try await idle(&metadata, epoch: epoch)
        case .beginPreMigration:
            try metadata.append([SimulatedMetadataLog.record("FeatureLevelRecord"), SimulatedMetadataLog.record("ZkMigrationStateRecord", state: .preMigration)], epoch: epoch)
            log("\(prefix) Putting the controller into pre-migration mode. No metadata updates will be allowed until the ZK metadata has been migrated.")
        case .runDriver(let state):
            log("\(prefix) Loaded ZK migration state of \(state).")
        }
        guard let connect = plan.zookeeperConnect else { return }
        let zk = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(connect, sessionTimeout: .seconds(18)))
        do {
            try await drive(plan, epoch: epoch, &metadata, zk)
        } catch {
            await zk.close()
            throw error
        }
        await zk.close()
    }

    private func idle(_ metadata: inout SimulatedMetadataLog, epoch: Int) async throws {
        while (try? await Task.sleep(for: tick)) != nil {
            try metadata.append([SimulatedMetadataLog.record("NoOpRecord")], epoch: epoch)
        }
    }

    private func readMigration(_ zk: ZooKeeperClient) async throws -> (MigrationZNode, Int32)? {
        guard let raw = try await KRaftZooKeeperView.readMigration(zk) else { return nil }
        switch MigrationZNodeReading(raw) {
        case .present(let node, let version, _): return (node, Int32(version))
        case .malformed(let reason):
            throw KRaftSimulationRefusal(MigrationZNode.path, "Failed to parse the migration json (\(reason))", fix: "see `mitosis kafka kraft check`; remove the stale /migration before starting controllers")
        case .absent: return nil
        }
    }

    private func drive(_ plan: SimulatedControllerPlan, epoch: Int, _ metadata: inout SimulatedMetadataLog, _ zk: ZooKeeperClient) async throws {
        let prefix = "[KRaftMigrationDriver id=\(plan.nodeID)]"
        // RecoverMigrationStateFromZKEvent → getOrCreateMigrationState(EMPTY).
        var (migration, migrationVersion) = try await readMigration(zk) ?? (MigrationZNode.empty, -1)
        if migrationVersion == -1 {
            do {
                try await zk.create(MigrationZNode.path, data: Array(MigrationZNode.empty.data()), mode: .persistent)
                migrationVersion = 0
                log("\(prefix) Created /migration with no migration state (all -1)")
            } catch let error as ZooKeeperError where error.code == .nodeExists {
                (migration, migrationVersion) = try await readMigration(zk) ?? (MigrationZNode.empty, 0)
            }
        }
        let logState = metadata.zkMigrationState ?? .preMigration
        let start = MigrationDriverStart.decide(logState: logState, logHasLoadedTopics: !metadata.topics.isEmpty, migration: migration)
        if case .inactive(let message) = start {
            log("\(prefix) \(message) The driver is INACTIVE.")
            return try await idle(&metadata, epoch: epoch)
        }
        if logState == .preMigration { try await waitForBrokers(zk, prefix: prefix) }

        // BECOME_CONTROLLER: claim /controller, then write /migration unconditionally (KAFKA-16171).
        var controllerEpochVersion: Int32
        while true {
            try Task.checkCancellation()
            let epochRead = try? await zk.getData(ControllerEpochZNode.path)
            let controllerRead = try? await zk.getData(ControllerZNode.path)
            let current = try controllerRead.map { (try ControllerZNode(data: Data($0.data), path: ControllerZNode.path), $0.stat.version) }
            let epochValue = try epochRead.map { (try ControllerEpochZNode(data: Data($0.data)).epoch, $0.stat.version) }
            let ops = try KRaftControllerWrites.claimController(nodeID: plan.nodeID, kraftEpoch: epoch, timestamp: milliseconds(),
                                                               controllerEpoch: epochValue, currentController: current).get()
            do {
                let results = try await zk.multi(ops)
                guard case .dataSet(let stat) = results.first else { continue }
                controllerEpochVersion = stat.version
                log("[KafkaZkClient] Successfully registered KRaft controller \(plan.nodeID) with ZK epoch \((epochValue?.0 ?? 0) + 1)")
                break
            } catch let error as ZooKeeperError where [.badVersion, .noNode, .nodeExists].contains(error.code) {
                log("[KafkaZkClient] \(error.code) while trying to register KRaft controller \(plan.nodeID); retrying")
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        migration = MigrationZNode(controllerID: plan.nodeID, controllerEpoch: epoch, metadataOffset: migration.metadataOffset, metadataEpoch: migration.metadataEpoch)
        migrationVersion = try await zk.setData(MigrationZNode.path, data: Array(migration.data()), version: -1).version

        switch start {
        case .load:
            log("\(prefix) Starting ZK migration")
            let snapshot = try await KafkaMetadataReader.read(zk)
            var records: [SimulatedMetadataLog.Record] = []
            for topic in snapshot.state.topics.values.sorted(by: { $0.name < $1.name }) {
                var record = SimulatedMetadataLog.record("TopicRecord")
                record.topic = topic.name; record.topicID = topic.topicID
                records.append(record)
                for (partition, replicas) in topic.partitions.sorted(by: { $0.key < $1.key }) {
                    let state = snapshot.state.partitionStates[TopicPartition(topic.name, partition)]
                    var entry = SimulatedMetadataLog.record("PartitionRecord")
                    entry.topic = topic.name; entry.partition = partition; entry.replicas = replicas.map(\.rawValue)
                    // A missing partition state: ISR = replicas, leader = first (ZkMigrationClient).
                    entry.isr = (state?.isr ?? replicas).map(\.rawValue)
                    entry.leader = (state?.leader ?? replicas.first ?? .noLeader).rawValue
                    entry.leaderEpoch = state?.leaderEpoch ?? 0
                    records.append(entry)
                }
            }
            records.append(SimulatedMetadataLog.record("ZkMigrationStateRecord", state: .migration))
            let offset = try metadata.append(records, epoch: epoch)
            migration = MigrationZNode(controllerID: plan.nodeID, controllerEpoch: epoch, metadataOffset: offset, metadataEpoch: epoch)
            migrationVersion = try await zk.setData(MigrationZNode.path, data: Array(migration.data()), version: migrationVersion).version
            log("\(prefix) Completed migration of metadata from ZooKeeper to KRaft. The current metadata offset is now \(offset) with an epoch of \(epoch).")
        case .staleMigrationSkipsLoad:
            log("\(prefix) WARNING (simulating Kafka): /migration says the initial load is done (kraft_metadata_offset=\(migration.metadataOffset)) but this controller's log is empty: the load is skipped and KRaft's (empty) metadata is synced to ZooKeeper, deleting what ZooKeeper has and KRaft lacks (strimzi#11262, KAFKA-17146)")
        case .syncKRaftToZooKeeper, .inactive:
            break
        }

        // SYNC_KRAFT_TO_ZK: make ZooKeeper match the log, each write guarded.
        var writes: [SimulatedZooKeeperOp] = []
        let known = metadata.topics
        for topic in try await KafkaMetadataReader.children(zk, "/brokers/topics") where !known.contains(topic) {
            for path in try await subtreeDeletionOrder(zk, TopicAssignmentZNode.path(topic)) { writes.append(.delete(path, version: -1)) }
        }
        for (partition, record) in metadata.partitions.sorted(by: { $0.key < $1.key }) {
            // KRaft becomes the partitions' controller: the leader epoch moves on and the state
            // carries the KRaft controller epoch.
            let state = PartitionStateZNode(leader: BrokerID(record.leader ?? -1), leaderEpoch: (record.leaderEpoch ?? 0) + 1, controllerEpoch: epoch,
                                            isr: (record.isr ?? []).map { BrokerID($0) })
            writes.append(.setData(PartitionStateZNode.path(partition), state.data(), version: -1))
        }
        let offset = try metadata.append([SimulatedMetadataLog.record("NoOpRecord")], epoch: epoch)
        migration = MigrationZNode(controllerID: plan.nodeID, controllerEpoch: epoch, metadataOffset: offset, metadataEpoch: epoch)
        for multi in KRaftControllerWrites.guarded(writes, controllerEpochVersion: controllerEpochVersion, migration: migration, migrationVersion: migrationVersion) {
            let results = try await zk.multi(multi)
            if case .dataSet(let stat) = results[1] { migrationVersion = stat.version }
        }
        log("\(prefix) Performed a sync from KRaft to ZooKeeper (\(writes.count) writes); now in DUAL_WRITE")

        // DUAL_WRITE: every processed delta moves /migration on (CAS on its version).
        while (try? await Task.sleep(for: tick)) != nil {
            let offset = try metadata.append([SimulatedMetadataLog.record("NoOpRecord")], epoch: epoch)
            migration = MigrationZNode(controllerID: plan.nodeID, controllerEpoch: epoch, metadataOffset: offset, metadataEpoch: epoch)
            do {
                migrationVersion = try await zk.setData(MigrationZNode.path, data: Array(migration.data()), version: migrationVersion).version
            } catch let error as ZooKeeperError where error.code == .badVersion || error.code == .noNode {
                throw KRaftSimulationRefusal(MigrationZNode.path,
                    "Conditional update on KRaft Migration ZNode failed. Sent zkVersion = \(migrationVersion). This indicates that another KRaft controller is making writes to ZooKeeper.",
                    fix: "another controller (or a rollback) changed /migration; stop this controller")
            }
        }
    }

    /// WAIT_FOR_BROKERS, polled every tick until the gate opens.
    private func waitForBrokers(_ zk: ZooKeeperClient, prefix: String) async throws {
        var lastMessage: String?
        while true {
            if Task.isCancelled { throw CancellationError() }
            let snapshot = try await KafkaMetadataReader.read(zk)
            let zkBrokers = Set(snapshot.state.brokers.keys.map(\.rawValue))
            let view = KRaftZooKeeperView(state: snapshot.state)
            let replicas = Set(view.replicaIDs.map(\.rawValue))
            let migrating = Set((channel?.live() ?? []).filter { $0.mode == .migration }.map(\.id))
            guard let message = MigrationStartGate.waitingMessage(zooKeeperBrokers: zkBrokers, replicaIDs: replicas, migrating: migrating) else { return }
            if message != lastMessage { log("\(prefix) \(message)"); lastMessage = message }
            try await Task.sleep(for: tick)
        }
    }

    /// A subtree's paths, children before parents.
    private func subtreeDeletionOrder(_ zk: ZooKeeperClient, _ root: String) async throws -> [String] {
        var result: [String] = []
        for child in try await KafkaMetadataReader.children(zk, root) { result += try await subtreeDeletionOrder(zk, root + "/" + child) }
        return result + [root]
    }
}

/// Returns when the task is cancelled (a stop).
private func sleepUntilCancelled() async {
    while (try? await Task.sleep(for: .seconds(3600))) != nil {}
}
