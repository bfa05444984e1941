import MigrationPlanning
import Ensemble
import Foundation
import Hosts
import Kafka
import ZooKeeper
import ZooKeeperProtocol

/// What a rollback did, and what ZooKeeper shows after it.
public struct KRaftRollbackReport: Sendable, Hashable, Codable {
    public var actions: [String] = []
    /// Problems a ZooKeeper-mode controller would meet (empty when the cluster is safe to run in ZooKeeper mode).
    public var remainingProblems: [String] = []
}

/// Whether ZooKeeper holds what a ZooKeeper-mode controller can run on: no `/migration`, no
/// persistent (KRaft-owned) `/controller`, and no partition state whose `controller_epoch` is above
/// the epoch a newly elected ZooKeeper controller gets (`/controller_epoch` + 1; KAFKA-20488).
public enum KRaftRollbackVerdict {
    public static func problems(_ view: KRaftZooKeeperView) -> [String] {
        var problems: [String] = []
        if view.migration != nil {
            problems.append("\(MigrationZNode.path) still exists: a controller started later would trust it (KAFKA-17146)")
        }
        if let controller = view.controller, controller.stat.ephemeralOwner == 0 {
            problems.append("/controller is persistent (written by a KRaft controller): no ZooKeeper broker can be elected controller")
        }
        let status = KRaftStatus(view: view)
        if status.rollbackEpochUnsafe {
            problems.append("a partition state has controller_epoch \(status.highestPartitionControllerEpoch ?? -1), above /controller_epoch \(status.controllerEpoch ?? -1) + 1: a ZooKeeper controller would leave it offline (KAFKA-20488)")
        }
        return problems
    }
}

/// Rolls a KRaft migration back to ZooKeeper mode from any step before finalization, as the
/// Kafka 3.9 docs give it (KRAFT.md §3), with the known traps closed:
/// 1. brokers already in KRaft mode go back to migration mode (their file as it was before that
///    roll: the flag stays on) and must register in ZooKeeper again;
/// 2. the controllers are stopped (their `stop` command), their metadata logs
///    (`<metadata.log.dir>/__cluster_metadata-0`) wiped and their files restored, so a retry loads
///    from ZooKeeper again (apache/kafka#17792);
/// 3. `/migration` must then stop advancing: a controller still dual-writing is refused;
/// 4. KAFKA-20488: while the persistent `/controller` still blocks a ZooKeeper controller
///    election, `/controller_epoch` is raised (compare-and-set, journaled) to the highest partition
///    state `controller_epoch` when that is above `/controller_epoch` + 1. Raising rather than
///    refusing: refusing leaves the operator no way back, and the raise only does what the
///    elected ZooKeeper controller needs (an epoch not below the dual-written states'); no
///    controller runs with the old epoch at that moment;
/// 5. `/controller` (when KRaft's) and `/migration` are deleted in one multi-op, in the docs'
///    order, so no ZooKeeper controller is elected with `/migration` still there;
/// 6. brokers in migration mode roll back to their original files (byte for byte, from the
///    journal), each registering again with no under-replicated or offline partition;
/// 7. the result is verified (`KRaftRollbackVerdict`).
/// Refused once a finalization step has started: that is the point of no return.
public struct KRaftRollback: Sendable {
    public let executor: KRaftExecutor

    /// `plan` is the plan that ran, as proved (the rollback follows its steps and their files).
    public init(plan: ProvenKRaftPlan, zookeeper: ZooKeeperClient, nodes: [KRaftNodeAccess], journal: Journal, options: KRaftExecutor.Options = .init()) {
        executor = KRaftExecutor(plan: plan, zookeeper: zookeeper, nodes: nodes, journal: journal, options: options)
    }

    var plan: KRaftPlan { executor.plan }
    var zookeeper: ZooKeeperClient { executor.zookeeper }
    var options: KRaftExecutor.Options { executor.options }

