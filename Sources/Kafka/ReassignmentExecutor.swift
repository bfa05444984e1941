import Foundation
import ZooKeeper

/// Runs a reassignment plan against a Kafka cluster in ZooKeeper mode, the way
/// `kafka-reassign-partitions --execute` / `--verify` do, but stage by stage and batch by batch:
///
/// - before each stage it reads the cluster and refuses while another reassignment is in flight
///   (`/admin/reassign_partitions` exists with other partitions, or topics carry
///   `adding_replicas`/`removing_replicas`); a reassignment of this plan's own partitions (a run
///   that was interrupted) is followed instead. Partitions already in place are skipped, so a
///   plan can be run again until it is done;
/// - with a throttle, it sets `leader|follower.replication.throttled.rate` on the brokers involved
///   and `leader|follower.replication.throttled.replicas` on the topics of each batch (each change
///   announced under `/config/changes`), and removes them when the run ends, whether it succeeds,
///   fails or is cancelled;
/// - it creates `/admin/reassign_partitions` for one batch, follows the controller's progress
///   (the znode's watch, and polls of the topic and partition state znodes) and starts the next
///   batch only when every partition of this one has its target replica list;
/// - when nothing changes for `stallTimeout` it stops and explains, or, only when
///   `forceControllerElectionOnStall` is set, deletes `/controller` so the brokers elect a new
///   controller that resumes the reassignment (Blockport's remedy), at most
///   `maxControllerElectionsPerBatch` times per batch.
public struct ReassignmentExecutor: Sendable {
    public struct Options: Sendable, Hashable {
        /// Replication throttle in bytes per second; nil sets none.
        public var throttleBytesPerSecond: Int?
        /// How often partition state is read when the reassignment znode does not change.
        public var pollInterval: Duration
        /// No change in the znodes for this long counts as a stall.
        public var stallTimeout: Duration
        /// Delete `/controller` on a stall (forcing a controller election) instead of stopping.
        public var forceControllerElectionOnStall: Bool
        public var maxControllerElectionsPerBatch: Int
        /// `min.insync.replicas` from the brokers' server.properties, for topics that set none in
        /// ZooKeeper (the plan must keep that many replicas on old brokers until its last stage).
        public var minInsyncReplicas: Int

        public init(throttleBytesPerSecond: Int? = nil, pollInterval: Duration = .seconds(2), stallTimeout: Duration = .seconds(600),
                    forceControllerElectionOnStall: Bool = false, maxControllerElectionsPerBatch: Int = 1, minInsyncReplicas: Int = 1) {
            self.throttleBytesPerSecond = throttleBytesPerSecond; self.pollInterval = pollInterval
            self.stallTimeout = stallTimeout; self.forceControllerElectionOnStall = forceControllerElectionOnStall
            self.maxControllerElectionsPerBatch = maxControllerElectionsPerBatch; self.minInsyncReplicas = minInsyncReplicas
        }
    }

    public typealias EventHandler = @Sendable (ReassignmentEvent) -> Void

    public let zookeeper: ZooKeeperClient
    public var options: Options

    /// `zookeeper` is connected to Kafka's chroot (`zk:2181/kafka`).
    public init(zookeeper: ZooKeeperClient, options: Options = Options()) {
        self.zookeeper = zookeeper
        self.options = options
    }

    /// Runs every stage of `plan`. Throttles this run set are removed before it returns or throws.
    @discardableResult
    public func run(_ plan: ReassignmentPlanFile, events: @escaping EventHandler = { _ in }) async throws -> ReassignmentOutcome {
        try plan.validate()
        // Before anything moves: the plan as it is now keeps the planner's guarantees.
        try plan.checkSafety(against: try await KafkaMetadataReader.read(zookeeper, staticMinInsyncReplicas: options.minInsyncReplicas).state)
        var ledger = ThrottleLedger()
        var outcome = ReassignmentOutcome()
        do {
            for (index, stage) in plan.stages.enumerated() {
                try await run(stage, of: plan.stages.count, later: Array(plan.stages[(index + 1)...]), ledger: &ledger,
                              outcome: &outcome, events: events)
            }
        } catch {
            // Cancellation does not stop the cleanup: it runs in a task of its own, which the
            // run's cancellation does not reach (the client fails a cancelled caller's requests).
            let problems = await Task { [self, ledger] in await clear(ledger, events: events) }.value
            if !problems.isEmpty { events(.throttleClearFailed(message: problems.joined(separator: "; "))) }
            throw error
        }
        let problems = await clear(ledger, events: events)
        guard problems.isEmpty else {
            throw KafkaMetadataError("the reassignment finished but its throttles could not all be removed: "
                + problems.joined(separator: "; "))
        }
        return outcome
    }

