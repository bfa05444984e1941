import Foundation
import Synchronization
import ZooKeeper

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

    public init(
        time: Date = Date(), kind: Kind, step: StepID? = nil, action: Int? = nil, summary: String, changed: Bool? = nil, plan: String? = nil,
        previousContents: [String: String]? = nil
    ) {
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

    /// The last step that finished, in plan order.
    public func lastFinishedStep(in plan: Plan) -> StepID? {
        plan.steps.last { finishedSteps.contains($0.id) }?.id
    }
}

/// An append-only journal file: every event is written and flushed to disk before the executor
/// goes on, so a killed run resumes where it stopped.
public final class Journal: Sendable {
    public let path: String
    /// Appends from actions running together in one step are written one at a time.
    private let writing = Mutex(())

    public init(path: String) {
        self.path = path
    }

    /// The events recorded so far (none when the file does not exist). A torn last line — the
    /// tool killed while writing it — is ignored.
    public func load() throws -> JournalState {
        guard let data = FileManager.default.contents(atPath: path) else { return JournalState(events: []) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var events: [ExecutionEvent] = []
        let lines = data.split(separator: UInt8(ascii: "\n"))
        for (index, line) in lines.enumerated() {
            do {
                events.append(try decoder.decode(ExecutionEvent.self, from: Data(line)))
            } catch {
                if index == lines.count - 1 { break }
                throw ExecutionError(.badJournal, "line \(index + 1) of the journal \(path) is not an event (\(error)); it was not written by this version of mitosis or was edited")
            }
        }
        return JournalState(events: events)
    }

    public func append(_ event: ExecutionEvent) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(event)
        line.append(UInt8(ascii: "\n"))
        try writing.withLock { _ in try write(line) }
    }

    private func write(_ line: Data) throws {
        if !FileManager.default.fileExists(atPath: path) {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw ExecutionError(.badJournal, "cannot open the journal \(path) for writing")
        }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        if end > 0 {
            // A last line cut short (the tool killed while writing it) is dropped, as `load` drops
            // it; appending after it would glue the next event to it and make both unreadable.
            try handle.seek(toOffset: end - 1)
            if try handle.read(upToCount: 1) != Data([UInt8(ascii: "\n")]) {
                try handle.seek(toOffset: 0)
                let contents = try handle.readToEnd() ?? Data()
                let keep = contents.lastIndex(of: UInt8(ascii: "\n")).map { UInt64($0 - contents.startIndex + 1) } ?? 0
                try handle.truncate(atOffset: keep)
            }
            try handle.seekToEnd()
        }
        try handle.write(contentsOf: line)
        try handle.synchronize()
    }

    /// A fingerprint of a plan (SHA-1 of its JSON), recorded when it starts.
    public static func fingerprint(of plan: Plan) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return SHA1.hash(Array(try encoder.encode(plan))).map { String(format: "%02x", $0) }.joined()
    }
}

/// Why a run stopped.
public struct ExecutionError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let gateFailed = Code(rawValue: "gate-failed")
        public static let actionFailed = Code(rawValue: "action-failed")
        public static let badJournal = Code(rawValue: "bad-journal")
        public static let journalMismatch = Code(rawValue: "journal-mismatch")
        public static let alreadyStarted = Code(rawValue: "already-started")
        public static let pastPointOfNoReturn = Code(rawValue: "past-point-of-no-return")
        public static let unknownStep = Code(rawValue: "unknown-step")
        public static let unsupportedAction = Code(rawValue: "unsupported-action")
        /// A host could not be reached, or a program a command needs is missing there (nothing changed).
        public static let preflightFailed = Code(rawValue: "preflight-failed")
        /// A file the plan is about to change is not as the plan found it.
        public static let drift = Code(rawValue: "drift")
    }

    public var code: Code
    public var step: StepID?
    public var message: String

    public init(_ code: Code, step: StepID? = nil, _ message: String) {
        self.code = code
        self.step = step
        self.message = message
    }

    public var description: String { step.map { "step \($0): \(message)" } ?? message }
}