    @discardableResult
    public func run(events: @escaping KRaftExecutor.EventHandler = { _ in }) async throws -> KRaftRollbackReport {
        try executor.checkNodes()
        let state = try executor.journal.load()
        let fingerprint = plan.fingerprint()
        if let recorded = state.planFingerprint, recorded != fingerprint {
            throw KRaftRunError(.journalMismatch, "the journal \(executor.journal.path) records another plan; roll back with the plan that ran")
        }
        if let finalize = plan.steps.first(where: { $0.phase == .finalize && state.startedSteps.contains(StepID($0.id)) }) {
            throw KRaftRunError(.pastPointOfNoReturn, step: finalize.id, "finalization started (step \(finalize.id)): the controllers may have written POST_MIGRATION, and a finalized migration cannot be rolled back to ZooKeeper")
        }
        let record = executor.recorder(events)
        var report = KRaftRollbackReport()
        func note(_ text: String) throws {
            report.actions.append(text)
            try record(ExecutionEvent(kind: .actionFinished, summary: text, changed: true))
        }
        try record(ExecutionEvent(kind: .rollbackStarted, summary: "rolling back to ZooKeeper mode from: "
            + (plan.steps.last { state.startedSteps.contains(StepID($0.id)) }.map { "step \($0.id) [\($0.phase.rawValue)]" } ?? "before any step")))
        do {
            // 1. Brokers in KRaft mode back to migration mode.
            for step in plan.steps.reversed() {
                guard case .rollBroker(let member, .kraft) = step.action else { continue }
                let (node, access) = try executor.access(member, step: step)
                let text = try await access.driver.readFile(node.configPath) ?? ""
                guard state.startedSteps.contains(StepID(step.id)) || KafkaNodeFile(source: "", role: .broker, text: text).mode == .kraft else { continue }
                let previous = try contents(before: step, state: state)
                if try await restore(node, access: access, to: previous, leadersRegister: false, record: record, step: step) {
                    try note("broker \(node.id) back in migration mode (\(node.host):\(node.configPath) as before its KRaft roll), registered in /brokers/ids again")
                }
            }
            // 2. Controllers stopped, metadata logs wiped, files restored.
            for step in plan.steps where state.startedSteps.contains(StepID(step.id)) {
                guard case .provisionController(let member) = step.action else { continue }
                let (node, access) = try executor.access(member, step: step)
                guard let stop = access.member.stop else {
                    throw KRaftRunError(.noCommand, step: step.id, "controller \(member) has no stop command; add `stop:` to it in the inventory's group '\(plan.controllerGroup)' (nothing was changed on the controllers)")
                }
                _ = try await access.driver.check(stop, timeout: options.restartTimeout, operation: "stop controller \(node.id)")
                try note("controller \(node.id) stopped on \(node.host)")
                if let dir = node.metadataLogDir {
                    let log = "\(dir)/__cluster_metadata-0"
                    _ = try await access.driver.check("rm -rf \(shellQuoted(log)) && test ! -e \(shellQuoted(log))", timeout: .seconds(120), operation: "wipe the metadata log of controller \(node.id)")
                    try note("controller \(node.id): wiped \(node.host):\(log)")
                }
                let original = try contents(before: step, state: state)
                if try await access.driver.readFile(node.configPath) != original {
                    _ = try await access.driver.writeFile(node.configPath, contents: original)
                    try note("controller \(node.id): \(node.host):\(node.configPath) restored")
                }
            }
            // 3. No controller may still dual-write.
            let gates = KRaftGates(zookeeper: zookeeper, options: options)
            if try await gates.check(.dualWriteAlive) == nil {
                throw KRaftRunError(.gateFailed, "/migration still advances: a KRaft controller outside the plan's group '\(plan.controllerGroup)' still dual-writes; stop it and run the rollback again (ZooKeeper's /controller and /migration were not touched)")
            }
            // 4. KAFKA-20488, while the persistent /controller still blocks ZooKeeper elections.
            let view = try await KRaftZooKeeperView.read(zookeeper)
            let status = KRaftStatus(view: view)
            if status.rollbackEpochUnsafe, let highest = status.highestPartitionControllerEpoch {
                guard case .kraft = ControllerOwner(view.controller) else {
                    throw KRaftRunError(.gateFailed, "partition states carry controller_epoch \(highest) > /controller_epoch \(status.controllerEpoch ?? -1) + 1 but /controller is not KRaft's any more, so a ZooKeeper controller may already run with the lower epoch; /controller_epoch was not raised. Stop the brokers' controller (delete /controller) after raising /controller_epoch to \(highest) by hand")
                }
                let (data, stat) = try await zookeeper.getData("/controller_epoch")
                _ = try await zookeeper.setData("/controller_epoch", data: Array(String(highest).utf8), version: stat.version)
                try note("raised /controller_epoch from \(String(decoding: data, as: UTF8.self)) to \(highest), the highest partition-state controller_epoch (KRaft's), so the ZooKeeper controller elected next gets \(highest + 1) (KAFKA-20488)")
            }
            // 5. /controller (KRaft's) and /migration, in one multi-op.
            var deletes: [MultiOperation] = []
            var removed: [String] = []
            if let controller = view.controller, case .kraft = ControllerOwner(controller) {
                deletes.append(.delete(DeleteRequest(path: ControllerZNode.path, version: controller.stat.version)))
                removed.append("/controller (persistent, \(String(decoding: controller.data, as: UTF8.self)))")
            }
            if let migration = try await KRaftZooKeeperView.readMigration(zookeeper) {
                deletes.append(.delete(DeleteRequest(path: MigrationZNode.path, version: migration.stat.version)))
                removed.append("/migration (was \(String(decoding: migration.data, as: UTF8.self)))")
            }
            if !deletes.isEmpty {
                _ = try await zookeeper.multi(deletes)
                try note("deleted in one multi-op: \(removed.joined(separator: ", then "))")
            }
            // 6. Brokers in migration mode back to their original files.
            for step in plan.steps.reversed() {
                guard case .rollBroker(let member, .migration) = step.action else { continue }
                let (node, access) = try executor.access(member, step: step)
                let text = try await access.driver.readFile(node.configPath) ?? ""
                guard state.startedSteps.contains(StepID(step.id)) || KafkaNodeFile(source: "", role: .broker, text: text).mode != .zookeeper else { continue }
                let original = try contents(before: step, state: state)
                if try await restore(node, access: access, to: original, leadersRegister: true, record: record, step: step) {
                    try note("broker \(node.id) back in ZooKeeper mode (\(node.host):\(node.configPath) as before the migration)")
                }
            }
            // 7. Verified.
            report.remainingProblems = KRaftRollbackVerdict.problems(try await KRaftZooKeeperView.read(zookeeper))
        } catch {
            try? record(ExecutionEvent(kind: .failed, summary: "rollback stopped: \(error)"))
            throw error
        }
        guard report.remainingProblems.isEmpty else {
            try record(ExecutionEvent(kind: .failed, summary: "rollback done but ZooKeeper is not safe: \(report.remainingProblems.joined(separator: "; "))"))
            throw KRaftRunError(.gateFailed, "after the rollback: \(report.remainingProblems.joined(separator: "; "))")
        }
        try record(ExecutionEvent(kind: .rollbackFinished, summary: "rolled back: ZooKeeper mode, no /migration, no persistent /controller, partition epochs safe"))
        return report
    }

