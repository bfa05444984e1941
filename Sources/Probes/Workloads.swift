import Histogram
import NIOCore
import Synchronization
import ZooKeeper
import ZooKeeperProtocol

// Live client workloads for rehearsals: client groups that load an ensemble while it is being
// migrated (`NumberedWriters`, `SimulatedKafkaCluster`) and the report both produce.
//
// Times are seconds since an `origin` the caller passes (`ContinuousClock.Instant`), so several
// workloads, the migration's steps and fault injections share one timeline.

// MARK: - Samples

/// How one ZooKeeper operation of a workload ended.
public enum OperationOutcome: Sendable, Hashable {
    /// The server answered as expected.
    case succeeded
    /// The server (or the client, before sending) answered with an error: nothing was applied.
    case failed(ZooKeeperError.Code)
    /// The connection was lost before an answer arrived: the operation may or may not have been applied.
    case unknown(ZooKeeperError.Code)
    /// Cut short by the workload itself (its stop or a planned restart closed the session). Not an
    /// operation a client would count; it only tells stall accounting that the member was waiting.
    case interrupted

    /// Classifies an error thrown by a `ZooKeeperClient` call.
    public init(_ error: any Error) {
        guard let error = error as? ZooKeeperError else {
            self = error is CancellationError ? .interrupted : .failed(.systemError)
            return
        }
        switch error.code {
        case .clientClosed: self = .interrupted
        case .connectionLoss, .operationTimeout, .requestTimeout: self = .unknown(error.code)
        default: self = .failed(error.code)
        }
    }

    public var succeeded: Bool { self == .succeeded }
}

/// One completed operation of one member of a client group.
public struct OperationSample: Sendable, Hashable {
    /// The member, e.g. "w1" or "broker-2".
    public var member: String
    /// Seconds since the origin: when the operation was sent and when its outcome was known.
    public var start: Double
    public var end: Double
    public var outcome: OperationOutcome

    public init(member: String, start: Double, end: Double, outcome: OperationOutcome) {
        self.member = member
        self.start = start
        self.end = end
        self.outcome = outcome
    }
}

// MARK: - Report

/// What one client group felt during a run, for the rehearsal's verdict and timeline.
/// Times are seconds since the origin.
public struct ClientGroupReport: Sendable, Codable, Hashable {
    public var group: String
    public var started: Double
    public var stopped: Double
    /// Operations that completed (interrupted ones are not counted).
    public var operations: Int
    public var succeeded: Int
    /// Answered with an error.
    public var failed: Int
    /// No answer: the connection dropped first.
    public var unknown: Int
    /// Failed and unknown operations by error code name, e.g. `["connectionLoss": 3]`.
    public var failuresByCode: [String: Int]
    /// Latency of every completed operation, failed ones included.
    public var latency: LatencySummary
    public var bucketSeconds: Double
    /// Operations by the bucket in which they completed, every bucket from start to stop.
    public var buckets: [OperationBucket]
    /// A member with an operation outstanding and no success for longer than this was stalled.
    public var stallThresholdSeconds: Double
    /// Every member's stalls, by start time.
    public var stalls: [StallInterval]
    /// The longest stall of any member.
    public var longestStallSeconds: Double
    /// Planned restarts: their gaps are not stalls.
    public var restarts: [RestartInterval]
    public var sessionExpirations: [SessionExpiration]
    /// Controller elections won (Kafka-shaped groups; empty otherwise).
    public var controllerElections: [ControllerElection]
    public var members: [MemberReport]

    public var failedOperations: Int { failed + unknown }
}

public struct LatencySummary: Sendable, Codable, Hashable {
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
    public var p999Milliseconds: Double
    public var maximumMilliseconds: Double
}

/// The operations that completed in `[start, start + bucketSeconds)`.
public struct OperationBucket: Sendable, Codable, Hashable {
    public var start: Double
    public var successes: Int
    /// Failed and unknown.
    public var failures: Int
    public var maxLatencyMilliseconds: Double

    public init(start: Double, successes: Int = 0, failures: Int = 0, maxLatencyMilliseconds: Double = 0) {
        self.start = start
        self.successes = successes
        self.failures = failures
        self.maxLatencyMilliseconds = maxLatencyMilliseconds
    }
}

/// A period in which a member wanted an answer and got no successful one.
public struct StallInterval: Sendable, Codable, Hashable {
    public var member: String
    /// From the first operation left unanswered (or the last success, if later)...
    public var start: Double
    /// ...to the next success, the start of a planned restart, or the stop (then `open`).
    public var end: Double
    public var open: Bool
    public var seconds: Double { end - start }

    public init(member: String, start: Double, end: Double, open: Bool = false) {
        self.member = member
        self.start = start
        self.end = end
        self.open = open
    }
}

