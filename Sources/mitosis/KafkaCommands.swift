import ArgumentParser
import Foundation
import Kafka
import ZooKeeper

struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "The Kafka side: cluster state, reassignment plans and their execution, through ZooKeeper.",
        subcommands: [KafkaStatus.self, KafkaPlan.self, KafkaRun.self, KafkaSwitch.self, KafkaKRaft.self]
    )
}

struct KafkaStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Brokers, controller, topics, under-replicated/offline/under-min-ISR partitions and reassignments, from Kafka's znodes. Exit code 1 when partitions are unhealthy.",
        discussion: "Point -s at Kafka's zookeeper.connect, chroot included, e.g. -s zk1:2181,zk2:2181/kafka"
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "min.insync.replicas from the brokers' server.properties (ZooKeeper does not hold it).") var minInsyncReplicas = 1

    struct Report: Encodable {
        var brokers: [Broker]
        var controller: Int?
        var controllerEpoch: Int?
        var topics: [TopicRow]
        var underReplicated: [String]
        var offline: [String]
        var underMinInsyncReplicas: [String]
        var reassignmentsInProgress: [String: [Int]]
        var reassignmentRunningSeconds: Double?
        /// Every partition being reassigned (through the znode or the Admin API), with its progress.
        var reassignments: [Reassignment]
        var pendingPreferredLeaderElections: [String]
        var notOnPreferredLeader: [String]

        struct Reassignment: Encodable {
            var partition: String
            var target: [Int]
            var adding: [Int]
            var removing: [Int]
            var targetReplicasInSync: Int
            var startedThrough: String
            /// Since the znode was created (ZooKeeper-driven) or at least since the topic znode was last written (API-driven).
            var runningSeconds: Double?
        }

        struct Broker: Encodable { var id: Int; var rack: String?; var endpoints: [String] }
        struct TopicRow: Encodable { var name: String; var partitions: Int; var replicationFactor: Int; var minInsyncReplicas: Int }
    }

    func run() async throws {
        let minimum = minInsyncReplicas
        let snapshot = try await connection.withClient { try await KafkaMetadataReader.read($0, staticMinInsyncReplicas: minimum) }
        let state = snapshot.state
        let report = Report(
            brokers: state.brokers.values.sorted { $0.id < $1.id }.map { .init(id: $0.id.rawValue, rack: $0.rack, endpoints: $0.endpoints) },
            controller: state.controller?.rawValue, controllerEpoch: state.controllerEpoch,
            topics: state.topics.values.sorted { $0.name < $1.name }.map {
                .init(name: $0.name, partitions: $0.partitions.count, replicationFactor: $0.replicationFactor, minInsyncReplicas: state.minInsyncReplicas(for: $0.name))
            },
            underReplicated: state.underReplicatedPartitions.map(\.description),
            offline: state.offlinePartitions.map(\.description),
            underMinInsyncReplicas: state.underMinInsyncReplicasPartitions.map(\.description),
            reassignmentsInProgress: Dictionary(uniqueKeysWithValues: state.reassignmentsInProgress.map { ($0.key.description, $0.value.map(\.rawValue)) }),
            reassignmentRunningSeconds: snapshot.reassignmentStarted.map { Date().timeIntervalSince1970 - Double($0) / 1000 },
            reassignments: state.reassigningPartitions.sorted { $0.key < $1.key }.map { partition, flight in
                let started = flight.listedInZNode ? snapshot.reassignmentStarted : snapshot.topicModified[partition.topic]
                let isr = state.partitionStates[partition]?.isr ?? []
                return .init(partition: partition.description, target: flight.target.map(\.rawValue), adding: flight.adding.map(\.rawValue),
                             removing: flight.removing.map(\.rawValue), targetReplicasInSync: flight.target.filter(isr.contains).count,
                             startedThrough: flight.listedInZNode ? "zookeeper" : "admin-api",
                             runningSeconds: started.map { Date().timeIntervalSince1970 - Double($0) / 1000 })
            },
            pendingPreferredLeaderElections: state.pendingPreferredReplicaElections.map(\.description),
            notOnPreferredLeader: state.partitionsNotOnPreferredLeader.map(\.description)
        )
        if connection.json {
            try Output.json(report)
        } else {
            var brokers = Table(["broker", "rack", "endpoints"])
            for broker in report.brokers { brokers.add([String(broker.id) + (broker.id == report.controller ? " (controller)" : ""), broker.rack ?? "-", broker.endpoints.joined(separator: " ")]) }
            Output.line(brokers.render())
            Output.line("")
            var topics = Table(["topic", "partitions", "RF", "min ISR"])
            for topic in report.topics { topics.add([topic.name, String(topic.partitions), String(topic.replicationFactor), String(topic.minInsyncReplicas)]) }
            Output.line(topics.render())
            Output.line("")
            Output.line("controller: \(report.controller.map(String.init) ?? "none") (epoch \(report.controllerEpoch.map(String.init) ?? "-"))")
            Output.line("under-replicated: \(report.underReplicated.count)  offline: \(report.offline.count)  under min ISR: \(report.underMinInsyncReplicas.count)")
            Output.line("not led by their preferred replica: \(report.notOnPreferredLeader.count)  pending preferred-leader elections: \(report.pendingPreferredLeaderElections.count)")
            if !report.reassignments.isEmpty {
                Output.line("")
                var table = Table(["reassigning", "target", "adding", "removing", "in sync", "via", "running"])
                for row in report.reassignments {
                    func ids(_ list: [Int]) -> String { list.isEmpty ? "-" : list.map(String.init).joined(separator: ",") }
                    table.add([row.partition, ids(row.target), ids(row.adding), ids(row.removing), "\(row.targetReplicasInSync)/\(row.target.count)",
                               row.startedThrough, row.runningSeconds.map { (row.startedThrough == "zookeeper" ? "" : "≥") + "\(Int($0)) s" } ?? "-"])
                }
                Output.line(table.render())
            }
            let onlyUnderReplicated = report.underReplicated.filter { !report.offline.contains($0) }
            for partition in onlyUnderReplicated.prefix(20) { Output.note("under-replicated: \(partition)") }
            if onlyUnderReplicated.count > 20 { Output.note("… and \(onlyUnderReplicated.count - 20) more under-replicated partitions (--json lists all)") }
            for partition in report.offline { Output.note("offline: \(partition)") }
            for partition in report.underMinInsyncReplicas { Output.note("under min.insync.replicas: \(partition)") }
        }
        // Under min.insync.replicas is as unhealthy as under-replicated: producers with acks=all fail.
        if !report.offline.isEmpty || !report.underReplicated.isEmpty || !report.underMinInsyncReplicas.isEmpty { throw ExitCode.failure }
    }
}

