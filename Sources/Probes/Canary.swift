import Foundation
import Histogram
import Logging
public import NIOCore
import NIOPosix
import Synchronization
import ZooKeeper

/// A canary for one client group: a session that does write-then-read round trips on a schedule
/// and records what a client of that group would have felt — failed and slow operations, stalls,
/// session events, the server it talks to, leader changes and zxid progress.
///
/// Leader changes are read from the zxids the canary's own writes get: every new leader starts a
/// new epoch (the zxid's high 32 bits), so an epoch change is an election that clients felt.
public struct CanaryOptions: Sendable {
    /// The client group's name, e.g. "kafka".
    public var group: String
    public var connectionString: ConnectionString
    /// Pause between successful round trips.
    public var interval: Duration
    /// A round trip slower than this counts as a stall, as a failed one does.
    public var slowThreshold: Duration
    public var sessionTimeout: Duration
    /// The znode the canary writes (created if missing). Distinct per group so canaries do not interfere.
    public var path: String

    public init(
        group: String,
        connectionString: ConnectionString,
        interval: Duration = .milliseconds(100),
        slowThreshold: Duration = .milliseconds(500),
        sessionTimeout: Duration = .seconds(10),
        path: String? = nil
    ) {
        self.group = group
        self.connectionString = connectionString
        self.interval = interval
        self.slowThreshold = slowThreshold
        self.sessionTimeout = sessionTimeout
        self.path = path ?? "/mitosis-canary-\(group)"
    }
}

/// One line of the availability timeline.
public struct CanaryEvent: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable {
        case started, failed, slow, stallStarted, stallEnded, session, leaderChanged, stopped
        /// A smoketest run (`mitosis smoketest --watch`) passed, or failed (`detail` says which
        /// checks on which servers).
        case smoketestPassed, smoketestFailed
    }

    /// Seconds since 1970.
    public var time: Double
    public var group: String
    public var kind: Kind
    public var latencyMilliseconds: Double?
    public var server: String?
    public var zxid: String?
    public var detail: String?

    public init(time: Double, group: String, kind: Kind, latencyMilliseconds: Double? = nil, server: String? = nil, zxid: String? = nil, detail: String? = nil) {
        self.time = time
        self.group = group
        self.kind = kind
        self.latencyMilliseconds = latencyMilliseconds
        self.server = server
        self.zxid = zxid
        self.detail = detail
    }
}

/// A period during which the group's operations did not complete in time.
public struct Stall: Sendable, Codable, Hashable {
    /// Seconds since 1970: when the first failed or slow operation started.
    public var start: Double
    /// When the next operation succeeded (or the canary stopped, if `open`).
    public var end: Double
    public var open: Bool
    public var milliseconds: Double { (end - start) * 1000 }

    public init(start: Double, end: Double, open: Bool) {
        self.start = start
        self.end = end
        self.open = open
    }
}

public struct CanarySummary: Sendable, Codable, Hashable {
    public var group: String
    public var started: Double
    public var stopped: Double
    public var operations: Int
    public var failed: Int
    public var slow: Int
    public var stalls: [Stall]
    public var longestStallMilliseconds: Double
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
    public var p999Milliseconds: Double
    public var maximumMilliseconds: Double
    public var disconnects: Int
    public var sessionsExpired: Int
    public var leaderChanges: Int
    public var firstZxid: String?
    public var lastZxid: String?
}

/// Pure bookkeeping of a canary's timeline: fed with outcomes, it keeps stalls, counts and the
/// latency histogram. Separate from the loop so it is tested with made-up times.
public struct CanaryRecorder: Sendable {
    public let group: String
    public let slowThreshold: Duration
    public private(set) var operations = 0
    public private(set) var failed = 0
    public private(set) var slow = 0
    public private(set) var stalls: [Stall] = []
    public private(set) var disconnects = 0
    public private(set) var sessionsExpired = 0
    public private(set) var leaderChanges = 0
    public private(set) var firstZxid: Zxid?
    public private(set) var lastZxid: Zxid?
    private var openStallStart: Double?
    private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    private var maximumMicroseconds: UInt64 = 0
    public let started: Double

