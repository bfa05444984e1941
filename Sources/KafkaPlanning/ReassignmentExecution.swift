import Foundation

// The pure half of executing a reassignment: what a plan file holds, how one partition's progress
// is judged from Kafka's znodes, when a run counts as stalled, what it reports and how it fails.
// `ReassignmentExecutor` does the I/O around these.

/// One partition's move: the replicas it had when the plan was made and the ones it should end with
/// (preferred leader first).
public struct PartitionMove: Sendable, Hashable, Codable {
    public var topic: String
    public var partition: Int
    public var before: [BrokerID]
    public var after: [BrokerID]

    public init(topic: String, partition: Int, before: [BrokerID], after: [BrokerID]) {
        self.topic = topic; self.partition = partition; self.before = before; self.after = after
    }
    public init(_ partition: TopicPartition, before: [BrokerID], after: [BrokerID]) {
        self.init(topic: partition.topic, partition: partition.partition, before: before, after: after)
    }
    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }
}

/// A stage as the executor runs it: batches written to `/admin/reassign_partitions` one after another.
public struct ExecutionStage: Sendable, Hashable, Codable {
    /// 1-based.
    public var number: Int
    public var batches: [[PartitionMove]]

    public init(number: Int, batches: [[PartitionMove]]) { self.number = number; self.batches = batches }

    /// A planner's stage, batch by batch.
    public init(_ stage: ReassignmentStage) {
        number = stage.number
        batches = stage.batches.map { batch in
            batch.map { PartitionMove($0, before: stage.before[$0] ?? [], after: stage.after[$0] ?? []) }
        }
    }

    public var moves: [PartitionMove] { batches.flatMap { $0 } }
}

/// The file `mitosis kafka plan` writes and `mitosis kafka run` executes:
/// `{"format":"mitosis-kafka-reassignment","version":1,"seed":7,"stages":[{"number":1,"batches":[[
/// {"topic":"t","partition":0,"before":[1,2],"after":[11,2]}]]}]}`.
public struct ReassignmentPlanFile: Sendable, Hashable, Codable {
    public static let formatName = "mitosis-kafka-reassignment"
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    /// What the plan does, for people (`move brokers 1001,1002 → 0,1`).
    public var summary: String?
    public var seed: UInt64?
    public var stages: [ExecutionStage]
    /// The replication factor each moved topic ends with, as planned (``checkSafety(against:)``
    /// refuses a move to another one); nil in files from before it was recorded and in
    /// kafka-reassign-partitions files, whose moves must then keep their partition's factor.
    public var replicationFactors: [String: Int]?

    public init(summary: String? = nil, seed: UInt64? = nil, stages: [ExecutionStage], replicationFactors: [String: Int]? = nil) {
        format = Self.formatName; version = Self.currentVersion
        self.summary = summary; self.seed = seed; self.stages = stages; self.replicationFactors = replicationFactors
    }

    public init(_ plan: ReassignmentPlan, summary: String? = nil) {
        let stages = plan.stages.map(ExecutionStage.init)
        self.init(summary: summary, seed: plan.seed, stages: stages, replicationFactors: Self.plannedReplicationFactors(stages))
    }

    /// A `kafka-reassign-partitions` file run as one stage: `before` is the current assignment,
    /// batches keep each broker within `maxConcurrentMovesPerBroker` moves.
    public init(reassignment: ReassignPartitionsZNode, current: ReplicaAssignment, maxConcurrentMovesPerBroker: Int)
        throws(KafkaExecutionError)
    {
        var target = current
        var missing: [TopicPartition] = []
        for entry in reassignment.partitions {
            if current[entry.topicPartition] == nil { missing.append(entry.topicPartition) }
            target[entry.topicPartition] = entry.replicas
        }
        guard missing.isEmpty else {
            throw KafkaExecutionError(.invalidPlan, "partitions \(listed(missing)) of the reassignment file do not exist "
                + "under /brokers/topics; check the topic names and partition numbers", partitions: missing)
        }
        let stage = ReassignmentStage(number: 1, before: current, after: target,
                                      batches: batches(from: current, to: target, cap: max(1, maxConcurrentMovesPerBroker)))
        let stages = stage.changedPartitions.isEmpty ? [] : [ExecutionStage(stage)]
        // The file's targets are what its author planned, replication factors included.
        self.init(summary: "reassignment file with \(reassignment.partitions.count) partitions",
                  stages: stages, replicationFactors: Self.plannedReplicationFactors(stages))
    }

