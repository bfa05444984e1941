import ArgumentParser
import Dispatch
import Foundation
import Logging
import Probes
import ZooKeeper

struct SmoketestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smoketest",
        abstract: "Check every server of an ensemble as zk-smoketest does, with zk-latencies' phases. Exit code 1 on failure.",
        discussion: """
            One session per server; one ephemeral written through each; every server, after sync, must hold \
            every node (same child count, data and ephemeralOwner); every session watches every node, and must \
            be told of each delete, in order. Then per server the latency phases: create, set, get, delete, \
            create ephemeral, watched, delete ephemeral, notifications. It works under <chroot>/mitosis-smoketest, \
            which must be empty (--clean removes what an earlier run left).
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Operations per latency phase and server (0 skips the phases).") var operations = 200
    @Option(help: "Bytes of data per node in the latency phases.") var size = 100
    @Flag(help: "Remove what an earlier run left under the test root instead of refusing to run.") var clean = false
    @Flag(help: "Pipeline each latency phase (every request in flight at once, zk-latencies' asynchronous mode).") var pipelined = false
    @Option(help: "Repeat every this many seconds until Ctrl-C or --duration, writing one JSON line per run in `mitosis watch`'s timeline format.") var watch: Double?
    @Option(help: "With --watch: stop after this many seconds.") var duration: Double?

    func validate() throws {
        if operations < 0 || size < 0 { throw ValidationError("--operations and --size must not be negative") }
        if let watch, watch <= 0 { throw ValidationError("--watch must be a positive number of seconds") }
        if duration != nil && watch == nil { throw ValidationError("--duration goes with --watch") }
    }

    func run() async throws {
        let string = try connection.connectionString()
        var logger = Logger(label: "mitosis.smoketest")
        logger.logLevel = connection.verbose ? .debug : .critical
        let options = SmoketestOptions(
            servers: string.servers, operationsPerPhase: operations, dataSize: size,
            connectTimeout: .milliseconds(Int64(connection.connectTimeout * 1000)),
            sessionTimeout: .milliseconds(Int64(connection.sessionTimeout * 1000)),
            root: string.chroot ?? "/", cleanLeftovers: clean, pipelined: pipelined
        )
        let json = connection.json
        if let watch {
            let smoketest = Smoketest(options: options, logger: logger)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let reports = await runUntilInterrupted(duration: duration) {
                await smoketest.watch(every: .milliseconds(Int64(watch * 1000))) { event in
                    if let data = try? encoder.encode(event) { Output.line(String(decoding: data, as: UTF8.self)) }
                }
            }
            let failed = reports.filter { !$0.passed }.count
            Output.note("\(reports.count) smoketest run\(reports.count == 1 ? "" : "s"), \(failed) failed")
            if failed > 0 { throw ExitCode.failure }
            return
        }
        let report = await Smoketest(options: options, logger: logger).run { message in
            if !json { Output.note("… \(message)") }
        }
        if json {
            try Output.json(report)
        } else {
            var checks = Table(["check", "server", "result", "detail"])
            for check in report.checks {
                checks.add([check.name, check.server ?? "", check.passed ? "ok" : "FAILED", check.detail ?? ""])
            }
            Output.line(checks.render())
            if !report.phases.isEmpty {
                var phases = Table(["server", "phase", "ops", "ms/op", "ops/s"])
                for phase in report.phases {
                    phases.add([phase.server, phase.name, String(phase.operations), String(format: "%.3f", phase.millisecondsPerOperation), String(format: "%.0f", phase.operationsPerSecond)])
                }
                Output.line("")
                Output.line(phases.render())
            }
            Output.note(report.passed ? "smoketest passed" : "smoketest FAILED")
        }
        if !report.passed { throw ExitCode.failure }
    }
}

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Run a canary per client group and record an availability timeline until Ctrl-C or --duration.",
        discussion: "Emits JSON lines (one per event) on stdout while running and a summary at the end. Example: mitosis watch --group kafka=10.0.0.1:2181,10.0.0.2:2181/kafka --duration 600"
    )

    @Option(name: .customLong("group"), help: "NAME=CONNECTION_STRING for each client group (repeatable).") var groups: [String] = []
    @Option(help: "Milliseconds between round trips.") var interval = 100
    @Option(help: "A round trip slower than this many milliseconds counts as a stall.") var slow = 500
    @Option(help: "Stop after this many seconds (default: until Ctrl-C).") var duration: Double?
    @Option(help: "Session timeout in seconds.") var sessionTimeout: Double = 10
    @Flag(help: "Print only the summary, as JSON.") var json = false

    func parsedGroups() throws -> [(String, ConnectionString)] {
        try groups.map { entry in
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ValidationError("--group takes NAME=CONNECTION_STRING, got '\(entry)'")
            }
            do {
                return (String(entry[..<equals]), try ConnectionString(parsing: String(entry[entry.index(after: equals)...])))
            } catch {
                throw ValidationError("--group \(entry): \(error)")
            }
        }
    }

    func validate() throws {
        if groups.isEmpty { throw ValidationError("name at least one --group NAME=CONNECTION_STRING") }
        let parsed = try parsedGroups()
        if Set(parsed.map(\.0)).count != parsed.count { throw ValidationError("each --group needs its own name") }
        if interval <= 0 || slow <= 0 || sessionTimeout <= 0 { throw ValidationError("--interval, --slow and --session-timeout must be positive") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
    }

    func run() async throws {
        var logger = Logger(label: "mitosis.watch")
        logger.logLevel = .critical
        let canaries = try parsedGroups().map { name, string in
            Canary(options: CanaryOptions(
                group: name, connectionString: string, interval: .milliseconds(interval), slowThreshold: .milliseconds(slow),
                sessionTimeout: .milliseconds(Int64(sessionTimeout * 1000))
            ), logger: logger)
        }
        let json = self.json
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let summaries = await runUntilInterrupted(duration: duration) {
            await withTaskGroup(of: CanarySummary.self) { group in
                for canary in canaries {
                    group.addTask {
                        await canary.run { event in
                            guard !json, let data = try? encoder.encode(event) else { return }
                            Output.line(String(decoding: data, as: UTF8.self))
                        }
                    }
                }
                var all: [CanarySummary] = []
                for await summary in group { all.append(summary) }
                return all.sorted { $0.group < $1.group }
            }
        }
        if json {
            try Output.json(summaries)
        } else {
            for summary in summaries { try Output.json(SummaryLine(summary: summary)) }
            var table = Table(["group", "ops", "failed", "slow", "stalls", "longest stall ms", "p50 ms", "p99 ms", "p99.9 ms", "disconnects", "expired", "elections"])
            for s in summaries {
                table.add([s.group, String(s.operations), String(s.failed), String(s.slow), String(s.stalls.count), String(format: "%.0f", s.longestStallMilliseconds), String(format: "%.2f", s.p50Milliseconds), String(format: "%.2f", s.p99Milliseconds), String(format: "%.2f", s.p999Milliseconds), String(s.disconnects), String(s.sessionsExpired), String(s.leaderChanges)])
            }
            Output.note(table.render())
        }
    }

    struct SummaryLine: Encodable {
        var summary: CanarySummary
    }
}

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two trees: data, ACLs, ephemeral flag, next sequential suffixes and data versions. Exit code 1 if they differ.",
        discussion: """
            Locations are zk://HOST:PORT[,HOST:PORT...]/PATH, e.g. mitosis diff zk://10.0.0.1:2181/kafka zk://10.0.1.1:2181/kafka. \
            Servers hide digest hashes (user:x) from a session without ADMIN permission on a node: authenticate \
            (--auth, --left-auth, --right-auth) as an identity with ADMIN there, or the comparison of those ACLs is \
            partial (it says so).
            """
    )

    @Argument(help: "Left (source) location.") var left: String
    @Argument(help: "Right (destination) location.") var right: String
    @Flag(help: "Ignore data differences.") var ignoreData = false
    @Flag(name: .customLong("ignore-acls"), help: "Ignore ACL differences.") var ignoreACLs = false
    @Flag(name: .customLong("ignore-ac-ls"), help: .hidden) var ignoreACLsOldSpelling = false
    @Flag(help: "Ignore differences of the next sequential suffix.") var ignoreSequence = false
    @Flag(help: "Ignore data version differences.") var ignoreVersions = false
    @Flag(help: "Leave ephemeral nodes out on both sides, as a default copy (which skips them) does.") var ignoreEphemerals = false
    @Option(help: "Digest credentials user:password for both sides.") var auth: String?
    @Option(help: "Digest credentials user:password for the left side (instead of --auth).") var leftAuth: String?
    @Option(help: "Digest credentials user:password for the right side (instead of --auth).") var rightAuth: String?
    @Flag(help: "Compare ephemeral owners too (only meaningful within one ensemble).") var ephemeralOwners = false
    @Option(help: "Relative paths to skip (repeatable); /zookeeper is always skipped.") var exclude: [String] = []
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        _ = try ZooKeeperLocation(parsing: left)
        _ = try ZooKeeperLocation(parsing: right)
        for credentials in [auth, leftAuth, rightAuth].compactMap({ $0 }) where !credentials.contains(":") {
            throw ValidationError("credentials are user:password, not '\(credentials)'")
        }
    }

    func configuration(_ location: ZooKeeperLocation, auth credentials: String?) -> ZooKeeperConfiguration {
        var configuration = ZooKeeperConfiguration(connectionString: location.servers)
        if let credentials { configuration.authentication = digestAuthentication(credentials) }
        return configuration
    }

    func run() async throws {
        let l = try ZooKeeperLocation(parsing: left)
        let r = try ZooKeeperLocation(parsing: right)
        var options = TreeDiffOptions()
        options.compareData = !ignoreData
        options.compareACLs = !(ignoreACLs || ignoreACLsOldSpelling)
        options.compareSequence = !ignoreSequence
        options.compareVersions = !ignoreVersions
        options.ignoreEphemeralNodes = ignoreEphemerals
        options.compareEphemeralOwners = ephemeralOwners
        options.exclude.formUnion(exclude)
        let json = self.json
        do {
            let report = try await ZooKeeperClient.withClient(configuration(l, auth: leftAuth ?? auth)) { leftClient in
                try await ZooKeeperClient.withClient(configuration(r, auth: rightAuth ?? auth)) { rightClient in
                    try await TreeDiff(left: TreeLocation(client: leftClient, root: l.path), right: TreeLocation(client: rightClient, root: r.path), options: options)
                        .run { difference in if !json { Output.line(difference.description) } }
                }
            }
            if json {
                try Output.json(report)
            } else {
                Output.note("left \(report.nodesLeft) nodes, digest \(report.leftDigest.prefix(16)); right \(report.nodesRight) nodes, digest \(report.rightDigest.prefix(16))")
                Output.note(report.identical ? "identical" : "\(report.differences.count + report.moreDifferences) differences")
            }
            if let warning = report.aclWarning { Output.note("warning: \(warning)") }
            if !report.identical { throw ExitCode.failure }
        } catch let error as ZooKeeperError {
            let hint = error.code == .noAuth ? " Pass --auth user:password (or --left-auth/--right-auth) for an identity that may read it." : ""
            Output.error(error.description + hint)
            throw ExitCode(2)
        }
    }
}

/// `zk://host:port[,host:port...]/path`: an ensemble and a path in it.
struct ZooKeeperLocation {
    var servers: ConnectionString
    var path: String

    init(parsing text: String) throws {
        guard text.hasPrefix("zk://") else { throw ValidationError("'\(text)' should look like zk://HOST:PORT[,HOST:PORT...]/PATH") }
        let rest = text.dropFirst("zk://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        do {
            servers = try ConnectionString(parsing: String(rest[..<slash]))
        } catch {
            throw ValidationError("'\(text)': \(error.description)")
        }
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let problem = ZooKeeperPath.problem(with: path) { throw ValidationError("'\(text)': the path \(path) is not valid: \(problem)") }
    }
}

/// Runs `body` until it finishes, Ctrl-C arrives or `duration` passes; the latter two cancel it
/// and wait for it to wind down (it returns its partial result).
func runUntilInterrupted<T: Sendable>(duration: Double?, _ body: @escaping @Sendable () async -> T) async -> T {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let (interrupts, continuation) = AsyncStream<Void>.makeStream()
    let sources = [SIGINT, SIGTERM].map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        return source
    }
    defer { sources.forEach { $0.cancel() } }
    return await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            if let duration {
                await withTaskGroup(of: Void.self) { inner in
                    inner.addTask { try? await Task.sleep(for: .milliseconds(Int64(duration * 1000))) }
                    inner.addTask { for await _ in interrupts { return } }
                    await inner.next()
                    inner.cancelAll()
                }
            } else {
                for await _ in interrupts { break }
            }
            return nil
        }
        // Whichever finishes first cancels the other: the timer or a signal stops the body, which
        // then returns its partial result; a finished body stops the timer.
        var result: T? = nil
        for await next in group {
            if let next { result = next }
            group.cancelAll()
            continuation.finish()
        }
        guard let result else { preconditionFailure("the body task always returns a value") }
        return result
    }
}
