import Foundation
public import Hosts
import Logging
import Synchronization
import ZooKeeper
import ZooKeeperProtocol

/// One server of a `LocalEnsemble`.
public struct LocalServer: Sendable, Hashable {
    public var id: Int
    public var clientPort: Int
    public var quorumPort: Int
    public var electionPort: Int
    public var isObserver: Bool
    public var host: String { "127.0.0.1" }
    public var clientAddress: ConnectionString.Server { .init(host: host, port: clientPort) }
}

/// Real ZooKeeper servers on loopback for tests, benchmarks and rehearsals: 1, 3 or 5 servers of
/// either version, free ports, a temporary directory, one JVM per server.
///
/// Every JVM runs under a small shell watchdog that kills it when the process that started it is
/// gone, so servers never outlive a crashed test; each JVM also carries
/// `-Dmitosis.testsupport=<directory>` so `scripts/test` can find leftovers.
public final class LocalEnsemble: Sendable {
    public let distribution: ZooKeeperDistribution
    public let directory: String
    public let servers: [LocalServer]
    /// Milliseconds per tick: short, so elections, failure detection and session timeouts take
    /// a second or two instead of ten (production ensembles use 2000).
    public let tickTime: Int
    let fastStartup: Bool
    /// Each server JVM's maximum heap (`-Xmx`): the default suits test trees; a million-node
    /// tree needs more.
    public let heapMegabytes: Int
    let extraConfig: [String: String]
    let logger: Logger
    private let processes = Mutex<[Int: ServerProcess]>([:])

    struct ServerProcess: Sendable {
        var process: ChildProcess
    }

    /// Prepares the configuration of `count` servers (the last `observers` of them observers);
    /// starts nothing.
    public init(
        servers count: Int, observers: Int = 0, distribution: ZooKeeperDistribution, tickTime: Int = 500,
        extraConfig: [String: String] = [:], fastStartup: Bool = true, heapMegabytes: Int = 256,
        logger: Logger = Logger(label: "mitosis.local-ensemble")
    ) throws {
        guard count >= 1 else { throw LocalEnsembleError("an ensemble has at least one server") }
        guard heapMegabytes >= 32 else { throw LocalEnsembleError("a server needs a heap of at least 32 MB (it starts with 32)") }
        guard observers < count else { throw LocalEnsembleError("an ensemble needs at least one participant") }
        if observers > 0 && !distribution.supportsExtendedNodeTypes && count - observers < 1 {
            throw LocalEnsembleError("observers need participants")
        }
        self.distribution = distribution
        self.tickTime = tickTime
        self.fastStartup = fastStartup
        self.heapMegabytes = heapMegabytes
        self.extraConfig = extraConfig
        var logger = logger
        if ProcessInfo.processInfo.environment["MITOSIS_TEST_DEBUG"] != nil { logger.logLevel = .debug }
        self.logger = logger
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-ensemble-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        self.directory = base
        let ports = try FreePort.allocate(count: count * 3)
        self.servers = (0..<count).map { index in
            LocalServer(id: index + 1, clientPort: ports[index * 3], quorumPort: ports[index * 3 + 1], electionPort: ports[index * 3 + 2], isObserver: index >= count - observers)
        }
        for server in servers { try writeConfiguration(for: server) }
        try """
            log4j.rootLogger=INFO, CONSOLE
            log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
            log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
            log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t:%C{1}@%L] - %m%n

            """.write(toFile: "\(base)/log4j.properties", atomically: true, encoding: .utf8)
    }

    /// The connection string of every server (or all but `excluding`).
    public var connectionString: String { connectionString(excluding: []) }

    public func connectionString(excluding: [Int]) -> String {
        servers.filter { !excluding.contains($0.id) }.map { "\($0.host):\($0.clientPort)" }.joined(separator: ",")
    }

    public func connectionString(only ids: [Int]) -> String {
        servers.filter { ids.contains($0.id) }.map { "\($0.host):\($0.clientPort)" }.joined(separator: ",")
    }

    public func server(_ id: Int) -> LocalServer? { servers.first { $0.id == id } }

    /// The id of the server with this client address ("127.0.0.1:PORT").
    public func serverID(clientAddress: String) -> Int? {
        servers.first { "\($0.host):\($0.clientPort)" == clientAddress }?.id
    }

    public func dataDirectory(of id: Int) -> String { "\(directory)/data\(id)" }
    public func configurationPath(of id: Int) -> String { "\(directory)/zoo\(id).cfg" }
    public func logPath(of id: Int) -> String { "\(directory)/server\(id).log" }

