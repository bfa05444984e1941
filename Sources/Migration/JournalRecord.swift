import Crypto
import Ensemble
import Foundation

/// Something that happened while a plan ran. The journal is these, one JSON object per line.
public struct ExecutionEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case planStarted = "plan-started"
        case resumed
        case stepStarted = "step-started"
        case gateWaiting = "gate-waiting"
        case gatePassed = "gate-passed"
        case actionStarted = "action-started"
        case actionFinished = "action-finished"
        case actionSkipped = "action-skipped"
        case stepFinished = "step-finished"
        case stepSkipped = "step-skipped"
        /// A resumed run started a block & copy follower again (its follow action ran before).
        case followRestarted = "follow-restarted"
        /// A rolling restart's step runs earlier than planned, so that the leader restarts last.
        case reordered
        /// `--until` reached, or the person declined a step.
        case paused
        case planFinished = "plan-finished"
        case failed
        case rollbackStarted = "rollback-started"
        case rollbackFinished = "rollback-finished"
    }

    public var time: Date
    public var kind: Kind
    public var step: StepID?
    /// The action's index within its step.
    public var action: Int?
    public var summary: String
    public var changed: Bool?
    /// On `plan-started`: the plan's fingerprint, so a journal is never resumed with another plan.
    public var plan: String?
    /// On `action-finished` of a configuration write: what each file it changed held before, by
    /// path (a file that did not exist is not listed). A rollback writes these back. On
    /// `action-started` of a configuration write: what each file held just before the write
    /// began (files read as ISO-8859-1 text), for a write the tool did not live to finish.
    public var previousContents: [String: String]?
    /// On `action-started` of a configuration write: the files it is about to write that do not
    /// exist yet; on its `action-finished`: the files it created. A rollback removes them.
    public var createdFiles: [String]?
    /// On `action-started` of a configuration write: the directories above its files that do not
    /// exist yet (writing the files creates them); on its `action-finished`: those it created. A
    /// rollback removes each one that is empty once the files the run created are gone.
    public var createdDirectories: [String]?
    /// On `action-finished` of a configuration write: for each file it wrote, by path, the SHA-256
    /// (``ExecutionEvent/digest(of:)``) of the bytes it left there. Before each later step, and at
    /// `--resume`, the run expects each such file to hold exactly these bytes.
    public var writtenFiles: [String: String]?

    public init(
        time: Date = Date(), kind: Kind, step: StepID? = nil, action: Int? = nil, summary: String, changed: Bool? = nil, plan: String? = nil,
        previousContents: [String: String]? = nil, createdFiles: [String]? = nil, createdDirectories: [String]? = nil, writtenFiles: [String: String]? = nil
    ) {
        self.createdFiles = createdFiles
        self.createdDirectories = createdDirectories
        self.writtenFiles = writtenFiles
        self.time = time
        self.kind = kind
        self.step = step
        self.action = action
        self.summary = summary
        self.changed = changed
        self.plan = plan
        self.previousContents = previousContents
    }
}

extension ExecutionEvent {
    /// SHA-256 (hex) of a file's bytes, given as the text it holds read as ISO-8859-1 (as
    /// configuration files are read and written): what ``writtenFiles`` records.
    public static func digest(of text: String) -> String {
        let bytes = (try? Latin1.encode(text)) ?? Array(text.utf8)
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// What a journal says was done.
public struct JournalState: Sendable, Hashable {
    public var planFingerprint: String?
    public var finishedSteps: Set<StepID> = []
    /// Steps with a `step-started` event (finished or not).
    public var startedSteps: Set<StepID> = []
    public var finishedActions: [StepID: Set<Int>] = [:]
    /// Actions started but not recorded as finished: the tool stopped in the middle of them.
    public var interruptedActions: [StepID: Set<Int>] = [:]
    public var planFinished = false
    public var rolledBack = false
    public var events: [ExecutionEvent] = []

    public init(events: [ExecutionEvent]) {
        self.events = events
        for event in events {
            switch event.kind {
            case .planStarted:
                planFingerprint = event.plan
            case .stepStarted:
                if let step = event.step { startedSteps.insert(step) }
            case .actionStarted:
                if let step = event.step, let action = event.action { interruptedActions[step, default: []].insert(action) }
            case .actionFinished, .actionSkipped:
                if let step = event.step, let action = event.action {
                    finishedActions[step, default: []].insert(action)
                    interruptedActions[step]?.remove(action)
                }
            case .stepFinished, .stepSkipped:
                if let step = event.step { finishedSteps.insert(step) }
            case .planFinished: planFinished = true
            case .rollbackFinished: rolledBack = true
            default: break
            }
        }
    }

    /// `steps` in the order the run began them (the executor may run a rolling restart's units in
    /// another order than the plan's); steps not begun keep their plan order, after the others.
    public func inRunOrder(_ steps: [Step]) -> [Step] {
        var began: [StepID: Int] = [:]
        for (number, event) in events.enumerated() where event.kind == .stepStarted {
            if let step = event.step, began[step] == nil { began[step] = number }
        }
        return steps.enumerated().sorted { (began[$0.element.id] ?? Int.max, $0.offset) < (began[$1.element.id] ?? Int.max, $1.offset) }.map(\.element)
    }

    /// The last step that finished, in plan order.
    public func lastFinishedStep(in plan: Plan) -> StepID? {
        plan.steps.last { finishedSteps.contains($0.id) }?.id
    }
}
