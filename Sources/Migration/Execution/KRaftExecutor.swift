import MigrationPlanning
import Ensemble
import Foundation
import Hosts
import Kafka
import ZooKeeper

/// A broker or controller of the plan and the driver that reaches its host.
public struct KRaftNodeAccess: Sendable {
    public var member: ClientGroupMember
    public var driver: any HostDriver
    public init(member: ClientGroupMember, driver: any HostDriver) { self.member = member; self.driver = driver }
}

extension KRaftNodeAccess {
    /// The members of the inventory's client groups `groups` (brokers, then controllers), each with
    /// the driver that reaches its host: what `kafka kraft plan`, `run` and `rollback` work on.
    public static func members(of groups: [String], in inventory: Inventory, hosts: any HostDirectory) throws -> [KRaftNodeAccess] {
        var nodes: [KRaftNodeAccess] = []
        for name in groups {
            guard let group = inventory.clientGroup(named: name) else {
                throw KRaftPlanError("the inventory has no client group '\(name)'; it has \(inventory.clientGroups.map(\.name).joined(separator: ", "))")
            }
            nodes += try group.members.map { KRaftNodeAccess(member: $0, driver: try hosts.driver(for: $0.host)) }
        }
        return nodes
    }
}

extension KRaftPlanner {
    /// `kafka kraft plan`: reads each member's server.properties through its host and plans from
    /// them and ZooKeeper (connected to Kafka's chroot) as they are now. Touches nothing.
    public static func plan(zookeeper: ZooKeeperClient, nodes: [KRaftNodeAccess], brokerGroup: String, brokers: [String],
                            controllerGroup: String, controllers: [String], kafkaVersion: KafkaVersion? = nil) async throws -> KRaftPlan {
        let view = try await KRaftZooKeeperView.read(zookeeper)
        var files: [String: NodeFile] = [:]
        for node in nodes {
            guard let text = try await node.driver.readFile(node.member.configPath) else {
                throw KRaftPlanError("\(node.member.name) on \(node.member.host): \(node.member.configPath) does not exist; fix configPath in the inventory")
            }
            files[node.member.name] = NodeFile(member: node.member.name, host: node.member.host, configPath: node.member.configPath, text: text)
        }
        return try plan(view: view, brokers: brokers.compactMap { files[$0] }, controllers: controllers.compactMap { files[$0] },
                        brokerGroup: brokerGroup, controllerGroup: controllerGroup, kafkaVersion: kafkaVersion)
    }
}

/// Why a KRaft run or rollback stopped: what, where (step, host, file) and what to do.
public struct KRaftRunError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static let alreadyStarted = Code(rawValue: "already-started")
        public static let journalMismatch = Code(rawValue: "journal-mismatch")
        public static let rolledBack = Code(rawValue: "rolled-back")
        public static let missingNode = Code(rawValue: "missing-node")
        public static let noCommand = Code(rawValue: "no-command")
        public static let drift = Code(rawValue: "drift")
        public static let notReady = Code(rawValue: "not-ready")
        public static let staleMigration = Code(rawValue: "stale-migration")
        public static let gateFailed = Code(rawValue: "gate-failed")
        public static let actionFailed = Code(rawValue: "action-failed")
        public static let pastPointOfNoReturn = Code(rawValue: "past-point-of-no-return")
    }
    public var code: Code
    public var step: String?
    public var message: String
    public init(_ code: Code, step: String? = nil, _ message: String) { self.code = code; self.step = step; self.message = message }
    public var description: String { "\(code): " + (step.map { "step \($0): " } ?? "") + message }
}

/// What a run did.
public struct KRaftRunReport: Sendable, Hashable, Codable {
    public var done: [String] = []
    /// Steps a resumed run found finished in the journal.
    public var alreadyDone: [String] = []
    /// The step the run stopped before (`--through`), nil when it ran to the end.
    public var stoppedBefore: String?
    public var finished: Bool { stoppedBefore == nil }
}