    /// Reads a plan file, or a `kafka-reassign-partitions` file (`{"version":1,"partitions":[…]}`),
    /// which then needs the cluster's current assignment.
    public static func parse(_ data: Data, current: () async throws -> ReplicaAssignment,
                             maxConcurrentMovesPerBroker: Int = 5) async throws -> ReassignmentPlanFile {
        let value: JSONValue
        do { value = try JSONValue(parsing: data) } catch {
            throw KafkaExecutionError(.invalidPlan, "the plan is not JSON: \(error)")
        }
        guard let object = value.objectValue else { throw KafkaExecutionError(.invalidPlan, "the plan should be a JSON object") }
        if object["format"] == nil, object["partitions"] != nil {
            let file: ReassignPartitionsZNode
            do { file = try ReassignPartitionsZNode(json: object) } catch {
                throw KafkaExecutionError(.invalidPlan, "not a kafka-reassign-partitions file: \(error.message)")
            }
            return try ReassignmentPlanFile(reassignment: file, current: try await current(),
                                            maxConcurrentMovesPerBroker: maxConcurrentMovesPerBroker)
        }
        let plan: ReassignmentPlanFile
        do { plan = try JSONDecoder().decode(ReassignmentPlanFile.self, from: data) } catch {
            throw KafkaExecutionError(.invalidPlan, "not a Mitosis plan file (\(error)); write one with `mitosis kafka plan`")
        }
        try plan.validate()
        return plan
    }

    /// Checks what the executor relies on: a known format, each partition once per stage, no
    /// empty or duplicated replica lists.
    public func validate() throws(KafkaExecutionError) {
        guard format == Self.formatName else {
            throw KafkaExecutionError(.invalidPlan, "unknown plan format \"\(format)\"; expected \"\(Self.formatName)\"")
        }
        guard version == Self.currentVersion else {
            throw KafkaExecutionError(.invalidPlan, "plan version \(version) is not supported (this tool reads \(Self.currentVersion))")
        }
        for stage in stages {
            var seen: Set<TopicPartition> = []
            for move in stage.moves {
                guard seen.insert(move.topicPartition).inserted else {
                    throw KafkaExecutionError(.invalidPlan, "stage \(stage.number) moves \(move.topicPartition) twice",
                                              partitions: [move.topicPartition])
                }
                guard !move.after.isEmpty, Set(move.after).count == move.after.count else {
                    throw KafkaExecutionError(.invalidPlan, "stage \(stage.number): \(move.topicPartition) has target replicas "
                        + "\(move.after), which must be non-empty and distinct", partitions: [move.topicPartition])
                }
            }
        }
    }

    /// The JSON written to disk: keys sorted, one line.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs, arrays and integers cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }
}

// MARK: - One partition's progress

/// A partition's reassignment, judged from `/admin/reassign_partitions`, `/brokers/topics/T` and
/// the partition's state znode, the way the controller decides it (complete when every target
/// replica is in the ISR; then it writes the target as the replica list and drops the entry).
public enum PartitionReassignmentProgress: Sendable, Hashable {
    /// Still listed; the controller has not started it yet (no union replica set written).
    case waiting
    /// Still listed; `inSync` of the target replicas are in the ISR.
    case copying(inSync: Int, of: Int)
    /// No longer listed and the replica list is the target.
    case completed
    /// No longer listed but the replica list is not the target: the controller refused it.
    case failed(reason: String)

    /// - Parameters:
    ///   - target: the replicas this run asked for.
    ///   - listed: the target in `/admin/reassign_partitions`, nil when the entry is gone.
    ///   - replicas / adding / removing: the partition's lists in `/brokers/topics/T` (nil: no such partition).
    ///   - isr: from the partition's state znode.
    public static func evaluate(target: [BrokerID], listed: [BrokerID]?, replicas: [BrokerID]?,
                                adding: [BrokerID], removing: [BrokerID], isr: [BrokerID]) -> PartitionReassignmentProgress {
        guard let replicas else {
            return listed == nil ? .failed(reason: "the partition no longer exists under /brokers/topics") : .waiting
        }
        if listed != nil {
            let started = !adding.isEmpty || !removing.isEmpty || Set(replicas) == Set(target)
            guard started else { return .waiting }
            return .copying(inSync: target.filter(isr.contains).count, of: target.count)
        }
        if replicas == target && adding.isEmpty && removing.isEmpty { return .completed }
        if Set(replicas) == Set(target) && adding.isEmpty && removing.isEmpty {
            return .failed(reason: "replicas are \(replicas), the target in another order (\(target)); was the "
                + "reassignment replaced by another one?")
        }
        return .failed(reason: "the controller dropped it from /admin/reassign_partitions but the replicas are \(replicas), "
            + "not \(target): it refused the move (an unknown or offline target broker, or a topic being deleted); "
            + "see the controller's log (controller.log)")
    }
}

