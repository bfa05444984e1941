import Foundation
import ZooKeeperProtocol

/// One readiness check's result.
public struct ReadinessCheck: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Codable { case pass, fail, skip }
    /// Stable name for machines, e.g. `replicas-registered`.
    public var id: String
    public var outcome: Outcome
    /// What was found (for a skip: why it was not checked).
    public var detail: String
    /// What to change, when it failed.
    public var fix: String?

    public init(_ id: String, _ outcome: Outcome, _ detail: String, fix: String? = nil) {
        self.id = id; self.outcome = outcome; self.detail = detail; self.fix = fix
    }
}

/// Whether a Kafka-on-ZooKeeper cluster is ready to start a ZooKeeper → KRaft migration (KIP-866),
/// from ZooKeeper and the nodes' `server.properties`. Every check is a pure function of its input;
/// the facts they rest on, with their sources in Kafka's code, are in KRAFT.md §1, §2 and §4.
public struct KRaftReadiness: Sendable {
    public var view: KRaftZooKeeperView
    public var brokers: [KafkaNodeFile]
    public var controllers: [KafkaNodeFile]
    /// The Kafka release the brokers run (and the migration runs on), e.g. 3.9.0.
    public var kafkaVersion: KafkaVersion?

    public init(view: KRaftZooKeeperView, brokers: [KafkaNodeFile] = [], controllers: [KafkaNodeFile] = [], kafkaVersion: KafkaVersion? = nil) {
        self.view = view; self.brokers = brokers; self.controllers = controllers; self.kafkaVersion = kafkaVersion
    }

    /// Every check, in the order an operator fixes things.
    public var checks: [ReadinessCheck] {
        [clusterID, replicasRegistered, topicIDs, pendingDeletions, migrationZNode, reassignment, interBrokerProtocol, jbod,
         nodeIDs, listeners, zookeeperConnect, encryptedPasswords, authorizer, knownBugs]
    }

    // MARK: ZooKeeper

    public var clusterID: ReadinessCheck {
        guard let raw = view.clusterID else {
            return .init("cluster-id", .fail, "\(ClusterIDZNode.path) is absent",
                         fix: "start a ZooKeeper-mode broker of this cluster once (it creates the id), and check that -s names Kafka's chroot")
        }
        do {
            let id = try ClusterIDZNode(data: raw.data, path: ClusterIDZNode.path).id
            return .init("cluster-id", .pass, "cluster id \(id): format the controllers with `kafka-storage format -t \(id)`")
        } catch {
            return .init("cluster-id", .fail, error.description, fix: "restore \(ClusterIDZNode.path) as {\"version\":\"1\",\"id\":\"…\"} from a broker's meta.properties cluster.id")
        }
    }

    public var replicasRegistered: ReadinessCheck {
        let registered = Set(view.state.brokers.keys)
        let dead = view.replicaIDs.subtracting(registered).sorted()
        let unregisteredFiles = brokers.compactMap { file in file.nodeID.map { BrokerID($0) } }.filter { !registered.contains($0) }
        if dead.isEmpty && unregisteredFiles.isEmpty {
            return .init("replicas-registered", .pass, "every replica id in \(view.state.topics.count) topics is a registered broker (\(registered.sorted().map(\.description).joined(separator: ",")))")
        }
        var problems: [String] = []
        if !dead.isEmpty {
            let partitions = view.state.assignment.partitions.filter { view.state.replicas(of: $0)?.contains { dead.contains($0) } ?? false }
            problems.append("replica ids \(dead.map(\.description).joined(separator: ",")) are not in /brokers/ids but are assigned to \(listed(partitions.map(\.description))); the controller waits for them forever (\"Still waiting for ZK brokers\")")
        }
        if !unregisteredFiles.isEmpty {
            problems.append("brokers \(unregisteredFiles.map(\.description).joined(separator: ",")) from the given configs are not registered in /brokers/ids")
        }
        return .init("replicas-registered", .fail, problems.joined(separator: "; "),
                     fix: "start the missing brokers, or reassign their partitions to live brokers (mitosis kafka plan --move-brokers) before the migration")
    }

    public var topicIDs: ReadinessCheck {
        let missing = view.state.topics.values.filter { $0.topicID == nil }.map(\.name).sorted()
        if missing.isEmpty { return .init("topic-ids", .pass, "all \(view.state.topics.count) topics have a topic_id") }
        return .init("topic-ids", .fail, "topics without topic_id in /brokers/topics: \(listed(missing)); the migration reads topic_id unconditionally",
                     fix: "run the brokers with inter.broker.protocol.version ≥ 2.8 and let a controller fail over (it assigns topic ids at startup)")
    }

