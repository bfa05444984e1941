import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import ZooKeeper

/// A client group shaped like Kafka brokers' use of ZooKeeper (ZooKeeper mode, Kafka ≤ 3.x).
///
/// Each member is a "broker" with its own session. Like Kafka it registers the ephemeral
/// `/brokers/ids/<id>`, watches `/controller` and, when it is missing, competes for it with one
/// transaction that creates the ephemeral `/controller` and bumps `/controller_epoch` (conditional
/// on the epoch's version, as Kafka ≥ 2.2 does). The controller watches `/brokers/ids`. Every member
/// periodically rewrites the state of the partitions it leads (as an ISR change does) and reads
/// its topic's config. The layouts match Kafka's (see module `Kafka`, `ZNodes.swift`); the JSON is
/// written here by hand so that Probes does not depend on Kafka.
public struct SimulatedKafkaOptions: Sendable {
    /// The client group's name, e.g. "kafka".
    public var group: String
    /// Kafka's `zookeeper.connect`: servers and an optional chroot (created if missing).
    public var connectionString: ConnectionString
    public var brokers: Int
    /// Broker ids are `firstBrokerID`, `firstBrokerID + 1`, …; members are named "broker-<id>".
    public var firstBrokerID: Int
    /// The topic whose znodes the members use (created if missing).
    public var topic: String
    public var partitions: Int
    /// Partition-state writes per second per member; each is followed by a read of the topic config.
    public var stateWritesPerSecond: Double
    /// Kafka's `zookeeper.session.timeout.ms` (18 s since Kafka 2.5); servers clamp it to [2, 20] ticks.
    public var sessionTimeout: Duration
    /// How long a member waits for a session when it starts or restarts.
    public var connectTimeout: Duration
    public var retryDelay: Duration
    public var stallThreshold: Duration
    public var bucketWidth: Duration
    public var logger: Logger

    public init(
        group: String = "kafka",
        connectionString: ConnectionString,
        brokers: Int = 3,
        firstBrokerID: Int = 1,
        topic: String = "mitosis-rehearsal",
        partitions: Int = 6,
        stateWritesPerSecond: Double = 5,
        sessionTimeout: Duration = .seconds(18),
        connectTimeout: Duration = .seconds(15),
        retryDelay: Duration = .milliseconds(50),
        stallThreshold: Duration = .seconds(1),
        bucketWidth: Duration = .milliseconds(250),
        logger: Logger = Logger(label: "mitosis.workloads")
    ) {
        self.group = group
        self.connectionString = connectionString
        self.brokers = brokers
        self.firstBrokerID = firstBrokerID
        self.topic = topic
        self.partitions = partitions
        self.stateWritesPerSecond = stateWritesPerSecond
        self.sessionTimeout = sessionTimeout
        self.connectTimeout = connectTimeout
        self.retryDelay = retryDelay
        self.stallThreshold = stallThreshold
        self.bucketWidth = bucketWidth
        self.logger = logger
    }
}

/// One simulated broker, as it is now.
public struct KafkaMemberStatus: Sendable, Codable, Hashable {
    public var member: String
    public var brokerID: Int
    public var connectionString: String
    /// The server its session talks to, while connected.
    public var server: String?
    /// Its session, in hex; nil while it has none (e.g. during a restart).
    public var sessionID: String?
    /// It holds `/controller`, by its own latest reading.
    public var isController: Bool
    /// What it last read from `/brokers/ids` while controller (sorted), else empty.
    public var registeredBrokers: [Int]
    public var restarting: Bool
    /// Stopped (block & copy's block window) until a restart starts it.
    public var stopped: Bool = false
}

/// Runs simulated Kafka brokers from `start` until `stop`; `restart(member:connectionString:)`
/// moves one broker to another connection string the way a controlled restart does.
public final class SimulatedKafkaCluster: Sendable {
    public let options: SimulatedKafkaOptions
    private let context: KafkaRunContext
    private let members: [KafkaMember]
    private let finalReport = Mutex<ClientGroupReport?>(nil)

