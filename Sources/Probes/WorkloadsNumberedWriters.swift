import Logging
import NIOCore
import NIOPosix
import Synchronization
import ZooKeeper
import ZooKeeperProtocol

/// Yelp's distributed stress test with serial-numbered messages: writers that each create
/// `<base>/w<k>/<n>` for n = 1, 2, 3, … one at a time, so that afterwards — on the same ensemble or
/// on the one it migrated to — every acknowledged number can be checked to be there.
public struct NumberedWritersOptions: Sendable {
    /// The client group's name, e.g. "writers".
    public var group: String
    /// The servers (of one ensemble or of both) and an optional chroot; the chroot is created if missing.
    public var connectionString: ConnectionString
    /// Writer k writes under `<basePath>/w<k>` (relative to the chroot).
    public var basePath: String
    public var writers: Int
    /// Creates per second, per writer, when every write succeeds at once.
    public var writesPerSecond: Double
    public var sessionTimeout: Duration
    /// Pause before retrying a write that failed or got no answer.
    public var retryDelay: Duration
    /// How long `start` waits for each writer's session.
    public var connectTimeout: Duration
    public var stallThreshold: Duration
    public var bucketWidth: Duration
    public var logger: Logger

    public init(
        group: String,
        connectionString: ConnectionString,
        basePath: String? = nil,
        writers: Int = 3,
        writesPerSecond: Double = 10,
        sessionTimeout: Duration = .seconds(10),
        retryDelay: Duration = .milliseconds(50),
        connectTimeout: Duration = .seconds(15),
        stallThreshold: Duration = .seconds(1),
        bucketWidth: Duration = .milliseconds(250),
        logger: Logger = Logger(label: "mitosis.workloads")
    ) {
        self.group = group
        self.connectionString = connectionString
        self.basePath = basePath ?? "/mitosis-writes-\(group)"
        self.writers = writers
        self.writesPerSecond = writesPerSecond
        self.sessionTimeout = sessionTimeout
        self.retryDelay = retryDelay
        self.connectTimeout = connectTimeout
        self.stallThreshold = stallThreshold
        self.bucketWidth = bucketWidth
        self.logger = logger
    }
}

/// One attempt to create one numbered node.
public struct WriteAttempt: Sendable, Codable, Hashable {
    public enum Outcome: String, Sendable, Codable {
        /// The create was answered with success.
        case acknowledged
        /// An earlier attempt's answer was lost and this retry found the node: the earlier one landed.
        case acknowledgedLate
        /// Answered with an error (`code`): not applied.
        case failed
        /// No answer (`code`, e.g. connectionLoss): may or may not have been applied.
        case unknown
        /// Cut short by `stop()`: may or may not have been applied.
        case interrupted
    }

    public var writer: Int
    public var number: Int
    /// Seconds since the origin.
    public var start: Double
    public var latencyMilliseconds: Double
    public var outcome: Outcome
    /// The error code's name for failed and unknown outcomes.
    public var code: String?
}

/// What one writer had acknowledged when it stopped: what must be on any ensemble that holds its data.
public struct WriterLedger: Sendable, Codable, Hashable {
    public var writer: Int
    /// The member name in the group report, "w<k>".
    public var member: String
    /// `<base>/w<k>`, relative to the chroot.
    public var path: String
    /// The first number of this run; lower numbers are an earlier run's and are not checked.
    public var firstNumber: Int
    /// Acknowledged numbers, as runs of consecutive numbers.
    public var acknowledged: [ClosedRange<Int>]
    /// Numbers acknowledged late (a retry after a lost answer found the node).
    public var acknowledgedLate: [Int]
    /// A number whose last attempt had no answer when the writer stopped: it may exist or not.
    public var inDoubt: Int?