    public var pendingDeletions: ReadinessCheck {
        let pending = view.pendingTopicDeletions.sorted()
        if pending.isEmpty { return .init("pending-deletions", .pass, "no topic deletions pending in /admin/delete_topics") }
        return .init("pending-deletions", .fail, "topic deletions pending in /admin/delete_topics: \(listed(pending)); they are not migrated",
                     fix: "let the deletions finish (every replica's broker must be up) before the migration")
    }

    public var migrationZNode: ReadinessCheck {
        switch MigrationZNodeReading(view.migration) {
        case .absent:
            return .init("migration-znode", .pass, "\(MigrationZNode.path) is absent")
        case .malformed(let reason):
            return .init("migration-znode", .fail, "\(MigrationZNode.path) is malformed: \(reason); controllers stall on it",
                         fix: "with no KRaft controller running, delete \(MigrationZNode.path) (`mitosis znode delete /migration -s …`)")
        case .present(let node, _, _):
            if case .kraft(let id, let epoch) = ControllerOwner(view.controller) {
                return .init("migration-znode", .fail, "a migration is under way: KRaft controller \(id) (epoch \(epoch)) owns /controller and \(MigrationZNode.path) has offset \(node.metadataOffset)",
                             fix: "these checks are for before the start; follow the migration with `mitosis kafka kraft status`")
            }
            if node.initialLoadComplete {
                return .init("migration-znode", .fail, "stale \(MigrationZNode.path) from an earlier attempt: kraft_metadata_offset \(node.metadataOffset) > 0 while a ZooKeeper controller owns /controller; new controllers would skip the load and overwrite ZooKeeper (KAFKA-17146, strimzi#11262)",
                             fix: "stop any KRaft controllers, wipe their metadata logs, then delete \(MigrationZNode.path)")
            }
            return .init("migration-znode", .pass, "\(MigrationZNode.path) exists with offset \(node.metadataOffset) (created by a migration-enabled controller that has not loaded yet)")
        }
    }

    public var reassignment: ReadinessCheck {
        let listedInZNode = view.state.reassignmentsInProgress.keys.sorted()
        if listedInZNode.isEmpty {
            let api = view.state.reassigningPartitions.keys.sorted()
            return .init("reassignment", .pass, "no /admin/reassign_partitions" + (api.isEmpty ? "" : "; Admin-API reassignments in flight (migrated with the topics): \(listed(api.map(\.description)))"))
        }
        return .init("reassignment", .fail, "/admin/reassign_partitions lists \(listed(listedInZNode.map(\.description))); once KRaft owns /controller nothing handles it",
                     fix: "let the reassignment finish (or cancel it) before the migration")
    }

    // MARK: server.properties

