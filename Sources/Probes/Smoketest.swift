import Foundation
import Logging
import Synchronization
import ZooKeeper
import ZooKeeperProtocol

/// What phunt's zk-smoketest and zk-latencies check, on every server of an ensemble, and what
/// Mitosis adds to them.
///
/// zk-smoketest: one session per server; the test root must hold no leftovers; one ephemeral
/// node written through every session (so through every server); every server, brought up to date,
/// sees as many children as there are sessions; each session watches every node (N×N watches);
/// each node is deleted through its own session, and every session must get all N notifications,
/// in the order of the deletes. zk-latencies: per server, create, set, get and delete of
/// persistent nodes, create of ephemeral nodes, `watched` (a watch on each), their delete, and
/// the time until every notification arrived (a wrong count fails), one request at a time or
/// pipelined (zk-latencies' asynchronous mode).
///
/// Mitosis adds: each node's data and ephemeralOwner are checked on every server (after `sync`),
/// a server that cannot be reached fails its own checks while the others still run, and the
/// deletes are checked on every server too.
public struct SmoketestOptions: Sendable {
    public var servers: [ConnectionString.Server]
    /// Operations per latency phase and server (0 skips the latency phases).
    public var operationsPerPhase: Int
    public var dataSize: Int
    public var connectTimeout: Duration
    public var sessionTimeout: Duration
    /// The test root's parent: the smoketest works in `<root>/mitosis-smoketest` (``testRoot``).
    public var root: String
    /// Remove what an earlier run left under the test root (and say what), instead of refusing to run.
    public var cleanLeftovers: Bool
    /// Latency phases with every request of a phase in flight at once on the session
    /// (zk-latencies' default asynchronous mode) instead of one request at a time.
    public var pipelined: Bool

    public init(
        servers: [ConnectionString.Server], operationsPerPhase: Int = 200, dataSize: Int = 100, connectTimeout: Duration = .seconds(5),
        sessionTimeout: Duration = .seconds(10), root: String = "/", cleanLeftovers: Bool = false, pipelined: Bool = false
    ) {
        self.servers = servers
        self.operationsPerPhase = operationsPerPhase
        self.dataSize = dataSize
        self.connectTimeout = connectTimeout
        self.sessionTimeout = sessionTimeout
        self.root = root
        self.cleanLeftovers = cleanLeftovers
        self.pipelined = pipelined
    }

    /// Where every node of the smoketest lives; it must be empty when a run starts.
    public var testRoot: String { ZooKeeperPath.join(root, "mitosis-smoketest") }
}

public struct SmoketestReport: Sendable, Codable, Hashable {
    public struct Check: Sendable, Codable, Hashable {
        public var name: String
        public var server: String?
        public var passed: Bool
        public var detail: String?
    }

    public struct Phase: Sendable, Codable, Hashable {
        public var server: String
        public var name: String
        public var operations: Int
        public var seconds: Double
        public var millisecondsPerOperation: Double { operations == 0 ? 0 : seconds * 1000 / Double(operations) }
        public var operationsPerSecond: Double { seconds == 0 ? 0 : Double(operations) / seconds }
    }

    public var checks: [Check] = []
    public var phases: [Phase] = []
    /// Whether the latency phases were pipelined.
    public var pipelined = false
    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }
}

public struct Smoketest: Sendable {
    public let options: SmoketestOptions
    public let logger: Logger

    /// The latency phases, in the order zk-latencies runs them.
    public static let phaseNames = [
        "create", "set", "get", "delete", "create ephemeral", "watched", "delete ephemeral", "notifications",
    ]

    public init(options: SmoketestOptions, logger: Logger = Logger(label: "mitosis.smoketest")) {
        self.options = options
        self.logger = logger
    }

    typealias Session = (server: ConnectionString.Server, client: ZooKeeperClient)