/// Runs a proven KRaft migration plan step by step: each step's gates before, its action (a file
/// edit checked against the plan's hashes, a start or a gated rolling restart through the client
/// switch), its gates after, all read from ZooKeeper and the files read back. Every event goes to
/// the journal first, so `--resume` continues where a run stopped. It takes only a proven plan: the
/// command proves plan.json again (``KRaftProver/verify(_:source:)``) on every run and resume, and a
/// hand-edited or unsafe plan is refused there, before any host is reached.
public struct KRaftExecutor: Sendable {
    public struct Options: Sendable, Hashable {
        /// How long the cluster must stay without under-replicated partitions (before each restart, and before finalization).
        public var healthyPeriod: Duration
        public var pollInterval: Duration
        /// How long a waiting gate may wait.
        public var gateTimeout: Duration
        /// Between the two reads of `/migration` that show dual-write alive.
        public var dualWriteInterval: Duration
        public var restartTimeout: Duration
        /// The last phase to run. Finalization (irreversible) runs only when this is `.finalize`.
        public var through: KRaftPhase
        /// Stop after this step (e.g. after the first broker's roll into KRaft, to watch it).
        public var stopAfter: String?
        public var kafkaVersion: KafkaVersion?

        public init(healthyPeriod: Duration = .seconds(30), pollInterval: Duration = .seconds(1), gateTimeout: Duration = .seconds(1800),
                    dualWriteInterval: Duration = .seconds(3), restartTimeout: Duration = .seconds(600), through: KRaftPhase = .brokersToKRaft,
                    stopAfter: String? = nil, kafkaVersion: KafkaVersion? = nil) {
            self.healthyPeriod = healthyPeriod; self.pollInterval = pollInterval; self.gateTimeout = gateTimeout
            self.dualWriteInterval = dualWriteInterval; self.restartTimeout = restartTimeout; self.through = through; self.stopAfter = stopAfter; self.kafkaVersion = kafkaVersion
        }
    }

    public typealias EventHandler = @Sendable (ExecutionEvent) -> Void

    /// The plan as proved (``KRaftProver/prove(_:)`` or ``KRaftProver/verify(_:source:)``): a KRaft
    /// plan reaches no host without a proof.
    public let proven: ProvenKRaftPlan
    public var plan: KRaftPlan { proven.plan }
    /// Connected to Kafka's chroot.
    public let zookeeper: ZooKeeperClient
    public let nodes: [String: KRaftNodeAccess]
    public let journal: Journal
    public var options: Options