    /// What the step's file held before it ran: from the journal, else (the step found the file
    /// already changed, or never ran) the earlier step's content with its edits, checked against
    /// the plan's hash.
    func contents(before step: KRaftStep, state: JournalState) throws -> String {
        guard let member = step.action.member, let node = plan.node(member) else { throw KRaftRunError(.missingNode, step: step.id, "the step names no node") }
        if let text = state.events.first(where: { $0.step?.rawValue == step.id && $0.previousContents?[node.configPath] != nil })?.previousContents?[node.configPath],
           KRaftPlan.sha256(text) == step.fileBefore {
            return text
        }
        if let index = plan.steps.firstIndex(of: step),
           let earlier = plan.steps[..<index].last(where: { $0.action.member == member && $0.fileAfter == step.fileBefore && $0.fileBefore != step.fileBefore }) {
            let text = KRaftConfigEdit.apply(earlier.edits, to: try contents(before: earlier, state: state))
            if KRaftPlan.sha256(text) == step.fileBefore { return text }
        }
        throw KRaftRunError(.drift, step: step.id, "the journal does not hold \(node.host):\(node.configPath) as it was before this step; restore it by hand from the plan's diff, then run the rollback again")
    }

    /// Writes `text` back and restarts the broker (gated: registered again, partitions healthy),
    /// unless it already runs with it. Returns whether it restarted.
    func restore(_ node: KRaftPlanNode, access: KRaftNodeAccess, to text: String, leadersRegister: Bool,
                 record: @escaping @Sendable (ExecutionEvent) throws -> Void, step: KRaftStep) async throws -> Bool {
        let roll = KafkaClientSwitch.Roll(summary: "restored as before step \(step.id)", expectation: .registersAgain, leadersRegisterInZooKeeper: leadersRegister) { config in
            config = KafkaBrokerConfig(parsing: text, connectionStringKey: config.connectionStringKey)
        }
        let target = try ConnectionString(parsing: plan.zookeeperConnect)
        let change = KafkaClientSwitch(zookeeper: zookeeper, brokers: [BrokerMember(member: access.member, driver: access.driver, brokerID: BrokerID(node.id))],
                                       options: .init(target: target, healthyPeriod: options.healthyPeriod, pollInterval: options.pollInterval,
                                                      healthTimeout: options.gateTimeout, registrationTimeout: options.gateTimeout, restartTimeout: options.restartTimeout),
                                       roll: roll)
        let report = try await change.run { event in try? record(ExecutionEvent(kind: .gateWaiting, summary: "rollback: \(event.description)")) }
        return !report.restarted.isEmpty
    }
}