    public init(writer: Int, path: String, firstNumber: Int, acknowledged: [ClosedRange<Int>] = [], acknowledgedLate: [Int] = [], inDoubt: Int? = nil) {
        self.writer = writer
        self.member = "w\(writer)"
        self.path = path
        self.firstNumber = firstNumber
        self.acknowledged = acknowledged
        self.acknowledgedLate = acknowledgedLate
        self.inDoubt = inDoubt
    }

    public var acknowledgedCount: Int { acknowledged.map(\.count).reduce(0, +) }

    public func isAcknowledged(_ number: Int) -> Bool { acknowledged.contains { $0.contains(number) } }

    mutating func acknowledge(_ number: Int) {
        if let last = acknowledged.last, last.upperBound + 1 == number {
            acknowledged[acknowledged.count - 1] = last.lowerBound...number
        } else {
            acknowledged.append(number...number)
        }
    }

    /// Compares the ledger with what an ensemble holds: `present` are the numbers found at or above
    /// `firstNumber`, `wrongData` those among them whose data is not their number.
    public func verification(present: Set<Int>, wrongData: Set<Int> = []) -> WriterVerification {
        var lost: [Int] = []
        for run in acknowledged {
            for number in run where !present.contains(number) { lost.append(number) }
        }
        let unacknowledged = present.filter { $0 >= firstNumber && !isAcknowledged($0) }.sorted()
        return WriterVerification(
            writer: writer, path: path, acknowledged: acknowledgedCount,
            present: present.filter { $0 >= firstNumber }.count,
            lost: lost, wrongData: wrongData.filter { $0 >= firstNumber }.sorted(), unacknowledgedPresent: unacknowledged
        )
    }
}

/// The outcome of checking one writer's nodes on an ensemble.
public struct WriterVerification: Sendable, Codable, Hashable {
    public var writer: Int
    public var path: String
    public var acknowledged: Int
    /// Numbers of this run found.
    public var present: Int
    /// Acknowledged but missing: writes the ensemble lost.
    public var lost: [Int]
    /// Present, but the data is not the number.
    public var wrongData: [Int]
    /// Present although never acknowledged (an attempt whose answer was lost landed): allowed.
    public var unacknowledgedPresent: [Int]
}

public struct WriteVerification: Sendable, Codable, Hashable {
    public var writers: [WriterVerification]

    public init(writers: [WriterVerification]) { self.writers = writers }

    public var acknowledged: Int { writers.map(\.acknowledged).reduce(0, +) }
    public var lost: Int { writers.map(\.lost.count).reduce(0, +) }
    public var wrongData: Int { writers.map(\.wrongData.count).reduce(0, +) }
    public var unacknowledgedPresent: Int { writers.map(\.unacknowledgedPresent.count).reduce(0, +) }
    /// No acknowledged write is missing or altered.
    public var passed: Bool { lost == 0 && wrongData == 0 }
}

/// What the writers did: the group's report, each writer's ledger and every attempt.
public struct NumberedWritesReport: Sendable, Codable, Hashable {
    public var group: ClientGroupReport
    public var basePath: String
    /// The writers' chroot: verify through a connection string with the same chroot.
    public var chroot: String?
    public var writers: [WriterLedger]
    public var attempts: [WriteAttempt]

    public var acknowledged: Int { writers.map(\.acknowledgedCount).reduce(0, +) }
    public var acknowledgedLate: Int { writers.map(\.acknowledgedLate.count).reduce(0, +) }
}

/// Runs numbered writers from `start` until `stop`.
///
/// ```swift
/// let writers = try await NumberedWriters.start(NumberedWritersOptions(group: "writers", connectionString: source), origin: origin)
/// // … migrate …
/// let report = await writers.stop()
/// let check = try await report.verify(connectionString: destination)
/// precondition(check.lost == 0)
/// ```
public final class NumberedWriters: Sendable {
    public let options: NumberedWritersOptions
    private let clock: WorkloadClock
    private let clients: [ZooKeeperClient]
    private let recorder: GroupRecorderCell
    private let log: WritersLogCell
    private let runner: Task<Void, Never>
    private let finalReport = Mutex<NumberedWritesReport?>(nil)