    public init(group: String, slowThreshold: Duration, started: Double) {
        self.group = group
        self.slowThreshold = slowThreshold
        self.started = started
    }

    /// Records one round trip that began at `start` and ended at `end` (seconds since 1970).
    /// Returns the events it produced.
    public mutating func record(start: Double, end: Double, error: String?, server: String?, zxid: Zxid?) -> [CanaryEvent] {
        operations += 1
        let latency = end - start
        let micros = UInt64(max(0, latency * 1_000_000))
        histogram.record(micros)
        maximumMicroseconds = max(maximumMicroseconds, micros)
        var events: [CanaryEvent] = []
        let tooSlow = latency > slowThreshold.seconds
        if let error {
            failed += 1
            events.append(CanaryEvent(time: end, group: group, kind: .failed, latencyMilliseconds: latency * 1000, server: server, detail: error))
        } else if tooSlow {
            slow += 1
            events.append(CanaryEvent(time: end, group: group, kind: .slow, latencyMilliseconds: latency * 1000, server: server))
        }
        if error != nil || tooSlow {
            if openStallStart == nil {
                openStallStart = start
                events.append(CanaryEvent(time: start, group: group, kind: .stallStarted, server: server))
            }
        }
        if error == nil {
            if let stallStart = openStallStart {
                // The stall lasts until this successful operation completed.
                stalls.append(Stall(start: stallStart, end: end, open: false))
                openStallStart = nil
                events.append(CanaryEvent(time: end, group: group, kind: .stallEnded, latencyMilliseconds: (end - stallStart) * 1000, server: server))
            }
            if let zxid {
                if firstZxid == nil { firstZxid = zxid }
                if let last = lastZxid, zxid.epoch != last.epoch {
                    leaderChanges += 1
                    events.append(CanaryEvent(time: end, group: group, kind: .leaderChanged, server: server, zxid: zxid.description, detail: "epoch \(last.epoch) → \(zxid.epoch)"))
                }
                if lastZxid.map({ zxid > $0 }) ?? true { lastZxid = zxid }
            }
        }
        return events
    }

    public mutating func record(state: ConnectionState, at time: Double) -> CanaryEvent {
        switch state {
        case .suspended: disconnects += 1
        case .expired: sessionsExpired += 1
        default: break
        }
        var server: String? = nil
        if case .connected(_, let address, _) = state { server = address }
        return CanaryEvent(time: time, group: group, kind: .session, server: server, detail: state.description)
    }

    public func summary(stopped: Double) -> CanarySummary {
        var all = stalls
        if let open = openStallStart { all.append(Stall(start: open, end: stopped, open: true)) }
        let millis = { (percentile: Double) in operations == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000 }
        return CanarySummary(
            group: group, started: started, stopped: stopped, operations: operations, failed: failed, slow: slow,
            stalls: all, longestStallMilliseconds: all.map(\.milliseconds).max() ?? 0,
            p50Milliseconds: millis(50), p99Milliseconds: millis(99), p999Milliseconds: millis(99.9),
            maximumMilliseconds: Double(maximumMicroseconds) / 1000,
            disconnects: disconnects, sessionsExpired: sessionsExpired, leaderChanges: leaderChanges,
            firstZxid: firstZxid?.description, lastZxid: lastZxid?.description
        )
    }
}

/// Runs a canary until its task is cancelled, then returns the summary.
public struct Canary: Sendable {
    public let options: CanaryOptions
    public let logger: Logger
    public let eventLoopGroup: any EventLoopGroup

