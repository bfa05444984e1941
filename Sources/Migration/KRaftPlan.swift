import Crypto
import Ensemble
import Foundation
import KafkaPlanning

// The ZooKeeper → KRaft migration (KIP-866) as a plan: the phases of KRAFT.md §1 as steps, each
// with the edits of a real server.properties and the gates ZooKeeper must pass. Pure: built from
// the files as read and a view of ZooKeeper; proved by `KRaftProver`; run by `KRaftExecutor`.

/// The phases, in the only order the migration may take them.
public enum KRaftPhase: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case readiness
    case provisionControllers = "provision-controllers"
    case brokersToMigration = "brokers-to-migration"
    case load
    case dualWrite = "dual-write"
    case brokersToKRaft = "brokers-to-kraft"
    /// Irreversible: controllers restarted without the migration flag write POST_MIGRATION.
    case finalize

    public var order: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: KRaftPhase, rhs: KRaftPhase) -> Bool { lhs.order < rhs.order }
}

/// One change of a `server.properties` key. Applied to the file as it is (`PropertiesDocument`
/// keeps every other byte).
public enum KRaftConfigEdit: Sendable, Hashable, Codable, CustomStringConvertible {
    case set(key: String, value: String)
    case remove(key: String)

    public var key: String {
        switch self { case .set(let key, _), .remove(let key): return key }
    }
    public var description: String {
        switch self {
        case .set(let key, let value): return "set \(key)=\(value)"
        case .remove(let key): return "remove \(key)"
        }
    }

    public static func apply(_ edits: [KRaftConfigEdit], to text: String) -> String {
        var document = PropertiesDocument(text)
        for edit in edits {
            switch edit {
            case .set(let key, let value): document.setValue(value, forKey: key)
            case .remove(let key): document.removeValue(forKey: key)
            }
        }
        return document.rendered
    }
}

/// What ZooKeeper (or a file read back through its host) must show. Checked by the executor;
/// the prover checks that each step carries the gates its phase needs.
public enum KRaftGate: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `kafka kraft check` passes (a dead replica id fails it).
    case readinessPasses
    /// No stale `/migration` (offset > 0 under a ZooKeeper-owned `/controller`) or malformed one:
    /// checked before any controller (re)starts (KAFKA-17146, strimzi#11262).
    case noStaleMigration
    /// `/migration` exists (a migration-enabled controller started).
    case migrationZNodeExists
    /// The member's file, read back through its host, is in this mode.
    case fileMode(member: String, mode: KafkaNodeMode)
    /// `/brokers/ids/N` registered again after the restart.
    case brokerRegistered(id: Int)
    /// `/brokers/ids/N` is gone (KRaft-mode brokers never register in ZooKeeper).
    case brokerLeftZooKeeper(id: Int)
    /// No under-replicated or offline partition for the healthy period.
    case partitionsHealthy
    /// `/migration` `kraft_metadata_offset > 0` and a KRaft-owned (persistent) `/controller`.
    case loadComplete
    /// `/migration` offset and mtime advance between two reads.
    case dualWriteAlive
    /// Every broker's file is in KRaft mode and none registers in `/brokers/ids`.
    case allBrokersKRaft

    public var description: String {
        switch self {
        case .readinessPasses: return "kafka kraft check passes"
        case .noStaleMigration: return "no stale or malformed /migration"
        case .migrationZNodeExists: return "/migration exists"
        case .fileMode(let member, let mode): return "\(member)'s file is in \(mode.rawValue) mode"
        case .brokerRegistered(let id): return "broker \(id) registered again in /brokers/ids"
        case .brokerLeftZooKeeper(let id): return "broker \(id) gone from /brokers/ids"
        case .partitionsHealthy: return "no under-replicated or offline partition for the healthy period"
        case .loadComplete: return "/migration kraft_metadata_offset > 0 and /controller owned by KRaft"
        case .dualWriteAlive: return "/migration offset and mtime advancing (dual-write alive)"
        case .allBrokersKRaft: return "every broker's file in KRaft mode and none in /brokers/ids"
        }
    }
}

/// What a step does to a node.
public enum KRaftAction: Sendable, Hashable, Codable {
    /// Run `kafka kraft check`: nothing changes.
    case checkReadiness
    /// Edit the controller's file and start it (its member's `restart` command).
    case provisionController(member: String)
    /// Edit the broker's file and restart it (the client switch's gated rolling restart).
    case rollBroker(member: String, to: KafkaNodeMode)
    /// Nothing to do: wait for the gates (the load, dual-write).
    case wait
    /// Edit the controller's file (flag and zookeeper.connect removed) and restart it.
    case finalizeController(member: String)

