import Crypto
import Foundation

/// What the prover found when a plan was written, recorded in the plan (`"proof"` in its JSON).
///
/// `digest` is the SHA-256 of the plan's canonical content: its JSON with sorted keys and without
/// this record. `steps` holds the digest of each step in order, so that a plan changed after it
/// was proved can be told apart from the proved one step by step (a step removed, two steps
/// swapped, a gate deleted).
public struct PlanProof: Sendable, Hashable, Codable {
    public struct StepDigest: Sendable, Hashable, Codable {
        public var id: StepID
        public var digest: String
    }

    public var safe: Bool
    public var statesExplored: Int
    /// ``Prover/version`` of the prover that proved it.
    public var proverVersion: Int
    public var digest: String
    public var steps: [StepDigest]

    /// What differs between the content `proof` records and content whose digest is `digest`, with
    /// `steps` in order (empty when they are the same): named by steps where the steps differ (a
    /// step removed, added, moved or changed), else `rest` (what else a plan holds) differs.
    /// `writer` is the command that writes a plan with its proof.
    static func differences(_ proof: PlanProof?, digest: String, steps: [StepDigest], writer: String, rest: String) -> [String] {
        guard let proof else {
            return ["it carries no proof record (\"proof\"): it was not written by \(writer), or the record was removed"]
        }
        if proof.digest == digest { return [] }
        var differences: [String] = []
        let recorded = proof.steps.map(\.id)
        let now = steps.map(\.id)
        let removed = recorded.filter { !now.contains($0) }
        let added = now.filter { !recorded.contains($0) }
        if !removed.isEmpty { differences.append("step\(removed.count == 1 ? "" : "s") removed: \(removed.map(\.rawValue).joined(separator: ", "))") }
        if !added.isEmpty { differences.append("step\(added.count == 1 ? "" : "s") added: \(added.map(\.rawValue).joined(separator: ", "))") }
        let kept = recorded.filter { now.contains($0) }
        let keptNow = now.filter { recorded.contains($0) }
        if kept != keptNow {
            let moved = zip(kept, keptNow).filter { $0 != $1 }.map(\.0.rawValue)
            differences.append("steps in another order: \(moved.joined(separator: ", ")) (proved order: \(kept.map(\.rawValue).joined(separator: ", ")))")
        }
        let recordedDigests = Dictionary(proof.steps.map { ($0.id, $0.digest) }, uniquingKeysWith: { first, _ in first })
        for step in steps {
            if let recordedDigest = recordedDigests[step.id], recordedDigest != step.digest {
                differences.append("step \(step.id) changed (its gates, actions or text differ from the proved step)")
            }
        }
        if differences.isEmpty {
            differences.append("\(rest) differ from the proved plan (digest \(proof.digest.prefix(12)), now \(digest.prefix(12)))")
        }
        return differences
    }
}

/// A plan the prover has proved safe. Only the prover makes one (``Prover/prove(_:options:)``,
/// ``Prover/verify(_:source:options:)``, ``Prover/prove(rollback:of:journal:options:)``), and
/// ``MigrationExecutor`` runs nothing else: a plan cannot reach a host without a proof.
public struct ProvenPlan: Sendable {
    public let plan: Plan
    public let proof: ProofResult

    /// Only the prover, in this file, proves.
    fileprivate init(plan: Plan, proof: ProofResult) {
        self.plan = plan
        self.proof = proof
    }

    /// The plan with its proof recorded: what `mitosis plan --out` writes.
    public var recorded: Plan {
        var recorded = plan
        recorded.proof = PlanProof(
            safe: proof.isSafe, statesExplored: proof.statesExplored, proverVersion: Prover.version, digest: plan.canonicalDigest,
            steps: plan.steps.map { PlanProof.StepDigest(id: $0.id, digest: $0.canonicalDigest) })
        return recorded
    }
}

/// Why a plan is not run.
public struct PlanRefusal: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The prover found a state that breaks an invariant.
        public static let unsafe = Code(rawValue: "unsafe")
        /// The plan is not the one that was proved (its digest differs, or it carries no proof).
        public static let altered = Code(rawValue: "altered")
        /// The prover cannot read the plan.
        public static let unreadable = Code(rawValue: "unreadable")
    }

    public var code: Code
    public var message: String
    /// The prover's shortest counterexample, when the plan (as it is now) is unsafe.
    public var counterexample: Counterexample?

    public var description: String {
        guard let counterexample else { return message }
        return "\(message)\n\n\(counterexample)"
    }
}

extension Prover {
    /// Bumped whenever the prover's rules change (what it models, which invariants it checks), so
    /// that a plan records which rules proved it. 3: every order the executor may give a rolling
    /// restart's units is explored, not only the written one.
    public static let version = 3