    private init(options: SimulatedKafkaOptions, context: KafkaRunContext, members: [KafkaMember]) {
        self.options = options
        self.context = context
        self.members = members
    }

    /// Creates the znodes the brokers need if missing (chroot, `/brokers/ids`, the topic, its
    /// partition states and config), then starts every broker: session, registration, controller
    /// election, load. Throws, with every session closed, if a broker cannot start.
    public static func start(
        _ options: SimulatedKafkaOptions,
        origin: ContinuousClock.Instant,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SimulatedKafkaCluster {
        guard options.brokers >= 1 else { throw WorkloadError("simulated Kafka: need at least one broker, got \(options.brokers)") }
        guard options.partitions >= 1 else { throw WorkloadError("simulated Kafka: need at least one partition, got \(options.partitions)") }
        guard options.stateWritesPerSecond > 0, options.stateWritesPerSecond.isFinite else {
            throw WorkloadError("simulated Kafka: state writes per second must be positive, got \(options.stateWritesPerSecond)")
        }
        if options.topic.isEmpty || options.topic.contains("/") || ZooKeeperPath.problem(with: "/\(options.topic)") != nil {
            throw WorkloadError("simulated Kafka: \"\(options.topic)\" is not a usable topic name")
        }
        let clock = WorkloadClock(origin: origin)
        do {
            try await ensureChroot(of: options.connectionString, sessionTimeout: options.sessionTimeout, eventLoopGroup: eventLoopGroup) { $0.logger = options.logger }
            try await createTopology(options, eventLoopGroup: eventLoopGroup)
        } catch {
            throw WorkloadError("simulated Kafka \(options.group): cannot create its znodes on \(options.connectionString): \(error)")
        }

        let members = (0..<options.brokers).map { KafkaMember(index: $0, brokerID: options.firstBrokerID + $0, connectionString: options.connectionString) }
        var recorder = ClientGroupRecorder(group: options.group, started: clock.now, bucketWidth: options.bucketWidth, stallThreshold: options.stallThreshold)
        for member in members { recorder.addMember(member.name, at: recorder.started) }
        let context = KafkaRunContext(options: options, probe: WorkloadProbe(clock: clock, recorder: GroupRecorderCell(recorder)), eventLoopGroup: eventLoopGroup)
        for (index, member) in members.enumerated() {
            do {
                try await member.open(options.connectionString, context: context)
            } catch {
                for started in members[..<index] { await started.close() }
                throw WorkloadError("simulated Kafka \(options.group): \(member.name) cannot start on \(options.connectionString): \(error)")
            }
        }
        return SimulatedKafkaCluster(options: options, context: context, members: members)
    }

    deinit {
        // `stop()` is the way to end a run; this only makes sure nothing outlives the cluster.
        for member in members { member.abandon() }
    }

    /// "broker-1", "broker-2", …
    public var memberNames: [String] { members.map(\.name) }

    public func status() async -> [KafkaMemberStatus] {
        var result: [KafkaMemberStatus] = []
        for member in members { result.append(await member.status()) }
        return result
    }

    /// The member holding `/controller` by its own account, if exactly one does.
    public func controller() -> String? {
        let claiming = members.filter(\.isController)
        return claiming.count == 1 ? claiming[0].name : nil
    }

    /// A controlled restart of one broker onto `connectionString`: its session is closed (its
    /// ephemerals go at once, and if it was the controller the others elect a new one), a new
    /// session is opened there and the broker registers again. The gap is reported as restart time,
    /// not as a stall. Returns when the broker is registered again.
    @discardableResult
    public func restart(member name: String, connectionString: ConnectionString) async throws -> RestartInterval {
        guard let member = members.first(where: { $0.name == name }) else {
            throw WorkloadError("simulated Kafka \(options.group): no member \(name); members are \(memberNames.joined(separator: ", "))")
        }
        guard finalReport.withLock({ $0 == nil }) else { throw WorkloadError("simulated Kafka \(options.group): stopped; cannot restart \(name)") }
        guard member.beginRestart() else { throw WorkloadError("simulated Kafka \(options.group): \(name) is already restarting") }
        defer { member.endRestart() }
        let probe = context.probe
        if member.takeStopped() {
            // Stopped by `stop(member:)`: its restart interval began then and ends when it is back.
            probe.recorder.withValue { $0.restartTarget(member: name, connectionString: connectionString.description) }
        } else {
            probe.recorder.withValue { $0.restartBegan(member: name, at: probe.clock.now, connectionString: connectionString.description) }
            await member.close()
        }
        do {
            try await member.open(connectionString, context: context)
        } catch {
            throw WorkloadError("simulated Kafka \(options.group): \(name) did not come back on \(connectionString): \(error); it stays down")
        }
        return probe.recorder.withValue { $0.restartEnded(member: name, at: probe.clock.now) }
    }

    /// Stops one broker, as `systemctl stop kafka` would for block & copy's block window: its
    /// session closes (its ephemerals go at once; if it was the controller another broker takes
    /// over) and it stays down until `restart(member:connectionString:)` starts it, on any
    /// connection string. The gap is reported as one restart, from the stop until it is back.
    public func stop(member name: String) async throws {
        guard let member = members.first(where: { $0.name == name }) else {
            throw WorkloadError("simulated Kafka \(options.group): no member \(name); members are \(memberNames.joined(separator: ", "))")
        }
        guard finalReport.withLock({ $0 == nil }) else { throw WorkloadError("simulated Kafka \(options.group): stopped; cannot stop \(name)") }
        guard member.beginRestart() else { throw WorkloadError("simulated Kafka \(options.group): \(name) is restarting; stop it afterwards") }
        defer { member.endRestart() }
        guard member.markStopped() else { return }  // stopped before: nothing to do
        let probe = context.probe
        probe.recorder.withValue { $0.restartBegan(member: name, at: probe.clock.now, connectionString: "(stopped)") }
        await member.close()
    }

    /// Stops every broker (closing its session) and returns the group's report. Every broker stops
    /// working before any session closes, so closing the controller's does not elect another.
    /// Calling it again returns the same report.
    public func stop() async -> ClientGroupReport {
        if let report = finalReport.withLock({ $0 }) { return report }
        let stopped = context.probe.clock.now
        for member in members { member.cancelTasks() }
        for member in members { await member.close(retiring: true) }
        let report = context.probe.recorder.withValue { $0.report(stopped: stopped) }
        return finalReport.withLock { stored in
            if stored == nil { stored = report }
            return stored!
        }
    }

    /// The persistent znodes Kafka's brokers and admin tools would have created.
    private static func createTopology(_ options: SimulatedKafkaOptions, eventLoopGroup: any EventLoopGroup) async throws {
        let configuration = ZooKeeperConfiguration(connectionString: options.connectionString, sessionTimeout: options.sessionTimeout, logger: options.logger)
        let client = try await ZooKeeperClient.connect(configuration, timeout: options.connectTimeout, eventLoopGroup: eventLoopGroup)
        do {
            let layout = KafkaLayout(options)
            try await client.createPathIfMissing("/brokers/ids")
            try await client.createPathIfMissing("/config/changes")
            try await client.createPathIfMissing(layout.topicPath, data: layout.topicAssignment())
            for partition in 0..<options.partitions {
                try await client.createPathIfMissing(layout.statePath(partition), data: layout.partitionState(partition, controllerEpoch: 0, leaderEpoch: 0, shrunk: false))
            }
            try await client.createPathIfMissing(layout.configPath, data: layout.topicConfig())
            await client.close()
        } catch {
            await client.close()
            throw error
        }
    }
}

/// What every member's tasks share.
struct KafkaRunContext: Sendable {
    let options: SimulatedKafkaOptions
    let probe: WorkloadProbe
    let eventLoopGroup: any EventLoopGroup
}

/// Kafka's paths and JSON for the options' brokers and topic.
struct KafkaLayout: Sendable {
    static let controllerPath = "/controller"
    static let controllerEpochPath = "/controller_epoch"
    let brokerIDs: [Int]
    let topic: String
    let partitions: Int