// MARK: - Stalls and sustained conditions

/// Decides when a reassignment has made no progress for `timeout`: progress is any change in what
/// the znodes say (entries left, replica lists, ISRs). Pure: the caller passes the time.
public struct StallDetector<Signature: Hashable & Sendable>: Sendable {
    public var timeout: Duration
    public private(set) var lastSignature: Signature?
    public private(set) var lastChange: ContinuousClock.Instant?

    public init(timeout: Duration) { self.timeout = timeout }

    /// Records an observation; returns how long nothing has changed when that is at least
    /// `timeout`, nil otherwise.
    public mutating func observe(_ signature: Signature, at now: ContinuousClock.Instant) -> Duration? {
        if signature != lastSignature || lastChange == nil {
            lastSignature = signature
            lastChange = now
            return nil
        }
        let quiet = now - lastChange!
        return quiet >= timeout ? quiet : nil
    }

    /// Starts the quiet period over (after an intervention such as a controller election).
    public mutating func reset(at now: ContinuousClock.Instant) { lastChange = now }
}

/// A condition that must hold without interruption for `period` (e.g. no under-replicated
/// partitions for 30 s). Pure: the caller passes the time.
public struct SustainedCondition: Sendable, Hashable {
    public var period: Duration
    public private(set) var holdingSince: ContinuousClock.Instant?

    public init(period: Duration) { self.period = period }

    /// Records an observation; true once the condition has held for `period` (a zero period is
    /// met by one good observation).
    public mutating func observe(_ holds: Bool, at now: ContinuousClock.Instant) -> Bool {
        guard holds else { holdingSince = nil; return false }
        if holdingSince == nil { holdingSince = now }
        return now - holdingSince! >= period
    }
}

// MARK: - Events and errors

/// What the executor tells its caller as it goes (the CLI prints these to stderr).
public enum ReassignmentEvent: Sendable, Hashable, Codable, CustomStringConvertible {
    public struct Lag: Sendable, Hashable, Codable {
        public var topic: String
        public var partition: Int
        /// Target replicas not yet in the ISR.
        public var replicasNotInSync: [BrokerID]

        public init(topic: String, partition: Int, replicasNotInSync: [BrokerID]) {
            self.topic = topic; self.partition = partition; self.replicasNotInSync = replicasNotInSync
        }
    }

    case stageStarted(stage: Int, stages: Int, partitions: Int, batches: Int)
    /// Partitions of the stage already where the plan puts them (a resumed run).
    case alreadyMoved(stage: Int, partitions: [TopicPartition])
    /// A reassignment of this plan's partitions was already in flight; the run follows it.
    case adoptedInFlight(stage: Int, partitions: [TopicPartition])
    case throttlesSet(bytesPerSecond: Int, brokers: [BrokerID], topics: [String])
    /// `written`: this run created `/admin/reassign_partitions` for the batch (false: it follows one in flight).
    case batchStarted(stage: Int, batch: Int, batches: Int, partitions: [TopicPartition], written: Bool)
    case progress(stage: Int, batch: Int, partitionsLeft: Int, partitions: Int, replicasInSync: Int, replicasWanted: Int)
    case partitionCompleted(stage: Int, partition: TopicPartition)
    case stalled(stage: Int, batch: Int, seconds: Double, controller: BrokerID?, lagging: [Lag])
    case controllerElectionForced(previousController: BrokerID?)
    case batchCompleted(stage: Int, batch: Int)
    case stageCompleted(stage: Int)
    case throttlesCleared(brokers: [BrokerID], topics: [String])
    case throttleClearFailed(message: String)