    public var interBrokerProtocol: ReadinessCheck {
        guard !brokers.isEmpty else { return skipNoBrokers("ibp") }
        var problems: [String] = []
        var versions: [String: [String]] = [:]
        for file in brokers {
            guard let text = file.value("inter.broker.protocol.version") else {
                problems.append("\(file.source): inter.broker.protocol.version is not set"); continue
            }
            guard let version = KafkaVersion(text) else { problems.append("\(file.at("inter.broker.protocol.version")): '\(text)' is not a protocol version"); continue }
            versions[text, default: []].append(file.source)
            if !version.atLeast(3, 4) { problems.append("\(file.at("inter.broker.protocol.version")): \(text) is below 3.4, the lowest a migration runs on") }
            if let kafkaVersion, version.release != kafkaVersion.release {
                problems.append("\(file.at("inter.broker.protocol.version")): \(text) is not the brokers' release \(kafkaVersion.release)")
            }
        }
        if versions.count > 1 {
            problems.append("brokers differ: " + versions.sorted { $0.key < $1.key }.map { "\($0.key) on \($0.value.joined(separator: ", "))" }.joined(separator: "; "))
        }
        if problems.isEmpty {
            return .init("ibp", .pass, "inter.broker.protocol.version=\(versions.keys.first ?? "?") on all \(brokers.count) brokers")
        }
        return .init("ibp", .fail, problems.joined(separator: "; "),
                     fix: "set inter.broker.protocol.version=\(kafkaVersion?.release ?? "the brokers' release, e.g. 3.9") on every broker and roll them before the migration; do not change it during the migration")
    }

    public var jbod: ReadinessCheck {
        guard !brokers.isEmpty else { return skipNoBrokers("jbod") }
        let jbodBrokers = brokers.filter { $0.logDirs.count > 1 }
        if jbodBrokers.isEmpty { return .init("jbod", .pass, "no broker has more than one log dir") }
        let names = jbodBrokers.map { "\($0.source) (\($0.logDirs.count) dirs)" }.joined(separator: ", ")
        var problems: [String] = []
        if let kafkaVersion, (kafkaVersion.major, kafkaVersion.minor) < (3, 7) {
            problems.append("JBOD on \(names): Kafka \(kafkaVersion) cannot migrate brokers with more than one log dir (3.7+ can)")
        }
        for file in jbodBrokers {
            guard let text = file.value("inter.broker.protocol.version"), let ibp = KafkaVersion(text) else { continue }
            if !ibp.atLeast(3, 7, iv: 2) { problems.append("\(file.at("inter.broker.protocol.version")): JBOD needs inter.broker.protocol.version ≥ 3.7-IV2, found \(text)") }
        }
        if problems.isEmpty {
            return .init("jbod", .pass, "JBOD on \(names) with a protocol version that supports it; a failed log dir during the migration shuts the broker down (KAFKA-16431)")
        }
        return .init("jbod", .fail, problems.joined(separator: "; "), fix: "run Kafka ≥ 3.7 with inter.broker.protocol.version ≥ 3.7-IV2, or move to one log dir per broker")
    }

    public var nodeIDs: ReadinessCheck {
        var problems: [String] = []
        for file in brokers {
            guard let id = file.nodeID else { problems.append("\(file.source): broker.id is not set (3.9 refuses generated ids)"); continue }
            if id < 0 { problems.append("\(file.at("broker.id")): broker.id \(id) is negative (3.9 refuses generated ids)") }
        }
        guard !controllers.isEmpty else {
            if !problems.isEmpty { return .init("node-ids", .fail, problems.joined(separator: "; "), fix: "set an explicit broker.id ≥ 0 on every broker") }
            return .init("node-ids", .skip, "no controller configs given (--controller-config) to compare node.id with the broker ids")
        }
        let brokerIDs = Set(view.state.brokers.keys.map(\.rawValue)).union(brokers.compactMap(\.nodeID)).union(view.replicaIDs.map(\.rawValue))
        var seen: [Int: String] = [:]
        for file in controllers {
            guard let id = file.value("node.id").flatMap({ Int($0) }) else { problems.append("\(file.source): node.id is not set"); continue }
            if brokerIDs.contains(id) { problems.append("\(file.at("node.id")): controller node.id \(id) is also a broker id") }
            if let other = seen[id] { problems.append("\(file.at("node.id")): node.id \(id) is also \(other)'s") }
            seen[id] = file.source
        }
        if problems.isEmpty {
            return .init("node-ids", .pass, "controller node.ids \(seen.keys.sorted().map(String.init).joined(separator: ",")) are distinct and no broker uses them")
        }
        return .init("node-ids", .fail, problems.joined(separator: "; "),
                     fix: "give each controller a node.id no broker uses (e.g. 3000+) and every broker an explicit broker.id ≥ 0")
    }

    public var listeners: ReadinessCheck {
        guard !brokers.isEmpty || !controllers.isEmpty else { return skipNoConfigs("listeners") }
        var problems: [String] = []
        let brokerInterListeners = Set(brokers.map(\.interBrokerListener))
        for file in brokers {
            if !file.listenerNames.contains(file.interBrokerListener) {
                problems.append("\(file.source): the inter-broker listener \(file.interBrokerListener) is not in listeners (\(file.listenerNames.joined(separator: ",")))")
            }
            for name in file.controllerListenerNames where file.securityProtocolMap[name] == nil {
                problems.append("\(file.at("listener.security.protocol.map")): controller listener \(name) is not in listener.security.protocol.map")
            }
        }
        if brokerInterListeners.count > 1 { problems.append("brokers use different inter-broker listeners: \(brokerInterListeners.sorted().joined(separator: ", "))") }
        let controllerNames = Set(controllers.map { $0.controllerListenerNames })
        for file in controllers {
            let names = file.controllerListenerNames
            guard let first = names.first else { problems.append("\(file.source): controller.listener.names is not set"); continue }
            if !file.listenerNames.contains(first) {
                problems.append("\(file.at("listeners")): controller listener \(first) is not in listeners (\(file.listenerNames.joined(separator: ",")))")
            }
            for name in names where file.securityProtocolMap[name] == nil {
                problems.append("\(file.at("listener.security.protocol.map")): controller listener \(name) is not in listener.security.protocol.map")
            }
            if let inter = file.value("inter.broker.listener.name")?.uppercased(), !brokerInterListeners.isEmpty, !brokerInterListeners.contains(inter) {
                problems.append("\(file.at("inter.broker.listener.name")): inter.broker.listener.name \(inter) is not the brokers' (\(brokerInterListeners.sorted().joined(separator: ",")))")
            }
        }
        if controllerNames.count > 1 { problems.append("controllers differ in controller.listener.names") }
        if let expected = controllers.first?.controllerListenerNames, !expected.isEmpty {
            for file in brokers where !file.controllerListenerNames.isEmpty && file.controllerListenerNames != expected {
                problems.append("\(file.at("controller.listener.names")): controller.listener.names \(file.controllerListenerNames.joined(separator: ",")) differs from the controllers' \(expected.joined(separator: ","))")
            }
        }
        if problems.isEmpty { return .init("listeners", .pass, "listeners, controller.listener.names and listener.security.protocol.map agree on \(brokers.count) brokers and \(controllers.count) controllers") }
        return .init("listeners", .fail, problems.joined(separator: "; "),
                     fix: "name the controller listener in controller.listener.names on controllers and migrating brokers, map it in listener.security.protocol.map, and keep the brokers' inter-broker listener in listeners (and as the controllers' inter.broker.listener.name)")
    }

    public var zookeeperConnect: ReadinessCheck {
        let files = brokers + controllers
        guard !files.isEmpty else { return skipNoConfigs("zookeeper-connect") }
        var problems: [String] = []
        var ensembles: [String: [String]] = [:]
        for file in files {
            do {
                let connect = try file.config.zookeeperConnect()
                let key = connect.servers.map(\.description).sorted().joined(separator: ",") + (connect.chroot ?? "/")
                ensembles[key, default: []].append(file.source)
            } catch {
                problems.append("\(file.source): \(error.description)" + (file.role == .controller ? " (controllers need zookeeper.connect while migrating)" : ""))
            }
        }
        if ensembles.count > 1 {
            problems.append("different ensembles or chroots: " + ensembles.sorted { $0.key < $1.key }.map { "\($0.key) on \($0.value.joined(separator: ", "))" }.joined(separator: "; "))
        }
        if problems.isEmpty { return .init("zookeeper-connect", .pass, "all \(files.count) nodes use \(ensembles.keys.first ?? "?")") }
        return .init("zookeeper-connect", .fail, problems.joined(separator: "; "),
                     fix: "give every broker and controller the same zookeeper.connect, chroot included")
    }

    public var encryptedPasswords: ReadinessCheck {
        var encrypted: [String] = []
        for (entity, config) in view.brokerConfigs.sorted(by: { $0.key < $1.key }) {
            for (key, value) in config.sorted(by: { $0.key < $1.key }) where EncryptedPassword.isEncrypted(value) {
                encrypted.append("/config/brokers/\(entity) \(key)")
            }
        }
        if encrypted.isEmpty { return .init("encrypted-passwords", .pass, "no encrypted dynamic passwords in /config/brokers") }
        guard !controllers.isEmpty else {
            return .init("encrypted-passwords", .skip, "encrypted dynamic passwords in \(listed(encrypted)); give --controller-config to check password.encoder.secret")
        }
        let lacking = controllers.filter { $0.value("password.encoder.secret") == nil }.map(\.source)
        if lacking.isEmpty { return .init("encrypted-passwords", .pass, "\(encrypted.count) encrypted dynamic passwords; every controller has password.encoder.secret") }
        return .init("encrypted-passwords", .fail, "encrypted dynamic passwords in \(listed(encrypted)) but no password.encoder.secret on \(lacking.joined(separator: ", ")); the controllers cannot decode them",
                     fix: "set password.encoder.secret on every controller to the brokers' value")
    }

    public var authorizer: ReadinessCheck {
        guard !brokers.isEmpty || !controllers.isEmpty else { return skipNoConfigs("authorizer") }
        let zkAuthorizers: Set<String> = ["kafka.security.authorizer.AclAuthorizer", "kafka.security.auth.SimpleAclAuthorizer"]
        let standard = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        let controllerProblems = controllers.filter { $0.value("authorizer.class.name").map { zkAuthorizers.contains($0) } ?? false }
        if !controllerProblems.isEmpty {
            return .init("authorizer", .fail, "controllers \(controllerProblems.map { $0.at("authorizer.class.name") }.joined(separator: ", ")) use a ZooKeeper authorizer, which KRaft controllers cannot run",
                         fix: "set authorizer.class.name=\(standard) on the controllers")
        }
        let toSwitch = brokers.filter { $0.value("authorizer.class.name").map { zkAuthorizers.contains($0) } ?? false }
        if toSwitch.isEmpty { return .init("authorizer", .pass, "no broker uses a ZooKeeper authorizer") }
        var detail = "brokers \(toSwitch.map(\.source).joined(separator: ", ")) use AclAuthorizer: switch them to \(standard) when they roll into KRaft mode (ACLs are migrated)"
        let lacking = controllers.filter { $0.value("authorizer.class.name") != standard }
        if !controllers.isEmpty && !lacking.isEmpty { detail += "; controllers \(lacking.map(\.source).joined(separator: ", ")) have no StandardAuthorizer yet" }
        return .init("authorizer", .pass, detail)
    }

    /// Known migration bugs and the releases that fix them (KRAFT.md §4, from Kafka's JIRA and release notes).
    public static let knownBugs: [(id: String, fixedIn: [String], what: String)] = [
        ("KAFKA-15552", ["3.5.2", "3.6.1"], "duplicate producer ids after the migration"),
        ("KAFKA-16171", ["3.6.2", "3.7.0"], "controller failover during the migration loses the /migration write"),
        ("KAFKA-16539", ["3.7.1", "3.8.0"], "migration errors on some dynamic configs"),
        ("KAFKA-16563", ["3.7.1", "3.8.0"], "migration driver stuck after a retriable ZooKeeper error"),
        ("KAFKA-16003", ["3.7.1", "3.8.0"], "deleted topics' config znodes left in ZooKeeper during dual-write"),
        ("KAFKA-16206", ["3.8.0"], "KRaft controller writes to ZooKeeper after losing leadership"),
        ("KAFKA-16463", ["3.7.1", "3.8.0"], "migrating brokers keep their __cluster_metadata log after a rollback: delete it, broker stopped, before a retry"),
        ("KAFKA-17506", ["3.8.1", "3.9.0"], "migration driver race at controller failover (fixed on the 3.7 branch after 3.7.1)"),
    ]

    public var knownBugs: ReadinessCheck {
        let release: KafkaVersion
        if let kafkaVersion {
            release = kafkaVersion
        } else {
            return .init("kafka-version", .skip, "no --kafka-version given: the brokers' release (e.g. 3.9.0) is not in ZooKeeper or server.properties")
        }
        if release.major >= 4 {
            return .init("kafka-version", .fail, "Kafka \(release) has no ZooKeeper mode", fix: "migrate on Kafka 3.9 (or 3.6.2–3.8), then upgrade")
        }
        let unfixed = Self.knownBugs.filter { bug in !Self.fixed(bug.fixedIn, in: release) }
        let named = unfixed.map { "\($0.id) (\($0.what); fixed in \($0.fixedIn.joined(separator: "/")))" }
        if release < KafkaVersion("3.6.2")! {
            return .init("kafka-version", .fail, "Kafka \(release) is not recommended for the migration (Apache: early access; Confluent: not on ≤ 3.6.1); unfixed: \(named.joined(separator: "; "))",
                         fix: "upgrade the brokers to 3.9 (at least 3.6.2) before the migration")
        }
        if unfixed.isEmpty { return .init("kafka-version", .pass, "Kafka \(release): no known migration bug left unfixed") }
        return .init("kafka-version", .pass, "Kafka \(release) runs the migration, but these known bugs are not fixed in it: \(named.joined(separator: "; ")); 3.9 is the recommended release")
    }

    /// Whether a fix released in `versions` (one per release line) is in `release`.
    static func fixed(_ versions: [String], in release: KafkaVersion) -> Bool {
        let fixes = versions.compactMap(KafkaVersion.init)
        if let sameLine = fixes.first(where: { $0.release == release.release }) { return release >= sameLine }
        // A fix released on an earlier line is in every later line.
        return fixes.contains { ($0.major, $0.minor) < (release.major, release.minor) }
    }

    private func skipNoBrokers(_ id: String) -> ReadinessCheck {
        .init(id, .skip, "no broker configs given (--broker-config FILE or --inventory with --group)")
    }
    private func skipNoConfigs(_ id: String) -> ReadinessCheck {
        .init(id, .skip, "no broker or controller configs given (--broker-config, --controller-config or --inventory)")
    }
}
