import Foundation
import MigrationPlanning
import Synchronization
import ZooKeeper

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