    // MARK: Stages and batches

    private func run(_ stage: ExecutionStage, of stages: Int, later: [ExecutionStage], ledger: inout ThrottleLedger,
                     outcome: inout ReassignmentOutcome, events: EventHandler) async throws {
        let state = try await KafkaMetadataReader.read(zookeeper).state
        let assessment = try StageAssessment(stage, state: state, later: later)
        if !assessment.inPlace.isEmpty {
            outcome.partitionsAlreadyInPlace += assessment.inPlace.count
            events(.alreadyMoved(stage: stage.number, partitions: assessment.inPlace))
        }
        let batches = (assessment.inFlight.isEmpty ? [] : [assessment.inFlight]) + assessment.batches
        events(.stageStarted(stage: stage.number, stages: stages, partitions: assessment.partitionsToMove, batches: batches.count))
        if !assessment.inFlight.isEmpty {
            events(.adoptedInFlight(stage: stage.number, partitions: assessment.inFlight.map(\.topicPartition)))
        }
        for (index, batch) in batches.enumerated() {
            try await applyThrottles(batch, ledger: &ledger, events: events)
            let adopted = index == 0 && !assessment.inFlight.isEmpty
            if !adopted { try await submit(batch) }
            events(.batchStarted(stage: stage.number, batch: index + 1, batches: batches.count, partitions: batch.map(\.topicPartition),
                                 written: !adopted))
            try await follow(batch, stage: stage.number, batch: index + 1, outcome: &outcome, events: events)
            events(.batchCompleted(stage: stage.number, batch: index + 1))
        }
        outcome.stagesCompleted += 1
        events(.stageCompleted(stage: stage.number))
    }

    /// Creates `/admin/reassign_partitions` for `batch`, as Kafka's tool does: a create, so a
    /// reassignment someone else started in the meantime is never overwritten.
    private func submit(_ batch: [PartitionMove]) async throws {
        let node = ReassignPartitionsZNode(batch.map { PartitionReassignment(topic: $0.topic, partition: $0.partition, replicas: $0.after) })
        try await KafkaConfigChanges.ensurePath(zookeeper, "/admin")
        do {
            try await zookeeper.create(ReassignPartitionsZNode.path, data: Array(node.data()))
        } catch let error as ZooKeeperError where error.code == .nodeExists {
            throw KafkaExecutionError(.reassignmentInProgress, "/admin/reassign_partitions appeared while this run was starting a "
                + "batch: someone else started a reassignment; wait for it to finish and run again",
                partitions: batch.map(\.topicPartition))
        }
    }