/// A planned restart of a member onto a connection string: closing its session, opening a new one,
/// registering again.
public struct RestartInterval: Sendable, Codable, Hashable {
    public var member: String
    public var start: Double
    /// When the member worked again; the stop time if it never did (`completed` false).
    public var end: Double
    public var connectionString: String
    public var completed: Bool
    public var seconds: Double { end - start }

    public init(member: String, start: Double, end: Double, connectionString: String, completed: Bool = true) {
        self.member = member
        self.start = start
        self.end = end
        self.connectionString = connectionString
        self.completed = completed
    }
}

public struct SessionExpiration: Sendable, Codable, Hashable {
    public var member: String
    public var time: Double
    /// The expired session, in hex as ZooKeeper's logs print it.
    public var sessionID: String

    public init(member: String, time: Double, sessionID: Int64) {
        self.member = member
        self.time = time
        self.sessionID = "0x" + String(UInt64(bitPattern: sessionID), radix: 16)
    }
}

/// A member won `/controller`, bumping `/controller_epoch` to `epoch`.
public struct ControllerElection: Sendable, Codable, Hashable {
    public var time: Double
    public var member: String
    public var brokerID: Int
    public var epoch: Int

    public init(time: Double, member: String, brokerID: Int, epoch: Int) {
        self.time = time
        self.member = member
        self.brokerID = brokerID
        self.epoch = epoch
    }
}

/// One member's share of the group's report.
public struct MemberReport: Sendable, Codable, Hashable {
    public var member: String
    public var operations: Int
    public var succeeded: Int
    public var failed: Int
    public var unknown: Int
    public var failuresByCode: [String: Int]
    public var maximumLatencyMilliseconds: Double
    public var longestStallSeconds: Double
    public var restarts: Int
    public var sessionsExpired: Int
}

// MARK: - Recorder

/// Pure bookkeeping of a client group: fed with samples and events (in completion order), it keeps
/// counts, time buckets, latencies, and each member's stalls. Separate from the loops that make the
/// samples, so it is tested with made-up times.
///
/// Stalls are per member: a member is stalled while it has asked for something and had no
/// successful answer for longer than `stallThreshold`. An idle member (between paced operations)
/// is not stalled, so the threshold need not exceed the pacing interval. A stall runs from the
/// start of the first operation left unanswered — or the member's last success, if that came
/// later — to the end of the next success. A planned restart ends any stall in progress and its
/// own gap is reported as restart time.
public struct ClientGroupRecorder: Sendable {
    public let group: String
    public let started: Double
    public let bucketWidth: Duration
    public let stallThreshold: Duration

    private struct Member: Sendable {
        var lastSuccess: Double
        var unsatisfiedSince: Double?
        var restart: (start: Double, connectionString: String)?
        var operations = 0
        var succeeded = 0
        var failed = 0
        var unknown = 0
        var failuresByCode: [String: Int] = [:]
        var maximumLatency = 0.0
        var restarts = 0
        var sessionsExpired = 0
    }

    private var memberOrder: [String] = []
    private var members: [String: Member] = [:]
    private var buckets: [Int: OperationBucket] = [:]
    private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    private var maximumMicroseconds: UInt64 = 0
    private var stalls: [StallInterval] = []
    private var restarts: [RestartInterval] = []
    private var expirations: [SessionExpiration] = []
    private var elections: [ControllerElection] = []

    public init(group: String, started: Double, bucketWidth: Duration = .milliseconds(250), stallThreshold: Duration = .seconds(1)) {
        precondition(bucketWidth > .zero, "buckets need a positive width")
        self.group = group
        self.started = started
        self.bucketWidth = bucketWidth
        self.stallThreshold = stallThreshold
    }

    /// Registers a member before its first sample, so it appears in the report even if it never
    /// completes an operation. `at` is when it starts working.
    public mutating func addMember(_ name: String, at time: Double) {
        guard members[name] == nil else { return }
        memberOrder.append(name)
        members[name] = Member(lastSuccess: time)
    }