    init(_ options: SimulatedKafkaOptions) {
        brokerIDs = (0..<options.brokers).map { options.firstBrokerID + $0 }
        topic = options.topic
        partitions = options.partitions
    }

    var topicPath: String { "/brokers/topics/\(topic)" }
    var configPath: String { "/config/topics/\(topic)" }
    static func brokerPath(_ id: Int) -> String { "/brokers/ids/\(id)" }
    func statePath(_ partition: Int) -> String { "\(topicPath)/partitions/\(partition)/state" }

    /// Up to three replicas; the first, the preferred leader, rotates over the brokers.
    func replicas(_ partition: Int) -> [Int] {
        (0..<min(3, brokerIDs.count)).map { brokerIDs[(partition + $0) % brokerIDs.count] }
    }

    /// The partitions a member leads: those whose preferred leader it is (one at least).
    func ledPartitions(memberIndex: Int) -> [Int] {
        let led = (0..<partitions).filter { $0 % brokerIDs.count == memberIndex }
        return led.isEmpty ? [memberIndex % partitions] : led
    }

    /// `/brokers/ids/N`, version 4 as Kafka 2.x writes it.
    static func brokerRegistration(_ id: Int) -> [UInt8] {
        let host = "broker-\(id)"
        return json("""
            {"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://\(host):9092"],\
            "jmx_port":-1,"host":"\(host)","timestamp":"\(timestamp())","port":9092,"version":4}
            """)
    }