    /// Proves `plan`; the result is the only way to run it.
    public static func prove(_ plan: Plan, options: ProverOptions = ProverOptions()) throws(PlanRefusal) -> ProvenPlan {
        let attempt: (result: ProofResult, proven: ProvenPlan?)
        do {
            attempt = try self.attempt(plan, options: options)
        } catch {
            throw PlanRefusal(code: .unreadable, message: "\(error)")
        }
        guard let proven = attempt.proven else {
            throw PlanRefusal(
                code: .unsafe,
                message: "the plan is unsafe (prover v\(version), \(attempt.result.statesExplored) states explored); nothing was changed. Make a new plan with `mitosis plan`",
                counterexample: attempt.result.counterexample)
        }
        return proven
    }

    /// Checks `plan` and gives what was found (for a runbook or a report either way) and, when it
    /// is safe, the plan as proved.
    public static func attempt(_ plan: Plan, options: ProverOptions = ProverOptions()) throws(ProverError) -> (result: ProofResult, proven: ProvenPlan?) {
        let result = try check(plan, options: options)
        return (result, result.isSafe ? ProvenPlan(plan: plan, proof: result) : nil)
    }

    /// A plan read from a file (`source` names it in messages): it must be the plan `mitosis plan`
    /// proved (its recorded digest matches its content), and it is proved again with this prover.
    /// An altered plan is refused saying what changed, with a counterexample when it is also unsafe.
    public static func verify(_ plan: Plan, source: String, options: ProverOptions = ProverOptions()) throws(PlanRefusal) -> ProvenPlan {
        let differences = plan.differencesFromProof
        if differences.isEmpty { return try prove(plan, options: options) }
        let remedy = "Make the plan again with `mitosis plan … --out \(source)` and review its runbook; nothing was changed."
        let header = "\(source) is not the plan that was proved:\n" + differences.map { "  - \($0)" }.joined(separator: "\n")
        do {
            _ = try prove(plan, options: options)
        } catch let refusal where refusal.code == .unsafe {
            throw PlanRefusal(code: .altered, message: "\(header)\nAs it is now it is UNSAFE (counterexample below). \(remedy)", counterexample: refusal.counterexample)
        } catch {
            throw PlanRefusal(code: .altered, message: "\(header)\n\(error)\n\(remedy)")
        }
        throw PlanRefusal(code: .altered, message: "\(header)\n\(remedy)")
    }

    /// The way back of a run stopped part way (``Rollback/plan(for:journal:)``), proved as what
    /// really happens: the steps the journal says were done, in the order they began (an
    /// interrupted step with only the actions that started), then the rollback's steps. Nothing of it runs unless that is safe.
    public static func prove(rollback: Plan, of plan: ProvenPlan, journal: JournalState, options: ProverOptions = ProverOptions())
        throws(PlanRefusal) -> ProvenPlan
    {
        var done: [Step] = []
        // In the order they ran, which is known now: nothing of it is reordered again.
        for var step in journal.inRunOrder(plan.plan.steps) {
            step.rollingRestart = nil
            step.restartUnit = nil
            if journal.finishedSteps.contains(step.id) {
                done.append(step)
                continue
            }
            let started = (journal.finishedActions[step.id] ?? []).union(journal.interruptedActions[step.id] ?? [])
            if started.isEmpty { continue }
            var partial = step
            partial.actions = step.actions.enumerated().filter { started.contains($0.offset) }.map(\.element)
            partial.gatesAfter = []
            done.append(partial)
        }
        var whole = rollback
        whole.steps = done + rollback.steps
        whole.impactWindows = plan.plan.impactWindows + rollback.impactWindows.filter { window in !plan.plan.impactWindows.contains { $0.id == window.id } }
        whole.proof = nil
        let result: ProofResult
        do {
            result = try check(whole, options: options)
        } catch {
            throw PlanRefusal(code: .unreadable, message: "cannot check the rollback: \(error)")
        }
        if let counterexample = result.counterexample {
            throw PlanRefusal(
                code: .unsafe,
                message: "the rollback is unsafe after the steps the journal records (\(done.map(\.id.rawValue).joined(separator: ", "))); nothing was changed. Undo by hand with the runbook, or finish the plan with --resume",
                counterexample: counterexample)
        }
        return ProvenPlan(plan: rollback, proof: result)
    }
}

extension Plan {
    /// SHA-256 (hex) of the plan's canonical content: its JSON with sorted keys, compact, without
    /// the proof record.
    public var canonicalDigest: String {
        var content = self
        content.proof = nil
        return Self.sha256(content)
    }

    /// What differs between this plan and the one its proof record describes (empty when it is
    /// that plan). Named by steps where the steps differ.
    public var differencesFromProof: [String] {
        PlanProof.differences(
            proof, digest: canonicalDigest, steps: steps.map { PlanProof.StepDigest(id: $0.id, digest: $0.canonicalDigest) },
            writer: "`mitosis plan --out`", rest: "its ensembles, client groups, impact windows or notes")
    }

    static func sha256(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plans and steps hold strings, integers, whole-millisecond durations, arrays and structs:
        // encoding does not fail; if it ever did, the value's full description stands in for it.
        let data = (try? encoder.encode(value)) ?? Data(String(reflecting: value).utf8)
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}

extension Step {
    /// SHA-256 (hex) of the step's canonical JSON.
    public var canonicalDigest: String { Plan.sha256(self) }
}