    /// Runs every check; never throws for a failed check (the report says what failed, and where).
    /// `progress` is told what is happening, for a person watching.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async -> SmoketestReport {
        var report = SmoketestReport(pipelined: options.pipelined)
        var sessions: [Session] = []
        for server in options.servers {
            progress("connecting to \(server)")
            let configuration = ZooKeeperConfiguration(
                connectionString: ConnectionString(servers: [server]),
                sessionTimeout: options.sessionTimeout, shuffleServers: false, logger: logger
            )
            do {
                let client = try await ZooKeeperClient.connect(configuration, timeout: options.connectTimeout)
                sessions.append((server, client))
                report.checks.append(.init(name: "session", server: server.description, passed: true))
            } catch {
                report.checks.append(
                    .init(name: "session", server: server.description, passed: false, detail: "no session within \(options.connectTimeout): \(error)"))
            }
        }
        if let first = sessions.first, await prepareTestRoot(first, report: &report, progress: progress) {
            await checkEveryServer(sessions, report: &report, progress: progress)
            if options.operationsPerPhase > 0 {
                for (index, session) in sessions.enumerated() {
                    progress("latency phases on \(session.server)\(options.pipelined ? " (pipelined)" : "")")
                    await measureLatencies(session, index: index, report: &report)
                }
            }
            // Gone only when empty: a dead session's ephemeral stays until the session expires.
            try? await first.client.delete(options.testRoot)
        }
        for (_, client) in sessions { await client.close() }
        return report
    }

    // MARK: The test root

    /// Creates the test root, and refuses to go on when it holds leftovers (or removes them).
    private func prepareTestRoot(_ session: Session, report: inout SmoketestReport, progress: (String) -> Void) async -> Bool {
        let root = options.testRoot
        let server = session.server.description
        do {
            if try await session.client.exists(root) == nil {
                do {
                    try await session.client.create(root, data: Array("mitosis smoketest: removed at the end of each run".utf8))
                } catch let error as ZooKeeperError where error.code == .nodeExists {}
            }
            let leftovers = try await session.client.getChildren(root).sorted()
            guard !leftovers.isEmpty else {
                report.checks.append(.init(name: "test root empty", server: server, passed: true))
                return true
            }
            let listed = leftovers.prefix(5).joined(separator: ", ") + (leftovers.count > 5 ? " and \(leftovers.count - 5) more" : "")
            guard options.cleanLeftovers else {
                report.checks.append(
                    .init(
                        name: "test root empty", server: server, passed: false,
                        detail: "\(root) holds \(leftovers.count) node\(leftovers.count == 1 ? "" : "s") an earlier run left (\(listed)): an ephemeral one goes when its session expires; or run again with --clean to remove them"))
                return false
            }
            progress("removing \(leftovers.count) leftover\(leftovers.count == 1 ? "" : "s") under \(root)")
            for child in leftovers { try await session.client.deleteRecursively(ZooKeeperPath.join(root, child)) }
            report.checks.append(
                .init(name: "test root empty", server: server, passed: true, detail: "removed \(leftovers.count) leftover\(leftovers.count == 1 ? "" : "s") of an earlier run: \(listed)"))
            return true
        } catch {
            report.checks.append(.init(name: "test root empty", server: server, passed: false, detail: "preparing \(root): \(error)"))
            return false
        }
    }

    // MARK: zk-smoketest

    private struct Writer {
        var server: String
        var client: ZooKeeperClient
        var path: String
        var sessionID: Int64
    }

    private func checkEveryServer(_ sessions: [Session], report: inout SmoketestReport, progress: (String) -> Void) async {
        let root = options.testRoot
        // One ephemeral per session, each written through its own server.
        var writers: [Writer] = []
        for (index, (server, client)) in sessions.enumerated() {
            let path = ZooKeeperPath.join(root, "session_\(index)")
            progress("writing ephemeral \(path) through \(server)")
            do {
                try await client.sync(root)
                try await client.create(path, data: Array(path.utf8), mode: .ephemeral)
                writers.append(Writer(server: server.description, client: client, path: path, sessionID: await client.sessionID ?? 0))
                report.checks.append(.init(name: "write through the server", server: server.description, passed: true))
            } catch {
                report.checks.append(.init(name: "write through the server", server: server.description, passed: false, detail: "creating \(path): \(error)"))
            }
        }
        guard !writers.isEmpty else { return }
        let expected = writers.map { String($0.path.split(separator: "/").last ?? "") }.sorted()

        // Every server, brought up to date, holds every node (same data, same owner); each
        // session watches all of them.
        var watchers: [(server: String, events: AsyncStream<WatchedEvent>)] = []
        for (server, client) in sessions {
            do {
                let events = await client.watchEvents()
                try await client.sync(root)
                let children = try await client.getChildren(root).sorted()
                let missing = expected.filter { !children.contains($0) }
                let extra = children.filter { !expected.contains($0) }
                report.checks.append(
                    .init(
                        name: "child count", server: server.description, passed: missing.isEmpty && extra.isEmpty,
                        detail: missing.isEmpty && extra.isEmpty
                            ? nil
                            : "\(children.count) children, expected \(expected.count)"
                                + (missing.isEmpty ? "" : "; missing \(missing.joined(separator: ", "))")
                                + (extra.isEmpty ? "" : "; unexpected \(extra.joined(separator: ", "))")))
                var wrong: [String] = []
                for writer in writers {
                    let (data, stat) = try await client.getData(writer.path, watch: true)
                    if data != Array(writer.path.utf8) { wrong.append("\(writer.path) has other data") }
                    if stat.ephemeralOwner != writer.sessionID {
                        wrong.append(
                            "\(writer.path) is owned by session 0x\(String(stat.ephemeralOwner, radix: 16)), not 0x\(String(writer.sessionID, radix: 16)) that wrote it through \(writer.server)")
                    }
                }
                report.checks.append(
                    .init(name: "sees every node", server: server.description, passed: wrong.isEmpty, detail: wrong.isEmpty ? nil : wrong.joined(separator: "; ")))
                watchers.append((server.description, events))
            } catch {
                report.checks.append(.init(name: "sees every node", server: server.description, passed: false, detail: "\(error)"))
            }
        }

        // Each node deleted through its own session, in order: every watching session must be
        // told of all of them, in that order.
        progress("deleting the \(writers.count) ephemerals; \(watchers.count) × \(writers.count) watches must fire in order")
        var deleted: [String] = []
        for writer in writers {
            do {
                try await writer.client.delete(writer.path)
                deleted.append(writer.path)
            } catch {
                report.checks.append(.init(name: "delete through the server", server: writer.server, passed: false, detail: "deleting \(writer.path): \(error)"))
            }
        }
        for watcher in watchers {
            let events = await Self.collect(deleted.count, from: watcher.events, within: options.sessionTimeout)
            let paths = events.map(\.path)
            let allDeletes = events.allSatisfy { $0.type == .nodeDeleted }
            let detail: String? =
                if events.count != deleted.count {
                    "\(events.count) of \(deleted.count) notifications within \(options.sessionTimeout)"
                } else if paths != deleted || !allDeletes {
                    "notifications out of order or of the wrong kind: \(events.map { "\($0.type) \($0.path)" }.joined(separator: ", ")); expected deletes of \(deleted.joined(separator: ", "))"
                } else {
                    nil
                }
            report.checks.append(.init(name: "watch notifications", server: watcher.server, passed: detail == nil, detail: detail))
        }
        for (server, client) in sessions {
            do {
                try await client.sync(root)
                let left = try await client.getChildren(root).filter { expected.contains($0) }
                report.checks.append(
                    .init(name: "sees the deletes", server: server.description, passed: left.isEmpty, detail: left.isEmpty ? nil : "still holds \(left.sorted().joined(separator: ", "))"))
            } catch {
                report.checks.append(.init(name: "sees the deletes", server: server.description, passed: false, detail: "\(error)"))
            }
        }
    }

    /// Up to `count` node events from `stream`, in the order they arrived, waiting at most `timeout`.
    static func collect(_ count: Int, from stream: AsyncStream<WatchedEvent>, within timeout: Duration) async -> [WatchedEvent] {
        guard count > 0 else { return [] }
        let received = ReceivedEvents()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in stream where event.type != .none {
                    if received.events.withLock({ $0.append(event); return $0.count }) >= count { return }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return received.events.withLock { $0 }
    }

    /// The events `collect` has received so far, kept when its deadline ends the wait.
    private final class ReceivedEvents: Sendable {
        let events = Mutex<[WatchedEvent]>([])
    }

    // MARK: zk-latencies

    private func measureLatencies(_ session: Session, index: Int, report: inout SmoketestReport) async {
        let (server, client) = session
        let parent = ZooKeeperPath.join(options.testRoot, "latency_\(index)")
        let count = options.operationsPerPhase
        let data = [UInt8](repeating: UInt8(ascii: "x"), count: options.dataSize)
        let paths = (0..<count).map { ZooKeeperPath.join(parent, "node_\($0)") }
        let pipelined = options.pipelined
        let clock = ContinuousClock()
        func phase(_ name: String, _ body: @escaping @Sendable (String) async throws -> Void) async -> Bool {
            let start = clock.now
            do {
                if pipelined {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for path in paths { group.addTask { try await body(path) } }
                        try await group.waitForAll()
                    }
                } else {
                    for path in paths { try await body(path) }
                }
            } catch {
                report.checks.append(.init(name: "latency \(name)", server: server.description, passed: false, detail: "\(error)"))
                return false
            }
            report.phases.append(.init(server: server.description, name: name, operations: count, seconds: (clock.now - start).seconds))
            return true
        }
        do {
            try await client.create(parent)
        } catch {
            report.checks.append(.init(name: "latency setup", server: server.description, passed: false, detail: "creating \(parent): \(error)"))
            return
        }
        var ok = await phase("create") { try await client.create($0, data: data) }
        if ok { ok = await phase("set") { try await client.setData($0, data: data) } }
        if ok {
            ok = await phase("get") { path in
                let (read, _) = try await client.getData(path)
                if read != data { throw SmoketestError("\(path) read back \(read.count) bytes, not the \(data.count) written") }
            }
        }
        if ok { ok = await phase("delete") { try await client.delete($0) } }
        if ok { ok = await phase("create ephemeral") { try await client.create($0, data: data, mode: .ephemeral) } }
        if ok {
            let events = await client.watchEvents()
            ok = await phase("watched") { _ = try await client.getData($0, watch: true) }
            if ok { ok = await phase("delete ephemeral") { try await client.delete($0) } }
            if ok {
                let start = clock.now
                let notified = await Self.collect(count, from: events, within: options.sessionTimeout)
                if notified.count == count {
                    report.phases.append(.init(server: server.description, name: "notifications", operations: count, seconds: (clock.now - start).seconds))
                } else {
                    ok = false
                    report.checks.append(
                        .init(
                            name: "latency notifications", server: server.description, passed: false,
                            detail: "\(notified.count) of \(count) watch notifications within \(options.sessionTimeout)"))
                }
            }
        }
        // Clean up whatever is left, even after a failed phase.
        _ = try? await client.deleteRecursively(parent)
        if ok { report.checks.append(.init(name: "latency phases", server: server.description, passed: true)) }
    }
}