    private init(options: NumberedWritersOptions, clock: WorkloadClock, clients: [ZooKeeperClient], recorder: GroupRecorderCell, log: WritersLogCell, runner: Task<Void, Never>) {
        self.options = options
        self.clock = clock
        self.clients = clients
        self.recorder = recorder
        self.log = log
        self.runner = runner
    }

    /// Opens one session per writer, creates the writers' parents (and chroot) if missing, and
    /// starts writing. Numbering continues after any numbers an earlier run left. Throws, with
    /// every session closed again, if a writer cannot be set up.
    public static func start(
        _ options: NumberedWritersOptions,
        origin: ContinuousClock.Instant,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NumberedWriters {
        guard options.writers >= 1 else { throw WorkloadError("numbered writers: need at least one writer, got \(options.writers)") }
        guard options.writesPerSecond > 0, options.writesPerSecond.isFinite else {
            throw WorkloadError("numbered writers: writes per second must be positive, got \(options.writesPerSecond)")
        }
        if let problem = ZooKeeperPath.problem(with: options.basePath) {
            throw WorkloadError("numbered writers: base path \(options.basePath): \(problem)")
        }
        let clock = WorkloadClock(origin: origin)
        let configuration = options.configuration
        do {
            try await ensureChroot(of: options.connectionString, sessionTimeout: options.sessionTimeout, eventLoopGroup: eventLoopGroup) { $0.logger = options.logger }
        } catch {
            throw WorkloadError("numbered writers \(options.group): cannot create the chroot of \(options.connectionString): \(error)")
        }

        var clients: [ZooKeeperClient] = []
        var ledgers: [WriterLedger] = []
        for writer in 1...options.writers {
            let path = ZooKeeperPath.join(options.basePath, "w\(writer)")
            let client = ZooKeeperClient(configuration: configuration, eventLoopGroup: eventLoopGroup)
            clients.append(client)
            client.start()
            do {
                try await client.waitUntilConnected(timeout: options.connectTimeout)
                try await client.createPathIfMissing(path)
                let highest = try await client.getChildren(path).compactMap { Int($0) }.max() ?? 0
                ledgers.append(WriterLedger(writer: writer, path: path, firstNumber: highest + 1))
            } catch {
                for client in clients { await client.close() }
                throw WorkloadError("numbered writers \(options.group): cannot set up writer \(writer) at \(path) on \(options.connectionString): \(error)")
            }
        }

        var groupRecorder = ClientGroupRecorder(group: options.group, started: clock.now, bucketWidth: options.bucketWidth, stallThreshold: options.stallThreshold)
        for ledger in ledgers { groupRecorder.addMember(ledger.member, at: groupRecorder.started) }
        let recorder = GroupRecorderCell(groupRecorder)
        let log = WritersLogCell(ledgers)
        let probe = WorkloadProbe(clock: clock, recorder: recorder)
        let started = clients
        let runner = Task {
            await withTaskGroup(of: Void.self) { tasks in
                for (index, client) in started.enumerated() {
                    let ledger = ledgers[index]
                    tasks.addTask { await writeLoop(ledger: ledger, client: client, options: options, probe: probe, log: log) }
                    tasks.addTask { await watchSessions(of: client, member: ledger.member, probe: probe) }
                }
            }
        }
        return NumberedWriters(options: options, clock: clock, clients: clients, recorder: recorder, log: log, runner: runner)
    }

    deinit {
        // `stop()` is the way to end a run; this only makes sure nothing outlives the writers.
        runner.cancel()
        for client in clients { client.beginClose() }
    }

    /// Stops writing, closes the sessions and returns the report. A write in flight is answered
    /// first if the connection is up (ZooKeeper answers in order, before the session's close);
    /// otherwise its number is left in doubt. Calling it again returns the same report.
    public func stop() async -> NumberedWritesReport {
        if let report = finalReport.withLock({ $0 }) { return report }
        let stopped = clock.now
        runner.cancel()
        for client in clients { await client.close() }
        await runner.value
        let (ledgers, attempts) = log.snapshot()
        let report = NumberedWritesReport(
            group: recorder.withValue { $0.report(stopped: stopped) },
            basePath: options.basePath, chroot: options.connectionString.chroot,
            writers: ledgers, attempts: attempts
        )
        return finalReport.withLock { stored in
            if stored == nil { stored = report }
            return stored!
        }
    }

    /// The writer's loop: one create at a time, the same number again until it is acknowledged.
    private static func writeLoop(ledger: WriterLedger, client: ZooKeeperClient, options: NumberedWritersOptions, probe: WorkloadProbe, log: WritersLogCell) async {
        let interval = Duration.seconds(1 / options.writesPerSecond)
        var number = ledger.firstNumber
        var answerLost = false  // an earlier attempt at `number` got no answer: it may have landed
        var due = ContinuousClock.now
        while !Task.isCancelled {
            guard await pause(until: due) else { return }
            let start = ContinuousClock.now
            var outcome: WriteAttempt.Outcome
            var sampleOutcome: OperationOutcome
            var code: ZooKeeperError.Code? = nil
            do {
                try await client.create(ZooKeeperPath.join(ledger.path, numberName(number)), data: Array(String(number).utf8))
                (outcome, sampleOutcome) = (.acknowledged, .succeeded)
            } catch let error as ZooKeeperError where error.code == .nodeExists && answerLost {
                // Only this writer writes under its path: the attempt whose answer was lost landed.
                (outcome, sampleOutcome) = (.acknowledgedLate, .succeeded)
            } catch {
                sampleOutcome = OperationOutcome(error)
                switch sampleOutcome {
                case .unknown(let failure): (outcome, code) = (.unknown, failure)
                case .failed(let failure): (outcome, code) = (.failed, failure)
                case .interrupted, .succeeded: outcome = .interrupted
                }
            }
            let end = ContinuousClock.now
            probe.recorder.withValue {
                $0.record(OperationSample(member: ledger.member, start: probe.clock.seconds(start), end: probe.clock.seconds(end), outcome: sampleOutcome))
            }
            let attempt = WriteAttempt(
                writer: ledger.writer, number: number, start: probe.clock.seconds(start),
                latencyMilliseconds: (end - start).seconds * 1000, outcome: outcome, code: code?.name
            )
            log.record(attempt)
            switch outcome {
            case .acknowledged, .acknowledgedLate:
                number += 1
                answerLost = false
                due = max(due + interval, .now)
            case .unknown, .interrupted:
                answerLost = true
                due = .now + options.retryDelay
            case .failed:
                if code == .nodeExists {
                    // Someone else wrote this writer's number (another run on the same base path?):
                    // it is not ours to count; move on.
                    options.logger.warning("numbered writer \(ledger.member): \(ledger.path)/\(numberName(number)) already existed; skipping it")
                    number += 1
                    answerLost = false
                }
                due = .now + options.retryDelay
            }
            if outcome == .interrupted { return }
        }
    }

    private static func watchSessions(of client: ZooKeeperClient, member: String, probe: WorkloadProbe) async {
        for await state in await client.stateUpdates() {
            if case .expired(let sessionID) = state {
                let now = probe.clock.now
                probe.recorder.withValue { $0.sessionExpired(member: member, at: now, sessionID: sessionID) }
            }
        }
    }
}

/// Ten digits, zero-padded, as ZooKeeper names sequential nodes: names sort as numbers do.
func numberName(_ number: Int) -> String {
    let digits = String(number)
    return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
}

extension NumberedWritersOptions {
    var configuration: ZooKeeperConfiguration {
        ZooKeeperConfiguration(connectionString: connectionString, sessionTimeout: sessionTimeout, logger: logger)
    }
}

/// The writers' ledgers and attempt log, shared by their loops.
final class WritersLogCell: Sendable {
    private struct Log {
        var ledgers: [WriterLedger]
        var attempts: [WriteAttempt] = []
    }

