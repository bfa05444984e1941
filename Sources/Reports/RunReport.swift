public import Foundation

/// What happened during one migration run or rehearsal, in a form every renderer reads.
///
/// The executor maps its journal, the probes' timelines and the verdict into this model; the
/// module itself knows nothing of plans, servers or clients beyond these names and numbers.
/// Every time in the model is in seconds since ``startedAt`` (a `Double`, so sub-second stalls
/// keep their length).
public struct RunReport: Sendable, Hashable, Codable {
    /// Whether the migration ran on a sandbox built for the purpose or on real ensembles.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        case rehearsal
        case run
        public var description: String { rawValue }
    }

    /// The version of the JSON layout; readers refuse layouts they do not know.
    public var format: Int
    public var title: String
    public var kind: Kind
    /// The strategy's name as the planner spells it (`mitosis`, `reconfig`, …).
    public var strategy: String
    public var startedAt: Date
    /// Seconds from the start to the end of the run (or to the moment it was interrupted).
    public var duration: Double
    public var verdict: [VerdictItem]
    public var steps: [StepSpan]
    public var clientGroups: [ClientGroupTimeline]
    public var events: [TimelineEvent]
    /// The servers and the mode each was left in, when the executor knows them.
    public var servers: [ServerRow]?
    public var notes: [String]

    public static let currentFormat = 1

    public init(
        title: String, kind: Kind, strategy: String, startedAt: Date, duration: Double,
        verdict: [VerdictItem] = [], steps: [StepSpan] = [], clientGroups: [ClientGroupTimeline] = [],
        events: [TimelineEvent] = [], servers: [ServerRow]? = nil, notes: [String] = []
    ) {
        self.format = Self.currentFormat
        self.title = title
        self.kind = kind
        self.strategy = strategy
        self.startedAt = startedAt
        self.duration = duration
        self.verdict = verdict
        self.steps = steps
        self.clientGroups = clientGroups
        self.events = events
        self.servers = servers
        self.notes = notes
    }

    /// The run's verdict as a whole: failed if any item failed, passed if at least one item
    /// passed and none failed, undecided when no item was judged.
    public var outcome: VerdictItem.Outcome {
        if verdict.contains(where: { $0.passed == false }) { return .failed }
        if verdict.contains(where: { $0.passed == true }) { return .passed }
        return .undecided
    }
}

/// One line of the verdict: a measured value and whether it is acceptable.
public struct VerdictItem: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable, CustomStringConvertible {
        case passed, failed, undecided
        public var description: String { rawValue }
    }

    /// What was measured, e.g. `acknowledged writes lost` or `longest client stall`.
    public var name: String
    /// The measured value as a person reads it, e.g. `0` or `1.4 s`.
    public var value: String
    /// `true` acceptable, `false` not, `nil` for information only (e.g. the number of elections).
    public var passed: Bool?
    /// Why, and against what limit, e.g. `kafka: 1.4 s within the split window (expected ≤ 10 s)`.
    public var detail: String?

    public init(name: String, value: String, passed: Bool?, detail: String? = nil) {
        self.name = name
        self.value = value
        self.passed = passed
        self.detail = detail
    }

    public var outcome: Outcome {
        switch passed {
        case true?: .passed
        case false?: .failed
        case nil: .undecided
        }
    }
}

/// One step of the plan as it was executed.
public struct StepSpan: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        case succeeded
        case failed
        /// Not run (e.g. already done according to the journal).
        case skipped
        /// Stopped while running: the tool was killed or the run was aborted.
        case interrupted
        /// Finished by a later invocation that resumed the journal.
        case resumed
        public var description: String { rawValue }
    }

    /// The step's name in the plan, e.g. `join-4` or `split-firewall`.
    public var id: String
    /// What the step does, for a person.
    public var title: String
    public var start: Double
    /// `nil` when the step never finished (interrupted).
    public var end: Double?
    public var outcome: Outcome
    /// The name of the impact window the plan declares for this step (clients that may find no
    /// quorum while it runs), e.g. `split`.
    public var impactWindow: String?
    /// The longest stall the plan expects inside that window, in seconds.
    public var expectedWindowLength: Double?

    public init(
        id: String, title: String, start: Double, end: Double?, outcome: Outcome,
        impactWindow: String? = nil, expectedWindowLength: Double? = nil
    ) {
        self.id = id
        self.title = title
        self.start = start
        self.end = end
        self.outcome = outcome
        self.impactWindow = impactWindow
        self.expectedWindowLength = expectedWindowLength
    }

    /// The step's length, if it finished.
    public var length: Double? { end.map { max(0, $0 - start) } }
}

