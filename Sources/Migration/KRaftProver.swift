import KafkaPlanning

/// A plan step that breaks a rule of the migration, and the walk that got there.
public struct KRaftCounterexample: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The step that breaks the rule (nil when the plan as a whole is missing something).
    public var step: String?
    public var rule: String
    public var message: String
    /// The steps walked up to and including the offending one, each with the node modes after it.
    public var trace: [String]

    public var description: String {
        "\(rule): " + (step.map { "step \($0): " } ?? "") + message
            + (trace.isEmpty ? "" : "\n  walk:\n" + trace.map { "    \($0)" }.joined(separator: "\n"))
    }
}

/// Checks a KRaft migration plan — the planner's, or a hand-edited `plan.json` — before anything
/// runs (and again at resume and rollback). Pure: it walks the steps in order, keeping each node's
/// mode and which gates have been passed, and stops at the first step that breaks a rule:
/// - phases in order (readiness, controllers, brokers to migration, load, dual-write, brokers to
///   KRaft, finalize), each step's edits able to put its node in the mode it claims;
/// - every step carries the gates its phase needs;
/// - no broker rolls into KRaft before a step gated on the load;
/// - no finalization while a broker is not yet in KRaft mode, and finalization is the point of
///   no return and nothing follows it but other controllers' finalization.
///
/// ``check(_:)`` gives the first broken rule; ``prove(_:)`` and ``verify(_:source:)`` give the only
/// value ``KRaftExecutor`` and ``KRaftRollback`` accept, a ``ProvenKRaftPlan``.
public enum KRaftProver {
    /// Bumped whenever the prover's rules change, so that a plan records which rules proved it.
    public static let version = 1

