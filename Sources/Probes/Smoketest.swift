import Foundation
import Logging
import ZooKeeper

/// What zk-smoketest checks, on every server of an ensemble: one session per server; an ephemeral
/// node created through one server is seen (after sync) through every other; a watch set through
/// every server fires exactly once when the node is deleted; cleanup. Plus zk-latencies' phases
/// (create, set, get, delete, watch) per server, in milliseconds per operation and operations per
/// second.
public struct SmoketestOptions: Sendable {
    public var servers: [ConnectionString.Server]
    /// Operations per latency phase and server (0 skips the latency phases).
    public var operationsPerPhase: Int
    public var dataSize: Int
    public var connectTimeout: Duration
    public var sessionTimeout: Duration
    /// Where the smoketest creates its nodes (a fresh child of this path, removed afterwards).
    public var root: String

    public init(servers: [ConnectionString.Server], operationsPerPhase: Int = 200, dataSize: Int = 100, connectTimeout: Duration = .seconds(5), sessionTimeout: Duration = .seconds(10), root: String = "/") {
        self.servers = servers
        self.operationsPerPhase = operationsPerPhase
        self.dataSize = dataSize
        self.connectTimeout = connectTimeout
        self.sessionTimeout = sessionTimeout
        self.root = root
    }
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
    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }
}

public struct Smoketest: Sendable {
    public let options: SmoketestOptions
    public let logger: Logger

    public init(options: SmoketestOptions, logger: Logger = Logger(label: "mitosis.smoketest")) {
        self.options = options
        self.logger = logger
    }

    /// Runs every check; never throws for a failed check (the report says what failed).
    /// `progress` is told what is happening, for a person watching.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async -> SmoketestReport {
        var report = SmoketestReport()
        var sessions: [(server: ConnectionString.Server, client: ZooKeeperClient)] = []
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
                report.checks.append(.init(name: "session", server: server.description, passed: false, detail: "\(error)"))
            }
        }
        if let first = sessions.first {
            await checkVisibilityAndWatches(sessions: sessions, creator: first.client, report: &report, progress: progress)
            if options.operationsPerPhase > 0 {
                for (server, client) in sessions {
                    progress("latency phases on \(server)")
                    await measureLatencies(server: server, client: client, report: &report)
                }
            }
        }
        for (_, client) in sessions { await client.close() }
        return report
    }

    /// A node path no other smoketest run uses.
    private func freshNodePath() -> String {
        ZooKeeperPath.join(options.root, "mitosis-smoketest-\(UInt32.random(in: 0...UInt32.max))")
    }

    private func checkVisibilityAndWatches(
        sessions: [(server: ConnectionString.Server, client: ZooKeeperClient)],
        creator: ZooKeeperClient,
        report: inout SmoketestReport,
        progress: (String) -> Void
    ) async {
        let node = freshNodePath()
        let payload = Array("smoketest \(node)".utf8)
        progress("creating ephemeral \(node) through \(sessions[0].server)")
        do {
            try await creator.create(node, data: payload, mode: .ephemeral)
            report.checks.append(.init(name: "create ephemeral", server: sessions[0].server.description, passed: true))
        } catch {
            report.checks.append(.init(name: "create ephemeral", server: sessions[0].server.description, passed: false, detail: "\(error)"))
            return
        }
        var watches: [(String, Watch)] = []
        for (server, client) in sessions {
            do {
                try await client.sync(node)
                let (data, stat, watch) = try await client.getDataAndWatch(node)
                let creatorSession = await creator.sessionID
                let sameData = data == payload
                let sameOwner = stat.ephemeralOwner == creatorSession
                report.checks.append(.init(
                    name: "sees the node", server: server.description, passed: sameData && sameOwner,
                    detail: sameData && sameOwner ? nil : "data or ephemeral owner differ from what was written"
                ))
                watches.append((server.description, watch))
            } catch {
                report.checks.append(.init(name: "sees the node", server: server.description, passed: false, detail: "\(error)"))
            }
        }
        progress("deleting \(node); every watch must fire once")
        do {
            try await creator.delete(node)
        } catch {
            report.checks.append(.init(name: "delete", server: sessions[0].server.description, passed: false, detail: "\(error)"))
            return
        }
        for (server, watch) in watches {
            do {
                switch try await watch.event(within: options.sessionTimeout) {
                case .some(let event) where event.type == .nodeDeleted && event.path == node:
                    report.checks.append(.init(name: "watch fires", server: server, passed: true))
                case .some(let event):
                    report.checks.append(.init(name: "watch fires", server: server, passed: false, detail: "unexpected event \(event.type) at \(event.path)"))
                case .none:
                    report.checks.append(.init(name: "watch fires", server: server, passed: false, detail: "no event within \(options.sessionTimeout)"))
                }
            } catch {
                report.checks.append(.init(name: "watch fires", server: server, passed: false, detail: "\(error)"))
            }
        }
        for (server, client) in sessions {
            do {
                try await client.sync(node)
                let gone = try await client.exists(node) == nil
                report.checks.append(.init(name: "sees the delete", server: server.description, passed: gone, detail: gone ? nil : "the node is still there"))
            } catch {
                report.checks.append(.init(name: "sees the delete", server: server.description, passed: false, detail: "\(error)"))
            }
        }
    }

    private func measureLatencies(server: ConnectionString.Server, client: ZooKeeperClient, report: inout SmoketestReport) async {
        let parent = freshNodePath()
        let count = options.operationsPerPhase
        let data = [UInt8](repeating: UInt8(ascii: "x"), count: options.dataSize)
        let paths = (0..<count).map { ZooKeeperPath.join(parent, "n\($0)") }
        let clock = ContinuousClock()
        func phase(_ name: String, _ body: (String) async throws -> Void) async -> Bool {
            let start = clock.now
            do {
                for path in paths { try await body(path) }
            } catch {
                report.checks.append(.init(name: "latency phase \(name)", server: server.description, passed: false, detail: "\(error)"))
                return false
            }
            let seconds = (clock.now - start).seconds
            report.phases.append(.init(server: server.description, name: name, operations: count, seconds: seconds))
            return true
        }
        do {
            try await client.create(parent)
        } catch {
            report.checks.append(.init(name: "latency setup", server: server.description, passed: false, detail: "\(error)"))
            return
        }
        var ok = await phase("create") { try await client.create($0, data: data) }
        if ok { ok = await phase("set") { try await client.setData($0, data: data) } }
        if ok { ok = await phase("get") { _ = try await client.getData($0) } }
        if ok {
            // Arm a watch on every node, then time the deletes together with their notifications.
            var watches: [Watch] = []
            for path in paths { if let (_, _, watch) = try? await client.getDataAndWatch(path) { watches.append(watch) } }
            ok = await phase("delete+watch") { try await client.delete($0) }
            if ok {
                for watch in watches { _ = try? await watch.event(within: options.sessionTimeout) }
            }
        }
        // Clean up whatever is left, even after a failed phase.
        for path in paths { try? await client.delete(path) }
        try? await client.delete(parent)
        if ok { report.checks.append(.init(name: "latency phases", server: server.description, passed: true)) }
    }
}