    /// Follows `batch` until every partition has its target replicas.
    private func follow(_ batch: [PartitionMove], stage: Int, batch number: Int,
                        outcome: inout ReassignmentOutcome, events: EventHandler) async throws {
        let targets = Dictionary(uniqueKeysWithValues: batch.map { ($0.topicPartition, $0.after) })
        var remaining = targets
        var detector = StallDetector<[TopicPartition: [[BrokerID]]]>(timeout: options.stallTimeout)
        var elections = 0
        var watch: Watch?
        var lastProgress: ReassignmentEvent?
        while true {
            // The reassignment znode first: the controller writes a partition's final replica list
            // before it drops the partition's entry, so what is gone here is final below.
            var inZNode: [TopicPartition: [BrokerID]] = [:]
            do {
                let data: [UInt8]
                if watch == nil {
                    let read = try await zookeeper.getDataAndWatch(ReassignPartitionsZNode.path)
                    (data, watch) = (read.data, read.watch)
                } else {
                    data = try await zookeeper.getData(ReassignPartitionsZNode.path).data
                }
                for entry in try ReassignPartitionsZNode(data: Data(data), path: ReassignPartitionsZNode.path).partitions {
                    inZNode[entry.topicPartition] = entry.replicas
                }
            } catch let error as ZooKeeperError where error.code == .noNode {
                watch = nil
            }
            let foreign = inZNode.filter { targets[$0.key] != $0.value }.keys.sorted()
            guard foreign.isEmpty else {
                throw KafkaExecutionError(.reassignmentChanged, "/admin/reassign_partitions now lists \(listed(foreign)) with targets "
                    + "this run did not write: someone else changed it. The partitions of this batch still listed keep moving; "
                    + "check `mitosis kafka status` before running again", partitions: foreign)
            }

            let (topics, states) = try await readPartitions(Array(remaining.keys))
            var failures: [String] = []
            var failed: [TopicPartition] = []
            var inSync = 0, wanted = 0
            var lagging: [ReassignmentEvent.Lag] = []
            var signature: [TopicPartition: [[BrokerID]]] = [:]
            for (partition, target) in remaining.sorted(by: { $0.key < $1.key }) {
                let topic = topics[partition.topic] ?? nil
                let replicas = topic?.partitions[partition.partition]
                let adding = topic?.addingReplicas[partition.partition] ?? []
                let removing = topic?.removingReplicas[partition.partition] ?? []
                let isr = states[partition]?.isr ?? []
                signature[partition] = [inZNode[partition] ?? [], replicas ?? [], adding, removing, isr]
                switch PartitionReassignmentProgress.evaluate(target: target, listed: inZNode[partition], replicas: replicas,
                                                              adding: adding, removing: removing, isr: isr) {
                case .completed:
                    remaining[partition] = nil
                    outcome.partitionsMoved += 1
                    events(.partitionCompleted(stage: stage, partition: partition))
                case .failed(let reason):
                    failures.append("\(partition): \(reason)")
                    failed.append(partition)
                case .waiting:
                    inSync += target.filter(isr.contains).count
                    wanted += target.count
                    lagging.append(.init(topic: partition.topic, partition: partition.partition, replicasNotInSync: target.filter { !isr.contains($0) }))
                case .copying(let count, let of):
                    inSync += count
                    wanted += of
                    if count < of {
                        lagging.append(.init(topic: partition.topic, partition: partition.partition, replicasNotInSync: target.filter { !isr.contains($0) }))
                    }
                }
            }
            guard failures.isEmpty else {
                let still = remaining.count - failed.count
                throw KafkaExecutionError(.reassignmentFailed, failures.joined(separator: "; ")
                    + (still > 0 ? ". The \(still) other partitions of this batch are still being moved by Kafka" : ""), partitions: failed)
            }
            if remaining.isEmpty { return }

            let progress = ReassignmentEvent.progress(stage: stage, batch: number, partitionsLeft: remaining.count, partitions: targets.count,
                                                      replicasInSync: inSync, replicasWanted: wanted)
            if progress != lastProgress { events(progress) }
            lastProgress = progress

            if let quiet = detector.observe(signature, at: .now) {
                let controller = try? await readController()
                events(.stalled(stage: stage, batch: number, seconds: quiet.seconds, controller: controller, lagging: lagging))
                guard options.forceControllerElectionOnStall, elections < options.maxControllerElectionsPerBatch else {
                    throw stallError(stage: stage, batch: number, quiet: quiet, controller: controller, lagging: lagging, elections: elections)
                }
                let previous = try await forceControllerElection()
                elections += 1
                outcome.controllerElectionsForced += 1
                events(.controllerElectionForced(previousController: previous))
                detector.reset(at: .now)
            }

            try Task.checkCancellation()
            if let pending = watch {
                do {
                    if try await pending.event(within: options.pollInterval) != nil { watch = nil }
                } catch {
                    // The session is gone or the client closed: the next read says which.
                    watch = nil
                    try await Task.sleep(for: options.pollInterval)
                }
            } else {
                try await Task.sleep(for: options.pollInterval)
            }
            try Task.checkCancellation()
        }
    }