    public init(plan: ProvenKRaftPlan, zookeeper: ZooKeeperClient, nodes: [KRaftNodeAccess], journal: Journal, options: Options = Options()) {
        self.proven = plan; self.zookeeper = zookeeper; self.journal = journal; self.options = options
        self.nodes = Dictionary(nodes.map { ($0.member.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Run

    @discardableResult
    public func run(resume: Bool, events: @escaping EventHandler = { _ in }) async throws -> KRaftRunReport {
        try checkNodes()
        if let stopAfter = options.stopAfter, !plan.steps.contains(where: { $0.id == stopAfter }) {
            throw KRaftRunError(.missingNode, "the plan has no step \(stopAfter); its steps are \(plan.steps.map(\.id).joined(separator: ", "))")
        }
        let fingerprint = plan.fingerprint()
        let state = try journal.load()
        let record = recorder(events)
        if !state.events.isEmpty {
            guard resume else {
                throw KRaftRunError(.alreadyStarted, "the journal \(journal.path) already records a run of a plan; continue it with --resume, or give another --journal")
            }
            guard state.planFingerprint == fingerprint else {
                throw KRaftRunError(.journalMismatch, "the journal \(journal.path) records another plan (fingerprint \(state.planFingerprint ?? "none"), this plan \(fingerprint)); resume with the plan that started it")
            }
            guard !state.rolledBack && !state.events.contains(where: { $0.kind == .rollbackStarted }) else {
                throw KRaftRunError(.rolledBack, "the journal \(journal.path) records a rollback of this plan; check readiness and make a new plan (`kafka kraft plan`) before retrying")
            }
            try record(ExecutionEvent(kind: .resumed, summary: "resumed: \(state.finishedSteps.count) of \(plan.steps.count) steps done", plan: fingerprint))
        } else {
            try record(ExecutionEvent(kind: .planStarted, summary: "ZooKeeper → KRaft migration of cluster \(plan.clusterID): \(plan.steps.count) steps", plan: fingerprint))
        }

        var report = KRaftRunReport()
        do {
            for (index, step) in plan.steps.enumerated() {
                let id = StepID(step.id)
                if state.finishedSteps.contains(id) { report.alreadyDone.append(step.id); continue }
                if step.phase > options.through {
                    let why = step.phase == .finalize
                        ? "finalization is the point of no return; run again with --through finalize once you have decided"
                        : "--through \(options.through.rawValue)"
                    try record(ExecutionEvent(kind: .paused, step: id, summary: "stopped before step \(step.id) [\(step.phase.rawValue)]: \(why)"))
                    report.stoppedBefore = step.id
                    return report
                }
                if step.pointOfNoReturn {
                    try record(ExecutionEvent(kind: .stepStarted, step: id, summary: "POINT OF NO RETURN: \(step.title); a rollback to ZooKeeper is impossible from here"))
                } else {
                    try record(ExecutionEvent(kind: .stepStarted, step: id, summary: "[\(index + 1)/\(plan.steps.count)] \(step.title)"))
                }
                for gate in step.gatesBefore { try await pass(gate, step: step, record: record) }
                // Whether an earlier run already started this step's node (its metadata log is then its own).
                let startedBefore = state.events.contains { $0.kind == .actionStarted && $0.step == id && $0.action == 1 }
                try await act(step, record: record, startedBefore: startedBefore)
                for gate in step.gatesAfter { try await pass(gate, step: step, record: record) }
                try record(ExecutionEvent(kind: .stepFinished, step: id, summary: "done: \(step.title)"))
                report.done.append(step.id)
                if step.id == options.stopAfter, index + 1 < plan.steps.count {
                    let next = plan.steps[index + 1]
                    try record(ExecutionEvent(kind: .paused, step: StepID(next.id), summary: "stopped after step \(step.id) as asked; --resume continues with \(next.id)"))
                    report.stoppedBefore = next.id
                    return report
                }
            }
        } catch {
            let step = (error as? KRaftRunError)?.step
            try? record(ExecutionEvent(kind: .failed, step: step.map { StepID($0) }, summary: "\(error)"))
            throw error
        }
        try record(ExecutionEvent(kind: .planFinished, summary: "the migration is finalized: the cluster runs in KRaft mode"))
        return report
    }

    func recorder(_ events: @escaping EventHandler) -> @Sendable (ExecutionEvent) throws -> Void {
        let journal = self.journal
        return { event in
            try journal.append(event)
            events(event)
        }
    }

    func checkNodes() throws {
        for node in plan.brokers + plan.controllers {
            guard let access = nodes[node.member] else {
                throw KRaftRunError(.missingNode, "the plan's \(node.role.rawValue) \(node.member) is not a member of the inventory's groups; give the inventory the plan was made from")
            }
            guard access.member.host == node.host, access.member.configPath == node.configPath else {
                throw KRaftRunError(.missingNode, "\(node.member) is \(access.member.host):\(access.member.configPath) in the inventory but \(node.host):\(node.configPath) in the plan; plan again")
            }
        }
    }

    func access(_ member: String, step: KRaftStep) throws -> (KRaftPlanNode, KRaftNodeAccess) {
        guard let node = plan.node(member), let access = nodes[member] else {
            throw KRaftRunError(.missingNode, step: step.id, "\(member) is not in the plan or the inventory")
        }
        return (node, access)
    }

    // MARK: Actions

    func act(_ step: KRaftStep, record: @Sendable (ExecutionEvent) throws -> Void, startedBefore: Bool) async throws {
        let id = StepID(step.id)
        switch step.action {
        case .checkReadiness, .wait:
            return
        case .provisionController(let member), .finalizeController(let member):
            let (node, access) = try self.access(member, step: step)
            guard let start = access.member.restart else {
                throw KRaftRunError(.noCommand, step: step.id, "controller \(member) has no restart command (it starts the controller); add `restart:` to it in the inventory's group '\(plan.controllerGroup)'")
            }
            if case .provisionController = step.action, !startedBefore, let dir = node.metadataLogDir {
                // A metadata log left from an earlier attempt would skip the load (apache/kafka#17792).
                let log = "\(dir)/__cluster_metadata-0"
                let result = try await access.driver.run("test ! -d \(shellQuoted(log)) || [ -z \"$(ls -A \(shellQuoted(log)))\" ]", timeout: .seconds(30))
                if !result.succeeded {
                    throw KRaftRunError(.staleMigration, step: step.id, "\(node.host):\(log) holds a metadata log from an earlier attempt; a controller started on it skips the load from ZooKeeper. Wipe it (`kafka kraft rollback` does) and format the controller again")
                }
            }
            try await edit(step, node: node, access: access, record: record)
            try record(ExecutionEvent(kind: .actionStarted, step: id, action: 1, summary: "\(node.member): \(start) on \(node.host)"))
            do {
                _ = try await access.driver.check(start, timeout: options.restartTimeout, operation: "start controller \(node.id)")
            } catch {
                throw KRaftRunError(.actionFailed, step: step.id, "starting controller \(node.id) on \(node.host) with `\(start)` failed: \(error)")
            }
            try record(ExecutionEvent(kind: .actionFinished, step: id, action: 1, summary: "\(node.member) started", changed: true))
        case .rollBroker(let member, let mode):
            let (node, access) = try self.access(member, step: step)
            // Checks the file against the plan and journals what it held; the switch writes it.
            let current = try await readChecked(step, node: node, access: access)
            if KRaftPlan.sha256(current) == step.fileBefore {
                try record(ExecutionEvent(kind: .actionStarted, step: id, action: 0, summary: "\(node.member): \(node.host):\(node.configPath) \(step.edits.map(\.description).joined(separator: ", "))",
                                          previousContents: [node.configPath: current]))
            }
            let edits = step.edits
            let roll = KafkaClientSwitch.Roll(summary: "the plan's edits: \(edits.map(\.description).joined(separator: ", "))",
                                              expectation: mode == .kraft ? .leavesZooKeeper : .registersAgain,
                                              leadersRegisterInZooKeeper: step.phase < .brokersToKRaft) { config in
                config = KafkaBrokerConfig(parsing: KRaftConfigEdit.apply(edits, to: config.rendered), connectionStringKey: config.connectionStringKey)
            }
            let target = try ConnectionString(parsing: plan.zookeeperConnect)
            let change = KafkaClientSwitch(zookeeper: zookeeper, brokers: [BrokerMember(member: access.member, driver: access.driver, brokerID: BrokerID(node.id))],
                                           options: .init(target: target, healthyPeriod: options.healthyPeriod, pollInterval: options.pollInterval,
                                                          healthTimeout: options.gateTimeout, registrationTimeout: options.gateTimeout, restartTimeout: options.restartTimeout),
                                           roll: roll)
            let report = try await change.run { event in
                try? record(ExecutionEvent(kind: .gateWaiting, step: id, summary: event.description))
            }
            try record(ExecutionEvent(kind: .actionFinished, step: id, action: 0,
                                      summary: report.restarted.isEmpty ? "\(node.member): already \(mode.rawValue) mode, not restarted" : "\(node.member) restarted in \(mode.rawValue) mode",
                                      changed: !report.restarted.isEmpty, previousContents: KRaftPlan.sha256(current) == step.fileBefore ? [node.configPath: current] : nil))
        }
    }

    /// The node's file, refused when it is neither as the plan found it nor as the step leaves it.
    func readChecked(_ step: KRaftStep, node: KRaftPlanNode, access: KRaftNodeAccess) async throws -> String {
        guard let text = try await access.driver.readFile(node.configPath) else {
            throw KRaftRunError(.drift, step: step.id, "\(node.host):\(node.configPath) does not exist; fix the inventory's configPath for \(node.member)")
        }
        let hash = KRaftPlan.sha256(text)
        guard hash == step.fileBefore || hash == step.fileAfter else {
            throw KRaftRunError(.drift, step: step.id, "\(node.host):\(node.configPath) is neither as the plan found it nor as this step leaves it (it was edited since `kafka kraft plan`); nothing was changed: plan again")
        }
        if hash == step.fileBefore, KRaftPlan.sha256(KRaftConfigEdit.apply(step.edits, to: text)) != step.fileAfter {
            throw KRaftRunError(.drift, step: step.id, "the step's edits do not give \(node.host):\(node.configPath) the content the plan shows (the plan was edited by hand); plan again")
        }
        return text
    }

    /// Writes the step's edits into the node's file (journaling what it held), unless already there.
    func edit(_ step: KRaftStep, node: KRaftPlanNode, access: KRaftNodeAccess, record: @Sendable (ExecutionEvent) throws -> Void) async throws {
        let id = StepID(step.id)
        let text = try await readChecked(step, node: node, access: access)
        guard KRaftPlan.sha256(text) == step.fileBefore, !step.edits.isEmpty else {
            try record(ExecutionEvent(kind: .actionSkipped, step: id, action: 0, summary: "\(node.host):\(node.configPath) already as this step leaves it"))
            return
        }
        try record(ExecutionEvent(kind: .actionStarted, step: id, action: 0, summary: "\(node.member): \(node.host):\(node.configPath) \(step.edits.map(\.description).joined(separator: ", "))",
                                  previousContents: [node.configPath: text]))
        _ = try await access.driver.writeFile(node.configPath, contents: KRaftConfigEdit.apply(step.edits, to: text))
        try record(ExecutionEvent(kind: .actionFinished, step: id, action: 0, summary: "rewrote \(node.host):\(node.configPath)", changed: true,
                                  previousContents: [node.configPath: text]))
    }

    // MARK: Gates

    func pass(_ gate: KRaftGate, step: KRaftStep, record: @Sendable (ExecutionEvent) throws -> Void) async throws {
        let id = StepID(step.id)
        let gates = KRaftGates(zookeeper: zookeeper, options: options)
        switch gate {
        case .readinessPasses:
            let view = try await KRaftZooKeeperView.read(zookeeper)
            var brokers: [KafkaNodeFile] = [], controllers: [KafkaNodeFile] = []
            for node in plan.brokers + plan.controllers {
                let (_, access) = try self.access(node.member, step: step)
                guard var text = try await access.driver.readFile(node.configPath) else {
                    throw KRaftRunError(.notReady, step: step.id, "\(node.host):\(node.configPath) does not exist")
                }
                // Controllers are checked as provisioning will leave them (its edits only set keys; a
                // file changed since the plan is refused by the provisioning step itself, as drift).
                if let provision = plan.steps.first(where: { $0.action == .provisionController(member: node.member) }) {
                    text = KRaftConfigEdit.apply(provision.edits, to: text)
                }
                let file = KafkaNodeFile(source: "\(node.member) on \(node.host):\(node.configPath)", role: node.role, text: text)
                if node.role == .broker { brokers.append(file) } else { controllers.append(file) }
            }
            let failed = KRaftReadiness(view: view, brokers: brokers, controllers: controllers, kafkaVersion: options.kafkaVersion).checks.filter { $0.outcome == .fail }
            guard failed.isEmpty else {
                throw KRaftRunError(.notReady, step: step.id, "refused: readiness checks fail: " + failed.map { "\($0.id): \($0.detail)" + ($0.fix.map { " (fix: \($0))" } ?? "") }.joined(separator: "; "))
            }
        case .noStaleMigration:
            if let problem = try await gates.staleMigration() { throw KRaftRunError(.staleMigration, step: step.id, problem) }
        case .fileMode(let member, let mode):
            let (node, access) = try self.access(member, step: step)
            guard let text = try await access.driver.readFile(node.configPath) else {
                throw KRaftRunError(.gateFailed, step: step.id, "\(node.host):\(node.configPath) vanished")
            }
            let found = KafkaNodeFile(source: node.configPath, role: node.role, text: text).mode
            guard found == mode else {
                throw KRaftRunError(.gateFailed, step: step.id, "\(node.host):\(node.configPath) read back is in \(found.rawValue) mode, not \(mode.rawValue); something rewrote it: check the host, then --resume")
            }
        case .partitionsHealthy:
            try await gates.waitHealthy(leadersRegister: step.phase < .brokersToKRaft, period: step.phase == .finalize ? options.healthyPeriod : .zero,
                                        step: step.id) { try? record(ExecutionEvent(kind: .gateWaiting, step: id, summary: $0)) }
        case .allBrokersKRaft:
            try await allBrokersKRaft(step)
        default:
            try await gates.wait(gate, step: step.id) { try? record(ExecutionEvent(kind: .gateWaiting, step: id, summary: $0)) }
        }
        try record(ExecutionEvent(kind: .gatePassed, step: id, summary: "gate passed: \(gate)"))
    }

    /// Every broker's file read back is in KRaft mode and none registers in `/brokers/ids`: refused, not waited for.
    func allBrokersKRaft(_ step: KRaftStep) async throws {
        var problems: [String] = []
        for node in plan.brokers {
            let (_, access) = try self.access(node.member, step: step)
            let text = try await access.driver.readFile(node.configPath) ?? ""
            let mode = KafkaNodeFile(source: node.configPath, role: .broker, text: text).mode
            if mode != .kraft { problems.append("broker \(node.id)'s \(node.host):\(node.configPath) is in \(mode.rawValue) mode") }
        }
        if let registered = try await KRaftGates(zookeeper: zookeeper, options: options).check(.allBrokersKRaft) { problems.append(registered) }
        guard problems.isEmpty else {
            throw KRaftRunError(.gateFailed, step: step.id, "finalization refused: \(problems.joined(separator: "; ")); roll every broker into KRaft mode first")
        }
    }
}

/// The gates read from ZooKeeper, shared by the run and the rollback.
struct KRaftGates: Sendable {
    let zookeeper: ZooKeeperClient
    let options: KRaftExecutor.Options

    /// Why `/migration` must not meet a (re)started controller, or nil.
    func staleMigration() async throws -> String? {
        let migration = try await KRaftZooKeeperView.readMigration(zookeeper)
        let controller = try await readRaw(ControllerZNode.path)
        switch MigrationZNodeReading(migration) {
        case .absent: return nil
        case .malformed(let reason):
            return "\(MigrationZNode.path) is malformed (\(reason)); controllers stall on it. With no KRaft controller running, delete it (`kafka kraft rollback` does)"
        case .present(let node, _, _):
            if node.initialLoadComplete, case .kraft = ControllerOwner(controller) { return nil }
            if node.initialLoadComplete {
                return "stale \(MigrationZNode.path) from an earlier attempt (kraft_metadata_offset \(node.metadataOffset) > 0 while /controller is not KRaft's): a controller started now would skip the load and overwrite ZooKeeper (KAFKA-17146, strimzi#11262). Roll back (`kafka kraft rollback`) or delete it with no controller running"
            }
            return nil
        }
    }

    func readRaw(_ path: String) async throws -> KafkaMetadataReader.RawZNode? {
        do {
            let (data, stat) = try await zookeeper.getData(path)
            return KafkaMetadataReader.RawZNode(data: Data(data), stat: stat)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// Waits until `gate` holds; fails with what was last seen after the gate timeout.
    func wait(_ gate: KRaftGate, step: String, waiting: (String) -> Void) async throws {
        let deadline = ContinuousClock.now + options.gateTimeout
        var reported: String?
        while true {
            let unmet = try await check(gate)
            guard let unmet else { return }
            if unmet != reported { waiting("waiting for \(gate): \(unmet)"); reported = unmet }
            guard ContinuousClock.now < deadline else {
                throw KRaftRunError(.gateFailed, step: step, "\(gate) did not hold within \(options.gateTimeout): \(unmet). Find out why (`kafka kraft status`), then --resume")
            }
            try await Task.sleep(for: options.pollInterval)
        }
    }

    /// Nil when the gate holds, else what is seen.
    func check(_ gate: KRaftGate) async throws -> String? {
        switch gate {
        case .migrationZNodeExists:
            return try await zookeeper.exists(MigrationZNode.path) == nil ? "\(MigrationZNode.path) is absent (no migration-enabled controller has started)" : nil
        case .brokerRegistered(let id):
            return try await zookeeper.exists(BrokerRegistration.path(BrokerID(id))) == nil ? "/brokers/ids/\(id) is absent" : nil
        case .brokerLeftZooKeeper(let id):
            return try await zookeeper.exists(BrokerRegistration.path(BrokerID(id))) != nil ? "/brokers/ids/\(id) still exists" : nil
        case .loadComplete:
            let owner = ControllerOwner(try await readRaw(ControllerZNode.path))
            switch owner {
            case .kraft: break
            case .none: return "/controller is absent"
            case .zookeeper(let broker, _): return "/controller is still ZooKeeper broker \(broker)'s (ephemeral)"
            case .unreadable(let reason): return "/controller is unreadable: \(reason)"
            }
            switch MigrationZNodeReading(try await KRaftZooKeeperView.readMigration(zookeeper)) {
            case .present(let node, _, _) where node.initialLoadComplete: return nil
            case .present(let node, _, _): return "\(MigrationZNode.path) kraft_metadata_offset is \(node.metadataOffset)"
            case .absent: return "\(MigrationZNode.path) is absent"
            case .malformed(let reason): return "\(MigrationZNode.path) is malformed: \(reason)"
            }
        case .dualWriteAlive:
            let first = MigrationZNodeReading(try await KRaftZooKeeperView.readMigration(zookeeper))
            guard case .present(let before, _, let mtime) = first, before.initialLoadComplete else { return "\(MigrationZNode.path) is absent, malformed or not loaded" }
            try await Task.sleep(for: options.dualWriteInterval)
            let second = MigrationZNodeReading(try await KRaftZooKeeperView.readMigration(zookeeper))
            guard case .present(let after, _, let nextMTime) = second else { return "\(MigrationZNode.path) vanished" }
            if after.metadataOffset > before.metadataOffset && nextMTime > mtime { return nil }
            return "\(MigrationZNode.path) did not advance in \(options.dualWriteInterval) (offset \(before.metadataOffset) → \(after.metadataOffset))"
        case .allBrokersKRaft:
            let registered = try await KafkaMetadataReader.children(zookeeper, "/brokers/ids")
            return registered.isEmpty ? nil : "brokers \(registered.sorted().joined(separator: ",")) still register in /brokers/ids (ZooKeeper or migration mode)"
        default:
            return nil
        }
    }

    /// Waits until no partition is under-replicated or offline for `period`. Offline: no leader,
    /// or (while brokers register in ZooKeeper) a leader not in `/brokers/ids`.
    func waitHealthy(leadersRegister: Bool, period: Duration, step: String, waiting: (String) -> Void) async throws {
        var condition = SustainedCondition(period: period)
        let deadline = ContinuousClock.now + options.gateTimeout
        var reported: String?
        while true {
            let state = try await KafkaMetadataReader.read(zookeeper).state
            let urp = state.underReplicatedPartitions
            let offline = leadersRegister ? state.offlinePartitions : state.leaderlessPartitions
            if condition.observe(urp.isEmpty && offline.isEmpty, at: .now) { return }
            let seen = "\(urp.count) under-replicated (\(urp.prefix(5).map(\.description).joined(separator: ","))), \(offline.count) offline (\(offline.prefix(5).map(\.description).joined(separator: ",")))"
            if !urp.isEmpty || !offline.isEmpty {
                if seen != reported { waiting("waiting for healthy partitions: \(seen)"); reported = seen }
                guard ContinuousClock.now < deadline else {
                    throw KRaftRunError(.gateFailed, step: step, "partitions stayed unhealthy for \(options.gateTimeout): \(seen); find out why (`mitosis kafka status`), then --resume")
                }
            }
            try await Task.sleep(for: options.pollInterval)
        }
    }
}