    public mutating func record(_ sample: OperationSample) {
        addMember(sample.member, at: started)
        var member = members[sample.member]!
        defer { members[sample.member] = member }

        if sample.outcome != .interrupted {
            let latency = max(0, sample.end - sample.start)
            let micros = UInt64(latency * 1_000_000)
            histogram.record(micros)
            maximumMicroseconds = max(maximumMicroseconds, micros)
            member.operations += 1
            member.maximumLatency = max(member.maximumLatency, latency)
            let index = bucketIndex(sample.end)
            var bucket = buckets[index] ?? OperationBucket(start: Double(index) * bucketWidth.seconds)
            bucket.maxLatencyMilliseconds = max(bucket.maxLatencyMilliseconds, latency * 1000)
            switch sample.outcome {
            case .succeeded:
                member.succeeded += 1
                bucket.successes += 1
            case .failed(let code):
                member.failed += 1
                member.failuresByCode[code.name, default: 0] += 1
                bucket.failures += 1
            case .unknown(let code):
                member.unknown += 1
                member.failuresByCode[code.name, default: 0] += 1
                bucket.failures += 1
            case .interrupted:
                break
            }
            buckets[index] = bucket
        }

        // Stall accounting; a member in a planned restart is not expected to work.
        guard member.restart == nil else { return }
        let waitingFrom = max(sample.start, member.lastSuccess)
        if sample.outcome.succeeded {
            if let since = member.unsatisfiedSince, since > sample.end {
                return  // an older success completing late: it does not answer the later wait
            }
            let stallStart = min(member.unsatisfiedSince ?? waitingFrom, waitingFrom)
            if sample.end - stallStart > stallThreshold.seconds {
                stalls.append(StallInterval(member: sample.member, start: stallStart, end: sample.end))
            }
            member.unsatisfiedSince = nil
            member.lastSuccess = max(member.lastSuccess, sample.end)
        } else {
            member.unsatisfiedSince = min(member.unsatisfiedSince ?? waitingFrom, waitingFrom)
        }
    }

    /// A planned restart of `member` began (before its session is closed).
    public mutating func restartBegan(member name: String, at time: Double, connectionString: String) {
        addMember(name, at: time)
        var member = members[name]!
        if let since = member.unsatisfiedSince, time - since > stallThreshold.seconds {
            stalls.append(StallInterval(member: name, start: since, end: time))
        }
        if let previous = member.restart {
            // The previous restart never completed: it ends, unfinished, where this one begins.
            restarts.append(RestartInterval(member: name, start: previous.start, end: time, connectionString: previous.connectionString, completed: false))
            member.restarts += 1
        }
        member.unsatisfiedSince = nil
        member.restart = (time, connectionString)
        members[name] = member
    }

    /// A restart that began with the member stopped (no connection string yet) now starts it on
    /// `connectionString`: the interval goes on, and records where the member went.
    public mutating func restartTarget(member name: String, connectionString: String) {
        guard let began = members[name]?.restart else { return }
        members[name]!.restart = (began.start, connectionString)
    }

    /// The member works again (its new session is registered); returns the restart's interval.
    @discardableResult
    public mutating func restartEnded(member name: String, at time: Double) -> RestartInterval {
        addMember(name, at: time)
        var member = members[name]!
        let began = member.restart ?? (time, "")
        let interval = RestartInterval(member: name, start: began.start, end: time, connectionString: began.connectionString)
        restarts.append(interval)
        member.restart = nil
        member.restarts += 1
        member.lastSuccess = time
        members[name] = member
        return interval
    }

    public mutating func sessionExpired(member name: String, at time: Double, sessionID: Int64) {
        addMember(name, at: time)
        members[name]!.sessionsExpired += 1
        expirations.append(SessionExpiration(member: name, time: time, sessionID: sessionID))
    }

    public mutating func controllerElected(_ election: ControllerElection) {
        elections.append(election)
    }

    /// The report as of `stopped`: stalls and restarts still open then are reported open.
    public func report(stopped: Double) -> ClientGroupReport {
        var allStalls = stalls
        var allRestarts = restarts
        var memberReports: [MemberReport] = []
        var totalFailures: [String: Int] = [:]
        for name in memberOrder {
            let member = members[name]!
            if let restart = member.restart {
                allRestarts.append(RestartInterval(member: name, start: restart.start, end: stopped, connectionString: restart.connectionString, completed: false))
            } else if let since = member.unsatisfiedSince, stopped - since > stallThreshold.seconds {
                allStalls.append(StallInterval(member: name, start: since, end: stopped, open: true))
            }
            totalFailures.merge(member.failuresByCode, uniquingKeysWith: +)
            memberReports.append(MemberReport(
                member: name, operations: member.operations, succeeded: member.succeeded, failed: member.failed,
                unknown: member.unknown, failuresByCode: member.failuresByCode,
                maximumLatencyMilliseconds: member.maximumLatency * 1000,
                longestStallSeconds: allStalls.filter { $0.member == name }.map(\.seconds).max() ?? 0,
                restarts: member.restarts + (member.restart == nil ? 0 : 1), sessionsExpired: member.sessionsExpired
            ))
        }
        allStalls.sort { ($0.start, $0.member) < ($1.start, $1.member) }
        allRestarts.sort { ($0.start, $0.member) < ($1.start, $1.member) }

        let first = min(bucketIndex(started), buckets.keys.min() ?? .max)
        let last = max(bucketIndex(stopped), buckets.keys.max() ?? .min)
        let dense = (first...max(first, last)).map { buckets[$0] ?? OperationBucket(start: Double($0) * bucketWidth.seconds) }

        let operations = memberReports.map(\.operations).reduce(0, +)
        let millis = { (percentile: Double) in operations == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000 }
        return ClientGroupReport(
            group: group, started: started, stopped: stopped, operations: operations,
            succeeded: memberReports.map(\.succeeded).reduce(0, +),
            failed: memberReports.map(\.failed).reduce(0, +),
            unknown: memberReports.map(\.unknown).reduce(0, +),
            failuresByCode: totalFailures,
            latency: LatencySummary(p50Milliseconds: millis(50), p99Milliseconds: millis(99), p999Milliseconds: millis(99.9), maximumMilliseconds: Double(maximumMicroseconds) / 1000),
            bucketSeconds: bucketWidth.seconds, buckets: dense, stallThresholdSeconds: stallThreshold.seconds,
            stalls: allStalls, longestStallSeconds: allStalls.map(\.seconds).max() ?? 0,
            restarts: allRestarts, sessionExpirations: expirations.sorted { $0.time < $1.time },
            controllerElections: elections.sorted { $0.time < $1.time }, members: memberReports
        )
    }