    /// The first rule the plan breaks, with the walk that got there; nil when it holds every rule.
    public static func check(_ plan: KRaftPlan) -> KRaftCounterexample? {
        var brokerModes: [String: KafkaNodeMode] = Dictionary(uniqueKeysWithValues: plan.brokers.map { ($0.member, .zookeeper) })
        var controllerModes: [String: String] = Dictionary(uniqueKeysWithValues: plan.controllers.map { ($0.member, "not started") })
        var loadGated = false, dualWriteGated = false, readinessGated = false
        var phase = KRaftPhase.readiness
        var trace: [String] = []
        var seenIDs: Set<String> = []

        func fail(_ step: KRaftStep?, _ rule: String, _ message: String) -> KRaftCounterexample {
            KRaftCounterexample(step: step?.id, rule: rule, message: message, trace: trace)
        }
        func modes() -> String {
            plan.brokers.map { "\($0.id)=\(brokerModes[$0.member]!.rawValue)" }.joined(separator: " ")
                + " | " + plan.controllers.map { "\($0.id)=\(controllerModes[$0.member]!)" }.joined(separator: " ")
        }
        func has(_ step: KRaftStep, after gate: KRaftGate) -> Bool { step.gatesAfter.contains(gate) }
        func missing(_ step: KRaftStep, before: [KRaftGate] = [], after: [KRaftGate] = []) -> KRaftCounterexample? {
            if let gate = before.first(where: { !step.gatesBefore.contains($0) }) {
                return fail(step, "missing-gate", "has no gate before it that \(gate) (a \(step.phase.rawValue) step needs it)")
            }
            if let gate = after.first(where: { !step.gatesAfter.contains($0) }) {
                return fail(step, "missing-gate", "has no gate after it that \(gate) (a \(step.phase.rawValue) step needs it)")
            }
            return nil
        }
        func sets(_ step: KRaftStep, _ key: String, _ value: String) -> Bool { step.edits.contains(.set(key: key, value: value)) }
        func removes(_ step: KRaftStep, _ key: String) -> Bool { step.edits.contains(.remove(key: key)) }

        guard plan.kind == KRaftPlan.kind else { return fail(nil, "not-a-kraft-plan", "the plan's kind is '\(plan.kind)', not '\(KRaftPlan.kind)'") }
        for step in plan.steps {
            trace.append("\(step.id) [\(step.phase.rawValue)]")
            guard seenIDs.insert(step.id).inserted else { return fail(step, "duplicate-step", "the id is used twice") }
            if step.phase < phase {
                return fail(step, "phase-order", "a \(step.phase.rawValue) step comes after a \(phase.rawValue) step; the phases run \(KRaftPhase.allCases.map(\.rawValue).joined(separator: " → "))")
            }
            phase = step.phase
            if step.phase != .readiness && !readinessGated {
                return fail(step, "missing-gate", "runs before any step gated on the readiness check (kafka kraft check must pass first)")
            }
            if step.pointOfNoReturn && step.phase != .finalize {
                return fail(step, "point-of-no-return", "is marked the point of no return but only finalization is irreversible")
            }
            if let member = step.action.member, plan.node(member) == nil {
                return fail(step, "unknown-node", "names \(member), which is not among the plan's brokers and controllers")
            }
            switch step.action {
            case .checkReadiness:
                guard step.phase == .readiness else { return fail(step, "wrong-phase", "checks readiness in phase \(step.phase.rawValue)") }
                if let counterexample = missing(step, after: [.readinessPasses]) { return counterexample }
                readinessGated = true
            case .provisionController(let member):
                guard step.phase == .provisionControllers, controllerModes[member] != nil else {
                    return fail(step, "wrong-phase", "provisions \(member) in phase \(step.phase.rawValue) (or \(member) is not a controller)")
                }
                if let counterexample = missing(step, before: [.noStaleMigration], after: [.fileMode(member: member, mode: .migration), .migrationZNodeExists]) { return counterexample }
                guard sets(step, KRaftPlanner.migrationFlag, "true") || step.edits.isEmpty && step.fileBefore == step.fileAfter else {
                    return fail(step, "edits", "provisions \(member) without setting \(KRaftPlanner.migrationFlag)=true")
                }
                controllerModes[member] = "migration"
            case .rollBroker(let member, let mode):
                guard let current = brokerModes[member] else { return fail(step, "unknown-node", "\(member) is not a broker") }
                switch mode {
                case .migration:
                    guard step.phase == .brokersToMigration else { return fail(step, "wrong-phase", "rolls \(member) into migration mode in phase \(step.phase.rawValue)") }
                    guard current == .zookeeper else { return fail(step, "node-mode", "rolls \(member) into migration mode but it is already in \(current.rawValue) mode") }
                    if let unprovisioned = plan.controllers.first(where: { controllerModes[$0.member] != "migration" }) {
                        return fail(step, "controllers-first", "rolls broker \(member) into migration mode before controller \(unprovisioned.member) is provisioned")
                    }
                    guard let node = plan.node(member) else { break }
                    if let counterexample = missing(step, after: [.fileMode(member: member, mode: .migration), .brokerRegistered(id: node.id), .partitionsHealthy]) { return counterexample }
                    guard sets(step, KRaftPlanner.migrationFlag, "true") else {
                        return fail(step, "edits", "rolls \(member) into migration mode without setting \(KRaftPlanner.migrationFlag)=true")
                    }
                case .kraft:
                    guard step.phase == .brokersToKRaft else { return fail(step, "wrong-phase", "rolls \(member) into KRaft mode in phase \(step.phase.rawValue)") }
                    guard loadGated else {
                        return fail(step, "kraft-before-load", "rolls broker \(member) into KRaft mode before any step is gated on the load (/migration kraft_metadata_offset > 0 and a KRaft-owned /controller)")
                    }
                    guard current == .migration else {
                        return fail(step, "node-mode", "rolls \(member) into KRaft mode from \(current.rawValue) mode; a broker goes to KRaft only from migration mode")
                    }
                    guard let node = plan.node(member) else { break }
                    if let counterexample = missing(step, before: [.loadComplete],
                                                    after: [.fileMode(member: member, mode: .kraft), .brokerLeftZooKeeper(id: node.id), .dualWriteAlive, .partitionsHealthy]) { return counterexample }
                    guard sets(step, "process.roles", "broker"), removes(step, KRaftPlanner.migrationFlag), removes(step, "zookeeper.connect") else {
                        return fail(step, "edits", "rolls \(member) into KRaft mode without setting process.roles=broker and removing \(KRaftPlanner.migrationFlag) and zookeeper.connect")
                    }
                case .zookeeper:
                    return fail(step, "node-mode", "rolls \(member) back to ZooKeeper mode; that is a rollback, not a plan step")
                }
                brokerModes[member] = mode
            case .wait:
                switch step.phase {
                case .load:
                    if let counterexample = missing(step, after: [.loadComplete]) { return counterexample }
                case .dualWrite:
                    guard loadGated else { return fail(step, "phase-order", "checks dual-write before any step is gated on the load") }
                    if let counterexample = missing(step, after: [.dualWriteAlive]) { return counterexample }
                default: break
                }
                if has(step, after: .loadComplete) && step.phase == .load {
                    if let unrolled = plan.brokers.first(where: { brokerModes[$0.member] != .migration }) {
                        return fail(step, "load-before-brokers", "waits for the load while broker \(unrolled.member) is in \(brokerModes[unrolled.member]!.rawValue) mode; the controller loads only once every broker registers in migration mode")
                    }
                    loadGated = true
                }
                if has(step, after: .dualWriteAlive) && loadGated { dualWriteGated = true }
            case .finalizeController(let member):
                guard step.phase == .finalize, controllerModes[member] != nil else { return fail(step, "wrong-phase", "finalizes \(member) in phase \(step.phase.rawValue)") }
                if let notKRaft = plan.brokers.first(where: { brokerModes[$0.member] != .kraft }) {
                    return fail(step, "finalize-with-zookeeper-broker", "finalizes while broker \(notKRaft.member) (id \(notKRaft.id)) is still in \(brokerModes[notKRaft.member]!.rawValue) mode; finalization is irreversible and leaves ZooKeeper-mode brokers without a controller (KAFKA-20960)")
                }
                guard dualWriteGated else { return fail(step, "missing-gate", "finalizes without any step having checked dual-write") }
                if let counterexample = missing(step, before: [.allBrokersKRaft, .partitionsHealthy], after: [.fileMode(member: member, mode: .kraft)]) { return counterexample }
                guard removes(step, KRaftPlanner.migrationFlag) else {
                    return fail(step, "edits", "finalizes \(member) without removing \(KRaftPlanner.migrationFlag)")
                }
                if controllerModes.values.allSatisfy({ $0 != "finalized" }) && !step.pointOfNoReturn {
                    return fail(step, "point-of-no-return", "the first finalization step must be marked the point of no return")
                }
                controllerModes[member] = "finalized"
            }
            trace[trace.count - 1] += " → " + modes()
        }
        // Every node must be covered.
        for node in plan.controllers where controllerModes[node.member] == "not started" {
            return fail(nil, "missing-step", "controller \(node.member) is never provisioned")
        }
        if let first = plan.steps.firstIndex(where: { $0.phase == .finalize }) {
            for node in plan.controllers where controllerModes[node.member] != "finalized" {
                return fail(plan.steps[first], "missing-step", "controller \(node.member) is never finalized")
            }
        }
        for node in plan.brokers where brokerModes[node.member] != .kraft {
            return fail(nil, "missing-step", "broker \(node.member) ends in \(brokerModes[node.member]!.rawValue) mode; the plan must roll every broker into KRaft")
        }
        return nil
    }
}