    public init(
        options: CanaryOptions, logger: Logger = Logger(label: "mitosis.canary"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.options = options
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Runs until the calling task is cancelled. `onEvent` sees every timeline event as it happens
    /// (e.g. to print JSON lines); the summary includes whatever stall is still open at the end.
    ///
    /// `onOperation` sees every write-and-read round: its start and end (seconds since 1970) and
    /// whether it succeeded, for a throughput timeline.
    public func run(
        onEvent: @escaping @Sendable (CanaryEvent) -> Void = { _ in },
        onOperation: @escaping @Sendable (_ start: Double, _ end: Double, _ succeeded: Bool) -> Void = { _, _, _ in }
    ) async -> CanarySummary {
        let recorder = RecorderBox(CanaryRecorder(group: options.group, slowThreshold: options.slowThreshold, started: now()))
        onEvent(CanaryEvent(time: now(), group: options.group, kind: .started, detail: options.connectionString.description))
        var configuration = ZooKeeperConfiguration(connectionString: options.connectionString, sessionTimeout: options.sessionTimeout, logger: logger)
        configuration.shuffleServers = true
        let client = ZooKeeperClient(configuration: configuration, eventLoopGroup: eventLoopGroup)
        client.start()
        let states = await client.stateUpdates()
        let group = options.group
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await state in states {
                    let event = recorder.withValue { $0.record(state: state, at: now()) }
                    onEvent(event)
                }
            }
            tasks.addTask {
                await withTaskCancellationHandler {
                    await loop(client: client, recorder: recorder, onEvent: onEvent, onOperation: onOperation)
                } onCancel: {
                    client.beginClose()
                }
            }
            await tasks.next()
            // The loop ended (cancelled): close, which ends the state stream too.
            await client.close()
            await tasks.waitForAll()
        }
        let stopped = now()
        onEvent(CanaryEvent(time: stopped, group: group, kind: .stopped))
        return recorder.withValue { $0.summary(stopped: stopped) }
    }

    private func loop(
        client: ZooKeeperClient, recorder: RecorderBox, onEvent: @Sendable (CanaryEvent) -> Void,
        onOperation: @Sendable (Double, Double, Bool) -> Void
    ) async {
        var counter = 0
        var pathReady = false
        while !Task.isCancelled {
            counter += 1
            let start = now()
            var error: String? = nil
            var zxid: Zxid? = nil
            do {
                if !pathReady {
                    do {
                        try await client.create(options.path)
                    } catch let error as ZooKeeperError where error.code == .nodeExists {}
                    pathReady = true
                }
                let payload = Array("\(counter)".utf8)
                let stat = try await client.setData(options.path, data: payload)
                let (data, _) = try await client.getData(options.path)
                if data != payload {
                    // Another writer on the same path, or a read from a server that lost our write.
                    error = "read back \(String(decoding: data, as: UTF8.self)) after writing \(counter)"
                }
                zxid = stat.mzxid
            } catch let failure as ZooKeeperError {
                if failure.code == .clientClosed { break }
                error = failure.code.name
            } catch {
                break
            }
            let end = now()
            onOperation(start, end, error == nil)
            let server = await currentServer(client)
            let events = recorder.withValue { $0.record(start: start, end: end, error: error, server: server, zxid: zxid) }
            events.forEach(onEvent)
            do {
                // After a failure, retry soon: the stall's end is measured by the next success.
                try await Task.sleep(for: error == nil ? options.interval : .milliseconds(20))
            } catch {
                break
            }
        }
    }

    private func currentServer(_ client: ZooKeeperClient) async -> String? {
        if case .connected(_, let server, _) = await client.state { return server }
        return nil
    }
}

/// The recorder shared by the loop and the state watcher.
final class RecorderBox: Sendable {
    private let mutex: Mutex<CanaryRecorder>

    init(_ value: CanaryRecorder) { self.mutex = Mutex(value) }

    func withValue<T: Sendable>(_ body: (inout CanaryRecorder) -> T) -> T {
        mutex.withLock { body(&$0) }
    }
}

func now() -> Double { Date().timeIntervalSince1970 }