/// What one client group saw during the run: throughput, failures, stalls and planned restarts.
public struct ClientGroupTimeline: Sendable, Hashable, Codable {
    /// The group's name, e.g. `kafka` or `billing-service`.
    public var name: String
    /// Whether the plan moves this group to the destination (`false`: it stays on the source).
    public var moves: Bool
    public var buckets: [ThroughputBucket]
    /// Periods in which no request of the group completed.
    public var stalls: [Stall]
    /// Restarts of the group's members that the plan made on purpose (e.g. a broker picking up
    /// a new `zookeeper.connect`).
    public var restarts: [MemberRestart]

    public init(
        name: String, moves: Bool, buckets: [ThroughputBucket] = [], stalls: [Stall] = [],
        restarts: [MemberRestart] = []
    ) {
        self.name = name
        self.moves = moves
        self.buckets = buckets
        self.stalls = stalls
        self.restarts = restarts
    }

    public var totalSuccesses: Int { buckets.reduce(0) { $0 + $1.successes } }
    public var totalFailures: Int { buckets.reduce(0) { $0 + $1.failures } }
    public var longestStall: Stall? { stalls.max { $0.length < $1.length } }
    public var maxLatencyMs: Double? { buckets.map(\.maxLatencyMs).max() }
}

/// The requests of one client group that completed in `[start, end)`.
public struct ThroughputBucket: Sendable, Hashable, Codable {
    public var start: Double
    public var end: Double
    public var successes: Int
    public var failures: Int
    /// The slowest request that completed in the bucket, in milliseconds.
    public var maxLatencyMs: Double

    public init(start: Double, end: Double, successes: Int, failures: Int, maxLatencyMs: Double) {
        self.start = start
        self.end = end
        self.successes = successes
        self.failures = failures
        self.maxLatencyMs = maxLatencyMs
    }

    public var length: Double { max(0, end - start) }
}

/// A period in which a client group completed no request.
public struct Stall: Sendable, Hashable, Codable {
    public var start: Double
    public var end: Double

    public init(start: Double, end: Double) {
        self.start = start
        self.end = end
    }

    public var length: Double { max(0, end - start) }
}

/// A planned restart of one member of a client group.
public struct MemberRestart: Sendable, Hashable, Codable {
    /// The member that was restarted, e.g. `broker-2`.
    public var member: String
    public var start: Double
    public var end: Double

    public init(member: String, start: Double, end: Double) {
        self.member = member
        self.start = start
        self.end = end
    }
}

/// Something that happened at one moment of the run.
public struct TimelineEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        case leaderElection
        case sessionExpired
        case serverStarted
        case serverStopped
        case serverKilled
        case firewallSplit
        case firewallRemoved
        /// A stable address moved to another host (strategy replace).
        case addressMoved
        /// The platform re-pointed an address that follows its server by itself (strategy replace
        /// with `stableAddress: {kind: follows}`; in a rehearsal, the sandbox's controller).
        case addressFollowed
        /// The migration tool itself was killed (a rehearsal of a crash mid-run).
        case toolKilled
        /// A later invocation resumed the run from its journal.
        case resumed
        /// A gate was checked (e.g. `destination synced`).
        case gate
        case note
        public var description: String { rawValue }
    }

    public var time: Double
    public var kind: Kind
    /// What happened, for a person, e.g. `dst-1 elected leader (epoch 5)`.
    public var label: String
    /// What it happened to, e.g. `src-2` or `kafka`.
    public var subject: String?

    public init(time: Double, kind: Kind, label: String, subject: String? = nil) {
        self.time = time
        self.kind = kind
        self.label = label
        self.subject = subject
    }
}

/// A server and the mode it was left in at the end of the run.
public struct ServerRow: Sendable, Hashable, Codable {
    /// e.g. `src-1` or `zk-dst-3:2181`.
    public var name: String
    /// The ensemble the server belongs to at the end, e.g. `source` or `destination`.
    public var ensemble: String
    /// `leader`, `follower`, `observer`, `standalone`, `not serving`, `stopped`, …
    public var finalMode: String

    public init(name: String, ensemble: String, finalMode: String) {
        self.name = name
        self.ensemble = ensemble
        self.finalMode = finalMode
    }
}