    public var description: String {
        switch self {
        case .stageStarted(let stage, let stages, let partitions, let batches):
            return "stage \(stage)/\(stages): \(partitions) partitions to move in \(batches) batches"
        case .alreadyMoved(let stage, let partitions):
            return "stage \(stage): \(partitions.count) partitions already in place (\(listed(partitions)))"
        case .adoptedInFlight(let stage, let partitions):
            return "stage \(stage): following the reassignment of \(partitions.count) partitions already in flight"
        case .throttlesSet(let rate, let brokers, let topics):
            return "replication throttle \(rate) B/s on brokers \(listed(brokers, limit: 20)), throttled replicas on \(topics.count) topics"
        case .batchStarted(let stage, let batch, let batches, let partitions, let written):
            return "stage \(stage) batch \(batch)/\(batches): " + (written ? "wrote /admin/reassign_partitions with" : "following")
                + " \(partitions.count) partitions"
        case .progress(let stage, let batch, let left, let total, let inSync, let wanted):
            return "stage \(stage) batch \(batch): \(total - left)/\(total) partitions done, \(inSync)/\(wanted) target replicas in sync"
        case .partitionCompleted(_, let partition):
            return "\(partition) reassigned"
        case .stalled(let stage, let batch, let seconds, let controller, let lagging):
            let lag = lagging.prefix(5).map { "\($0.topic)-\($0.partition) waits for \($0.replicasNotInSync)" }.joined(separator: "; ")
            return "stage \(stage) batch \(batch): no progress for \(Int(seconds)) s (controller \(controller.map { "\($0)" } ?? "none")); \(lag)"
        case .controllerElectionForced(let previous):
            return "deleted /controller (was broker \(previous.map { "\($0)" } ?? "none")): the brokers elect a new controller, "
                + "which re-reads /admin/reassign_partitions and resumes the reassignment"
        case .batchCompleted(let stage, let batch):
            return "stage \(stage) batch \(batch) complete"
        case .stageCompleted(let stage):
            return "stage \(stage) complete"
        case .throttlesCleared(let brokers, let topics):
            return "replication throttles removed from \(brokers.count) brokers and \(topics.count) topics"
        case .throttleClearFailed(let message):
            return "could not remove the replication throttles: \(message)"
        }
    }
}

/// Why a reassignment could not be run or finished, and what to do.
public struct KafkaExecutionError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// Another reassignment is running (the znode exists or topics carry adding/removing replicas).
        public static let reassignmentInProgress = Code(rawValue: "reassignment-in-progress")
        /// Partitions are neither where the plan found them nor where it puts them.
        public static let assignmentDrift = Code(rawValue: "assignment-drift")
        /// The controller dropped partitions without moving them.
        public static let reassignmentFailed = Code(rawValue: "reassignment-failed")
        /// No progress for the stall timeout.
        public static let stalled = Code(rawValue: "stalled")
        /// Someone else changed `/admin/reassign_partitions` while this run followed it.
        public static let reassignmentChanged = Code(rawValue: "reassignment-changed")
        public static let invalidPlan = Code(rawValue: "invalid-plan")
        /// The plan breaks a rule that keeps data available (``ReassignmentPlanFile/checkSafety(against:)``).
        public static let unsafePlan = Code(rawValue: "unsafe-plan")
    }
    public var code: Code
    public var message: String
    public var partitions: [TopicPartition]
    public init(_ code: Code, _ message: String, partitions: [TopicPartition] = []) {
        self.code = code; self.message = message; self.partitions = partitions
    }
    public var description: String { "\(code): \(message)" }
}

/// What a run did.
public struct ReassignmentOutcome: Sendable, Hashable, Codable {
    public var stagesCompleted: Int
    public var partitionsMoved: Int
    /// Partitions that were already where the plan puts them.
    public var partitionsAlreadyInPlace: Int
    public var controllerElectionsForced: Int
    public init(stagesCompleted: Int = 0, partitionsMoved: Int = 0, partitionsAlreadyInPlace: Int = 0, controllerElectionsForced: Int = 0) {
        self.stagesCompleted = stagesCompleted; self.partitionsMoved = partitionsMoved
        self.partitionsAlreadyInPlace = partitionsAlreadyInPlace; self.controllerElectionsForced = controllerElectionsForced
    }
}

// MARK: - Where a stage stands