    public var member: String? {
        switch self {
        case .checkReadiness, .wait: return nil
        case .provisionController(let member), .rollBroker(let member, _), .finalizeController(let member): return member
        }
    }
}

/// A broker or controller the plan changes, and where its file is.
public struct KRaftPlanNode: Sendable, Hashable, Codable {
    public var member: String
    public var host: String
    public var configPath: String
    public var role: KafkaNodeFile.Role
    /// `broker.id` / `node.id`.
    public var id: Int
    /// Controllers: the metadata log dir (`metadata.log.dir`, else the first of `log.dirs`) a
    /// rollback wipes before any retry.
    public var metadataLogDir: String?

    public init(member: String, host: String, configPath: String, role: KafkaNodeFile.Role, id: Int, metadataLogDir: String? = nil) {
        self.member = member; self.host = host; self.configPath = configPath; self.role = role; self.id = id; self.metadataLogDir = metadataLogDir
    }
}

public struct KRaftStep: Sendable, Hashable, Codable {
    /// Unique, e.g. `05-broker-2-to-migration`.
    public var id: String
    public var phase: KRaftPhase
    public var title: String
    public var action: KRaftAction
    /// Checked before the action; the step does not start until they pass.
    public var gatesBefore: [KRaftGate]
    /// Checked after the action; the step is done only when they pass.
    public var gatesAfter: [KRaftGate]
    public var edits: [KRaftConfigEdit]
    /// The file's change, `@@ line @@` / `-old` / `+new`, against the real file as read.
    public var diff: [String]
    /// SHA-256 of the file before and after the edits (nil for steps without a file): a file that
    /// is neither is refused as drift.
    public var fileBefore: String?
    public var fileAfter: String?
    public var pointOfNoReturn: Bool

    public init(id: String, phase: KRaftPhase, title: String, action: KRaftAction, gatesBefore: [KRaftGate] = [], gatesAfter: [KRaftGate] = [],
                edits: [KRaftConfigEdit] = [], diff: [String] = [], fileBefore: String? = nil, fileAfter: String? = nil, pointOfNoReturn: Bool = false) {
        self.id = id; self.phase = phase; self.title = title; self.action = action; self.gatesBefore = gatesBefore; self.gatesAfter = gatesAfter
        self.edits = edits; self.diff = diff; self.fileBefore = fileBefore; self.fileAfter = fileAfter; self.pointOfNoReturn = pointOfNoReturn
    }
}

/// The plan file (`plan.json`).
public struct KRaftPlan: Sendable, Hashable, Codable {
    public static let kind = "kraft-migration"
    public var kind: String = KRaftPlan.kind
    public var clusterID: String
    /// Kafka's `zookeeper.connect` (chroot included), as the brokers' files have it.
    public var zookeeperConnect: String
    public var brokerGroup: String
    public var controllerGroup: String
    public var brokers: [KRaftPlanNode]
    public var controllers: [KRaftPlanNode]
    public var steps: [KRaftStep]
    /// The readiness checks as they were when the plan was made.
    public var readiness: [ReadinessCheck]
    /// What the prover found when `kafka kraft plan` wrote the plan (``ProvenKRaftPlan/recorded``):
    /// the digest of its content, each step's, and the prover's version. Nil in a plan not written so.
    public var proof: PlanProof? = nil

    public func node(_ member: String) -> KRaftPlanNode? {
        (brokers + controllers).first { $0.member == member }
    }

    /// SHA-256 (hex) of the plan's canonical content: its JSON with sorted keys, without the proof record.
    public var canonicalDigest: String {
        var content = self
        content.proof = nil
        return Plan.sha256(content)
    }

    /// The plan's ``canonicalDigest``: a journal is never resumed (or rolled back) with another plan.
    public func fingerprint() -> String { canonicalDigest }

    /// What differs between this plan and the one its proof record describes (empty when it is that plan).
    public var differencesFromProof: [String] {
        PlanProof.differences(
            proof, digest: canonicalDigest, steps: steps.map { PlanProof.StepDigest(id: StepID($0.id), digest: Plan.sha256($0)) },
            writer: "`mitosis kafka kraft plan`", rest: "its nodes, cluster id, connection string or readiness checks")
    }