    private let mutex: Mutex<Log>

    init(_ ledgers: [WriterLedger]) { mutex = Mutex(Log(ledgers: ledgers)) }

    func record(_ attempt: WriteAttempt) {
        mutex.withLock { log in
            log.attempts.append(attempt)
            guard let index = log.ledgers.firstIndex(where: { $0.writer == attempt.writer }) else { return }
            switch attempt.outcome {
            case .acknowledged, .acknowledgedLate:
                log.ledgers[index].acknowledge(attempt.number)
                if attempt.outcome == .acknowledgedLate { log.ledgers[index].acknowledgedLate.append(attempt.number) }
                log.ledgers[index].inDoubt = nil
            case .unknown, .interrupted:
                log.ledgers[index].inDoubt = attempt.number
            case .failed:
                break
            }
        }
    }

    func snapshot() -> ([WriterLedger], [WriteAttempt]) {
        mutex.withLock { ($0.ledgers, $0.attempts) }
    }
}

// MARK: - Verification

extension NumberedWritesReport {
    /// Checks the writers' nodes through `client`, which may talk to any ensemble holding the data
    /// (the source, or the destination after a migration) and must have the writers' chroot. Syncs
    /// first, so a lagging server cannot hide writes; with `checkData`, reads every node of this run
    /// to check it holds its number.
    public func verify(using client: ZooKeeperClient, checkData: Bool = true, concurrency: Int = 64) async throws -> WriteVerification {
        var results: [WriterVerification] = []
        for ledger in writers {
            let names: [String]
            do {
                try await client.sync(ledger.path)
                names = try await client.getChildren(ledger.path)
            } catch let error as ZooKeeperError where error.code == .noNode {
                names = []
            }
            var present = Set(names.compactMap { Int($0) }.filter { $0 >= ledger.firstNumber })
            var wrongData = Set<Int>()
            if checkData {
                let (wrong, vanished) = try await readNumbers(Array(present).sorted(), under: ledger.path, client: client, concurrency: max(1, concurrency))
                wrongData = wrong
                present.subtract(vanished)
            }
            results.append(ledger.verification(present: present, wrongData: wrongData))
        }
        return WriteVerification(writers: results)
    }