/// A stage compared with the cluster before it runs: which partitions are already in place, which
/// are being moved by a reassignment this plan started (a resumed run follows it), and which are
/// still to move. Refuses, before anything is written, when another reassignment is in flight or
/// partitions are neither where the plan found them nor where it puts them.
public struct StageAssessment: Sendable, Hashable {
    public var inPlace: [TopicPartition]
    /// Listed in `/admin/reassign_partitions` with this plan's target.
    public var inFlight: [PartitionMove]
    /// Batches of partitions still to move, `before` being their replicas now.
    public var batches: [[PartitionMove]]

    public var partitionsToMove: Int { inFlight.count + batches.reduce(0) { $0 + $1.count } }

    /// `later` are the stages that follow this one: a partition already where one of them puts it
    /// (a resumed run that got further) counts as in place.
    public init(_ stage: ExecutionStage, state: KafkaClusterState, later: [ExecutionStage] = []) throws(KafkaExecutionError) {
        let moves = Dictionary(stage.moves.map { ($0.topicPartition, $0) }, uniquingKeysWith: { first, _ in first })
        var laterTargets: [TopicPartition: [Set<BrokerID>]] = [:]
        for next in later { for move in next.moves { laterTargets[move.topicPartition, default: []].append(Set(move.after)) } }
        let current = state.assignment

        // Another reassignment in flight: entries of /admin/reassign_partitions that are not this
        // stage's (or have another target), and partitions with adding/removing replicas that the
        // znode does not list (a reassignment started through the AdminClient API).
        let inZNode = state.reassignmentsInProgress
        let foreign = inZNode.filter { moves[$0.key]?.after != $0.value }.keys.sorted()
        var apiDriven: [TopicPartition] = []
        for topic in state.topics.values {
            for (partition, adding) in topic.addingReplicas where !adding.isEmpty {
                apiDriven.append(TopicPartition(topic.name, partition))
            }
            for (partition, removing) in topic.removingReplicas where !removing.isEmpty {
                apiDriven.append(TopicPartition(topic.name, partition))
            }
        }
        apiDriven = Set(apiDriven).filter { inZNode[$0] == nil }.sorted()
        guard foreign.isEmpty, apiDriven.isEmpty else {
            var reasons: [String] = []
            if !foreign.isEmpty {
                reasons.append("/admin/reassign_partitions lists \(listed(foreign)), which this stage does not move there")
            }
            if !apiDriven.isEmpty {
                reasons.append("\(listed(apiDriven)) carry adding_replicas/removing_replicas in /brokers/topics "
                    + "(a reassignment started through the Admin API)")
            }
            throw KafkaExecutionError(.reassignmentInProgress, "another reassignment is in flight: " + reasons.joined(separator: "; ")
                + ". Kafka runs one at a time; wait for it to finish (`mitosis kafka status`) and run again",
                partitions: (foreign + apiDriven).sorted())
        }

        var inPlace: [TopicPartition] = []
        var inFlight: [PartitionMove] = []
        var toMove: [TopicPartition: PartitionMove] = [:]
        var drifted: [String] = []
        var driftedPartitions: [TopicPartition] = []
        for move in stage.moves {
            let partition = move.topicPartition
            guard let replicas = current[partition] else {
                drifted.append("\(partition) no longer exists")
                driftedPartitions.append(partition)
                continue
            }
            if inZNode[partition] != nil {
                let origin = replicas.filter { !(state.topics[partition.topic]?.addingReplicas[partition.partition] ?? []).contains($0) }
                inFlight.append(PartitionMove(partition, before: origin, after: move.after))
            } else if replicas == move.after || laterTargets[partition, default: []].contains(Set(replicas)) {
                inPlace.append(partition)
            } else if Set(replicas) == Set(move.before) || Set(replicas) == Set(move.after) {
                toMove[partition] = PartitionMove(partition, before: replicas, after: move.after)
            } else {
                drifted.append("\(partition) is on \(replicas), the plan expected \(move.before) (or \(move.after) once moved)")
                driftedPartitions.append(partition)
            }
        }
        guard drifted.isEmpty else {
            throw KafkaExecutionError(.assignmentDrift, "stage \(stage.number): partitions changed since the plan was made: "
                + listed(drifted, limit: 3) + ". Make a new plan from the cluster as it is (`mitosis kafka plan`)",
                partitions: driftedPartitions)
        }
        self.inPlace = inPlace.sorted()
        self.inFlight = inFlight.sorted { $0.topicPartition < $1.topicPartition }
        self.batches = stage.batches.map { batch in batch.compactMap { toMove[$0.topicPartition] } }.filter { !$0.isEmpty }
    }
}