    private func stallError(stage: Int, batch: Int, quiet: Duration, controller: BrokerID?, lagging: [ReassignmentEvent.Lag],
                            elections: Int) -> KafkaExecutionError {
        let waiting = lagging.prefix(5).map { "\($0.topic)-\($0.partition) waits for brokers \($0.replicasNotInSync)" }
            .joined(separator: ", ")
        var message = "stage \(stage) batch \(batch) made no progress for \(Int(quiet.seconds)) s"
            + (waiting.isEmpty ? "" : " (\(waiting))") + "; controller is \(controller.map { "broker \($0)" } ?? "unknown"). "
            + "The reassignment is still in flight in Kafka; this run removes its throttles as it stops. "
        if elections > 0 {
            message += "\(elections) forced controller election(s) did not help: look at the lagging brokers' logs "
                + "(a stuck replica fetcher is cured by restarting that broker). "
        } else {
            message += "Check the lagging brokers' logs first (a stuck replica fetcher is cured by restarting that broker). "
                + "A controller that stopped processing is cured by deleting /controller: the brokers elect a new controller, "
                + "which re-reads /admin/reassign_partitions and resumes; partitions keep their leaders, only controller work "
                + "pauses for the election. Run again with --force-controller-election-on-stall to have Mitosis do that. "
        }
        message += "Running the same plan again follows the reassignment in flight."
        return KafkaExecutionError(.stalled, message, partitions: lagging.map { TopicPartition($0.topic, $0.partition) })
    }

    // MARK: The controller