/// A KRaft migration plan the prover has proved. Only ``KRaftProver`` makes one (its initialiser is
/// private to this file), and ``KRaftExecutor`` and ``KRaftRollback`` run nothing else.
public struct ProvenKRaftPlan: Sendable {
    public let plan: KRaftPlan

    /// Only the prover, in this file, proves.
    fileprivate init(plan: KRaftPlan) {
        self.plan = plan
    }

    /// The plan with its proof recorded: what `kafka kraft plan` writes.
    public var recorded: KRaftPlan {
        var recorded = plan
        recorded.proof = PlanProof(
            safe: true, statesExplored: plan.steps.count, proverVersion: KRaftProver.version, digest: plan.canonicalDigest,
            steps: plan.steps.map { PlanProof.StepDigest(id: StepID($0.id), digest: Plan.sha256($0)) })
        return recorded
    }
}

/// Why a KRaft plan is not run: unsafe (with the prover's counterexample) or altered since it was proved.
public struct KRaftPlanRefusal: Error, Sendable, CustomStringConvertible {
    public var code: PlanRefusal.Code
    public var message: String
    /// The first rule the plan (as it is now) breaks, when it breaks one.
    public var counterexample: KRaftCounterexample?

    public var description: String {
        guard let counterexample else { return message }
        return "\(message)\n\n\(counterexample)"
    }
}

extension KRaftProver {
    /// Proves `plan`; the result is the only way to run it or roll it back.
    public static func prove(_ plan: KRaftPlan) throws(KRaftPlanRefusal) -> ProvenKRaftPlan {
        if let counterexample = check(plan) {
            throw KRaftPlanRefusal(
                code: .unsafe,
                message: "the KRaft plan is unsafe (KRaft prover v\(version)); nothing was changed. Make a new plan with `mitosis kafka kraft plan`",
                counterexample: counterexample)
        }
        return ProvenKRaftPlan(plan: plan)
    }

    /// A plan read from a file (`source` names it): it must be the plan `kafka kraft plan` proved
    /// (its recorded digest matches its content), and it is proved again with this prover. An
    /// altered plan is refused saying what changed, with the counterexample when it is also unsafe.
    public static func verify(_ plan: KRaftPlan, source: String) throws(KRaftPlanRefusal) -> ProvenKRaftPlan {
        let differences = plan.differencesFromProof
        if differences.isEmpty { return try prove(plan) }
        let remedy = "Make the plan again with `mitosis kafka kraft plan … -o DIR` and review its runbook; nothing was changed."
        let header = "\(source) is not the KRaft plan that was proved:\n" + differences.map { "  - \($0)" }.joined(separator: "\n")
        if let counterexample = check(plan) {
            throw KRaftPlanRefusal(code: .altered, message: "\(header)\nAs it is now it is UNSAFE (counterexample below). \(remedy)", counterexample: counterexample)
        }
        throw KRaftPlanRefusal(code: .altered, message: "\(header)\n\(remedy)")
    }
}