    private func bucketIndex(_ time: Double) -> Int {
        Int((time / bucketWidth.seconds).rounded(.down))
    }
}

// MARK: - Shared plumbing of the workloads

/// Seconds since the run's origin.
struct WorkloadClock: Sendable {
    let origin: ContinuousClock.Instant

    func seconds(_ instant: ContinuousClock.Instant) -> Double { (instant - origin).seconds }
    var now: Double { seconds(.now) }
}

/// The recorder shared by a workload's tasks.
final class GroupRecorderCell: Sendable {
    private let mutex: Mutex<ClientGroupRecorder>

    init(_ recorder: ClientGroupRecorder) { self.mutex = Mutex(recorder) }

    func withValue<T: Sendable>(_ body: (inout ClientGroupRecorder) -> T) -> T {
        mutex.withLock { body(&$0) }
    }
}

/// Times and records the operations of one workload.
struct WorkloadProbe: Sendable {
    let clock: WorkloadClock
    let recorder: GroupRecorderCell

    /// Runs one operation, records its sample and returns (or rethrows) its result. Errors whose
    /// code is in `answers` are answers the member expects (e.g. `nodeExists` for a candidate that
    /// lost an election): they are recorded as successes, and still thrown for the caller to read.
    @discardableResult
    func measure<T>(_ member: String, answers: Set<ZooKeeperError.Code> = [], _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        do {
            let value = try await body()
            record(member, start: start, outcome: .succeeded)
            return value
        } catch {
            var outcome = OperationOutcome(error)
            if let code = (error as? ZooKeeperError)?.code, answers.contains(code) { outcome = .succeeded }
            record(member, start: start, outcome: outcome)
            throw error
        }
    }

    func record(_ member: String, start: ContinuousClock.Instant, outcome: OperationOutcome) {
        let sample = OperationSample(member: member, start: clock.seconds(start), end: clock.now, outcome: outcome)
        recorder.withValue { $0.record(sample) }
    }
}

/// Bad options or a step of a workload that cannot go on.
public struct WorkloadError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ZooKeeperClient {
    /// Creates `path` and any missing ancestors as empty persistent nodes; existing ones are kept.
    func createPathIfMissing(_ path: String, data: [UInt8] = []) async throws {
        var prefix = ""
        let parts = path.split(separator: "/")
        for (index, part) in parts.enumerated() {
            prefix += "/\(part)"
            do {
                try await create(prefix, data: index == parts.count - 1 ? data : [])
            } catch let error as ZooKeeperError where error.code == .nodeExists {}
        }
    }
}

/// Makes sure a chrooted connection string's chroot exists, through a client without the chroot.
func ensureChroot(of connectionString: ConnectionString, sessionTimeout: Duration, eventLoopGroup: any EventLoopGroup, configure: (inout ZooKeeperConfiguration) -> Void) async throws {
    guard let chroot = connectionString.chroot, chroot != "/" else { return }
    var configuration = ZooKeeperConfiguration(connectionString: ConnectionString(servers: connectionString.servers), sessionTimeout: sessionTimeout)
    configure(&configuration)
    let client = try await ZooKeeperClient.connect(configuration, timeout: max(sessionTimeout, .seconds(5)), eventLoopGroup: eventLoopGroup)
    do {
        try await client.createPathIfMissing(chroot)
        await client.close()
    } catch {
        await client.close()
        throw error
    }
}

/// Sleeps, returning false if the task was cancelled.
func pause(_ duration: Duration) async -> Bool {
    do {
        try await Task.sleep(for: duration)
        return true
    } catch {
        return false
    }
}

func pause(until instant: ContinuousClock.Instant) async -> Bool {
    do {
        try await Task.sleep(until: instant, clock: .continuous)
        return true
    } catch {
        return false
    }
}