    /// Connects to `connectionString` (with the writers' chroot), verifies, and closes.
    public func verify(
        connectionString: ConnectionString,
        checkData: Bool = true,
        sessionTimeout: Duration = .seconds(10),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WriteVerification {
        let configuration = ZooKeeperConfiguration(connectionString: connectionString, sessionTimeout: sessionTimeout)
        let client = try await ZooKeeperClient.connect(configuration, eventLoopGroup: eventLoopGroup)
        do {
            let result = try await verify(using: client, checkData: checkData)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// Reads each numbered node: returns the numbers whose data is not their number, and those
    /// deleted since they were listed.
    private func readNumbers(_ numbers: [Int], under path: String, client: ZooKeeperClient, concurrency: Int) async throws -> (wrong: Set<Int>, vanished: Set<Int>) {
        var wrong = Set<Int>()
        var vanished = Set<Int>()
        var start = 0
        while start < numbers.count {
            let chunk = numbers[start..<min(start + concurrency, numbers.count)]
            start += chunk.count
            try await withThrowingTaskGroup(of: (Int, Bool?).self) { reads in
                for number in chunk {
                    reads.addTask {
                        do {
                            let (data, _) = try await client.getData(ZooKeeperPath.join(path, numberName(number)))
                            return (number, data == Array(String(number).utf8))
                        } catch let error as ZooKeeperError where error.code == .noNode {
                            return (number, nil)
                        }
                    }
                }
                for try await (number, matches) in reads {
                    switch matches {
                    case true?: break
                    case false?: wrong.insert(number)
                    case nil: vanished.insert(number)
                    }
                }
            }
        }
        return (wrong, vanished)
    }
}