    public static func sha256(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Why a plan cannot be made: what, where, what to fix.
public struct KRaftPlanError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Builds the plan from the nodes' real files and ZooKeeper.
public enum KRaftPlanner {
    /// A node's file as read through its host.
    public struct NodeFile: Sendable {
        public var member: String
        public var host: String
        public var configPath: String
        public var text: String
        public init(member: String, host: String, configPath: String, text: String) {
            self.member = member; self.host = host; self.configPath = configPath; self.text = text
        }
        func file(_ role: KafkaNodeFile.Role) -> KafkaNodeFile {
            KafkaNodeFile(source: "\(member) on \(host):\(configPath)", role: role, text: text)
        }
    }

    public static let migrationFlag = "zookeeper.metadata.migration.enable"
    static let zookeeperAuthorizers: Set<String> = ["kafka.security.authorizer.AclAuthorizer", "kafka.security.auth.SimpleAclAuthorizer"]
    static let standardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

    public static func plan(view: KRaftZooKeeperView, brokers: [NodeFile], controllers: [NodeFile], brokerGroup: String, controllerGroup: String,
                            kafkaVersion: KafkaVersion? = nil) throws(KRaftPlanError) -> KRaftPlan {
        guard !brokers.isEmpty else { throw KRaftPlanError("the broker group '\(brokerGroup)' has no members") }
        guard !controllers.isEmpty else { throw KRaftPlanError("the controller group '\(controllerGroup)' has no members; KIP-866 needs dedicated KRaft controllers") }
        let brokerFiles = brokers.map { $0.file(.broker) }
        let controllerFiles = controllers.map { $0.file(.controller) }

        // Every broker must start in ZooKeeper mode with an explicit broker.id; the plan is for the whole migration.
        var brokerNodes: [KRaftPlanNode] = []
        for (input, file) in zip(brokers, brokerFiles) {
            guard file.mode == .zookeeper else {
                throw KRaftPlanError("\(file.source) is already in \(file.mode.rawValue) mode (\(file.mode == .kraft ? "process.roles is set" : "\(migrationFlag)=true")); plan from brokers that are all in ZooKeeper mode, or continue an existing migration with `kafka kraft run --resume`")
            }
            guard let id = file.config.brokerID, id >= 0 else {
                throw KRaftPlanError("\(file.source): broker.id is not set (or negative); the migration needs an explicit broker.id ≥ 0 (3.9 refuses generated ids)")
            }
            guard (try? file.config.zookeeperConnect()) != nil else {
                throw KRaftPlanError("\(file.source): zookeeper.connect is missing or unreadable")
            }
            brokerNodes.append(KRaftPlanNode(member: input.member, host: input.host, configPath: input.configPath, role: .broker, id: id))
        }
        let connects = Set(brokerFiles.compactMap { $0.value("zookeeper.connect") })
        guard connects.count == 1, let connect = connects.first else {
            throw KRaftPlanError("the brokers' zookeeper.connect values differ (\(connects.sorted().joined(separator: " | "))); give them one ensemble and chroot first")
        }
        let interListener = brokerFiles[0].interBrokerListener

        // Controllers: node.id, quorum, controller listener.
        var controllerNodes: [KRaftPlanNode] = []
        for (input, file) in zip(controllers, controllerFiles) {
            guard let id = file.value("node.id").flatMap({ Int($0) }) else {
                throw KRaftPlanError("\(file.source): node.id is not set; every KRaft controller needs one that no broker uses")
            }
            guard file.processRoles == ["controller"] else {
                throw KRaftPlanError("\(file.source): process.roles is '\(file.value("process.roles") ?? "")'; KIP-866 needs dedicated controllers (process.roles=controller)")
            }
            let logDir = file.value("metadata.log.dir") ?? file.logDirs.first
            guard let logDir else {
                throw KRaftPlanError("\(file.source): neither metadata.log.dir nor log.dirs is set; a rollback must know which metadata log to wipe")
            }
            controllerNodes.append(KRaftPlanNode(member: input.member, host: input.host, configPath: input.configPath, role: .controller, id: id, metadataLogDir: logDir))
        }
        let quorumKey: String
        let quorumValue: String
        if let voters = controllerFiles[0].value("controller.quorum.voters") {
            quorumKey = "controller.quorum.voters"; quorumValue = voters
        } else if let bootstrap = controllerFiles[0].value("controller.quorum.bootstrap.servers") {
            quorumKey = "controller.quorum.bootstrap.servers"; quorumValue = bootstrap
        } else {
            throw KRaftPlanError("\(controllerFiles[0].source): neither controller.quorum.voters nor controller.quorum.bootstrap.servers is set; the brokers are pointed at the quorum with the controllers' own value")
        }
        guard let controllerListener = controllerFiles[0].controllerListenerNames.first else {
            throw KRaftPlanError("\(controllerFiles[0].source): controller.listener.names is not set")
        }
        guard let controllerProtocol = controllerFiles[0].securityProtocolMap[controllerListener] else {
            throw KRaftPlanError("\(controllerFiles[0].at("listener.security.protocol.map")): the controller listener \(controllerListener) has no security protocol")
        }

        // Readiness against the brokers as they are and the controllers as provisioning leaves them.
        let provisionEdits = controllerFiles.map { controllerMigrationEdits($0, connect: connect, interBrokerListener: interListener) }
        let provisioned = zip(controllers, provisionEdits).map { input, edits in
            KafkaNodeFile(source: "\(input.member) on \(input.host):\(input.configPath)", role: .controller, text: KRaftConfigEdit.apply(edits, to: input.text))
        }
        let readiness = KRaftReadiness(view: view, brokers: brokerFiles, controllers: provisioned, kafkaVersion: kafkaVersion)
        let failed = readiness.checks.filter { $0.outcome == .fail }
        if !failed.isEmpty {
            throw KRaftPlanError("refused: the cluster is not ready for the migration:\n" + failed.map { "  \($0.id): \($0.detail)" + ($0.fix.map { " — fix: \($0)" } ?? "") }.joined(separator: "\n"))
        }
        guard let clusterID = view.clusterID.flatMap({ try? ClusterIDZNode(data: $0.data, path: ClusterIDZNode.path).id }) else {
            throw KRaftPlanError("\(ClusterIDZNode.path) is unreadable")
        }

        var steps: [KRaftStep] = []
        func number() -> String { String(format: "%02d", steps.count + 1) }
        steps.append(KRaftStep(id: "\(number())-readiness", phase: .readiness, title: "Check readiness (kafka kraft check) against ZooKeeper and the files as they are now",
                               action: .checkReadiness, gatesAfter: [.readinessPasses]))
        for (index, input) in controllers.enumerated() {
            let node = controllerNodes[index]
            steps.append(fileStep(id: "\(number())-controller-\(node.id)-provision", phase: .provisionControllers,
                                  title: "Provision controller \(node.id) (\(node.member)) in migration mode and start it (formatted with cluster id \(clusterID))",
                                  action: .provisionController(member: node.member), text: input.text, edits: provisionEdits[index],
                                  gatesBefore: [.noStaleMigration], gatesAfter: [.fileMode(member: node.member, mode: .migration), .migrationZNodeExists]))
        }
        // The ZooKeeper-mode controller restarts last: one controller election, not one per broker.
        let zkController: Int? = { if case .zookeeper(let id, _) = ControllerOwner(view.controller) { return id.rawValue } else { return nil } }()
        let order = brokerNodes.indices.sorted { (brokerNodes[$0].id == zkController ? 1 : 0, $0) < (brokerNodes[$1].id == zkController ? 1 : 0, $1) }
        var migrationTexts: [Int: String] = [:]
        for index in order {
            let node = brokerNodes[index]
            let edits = brokerMigrationEdits(brokerFiles[index], quorumKey: quorumKey, quorumValue: quorumValue,
                                             controllerListener: controllerListener, controllerProtocol: controllerProtocol)
            migrationTexts[index] = KRaftConfigEdit.apply(edits, to: brokers[index].text)
            steps.append(fileStep(id: "\(number())-broker-\(node.id)-to-migration", phase: .brokersToMigration,
                                  title: "Roll broker \(node.id) (\(node.member)) into migration mode" + (node.id == zkController ? " (the ZooKeeper controller: last)" : ""),
                                  action: .rollBroker(member: node.member, to: .migration), text: brokers[index].text, edits: edits,
                                  gatesAfter: [.fileMode(member: node.member, mode: .migration), .brokerRegistered(id: node.id), .partitionsHealthy]))
        }
        steps.append(KRaftStep(id: "\(number())-load", phase: .load, title: "Wait for the KRaft controller to load the metadata from ZooKeeper",
                               action: .wait, gatesAfter: [.loadComplete]))
        steps.append(KRaftStep(id: "\(number())-dual-write", phase: .dualWrite, title: "Check that the KRaft controller dual-writes to ZooKeeper",
                               action: .wait, gatesAfter: [.dualWriteAlive]))
        for index in order {
            let node = brokerNodes[index]
            let text = migrationTexts[index]!
            let edits = brokerKRaftEdits(KafkaNodeFile(source: "", role: .broker, text: text), id: node.id)
            steps.append(fileStep(id: "\(number())-broker-\(node.id)-to-kraft", phase: .brokersToKRaft,
                                  title: "Roll broker \(node.id) (\(node.member)) into KRaft mode",
                                  action: .rollBroker(member: node.member, to: .kraft), text: text, edits: edits, gatesBefore: [.loadComplete],
                                  gatesAfter: [.fileMode(member: node.member, mode: .kraft), .brokerLeftZooKeeper(id: node.id), .dualWriteAlive, .partitionsHealthy]))
        }
        for (index, input) in controllers.enumerated() {
            let node = controllerNodes[index]
            let text = KRaftConfigEdit.apply(provisionEdits[index], to: input.text)
            let edits = controllerFinalizeEdits(KafkaNodeFile(source: "", role: .controller, text: text))
            steps.append(fileStep(id: "\(number())-controller-\(node.id)-finalize", phase: .finalize,
                                  title: "Finalize: restart controller \(node.id) (\(node.member)) without the migration flag" + (index == 0 ? " — POINT OF NO RETURN" : ""),
                                  action: .finalizeController(member: node.member), text: text, edits: edits,
                                  gatesBefore: [.allBrokersKRaft, .partitionsHealthy], gatesAfter: [.fileMode(member: node.member, mode: .kraft)],
                                  pointOfNoReturn: index == 0))
        }
        return KRaftPlan(clusterID: clusterID, zookeeperConnect: connect, brokerGroup: brokerGroup, controllerGroup: controllerGroup,
                         brokers: brokerNodes, controllers: controllerNodes, steps: steps, readiness: readiness.checks)
    }

    static func fileStep(id: String, phase: KRaftPhase, title: String, action: KRaftAction, text: String, edits: [KRaftConfigEdit],
                         gatesBefore: [KRaftGate] = [], gatesAfter: [KRaftGate], pointOfNoReturn: Bool = false) -> KRaftStep {
        let after = KRaftConfigEdit.apply(edits, to: text)
        return KRaftStep(id: id, phase: phase, title: title, action: action, gatesBefore: gatesBefore, gatesAfter: gatesAfter, edits: edits,
                         diff: lineChanges(text, after), fileBefore: KRaftPlan.sha256(text), fileAfter: KRaftPlan.sha256(after),
                         pointOfNoReturn: pointOfNoReturn)
    }

    // MARK: The edits (KRAFT.md §1)

    /// §1.2: the migration flag, Kafka's zookeeper.connect and the brokers' inter-broker listener.
    public static func controllerMigrationEdits(_ file: KafkaNodeFile, connect: String, interBrokerListener: String) -> [KRaftConfigEdit] {
        var edits: [KRaftConfigEdit] = []
        if file.value(migrationFlag) != "true" { edits.append(.set(key: migrationFlag, value: "true")) }
        if file.value("zookeeper.connect") != connect { edits.append(.set(key: "zookeeper.connect", value: connect)) }
        if file.value("inter.broker.listener.name") == nil { edits.append(.set(key: "inter.broker.listener.name", value: interBrokerListener)) }
        return edits
    }

    /// §1.3: the flag, the controllers' quorum setting, their listener name and its security protocol.
    public static func brokerMigrationEdits(_ file: KafkaNodeFile, quorumKey: String, quorumValue: String, controllerListener: String,
                                            controllerProtocol: String) -> [KRaftConfigEdit] {
        var edits: [KRaftConfigEdit] = [.set(key: migrationFlag, value: "true")]
        if file.value(quorumKey) != quorumValue { edits.append(.set(key: quorumKey, value: quorumValue)) }
        if file.controllerListenerNames != [controllerListener] { edits.append(.set(key: "controller.listener.names", value: controllerListener)) }
        if file.securityProtocolMap[controllerListener] == nil {
            let current = file.value("listener.security.protocol.map")
                ?? KafkaNodeFile.securityProtocols.map { "\($0):\($0)" }.joined(separator: ",")
            edits.append(.set(key: "listener.security.protocol.map", value: current + ",\(controllerListener):\(controllerProtocol)"))
        }
        return edits
    }

    /// §1.4: `broker.id` → `node.id`, `process.roles=broker`; the protocol version, the flag, every
    /// `zookeeper.*` key and `control.plane.listener.name` removed; AclAuthorizer → StandardAuthorizer.
    public static func brokerKRaftEdits(_ file: KafkaNodeFile, id: Int) -> [KRaftConfigEdit] {
        var edits: [KRaftConfigEdit] = [.remove(key: "broker.id"), .set(key: "node.id", value: String(id)), .set(key: "process.roles", value: "broker")]
        for key in ["inter.broker.protocol.version", migrationFlag, "control.plane.listener.name"] where file.value(key) != nil {
            edits.append(.remove(key: key))
        }
        let zookeeperKeys = file.config.document.entries.map(\.key).filter { $0.hasPrefix("zookeeper.") && $0 != migrationFlag }
        for key in Set(zookeeperKeys).sorted() { edits.append(.remove(key: key)) }
        if let authorizer = file.value("authorizer.class.name"), zookeeperAuthorizers.contains(authorizer) {
            edits.append(.set(key: "authorizer.class.name", value: standardAuthorizer))
        }
        return edits
    }

    /// §1.5: the flag and every `zookeeper.*` key removed.
    public static func controllerFinalizeEdits(_ file: KafkaNodeFile) -> [KRaftConfigEdit] {
        Set(file.config.document.entries.map(\.key).filter { $0.hasPrefix("zookeeper.") }).sorted().map { .remove(key: $0) }
    }

    /// The lines that change between two texts, as hunks (`@@ -a +b @@`, `-old`, `+new`), from
    /// their longest common subsequence: an edit that removes a line at the top and adds one at
    /// the bottom shows two small hunks, not the whole file.
    public static func lineChanges(_ old: String, _ new: String) -> [String] {
        guard old != new else { return [] }
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var common = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                common[i][j] = a[i] == b[j] ? common[i + 1][j + 1] + 1 : max(common[i + 1][j], common[i][j + 1])
            }
        }
        var lines: [String] = []
        var hunk: [String] = []
        var hunkStart = (0, 0)
        var i = 0, j = 0
        func flush() {
            if !hunk.isEmpty { lines.append("@@ -\(hunkStart.0 + 1) +\(hunkStart.1 + 1) @@"); lines += hunk; hunk = [] }
        }
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                flush(); i += 1; j += 1
            } else if i < a.count, j == b.count || common[i + 1][j] >= common[i][j + 1] {
                if hunk.isEmpty { hunkStart = (i, j) }
                hunk.append("-" + a[i]); i += 1
            } else {
                if hunk.isEmpty { hunkStart = (i, j) }
                hunk.append("+" + b[j]); j += 1
            }
        }
        flush()
        return lines
    }
}