    static func controller(_ id: Int) -> [UInt8] {
        json(#"{"version":1,"brokerid":\#(id),"timestamp":"\#(timestamp())"}"#)
    }

    func topicAssignment() -> [UInt8] {
        let assignment = (0..<partitions).map { "\"\($0)\":[\(replicas($0).map(String.init).joined(separator: ","))]" }.joined(separator: ",")
        return Self.json(#"{"version":2,"partitions":{\#(assignment)},"adding_replicas":{},"removing_replicas":{}}"#)
    }

    /// `leader` is the preferred replica; a `shrunk` ISR lacks the last replica, as after a follower fell behind.
    func partitionState(_ partition: Int, controllerEpoch: Int, leaderEpoch: Int, shrunk: Bool) -> [UInt8] {
        let replicas = replicas(partition)
        let isr = shrunk && replicas.count > 1 ? replicas.dropLast() : replicas[...]
        return Self.json("""
            {"controller_epoch":\(controllerEpoch),"leader":\(replicas[0]),"version":1,"leader_epoch":\(leaderEpoch),\
            "isr":[\(isr.map(String.init).joined(separator: ","))]}
            """)
    }

    func topicConfig() -> [UInt8] {
        Self.json(#"{"version":1,"config":{"min.insync.replicas":"\#(min(2, brokerIDs.count))"}}"#)
    }

    private static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Milliseconds since 1970, as Kafka writes timestamps.
    private static func timestamp() -> String { String(Int64(Date().timeIntervalSince1970 * 1000)) }
}

/// One simulated broker: a session, a registration, and the tasks that load the ensemble.
final class KafkaMember: Sendable {
    let index: Int
    let brokerID: Int
    let name: String

    private struct State {
        var client: ZooKeeperClient?
        var runner: Task<Void, Never>?
        var connectionString: ConnectionString
        var isController = false
        var controllerEpoch = 0
        /// The epoch of an election attempt whose answer was lost: it may have won.
        var electionInDoubt: Int?
        var registrations = 0
        var registeredBrokers: [Int] = []
        var restarting = false
        /// Closed for good by the cluster's stop: a restart still under way must not reopen it.
        var retired = false
        /// Stopped by `stop(member:)` until a restart starts it.
        var stopped = false
    }

    private let state: Mutex<State>

    init(index: Int, brokerID: Int, connectionString: ConnectionString) {
        self.index = index
        self.brokerID = brokerID
        self.name = "broker-\(brokerID)"
        self.state = Mutex(State(connectionString: connectionString))
    }

    var isController: Bool { state.withLock { $0.isController } }

    func beginRestart() -> Bool {
        state.withLock { state in
            if state.restarting { return false }
            state.restarting = true
            return true
        }
    }

    func endRestart() { state.withLock { $0.restarting = false } }

    /// Marks the member stopped; false when it already was.
    func markStopped() -> Bool {
        state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
    }

    /// Whether the member was stopped, clearing the mark (it is being started).
    func takeStopped() -> Bool {
        state.withLock { state in
            defer { state.stopped = false }
            return state.stopped
        }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    func status() async -> KafkaMemberStatus {
        let (client, snapshot) = state.withLock { ($0.client, $0) }
        var server: String? = nil
        var session: String? = nil
        if let client {
            if case .connected(let id, let address, _) = await client.state {
                server = address
                session = "0x" + String(UInt64(bitPattern: id), radix: 16)
            }
        }
        return KafkaMemberStatus(
            member: name, brokerID: brokerID, connectionString: snapshot.connectionString.description,
            server: server, sessionID: session, isController: snapshot.isController,
            registeredBrokers: snapshot.isController ? snapshot.registeredBrokers : [], restarting: snapshot.restarting,
            stopped: snapshot.stopped
        )
    }

    /// Opens a session on `connectionString`, registers, and starts the member's tasks.
    func open(_ connectionString: ConnectionString, context: KafkaRunContext) async throws {
        let options = context.options
        let configuration = ZooKeeperConfiguration(connectionString: connectionString, sessionTimeout: options.sessionTimeout, logger: options.logger)
        let client = ZooKeeperClient(configuration: configuration, eventLoopGroup: context.eventLoopGroup)
        client.start()
        let session: Int64
        do {
            try await client.waitUntilConnected(timeout: options.connectTimeout)
            session = try await register(client, context: context)
        } catch {
            await client.close()
            throw error
        }
        let retired = state.withLock { state in
            if !state.retired {
                state.client = client
                state.connectionString = connectionString
                state.isController = false
            }
            return state.retired
        }
        if retired {
            await client.close()
            throw WorkloadError("\(name) was stopped while it started")
        }
        let states = await client.stateUpdates()
        let runner = Task {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await self.followSession(states, registered: session, client: client, context: context) }
                tasks.addTask { await self.competeForController(client, context: context) }
                tasks.addTask { await self.watchBrokers(client, context: context) }
                tasks.addTask { await self.produceLoad(client, context: context) }
            }
        }
        let kept = state.withLock { state in
            guard !state.retired, state.client === client else { return false }
            state.runner = runner
            return true
        }
        if !kept { runner.cancel() }  // closed meanwhile: the client is closed, the tasks end
    }

    /// Asks the member's tasks to stop; they finish their current operation (or watch) first.
    func cancelTasks() {
        state.withLock { $0.runner }?.cancel()
    }

    /// Stops the member's tasks and closes its session: its ephemerals go at once. `retiring`
    /// keeps it closed: a restart still under way will not reopen it.
    func close(retiring: Bool = false) async {
        let (client, runner) = state.withLock { state in
            defer {
                if retiring { state.retired = true }
                state.client = nil
                state.runner = nil
                state.isController = false
                state.registeredBrokers = []
            }
            return (state.client, state.runner)
        }
        runner?.cancel()
        await client?.close()
        await runner?.value
    }

    /// For `deinit`: ends everything without waiting.
    func abandon() {
        let (client, runner) = state.withLock { ($0.client, $0.runner) }
        runner?.cancel()
        client?.beginClose()
    }

    // MARK: Tasks

    /// Creates the ephemeral `/brokers/ids/<id>` for the client's current session and returns that
    /// session. A node left by an earlier session of this broker (which goes when that session
    /// ends) is waited for, up to a session timeout; Kafka would refuse to start instead.
    private func register(_ client: ZooKeeperClient, context: KafkaRunContext) async throws -> Int64 {
        let options = context.options
        let path = KafkaLayout.brokerPath(brokerID)
        let deadline = ContinuousClock.now + options.sessionTimeout + options.connectTimeout
        while true {
            let session = await client.sessionID ?? 0
            do {
                try await context.probe.measure(name, answers: [.nodeExists]) {
                    try await client.create(path, data: KafkaLayout.brokerRegistration(brokerID), mode: .ephemeral)
                }
                state.withLock { $0.registrations += 1 }
                return session
            } catch let error as ZooKeeperError where error.code == .nodeExists {
                if let owner = try? await client.exists(path)?.ephemeralOwner, owner == session {
                    state.withLock { $0.registrations += 1 }
                    return session  // an attempt whose answer was lost had registered it
                }
            } catch {
                if OperationOutcome(error) == .interrupted { throw error }
            }
            if ContinuousClock.now > deadline {
                throw WorkloadError("\(name) could not register \(path) within \(options.sessionTimeout + options.connectTimeout)")
            }
            guard await pause(options.retryDelay) else { throw CancellationError() }
        }
    }

    /// Records expirations and registers again under each new session.
    private func followSession(_ states: AsyncStream<ConnectionState>, registered: Int64, client: ZooKeeperClient, context: KafkaRunContext) async {
        var registered = registered
        let probe = context.probe
        for await connection in states {
            switch connection {
            case .expired(let sessionID):
                probe.recorder.withValue { $0.sessionExpired(member: name, at: probe.clock.now, sessionID: sessionID) }
                state.withLock { $0.isController = false }
            case .connected(let sessionID, _, _) where sessionID != registered:
                do {
                    registered = try await register(client, context: context)
                } catch {
                    if OperationOutcome(error) == .interrupted { return }
                    context.options.logger.warning("\(name) could not register again after its session changed: \(error)")
                }
            default:
                break
            }
        }
    }

    /// Kafka's controller election: watch `/controller`; when it is missing, try to take it.
    private func competeForController(_ client: ZooKeeperClient, context: KafkaRunContext) async {
        let probe = context.probe
        while !Task.isCancelled {
            do {
                let (stat, watch) = try await probe.measure(name) { try await client.existsAndWatch(KafkaLayout.controllerPath) }
                if let stat {
                    let session = await client.sessionID
                    let holds = stat.ephemeralOwner == session
                    let wonUnseen = state.withLock { state -> Int? in
                        defer {
                            state.isController = holds
                            state.electionInDoubt = nil
                        }
                        return holds && !state.isController ? state.electionInDoubt : nil
                    }
                    if let epoch = wonUnseen {
                        // The transaction whose answer was lost had made this broker controller.
                        recordElection(epoch: epoch, context: context)
                    }
                } else {
                    try await elect(client, context: context)
                }
                // Fires when /controller is created, changed or deleted; fails if the session expires.
                _ = try await watch.event()
            } catch {
                if Task.isCancelled || OperationOutcome(error) == .interrupted { return }
                guard await pause(context.options.retryDelay) else { return }
            }
        }
    }

    /// One attempt to become controller: read the epoch (creating it the first time), then create
    /// `/controller` and bump the epoch in one transaction. Losing is an answer, not a failure.
    private func elect(_ client: ZooKeeperClient, context: KafkaRunContext) async throws {
        let probe = context.probe
        let epochPath = KafkaLayout.controllerEpochPath
        var current: (data: [UInt8], stat: Stat)
        do {
            current = try await probe.measure(name, answers: [.noNode]) { try await client.getData(epochPath) }
        } catch let error as ZooKeeperError where error.code == .noNode {
            do {
                try await probe.measure(name, answers: [.nodeExists]) { try await client.create(epochPath, data: Array("0".utf8)) }
            } catch let error as ZooKeeperError where error.code == .nodeExists {}
            current = try await probe.measure(name) { try await client.getData(epochPath) }
        }
        let epoch = (Int(String(decoding: current.data, as: UTF8.self).trimmingCharacters(in: .whitespaces)) ?? 0) + 1
        if Task.isCancelled { return }  // stopping: do not take over from a controller that is closing
        do {
            try await probe.measure(name, answers: [.nodeExists, .badVersion]) {
                try await client.multi([
                    .create(CreateRequest(path: KafkaLayout.controllerPath, data: KafkaLayout.controller(brokerID), acl: ACL.openUnsafe, mode: .ephemeral)),
                    .setData(SetDataRequest(path: epochPath, data: Array(String(epoch).utf8), version: current.stat.version)),
                ])
            }
        } catch let error as ZooKeeperError where error.code == .nodeExists || error.code == .badVersion {
            state.withLock { $0.controllerEpoch = max($0.controllerEpoch, epoch - 1) }
            return  // another broker won
        } catch {
            if case .unknown = OperationOutcome(error) { state.withLock { $0.electionInDoubt = epoch } }
            throw error
        }
        state.withLock { $0.isController = true }
        recordElection(epoch: epoch, context: context)
    }

    private func recordElection(epoch: Int, context: KafkaRunContext) {
        let probe = context.probe
        let election = ControllerElection(time: probe.clock.now, member: name, brokerID: brokerID, epoch: epoch)
        probe.recorder.withValue { $0.controllerElected(election) }
        state.withLock { $0.controllerEpoch = max($0.controllerEpoch, epoch) }
        context.options.logger.debug("\(name) elected controller, epoch \(epoch)")
    }

    /// The controller's broker-change watch on `/brokers/ids`.
    private func watchBrokers(_ client: ZooKeeperClient, context: KafkaRunContext) async {
        while !Task.isCancelled {
            guard isController else {
                guard await pause(.milliseconds(100)) else { return }
                continue
            }
            do {
                let (children, _, watch) = try await context.probe.measure(name) { try await client.getChildrenAndWatch("/brokers/ids") }
                let ids = children.compactMap { Int($0) }.sorted()
                state.withLock { $0.registeredBrokers = ids }
                _ = try await watch.event()
            } catch {
                if Task.isCancelled || OperationOutcome(error) == .interrupted { return }
                guard await pause(context.options.retryDelay) else { return }
            }
        }
    }

    /// The steady load: rewrite a led partition's state (the ISR shrinking and expanding), then
    /// read the topic's config.
    private func produceLoad(_ client: ZooKeeperClient, context: KafkaRunContext) async {
        let options = context.options
        let probe = context.probe
        let layout = KafkaLayout(options)
        let partitions = layout.ledPartitions(memberIndex: index)
        let interval = Duration.seconds(1 / options.stateWritesPerSecond)
        var round = 0
        var due = ContinuousClock.now
        while !Task.isCancelled {
            guard await pause(until: due) else { return }
            let partition = partitions[round % partitions.count]
            let (controllerEpoch, leaderEpoch) = state.withLock { ($0.controllerEpoch, $0.registrations) }
            let data = layout.partitionState(partition, controllerEpoch: controllerEpoch, leaderEpoch: leaderEpoch, shrunk: (round / partitions.count) % 2 == 1)
            var succeeded = true
            do {
                try await probe.measure(name) { try await client.setData(layout.statePath(partition), data: data) }
                _ = try await probe.measure(name) { try await client.getData(layout.configPath) }
            } catch {
                if Task.isCancelled || OperationOutcome(error) == .interrupted { return }
                succeeded = false
            }
            round += 1
            due = succeeded ? max(due + interval, .now) : .now + options.retryDelay
        }
    }
}