    private func writeConfiguration(for server: LocalServer) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory(of: server.id), withIntermediateDirectories: true)
        try "\(server.id)\n".write(toFile: "\(dataDirectory(of: server.id))/myid", atomically: true, encoding: .utf8)
        var lines = [
            "tickTime=\(tickTime)",
            "initLimit=10",
            "syncLimit=5",
            "dataDir=\(dataDirectory(of: server.id))",
            "clientPort=\(server.clientPort)",
            "clientPortAddress=127.0.0.1",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
        ]
        if distribution.supportsExtendedNodeTypes {
            lines.append("admin.enableServer=false")
        }
        if servers.count > 1 {
            if server.isObserver { lines.append("peerType=observer") }
            for peer in servers {
                lines.append("server.\(peer.id)=127.0.0.1:\(peer.quorumPort):\(peer.electionPort)\(peer.isObserver ? ":observer" : "")")
            }
        }
        for (key, value) in extraConfig.sorted(by: { $0.key < $1.key }) { lines.append("\(key)=\(value)") }
        try (lines.joined(separator: "\n") + "\n").write(toFile: configurationPath(of: server.id), atomically: true, encoding: .utf8)
    }

    // MARK: Processes

    /// Starts every server and waits until the ensemble serves.
    public func startAll(timeout: Duration = .seconds(60)) async throws {
        for server in servers { try launch(server.id) }
        try await waitUntilServing(servers.map(\.id), timeout: timeout)
    }

    /// Starts one server (its data directory is kept across restarts) and waits until it serves.
    public func start(_ id: Int, timeout: Duration = .seconds(60)) async throws {
        try launch(id)
        try await waitUntilServing([id], timeout: timeout)
    }

    /// Kills a server at once (SIGKILL), as a crash would.
    public func kill(_ id: Int) async throws {
        try await signal(id, SIGKILL)
    }

    /// Stops a server cleanly (SIGTERM).
    public func stop(_ id: Int) async throws {
        try await signal(id, SIGTERM)
    }

    /// Freezes a server (SIGSTOP): it keeps its connections but answers nothing, as if cut off.
    public func freeze(_ id: Int) {
        processes.withLock { $0[id] }?.process.signal(SIGSTOP)
    }

    /// Resumes a frozen server (SIGCONT).
    public func thaw(_ id: Int) {
        processes.withLock { $0[id] }?.process.signal(SIGCONT)
    }

    public func restart(_ id: Int, timeout: Duration = .seconds(60)) async throws {
        try await stop(id)
        try await start(id, timeout: timeout)
    }

    public func isRunning(_ id: Int) -> Bool {
        processes.withLock { $0[id]?.process.isRunning ?? false }
    }

    /// The pid of the server's JVM, while it runs.
    public func javaProcessID(of id: Int) -> Int32? {
        processes.withLock { entry -> Int32? in
            guard let process = entry[id]?.process, process.isRunning else { return nil }
            return process.pid
        }
    }

    private func launch(_ id: Int) throws {
        guard let server = server(id) else { throw LocalEnsembleError("no server \(id) in this ensemble") }
        if isRunning(id) { return }
        let java = ProcessInfo.processInfo.environment["JAVA"] ?? "java"
        var jvm = [java, "-Xms32m", "-Xmx\(heapMegabytes)m", "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true"]
        if fastStartup { jvm.append("-XX:TieredStopAtLevel=1") }
        jvm += [
            "-Dmitosis.testsupport=\(directory)",
            "-Dlog4j.configuration=file:\(directory)/log4j.properties",
            "-Dzookeeper.admin.enableServer=false",
        ]
        // scripts/test sets this to kill its own leftovers, and only those, when it exits.
        if let run = ProcessInfo.processInfo.environment["MITOSIS_RUN_ID"] { jvm.append("-Dmitosis.run=\(run)") }
        if distribution.supportsExtendedNodeTypes { jvm.append("-Dzookeeper.extendedTypesEnabled=true") }
        jvm += ["-cp", try distribution.classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain", configurationPath(of: server.id)]

        // The watchdog: a background shell that kills the server when the process that started
        // it is gone; then the shell execs the JVM, so the JVM is our direct child (same pid).
        // It stops watching as soon as the JVM has exited, and kills only after seeing the JVM
        // alive a moment before, so a recycled pid is (practically) never hit.
        let watchdog = """
            parent=$1; shift
            ( while kill -0 "$parent" 2>/dev/null; do kill -0 $$ 2>/dev/null || exit 0; sleep 1; done; kill -0 $$ 2>/dev/null && kill -9 $$ ) &
            exec "$@"
            """
        let process = try ChildProcess(["/bin/sh", "-c", watchdog, "watchdog", String(getpid())] + jvm, outputPath: logPath(of: id))
        processes.withLock { $0[id] = ServerProcess(process: process) }
        logger.debug("started \(distribution) server \(id) on port \(server.clientPort)")
    }

    private func signal(_ id: Int, _ number: Int32) async throws {
        guard let entry = processes.withLock({ $0[id] }) else { return }
        entry.process.signal(number)
        logger.debug("sent signal \(number) to server \(id) (pid \(entry.process.pid))")
        do {
            try await entry.process.waitForExit(timeout: .seconds(20))
        } catch {
            entry.process.signal(SIGKILL)
            try await entry.process.waitForExit(timeout: .seconds(20))
        }
        processes.withLock { _ = $0.removeValue(forKey: id) }
    }

    // MARK: Observation

    /// `srvr` of one server, or nil if it does not answer.
    public func status(of id: Int, timeout: Duration = .seconds(2)) async -> ServerStatus? {
        guard let server = server(id) else { return nil }
        return try? await FourLetterWords.srvr(server.clientAddress, timeout: timeout)
    }

    /// The id of the current leader (nil for a standalone server or while there is none).
    public func leader() async throws -> Int? {
        logger.debug("looking for the leader")
        for server in servers where isRunning(server.id) {
            if await status(of: server.id)?.mode == .leader { return server.id }
        }
        return nil
    }

    /// Waits until each of `ids` serves (leader, follower, observer or standalone) and, for a
    /// multi-server ensemble, the running servers agree on exactly one leader.
    public func waitUntilServing(_ ids: [Int], timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: [Int: String] = [:]
        while true {
            var serving = true
            var leaders = 0
            for id in ids {
                guard isRunning(id) else {
                    throw LocalEnsembleError("server \(id) exited while starting; its log ends with:\n\(logTail(of: id))")
                }
                if let status = await status(of: id, timeout: .seconds(1)) {
                    last[id] = status.mode.rawValue
                    if status.mode == .leader { leaders += 1 }
                    if !status.isServing { serving = false }
                } else {
                    last[id] = "not answering"
                    serving = false
                }
            }
            if serving && servers.count > 1 && !ids.contains(where: { last[$0] == "leader" }) {
                // The leader may be outside `ids`: make sure one exists.
                leaders = (try await leader()) == nil ? 0 : 1
            }
            logger.debug("waiting for \(ids): \(last), leaders \(leaders)")
            if serving && (servers.count == 1 || leaders == 1) { return }
            if ContinuousClock.now > deadline {
                let states = ids.map { "server \($0): \(last[$0] ?? "?")" }.joined(separator: ", ")
                let failing = ids.first { last[$0] != "leader" && last[$0] != "follower" && last[$0] != "standalone" && last[$0] != "observer" } ?? ids[0]
                throw LocalEnsembleError("\(distribution) ensemble did not serve within \(timeout) (\(states)); log of server \(failing) ends with:\n\(logTail(of: failing))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    public func logTail(of id: Int, lines: Int = 30) -> String {
        guard let text = try? String(contentsOfFile: logPath(of: id), encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Kills every server and removes the directory.
    public func shutdown() async {
        for server in servers { try? await kill(server.id) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Starts an ensemble, runs `body`, and always shuts the ensemble down, even when `body` throws.
public func withLocalEnsemble<Result: Sendable>(
    servers: Int = 3, observers: Int = 0, distribution: ZooKeeperDistribution, tickTime: Int = 500,
    extraConfig: [String: String] = [:], fastStartup: Bool = true, heapMegabytes: Int = 256,
    _ body: (LocalEnsemble) async throws -> Result
) async throws -> Result {
    let ensemble = try LocalEnsemble(
        servers: servers, observers: observers, distribution: distribution, tickTime: tickTime, extraConfig: extraConfig,
        fastStartup: fastStartup, heapMegabytes: heapMegabytes
    )
    do {
        try await ensemble.startAll()
        let result = try await body(ensemble)
        await ensemble.shutdown()
        return result
    } catch {
        await ensemble.shutdown()
        throw error
    }
}

public struct LocalEnsembleError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