extension KRaftPlan {
    /// The runbook: every step with its file diff and gates, the point of no return marked.
    public func runbook() -> String {
        var lines = [
            "# ZooKeeper → KRaft migration (KIP-866) — cluster \(clusterID)",
            "",
            "Kafka's ZooKeeper: \(zookeeperConnect). Brokers (group \(brokerGroup)): " + brokers.map { "\($0.id) \($0.member) on \($0.host)" }.joined(separator: ", ") + ".",
            "Controllers (group \(controllerGroup)): " + controllers.map { "\($0.id) \($0.member) on \($0.host) (metadata log \($0.metadataLogDir ?? "?"))" }.joined(separator: ", ") + ".",
            "Format each controller's storage with `kafka-storage format -t \(clusterID) …` before the plan starts it.",
            "Every diff is against the file as read when the plan was made; `kafka kraft run` refuses a file that is neither as planned nor already changed.",
            "Rollback (`kafka kraft rollback`) works from every step before finalization.",
            "",
        ]
        for step in steps {
            if step.pointOfNoReturn {
                lines += ["!!! POINT OF NO RETURN: from here the migration cannot be rolled back to ZooKeeper. `kafka kraft run` stops before this step unless given --through finalize.", ""]
            }
            lines.append("## \(step.id) [\(step.phase.rawValue)] \(step.title)")
            if let member = step.action.member, let node = node(member) { lines.append("file: \(node.host):\(node.configPath)") }
            for gate in step.gatesBefore { lines.append("before: \(gate)") }
            for edit in step.edits { lines.append("edit: \(edit)") }
            if !step.diff.isEmpty { lines += ["```diff"] + step.diff + ["```"] }
            for gate in step.gatesAfter { lines.append("gate: \(gate)") }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }
}