    /// The active controller's broker id, nil when there is none.
    public func readController() async throws -> BrokerID? {
        do {
            let (data, _) = try await zookeeper.getData(ControllerZNode.path)
            return try ControllerZNode(data: Data(data), path: ControllerZNode.path).brokerID
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// Deletes `/controller` (only the registration read, by its version), which makes every broker
    /// race to become controller; the winner reloads all state from ZooKeeper, including
    /// `/admin/reassign_partitions`. Partition leaders stay; controller work (leader elections,
    /// ISR changes) pauses for the election. Returns the previous controller, nil if there was none
    /// or another election had already replaced it.
    @discardableResult
    public func forceControllerElection() async throws -> BrokerID? {
        do {
            let (data, stat) = try await zookeeper.getData(ControllerZNode.path)
            let previous = try? ControllerZNode(data: Data(data), path: ControllerZNode.path).brokerID
            try await zookeeper.delete(ControllerZNode.path, version: stat.version)
            return previous
        } catch let error as ZooKeeperError where error.code == .noNode || error.code == .badVersion {
            return nil
        }
    }

    // MARK: Throttles

    /// Entities whose throttle settings this run wrote.
    struct ThrottleLedger: Sendable {
        var brokers: Set<BrokerID> = []
        var topics: Set<String> = []
        /// Topics throttled for the batch now running.
        var activeTopics: Set<String> = []
    }

    private func applyThrottles(_ batch: [PartitionMove], ledger: inout ThrottleLedger, events: EventHandler) async throws {
        guard let rate = options.throttleBytesPerSecond else { return }
        var before = ReplicaAssignment(), after = ReplicaAssignment()
        for move in batch {
            before[move.topicPartition] = move.before
            after[move.topicPartition] = move.after
        }
        let throttles = ReplicationThrottles(from: before, to: after)
        let rateText = String(rate)
        for broker in throttles.brokers {
            // Recorded before writing: a write whose reply was lost is still cleared afterwards.
            ledger.brokers.insert(broker)
            try await KafkaConfigChanges.change(zookeeper, .broker(broker)) { config in
                var config = config
                config[ReplicationThrottles.leaderRateKey] = rateText
                config[ReplicationThrottles.followerRateKey] = rateText
                return config
            }
        }
        for topic in ledger.activeTopics.subtracting(throttles.topics).sorted() {
            try await KafkaConfigChanges.change(zookeeper, .topic(topic)) { Self.withoutReplicaThrottles($0) }
        }
        for topic in throttles.topics {
            ledger.topics.insert(topic)
            try await KafkaConfigChanges.change(zookeeper, .topic(topic)) { throttles.applied(to: $0, topic: topic) }
        }
        ledger.activeTopics = Set(throttles.topics)
        events(.throttlesSet(bytesPerSecond: rate, brokers: throttles.brokers, topics: throttles.topics))
    }

    /// Removes what the ledger recorded; returns what could not be removed, with how to do it by hand.
    private func clear(_ ledger: ThrottleLedger, events: EventHandler) async -> [String] {
        guard !ledger.brokers.isEmpty || !ledger.topics.isEmpty else { return [] }
        var problems: [String] = []
        for broker in ledger.brokers.sorted() {
            do {
                try await KafkaConfigChanges.change(zookeeper, .broker(broker)) { config in
                    var config = config
                    config[ReplicationThrottles.leaderRateKey] = nil
                    config[ReplicationThrottles.followerRateKey] = nil
                    return config
                }
            } catch {
                problems.append("broker \(broker): \(error) (kafka-configs --alter --entity-type brokers --entity-name \(broker) "
                    + "--delete-config \(ReplicationThrottles.leaderRateKey),\(ReplicationThrottles.followerRateKey))")
            }
        }
        for topic in ledger.topics.sorted() {
            do {
                try await KafkaConfigChanges.change(zookeeper, .topic(topic)) { Self.withoutReplicaThrottles($0) }
            } catch {
                problems.append("topic \(topic): \(error) (kafka-configs --alter --entity-type topics --entity-name \(topic) "
                    + "--delete-config \(ReplicationThrottles.leaderKey),\(ReplicationThrottles.followerKey))")
            }
        }
        if problems.isEmpty { events(.throttlesCleared(brokers: ledger.brokers.sorted(), topics: ledger.topics.sorted())) }
        return problems
    }

    static func withoutReplicaThrottles(_ config: EntityConfigZNode) -> EntityConfigZNode {
        var config = config
        config[ReplicationThrottles.leaderKey] = nil
        config[ReplicationThrottles.followerKey] = nil
        return config
    }

    // MARK: Reads

    /// The topic znodes of `partitions`' topics (nil: gone) and their partitions' state znodes, read in parallel.
    private func readPartitions(_ partitions: [TopicPartition]) async throws
        -> ([String: TopicAssignmentZNode?], [TopicPartition: PartitionStateZNode])
    {
        let zk = zookeeper
        let topicNames = Set(partitions.map(\.topic))
        let topics = try await withThrowingTaskGroup(of: (String, TopicAssignmentZNode?).self) { group in
            for name in topicNames {
                group.addTask {
                    let path = TopicAssignmentZNode.path(name)
                    guard let data = try await Self.readIfPresent(zk, path) else { return (name, nil) }
                    return (name, try TopicAssignmentZNode(data: data, path: path))
                }
            }
            var result: [String: TopicAssignmentZNode?] = [:]
            for try await (name, node) in group { result[name] = node }
            return result
        }
        let states = try await withThrowingTaskGroup(of: (TopicPartition, PartitionStateZNode?).self) { group in
            for partition in partitions {
                group.addTask {
                    let path = PartitionStateZNode.path(partition)
                    guard let data = try await Self.readIfPresent(zk, path) else { return (partition, nil) }
                    return (partition, try PartitionStateZNode(data: data, path: path))
                }
            }
            var result: [TopicPartition: PartitionStateZNode] = [:]
            for try await (partition, node) in group { result[partition] = node }
            return result
        }
        return (topics, states)
    }

    static func readIfPresent(_ zk: ZooKeeperClient, _ path: String) async throws -> Data? {
        do {
            return Data(try await zk.getData(path).data)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }
}