extension Smoketest {
    /// Runs the smoketest every `interval` until the calling task is cancelled, and reports each
    /// run as an event of the timeline `mitosis watch` writes (`group` names it there): when it
    /// started, how long it took, and which checks failed on which servers.
    public func watch(
        every interval: Duration, group: String = "smoketest", onEvent: @Sendable (CanaryEvent) -> Void
    ) async -> [SmoketestReport] {
        var reports: [SmoketestReport] = []
        while !Task.isCancelled {
            let start = Date()
            let report = await run()
            // A run cut short by the cancellation says nothing about the ensemble.
            if Task.isCancelled { break }
            let failed = report.checks.filter { !$0.passed }
            let servers = Set(failed.compactMap(\.server)).sorted()
            onEvent(
                CanaryEvent(
                    time: start.timeIntervalSince1970, group: group, kind: report.passed ? .smoketestPassed : .smoketestFailed,
                    latencyMilliseconds: Date().timeIntervalSince(start) * 1000, server: servers.isEmpty ? nil : servers.joined(separator: ","),
                    detail: failed.isEmpty ? nil : failed.map { "\($0.name) on \($0.server ?? "the ensemble"): \($0.detail ?? "failed")" }.joined(separator: "; ")))
            reports.append(report)
            try? await Task.sleep(for: interval)
        }
        return reports
    }
}

/// A latency phase that read back something other than what it wrote.
struct SmoketestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