/// Broker ids in a comma-separated list.
private func brokerList(_ text: String, option: String) throws -> [BrokerID] {
    try text.split(separator: ",").map { item in
        guard let id = Int(item.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("\(option): '\(item)' is not a broker id")
        }
        return BrokerID(id)
    }
}

struct KafkaPlan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan a staged broker migration or a replication-factor change from the cluster as it is. Touches nothing.",
        discussion: """
            Writes into --output: plan.json (for `mitosis kafka run`), stage-N.json (the file \
            kafka-reassign-partitions --execute reads), stage-N-rollback.json (undoes stage N) and rollback.json \
            (back to the start). Prints replicas moved against the lower bound and against what Kafka's --generate \
            would move, and leaders per broker before and after.

            A migration (--move-brokers 1001=0,1002=1,…) moves every replica off the old brokers in --stages stages; \
            until the last one every partition keeps min.insync.replicas replicas on old brokers. The pairs name the \
            old and the new brokers; replicas are balanced over all new brokers (and racks), not copied one to one.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Migrate brokers: OLD=NEW pairs, e.g. 1001=0,1002=1,1003=2.") var moveBrokers: String?
    @Option(help: "Set the replication factor of --topics (default: every topic) to N.") var replicationFactor: Int?
    @Option(help: "Topics for --replication-factor, comma-separated.") var topics: String?
    @Option(help: "Brokers that may receive new replicas for --replication-factor (default: every registered broker).") var brokers: String?
    @Option(help: "Stages of a migration (Blockport used 3).") var stages = 3
    @Option(help: "Most partition moves one broker takes part in at once (batches within a stage).") var maxMovesPerBroker = 5
    @Option(help: "Seed for the planner's tie-breaking: the same cluster and seed give the same plan.") var seed: UInt64 = 0
    @Flag(help: "Ignore broker racks when placing replicas.") var ignoreRacks = false
    @Flag(help: "Let partitions with min.insync.replicas ≥ replication factor move whole in the last stage.") var allowUnstagedPartitions = false
    @Option(help: "min.insync.replicas from the brokers' server.properties (ZooKeeper does not hold it).") var minInsyncReplicas = 1
    @Option(name: [.short, .long], help: "Directory for the plan files.") var output = "kafka-plan"
    @Flag(help: "Plan even though partitions are under-replicated or offline (moving them risks their last copies).") var allowUnhealthy = false

    func validate() throws {
        guard (moveBrokers == nil) != (replicationFactor == nil) else {
            throw ValidationError("give either --move-brokers OLD=NEW,… or --replication-factor N")
        }
        if topics != nil && replicationFactor == nil { throw ValidationError("--topics goes with --replication-factor") }
        if brokers != nil && replicationFactor == nil { throw ValidationError("--brokers goes with --replication-factor") }
        if stages < 1 { throw ValidationError("--stages must be at least 1") }
        if maxMovesPerBroker < 1 { throw ValidationError("--max-moves-per-broker must be at least 1") }
        if let moveBrokers { _ = try Self.pairs(moveBrokers) }
        if let brokers { _ = try brokerList(brokers, option: "--brokers") }
    }

    static func pairs(_ text: String) throws -> (old: [BrokerID], new: [BrokerID]) {
        var old: [BrokerID] = [], new: [BrokerID] = []
        for pair in text.split(separator: ",") {
            let sides = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard sides.count == 2, let from = Int(sides[0].trimmingCharacters(in: .whitespaces)),
                  let to = Int(sides[1].trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--move-brokers: '\(pair)' should be OLD=NEW, e.g. 1001=0")
            }
            if !old.contains(BrokerID(from)) { old.append(BrokerID(from)) }
            if !new.contains(BrokerID(to)) { new.append(BrokerID(to)) }
        }
        guard !old.isEmpty else { throw ValidationError("--move-brokers: no pairs given") }
        return (old, new)
    }

    struct Report: Encodable {
        var summary: String
        var report: ReassignmentReport
        /// What `kafka-reassign-partitions --generate` (same brokers, seed) would copy.
        var generateReplicasMoved: Int?
        var files: [String]
    }

    func run() async throws {
        let minimum = minInsyncReplicas
        let state = try await connection.withClient { try await KafkaMetadataReader.read($0, staticMinInsyncReplicas: minimum) }.state
        if !allowUnhealthy, let hazard = state.planningHazard {
            Output.error(hazard)
            throw ExitCode.failure
        }
        let plan: ReassignmentPlan
        let summary: String
        var generated: ReplicaAssignment?
        do {
            if let moveBrokers {
                let (old, new) = try Self.pairs(moveBrokers)
                plan = try BrokerMigrationPlanner(.init(oldBrokers: old, newBrokers: new, stages: stages, maxConcurrentMovesPerBroker: maxMovesPerBroker,
                                                        rackAware: !ignoreRacks, allowUnstagedPartitions: allowUnstagedPartitions, seed: seed)).plan(for: state)
                summary = "move brokers \(old.map(\.description).joined(separator: ",")) → \(new.map(\.description).joined(separator: ",")) in \(plan.stages.count) stages"
                generated = try? KafkaGenerateBaseline.generate(for: state, brokers: new, seed: Int64(bitPattern: seed))
            } else {
                let factor = replicationFactor!
                let names = topics.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? state.topics.keys.sorted()
                let targets = Dictionary(names.map { ($0, factor) }, uniquingKeysWith: { first, _ in first })
                let allowed = try brokers.map { try brokerList($0, option: "--brokers") }
                plan = try ReplicationFactorPlanner(.init(targets: targets, brokers: allowed, rackAware: !ignoreRacks,
                                                          maxConcurrentMovesPerBroker: maxMovesPerBroker, seed: seed)).plan(for: state)
                summary = "replication factor \(factor) for \(names.count) topics"
                generated = try? KafkaGenerateBaseline.generate(for: state, brokers: allowed ?? state.brokers.keys.sorted(), topics: names,
                                                                replicationFactors: targets, seed: Int64(bitPattern: seed))
            }
        } catch let error as KafkaPlanError {
            Output.error(error.description)
            throw ExitCode.failure
        }

        var files: [String] = []
        func write(_ name: String, _ data: Data) throws {
            let path = (output as NSString).appendingPathComponent(name)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            files.append(path)
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try write("plan.json", ReassignmentPlanFile(plan, summary: summary).encoded())
        for stage in plan.stages {
            try write("stage-\(stage.number).json", stage.executeJSON.data())
            try write("stage-\(stage.number)-rollback.json", stage.rollbackJSON.data())
        }
        let changed = plan.initial.changedPartitions(to: plan.final)
        try write("rollback.json", plan.initial.reassignmentJSON(partitions: changed).data())

        let report = Report(summary: summary, report: plan.report,
                            generateReplicasMoved: generated.map { state.assignment.replicasAdded(to: $0) }, files: files)
        if connection.json {
            try Output.json(report)
        } else {
            Output.line(summary)
            Output.line(plan.report.description)
            if let moved = report.generateReplicasMoved {
                Output.line("kafka-reassign-partitions --generate would copy \(moved) replicas for the same goal")
            }
            Output.note("wrote \(files.count) files to \(output); run with: mitosis kafka run \((output as NSString).appendingPathComponent("plan.json")) -s …")
        }
    }
}

struct KafkaRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a reassignment plan: batches through /admin/reassign_partitions, throttled, followed to the end.",
        discussion: """
            PLAN is a plan.json from `mitosis kafka plan` or a kafka-reassign-partitions file. Before anything moves, \
            the plan is checked against the cluster: every stage before the last keeps min.insync.replicas replicas of \
            each partition on the old brokers, every target broker is registered, every move keeps the planned \
            replication factor; otherwise it is refused (unsafe-plan) naming the stage, partition and rule. Refuses while another \
            reassignment is in flight; partitions already in place are skipped, and a reassignment of the plan's own \
            partitions left by an interrupted run is followed, so running a plan again finishes it. Throttles set \
            with --throttle are removed at the end, on failure and on Ctrl-C. A stall (no progress for \
            --stall-timeout) stops the run with an explanation; --force-controller-election-on-stall deletes \
            /controller instead, which makes the brokers elect a new controller that resumes the reassignment.
            """
    )

    @Argument(help: "The plan file.") var plan: String
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Replication throttle in bytes per second while partitions move.") var throttle: Int?
    @Option(help: "Seconds without any progress that count as a stall.") var stallTimeout: Double = 600
    @Option(help: "Seconds between reads of partition state.") var pollInterval: Double = 2
    @Flag(help: "On a stall, delete /controller to force a controller election (once per batch) instead of stopping.")
    var forceControllerElectionOnStall = false
    @Option(help: "Batching of a kafka-reassign-partitions file: most moves per broker at once.") var maxMovesPerBroker = 5
    @Option(help: "min.insync.replicas from the brokers' server.properties, for topics that set none in ZooKeeper (each stage before the last must keep that many replicas on old brokers).")
    var minInsyncReplicas = 1
    @Flag(help: "Show what would be written, stage by stage, and change nothing.") var dryRun = false

    func validate() throws {
        if let throttle, throttle <= 0 { throw ValidationError("--throttle must be a positive number of bytes per second") }
        if stallTimeout <= 0 || pollInterval <= 0 { throw ValidationError("--stall-timeout and --poll-interval must be positive") }
        if maxMovesPerBroker < 1 { throw ValidationError("--max-moves-per-broker must be at least 1") }
    }

    func run() async throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: plan)) } catch {
            throw ValidationError("cannot read \(plan): \(error.localizedDescription)")
        }
        let json = connection.json
        let options = ReassignmentExecutor.Options(
            throttleBytesPerSecond: throttle, pollInterval: .milliseconds(Int64(pollInterval * 1000)),
            stallTimeout: .milliseconds(Int64(stallTimeout * 1000)), forceControllerElectionOnStall: forceControllerElectionOnStall,
            minInsyncReplicas: minInsyncReplicas)
        let cap = maxMovesPerBroker, dryRun = dryRun
        let result: Result<String, any Error> = try await connection.withClient { zk in
            let file: ReassignmentPlanFile
            do {
                file = try await ReassignmentPlanFile.parse(data, current: { try await KafkaMetadataReader.read(zk).state.assignment },
                                                            maxConcurrentMovesPerBroker: cap)
            } catch let error as KafkaExecutionError {
                return .failure(error)
            }
            if dryRun {
                do {
                    try file.checkSafety(against: try await KafkaMetadataReader.read(zk, staticMinInsyncReplicas: options.minInsyncReplicas).state)
                    return .success(try await Self.preview(file, zk: zk, throttle: options.throttleBytesPerSecond, json: json))
                } catch {
                    return .failure(error)
                }
            }
            return await runUntilInterrupted(duration: nil) {
                do {
                    let outcome = try await ReassignmentExecutor(zookeeper: zk, options: options).run(file) { event in
                        if json { Self.jsonLine(event) } else { Output.note(event.description) }
                    }
                    if json { return .success(Self.encode(outcome)) }
                    return .success("done: \(outcome.stagesCompleted) stages, \(outcome.partitionsMoved) partitions moved, "
                        + "\(outcome.partitionsAlreadyInPlace) already in place, \(outcome.controllerElectionsForced) controller elections forced")
                } catch {
                    return .failure(error)
                }
            }
        }
        if json, case .failure(let error) = result {
            struct Failure: Encodable { var error: String; var code: String?; var partitions: [String] }
            let execution = error as? KafkaExecutionError
            try Output.json(Failure(error: execution?.message ?? "\(error)", code: execution?.code.rawValue ?? (error is CancellationError ? "interrupted" : nil),
                                    partitions: execution?.partitions.map(\.description) ?? []))
        }
        switch result {
        case .success(let text):
            Output.line(text)
        case .failure(let error as KafkaExecutionError):
            Output.error(error.description)
            throw ExitCode.failure
        case .failure(is CancellationError):
            Output.error("interrupted: the batch in flight keeps moving in Kafka; its throttles were removed. Run the same plan again to follow it.")
            throw ExitCode(130)
        case .failure(let error):
            Output.error("\(error)")
            throw ExitCode.failure
        }
    }

    static func jsonLine(_ event: ReassignmentEvent) {
        Output.note(encode(event))
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    struct StagePreview: Encodable {
        var stage: Int
        var inPlace: [String]
        var inFlight: [String]
        var batches: [Batch]
        struct Batch: Encodable {
            var reassignPartitions: String
            var throttledBrokers: [Int]
            var leaderThrottledReplicas: [String: String]
            var followerThrottledReplicas: [String: String]
        }
    }

    /// Each stage assessed against the cluster as it would be once the stages before it are done.
    static func preview(_ file: ReassignmentPlanFile, zk: ZooKeeperClient, throttle: Int?, json: Bool) async throws -> String {
        var state = try await KafkaMetadataReader.read(zk).state
        var previews: [StagePreview] = []
        var lines: [String] = []
        for (index, stage) in file.stages.enumerated() {
            let assessment = try StageAssessment(stage, state: state, later: Array(file.stages[(index + 1)...]))
            var preview = StagePreview(stage: stage.number, inPlace: assessment.inPlace.map(\.description),
                                       inFlight: assessment.inFlight.map(\.topicPartition.description), batches: [])
            lines.append("stage \(stage.number): \(assessment.partitionsToMove) partitions to move, \(assessment.inPlace.count) already in place"
                + (assessment.inFlight.isEmpty ? "" : ", \(assessment.inFlight.count) in flight (followed)"))
            for (index, batch) in assessment.batches.enumerated() {
                let node = ReassignPartitionsZNode(batch.map { PartitionReassignment(topic: $0.topic, partition: $0.partition, replicas: $0.after) })
                var before = ReplicaAssignment(), after = ReplicaAssignment()
                for move in batch { before[move.topicPartition] = move.before; after[move.topicPartition] = move.after }
                let throttles = ReplicationThrottles(from: before, to: after)
                preview.batches.append(.init(reassignPartitions: String(decoding: node.data(), as: UTF8.self),
                                             throttledBrokers: throttle == nil ? [] : throttles.brokers.map(\.rawValue),
                                             leaderThrottledReplicas: throttle == nil ? [:] : throttles.leaderReplicas,
                                             followerThrottledReplicas: throttle == nil ? [:] : throttles.followerReplicas))
                lines.append("  batch \(index + 1): /admin/reassign_partitions = \(String(decoding: node.data(), as: UTF8.self))")
                if let throttle {
                    lines.append("    throttle \(throttle) B/s on brokers \(throttles.brokers.map(\.description).joined(separator: ","))")
                    for topic in throttles.topics {
                        lines.append("    /config/topics/\(topic): leader \(throttles.leaderReplicas[topic] ?? "-"), follower \(throttles.followerReplicas[topic] ?? "-")")
                    }
                }
            }
            previews.append(preview)
            for move in stage.moves { state.topics[move.topic]?.partitions[move.partition] = move.after }
            state.reassignmentsInProgress = [:]
            for name in state.topics.keys { state.topics[name]!.addingReplicas = [:]; state.topics[name]!.removingReplicas = [:] }
        }
        return json ? encode(previews) : lines.joined(separator: "\n")
    }
}
