import ArgumentParser
import Foundation
import Histogram
import Hosts
import ZooKeeper
import ZooKeeperProtocol
import ZooKeeperTestSupport

/// Pipelined create and get throughput and latency: Mitosis's client, kazoo and the raw ceiling
/// client (the least work any client can do), same ensemble, same run, same window in flight.
struct ClientBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Pipelined create/get throughput and latency: Mitosis, kazoo, the Java client and a raw ceiling client, on a real 3-server ensemble."
    )

    @Option(help: "Requests per operation.") var operations = 20_000
    @Option(help: "Requests in flight at once.") var window = 256
    @Option(help: "Bytes of data per node.") var size = 64
    @Option(help: "ZooKeeper version of the ensemble the benchmark starts.") var zookeeper = "3.8.0"
    @Option(help: "Use this ensemble instead of starting one.") var server: String?
    @Option(help: "Which peers to run, comma separated: mitosis, raw (the ceiling client), kazoo, java (the official Java client).") var peers = "mitosis,raw,kazoo,java"
    @Flag(help: """
        Run Swift concurrency's tasks on NIO's event loops (NIO's global-executor takeover): a reply \
        resumes its caller on the thread that read it. Rows are labelled mitosis-nio.
        """) var nioExecutor = false
    @Flag(help: "Print JSON.") var json = false

    var mitosisName: String { nioExecutor ? "mitosis-nio" : "mitosis" }

    func validate() throws {
        let known: Set = ["mitosis", "raw", "kazoo", "java"]
        let unknown = peerSet.subtracting(known)
        guard unknown.isEmpty, !peerSet.isEmpty else {
            throw ValidationError("--peers takes a comma-separated list of mitosis, raw, kazoo, java; got '\(peers)'")
        }
        guard operations > 0, window > 0 else { throw ValidationError("--operations and --window must be positive") }
    }

    var peerSet: Set<String> { Set(peers.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) }

    func run() async throws {
        if let server {
            try await measure(connectionString: server)
        } else {
            let distribution = try ZooKeeperDistribution.named(zookeeper)
            // Full JIT (no fast-startup flags): the servers run as they would in production.
            try await withLocalEnsemble(servers: 3, distribution: distribution, fastStartup: false) { ensemble in
                try await measure(connectionString: ensemble.connectionString)
            }
        }
    }

    struct Result: Codable {
        var client: String
        /// Which servers the client used: `one (follower)`, or `all 3`.
        var servers: String
        var op: String
        var count: Int
        var seconds: Double
        /// CPU time the client process spent (user + system): what the client costs the machine.
        var cpuSeconds: Double
        /// Voluntary and involuntary context switches of the client process: mostly thread wake-ups.
        var contextSwitches: Int
        var errors: Int
        var p50_us: Double
        var p99_us: Double
        var p999_us: Double
        var opsPerSecond: Double { Double(count) / seconds }
        var cpuMicrosecondsPerOperation: Double { cpuSeconds * 1e6 / Double(count) }
        var contextSwitchesPerOperation: Double { Double(contextSwitches) / Double(count) }
    }

    /// Every peer on the same ensemble in one run. Kazoo, Mitosis and the raw ceiling client each
    /// talk to the same one server first (kazoo's usual setup: one connection); then Mitosis (one
    /// session per server) and the raw client spread their requests round-robin over every server,
    /// where reads are answered locally. The window is the total in flight in every row.
    func measure(connectionString: String) async throws {
        let stamp = UInt64(Date().timeIntervalSince1970 * 1000)
        let ensemble = try ConnectionString(parsing: connectionString)
        let one = ConnectionString(servers: [ensemble.servers[0]], chroot: ensemble.chroot)
        let everyServer = ensemble.servers.map { ConnectionString(servers: [$0], chroot: ensemble.chroot) }
        let mode = (try? await FourLetterWords.srvr(ensemble.servers[0]))?.mode.rawValue ?? "unknown"
        let oneServer = "one (\(mode))"
        let allServers = "all \(ensemble.servers.count)"
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        var results: [Result] = []

        // Untimed: the servers' JIT compiles the create and getData paths before anyone is measured.
        _ = try await raw(servers: ensemble.servers, prefix: "/bench-warmup-\(stamp)", payload: payload)

        if peerSet.contains("mitosis") {
            try await withClients(everyServer.map(\.description)) { clients in
                let prefix = "/bench-mitosis-\(stamp)"
                try await clients[0].create(prefix)
                results.append(try await pipelined([clients[0]], op: "create", servers: oneServer, prefix: prefix) { zk, path in
                    _ = try await zk.create(path, data: payload)
                })
                results.append(try await pipelined([clients[0]], op: "get", servers: oneServer, prefix: prefix) { zk, path in
                    _ = try await zk.getData(path)
                })
                let spreadPrefix = "/bench-mitosis-spread-\(stamp)"
                try await clients[0].create(spreadPrefix)
                results.append(try await pipelined(clients, op: "create", servers: allServers, prefix: spreadPrefix) { zk, path in
                    _ = try await zk.create(path, data: payload)
                })
                results.append(try await pipelined(clients, op: "get", servers: allServers, prefix: spreadPrefix) { zk, path in
                    _ = try await zk.getData(path)
                })
            }
        }
        if peerSet.contains("raw") {
            for (servers, label, name) in [([ensemble.servers[0]], oneServer, "raw"), (ensemble.servers, allServers, "raw-spread")] {
                results += try await raw(servers: servers, prefix: "/bench-\(name)-\(stamp)", payload: payload).map {
                    var result = $0
                    result.servers = label
                    return result
                }
            }
        }
        if peerSet.contains("kazoo") {
            results += try runKazoo(connectionString: one.description, prefix: "/bench-kazoo-\(stamp)").map {
                var result = $0
                result.servers = oneServer
                return result
            }
        }
        if peerSet.contains("java") {
            results += try runJava(connectionString: one.description, prefix: "/bench-java-\(stamp)").map {
                var result = $0
                result.servers = oneServer
                return result
            }
        }
        report(results)
    }

    /// One connected client per connection string; all are closed afterwards.
    func withClients<R: Sendable>(_ connectionStrings: [String], _ body: ([ZooKeeperClient]) async throws -> R) async throws -> R {
        var clients: [ZooKeeperClient] = []
        do {
            for connectionString in connectionStrings {
                clients.append(try await ZooKeeperClient.connect(connectionString))
            }
            let result = try await body(clients)
            for client in clients { await client.close() }
            return result
        } catch {
            for client in clients { await client.close() }
            throw error
        }
    }

    /// The raw ceiling client's creates under `prefix`, then its gets of those nodes.
    func raw(servers: [ConnectionString.Server], prefix: String, payload: [UInt8]) async throws -> [Result] {
        _ = try await ZooKeeperClient.withClient(ConnectionString(servers: [servers[0]]).description) { zk in
            try await zk.create(prefix)
        }
        let client = RawCeilingClient(servers: servers, window: window)
        let paths = (0..<operations).map { "\(prefix)/k" + String($0).leftPadded(to: 8) }
        let creates = RawCeilingClient.Frames(count: operations) {
            CreateRequest(path: paths[$0], data: payload, acl: ACL.openUnsafe, mode: .persistent)
        }
        let gets = RawCeilingClient.Frames(count: operations) { PathWatchRequest(.getData, path: paths[$0], watch: false) }
        var results: [Result] = []
        for (op, frames) in [("create", creates), ("get", gets)] {
            let outcome = try await client.run(frames)
            results.append(Result(
                client: "raw", servers: "", op: op, count: operations, seconds: outcome.seconds, cpuSeconds: outcome.usage.cpuSeconds,
                contextSwitches: outcome.usage.contextSwitches,
                errors: outcome.errors, p50_us: Double(outcome.histogram.valueAtPercentile(50)),
                p99_us: Double(outcome.histogram.valueAtPercentile(99)), p999_us: Double(outcome.histogram.valueAtPercentile(99.9))
            ))
        }
        return results
    }

    /// `operations` requests with `window` in flight, request `i` through `clients[i % n]`.
    func pipelined(
        _ clients: [ZooKeeperClient], op: String, servers: String, prefix: String,
        _ operation: @escaping @Sendable (ZooKeeperClient, String) async throws -> Void
    ) async throws -> Result {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var errors = 0
        let clock = ContinuousClock()
        let began = clock.now
        let usageBegan = ProcessUsage.now()
        try await withThrowingTaskGroup(of: (Duration, Bool).self) { group in
            var issued = 0
            func issue() {
                let path = "\(prefix)/k" + String(issued).leftPadded(to: 8)
                let zk = clients[issued % clients.count]
                issued += 1
                group.addTask {
                    let start = clock.now
                    do {
                        try await operation(zk, path)
                        return (clock.now - start, true)
                    } catch {
                        return (clock.now - start, false)
                    }
                }
            }
            while issued < min(window, operations) { issue() }
            while let (latency, ok) = try await group.next() {
                histogram.record(UInt64(max(0, latency.microseconds)))
                if !ok { errors += 1 }
                if issued < operations { issue() }
            }
        }
        let seconds = (clock.now - began).seconds
        let usage = ProcessUsage.now() - usageBegan
        return Result(
            client: mitosisName, servers: servers, op: op, count: operations, seconds: seconds, cpuSeconds: usage.cpuSeconds,
            contextSwitches: usage.contextSwitches, errors: errors,
            p50_us: Double(histogram.valueAtPercentile(50)), p99_us: Double(histogram.valueAtPercentile(99)),
            p999_us: Double(histogram.valueAtPercentile(99.9))
        )
    }

    func runKazoo(connectionString: String, prefix: String) throws -> [Result] {
        try runPeer(
            "kazoo", executable: "/usr/bin/python3", arguments: ["-c", KazooPeer.script, connectionString, prefix, String(operations), String(window), String(size)],
            hint: "is python3-kazoo installed? run scripts/setup.sh")
    }

    /// Compiles ``JavaPeer`` with javac into a temporary directory, then runs it.
    func runJava(connectionString: String, prefix: String) throws -> [Result] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-bench-java-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("JavaPeer.java")
        try JavaPeer.source.write(to: source, atomically: true, encoding: .utf8)
        let hint = "is the zookeeper Debian package (and default-jdk-headless) installed? run scripts/setup.sh"
        _ = try runProcess("javac", executable: "/usr/bin/javac", arguments: ["-cp", JavaPeer.classpath, "-d", directory.path, source.path], hint: hint)
        return try runPeer(
            "java", executable: "/usr/bin/java",
            arguments: ["-cp", "\(directory.path):\(JavaPeer.classpath)", "JavaPeer", connectionString, prefix, String(operations), String(window), String(size)], hint: hint)
    }

    /// Runs a peer that prints its create and get rows as JSON on stdout.
    func runPeer(_ name: String, executable: String, arguments: [String], hint: String) throws -> [Result] {
        let data = try runProcess("the \(name) peer", executable: executable, arguments: arguments, hint: hint)
        struct Raw: Codable { var op: String; var count: Int; var seconds: Double; var cpu_seconds: Double; var context_switches: Int; var errors: Int; var p50_us: Double; var p99_us: Double; var p999_us: Double }
        return try JSONDecoder().decode([Raw].self, from: data).map {
            Result(client: name, servers: "", op: $0.op, count: $0.count, seconds: $0.seconds, cpuSeconds: $0.cpu_seconds, contextSwitches: $0.context_switches, errors: $0.errors, p50_us: $0.p50_us, p99_us: $0.p99_us, p999_us: $0.p999_us)
        }
    }

    func runProcess(_ what: String, executable: String, arguments: [String], hint: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(what) failed (exit \(process.terminationStatus)); \(hint)")
        }
        return data
    }

    func report(_ results: [Result]) {
        func row(_ client: String, _ op: String, spread: Bool = false) -> Result? {
            results.first { $0.client == client && $0.op == op && $0.servers.hasPrefix("all") == spread }
        }
        /// Throughput of one row over another's.
        func ratio(_ a: Result?, _ b: Result?) -> Double? {
            guard let a, let b else { return nil }
            return a.opsPerSecond / b.opsPerSecond
        }
        struct Ratios: Encodable {
            var mitosisOverKazoo: Double?
            var ceilingOverKazoo: Double?
            var spreadCeilingOverKazoo: Double?
            var spreadMitosisOverKazoo: Double?
            var mitosisOverCeiling: Double?
            var spreadMitosisOverSpreadCeiling: Double?
        }
        func ratios(_ op: String) -> Ratios {
            Ratios(
                mitosisOverKazoo: ratio(row(mitosisName, op), row("kazoo", op)),
                ceilingOverKazoo: ratio(row("raw", op), row("kazoo", op)),
                spreadCeilingOverKazoo: ratio(row("raw", op, spread: true), row("kazoo", op)),
                spreadMitosisOverKazoo: ratio(row(mitosisName, op, spread: true), row("kazoo", op)),
                mitosisOverCeiling: ratio(row(mitosisName, op), row("raw", op)),
                spreadMitosisOverSpreadCeiling: ratio(row(mitosisName, op, spread: true), row("raw", op, spread: true))
            )
        }
        if json {
            struct Report: Encodable { var results: [Result]; var create: Ratios; var get: Ratios }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(Report(results: results, create: ratios("create"), get: ratios("get"))) {
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        print("client       servers         op      count   ops/s      p50 µs   p99 µs   p99.9 µs  cpu µs/op  switches/op  errors")
        for result in results {
            print(
                result.client.padded(to: 12), result.servers.padded(to: 15), result.op.padded(to: 7), String(result.count).padded(to: 7),
                String(Int(result.opsPerSecond)).padded(to: 10), String(Int(result.p50_us)).padded(to: 8),
                String(Int(result.p99_us)).padded(to: 8), String(Int(result.p999_us)).padded(to: 9),
                String(format: "%.1f", result.cpuMicrosecondsPerOperation).padded(to: 10),
                String(format: "%.2f", result.contextSwitchesPerOperation).padded(to: 12), result.errors
            )
        }
        func format(_ value: Double?) -> String { value.map { String(format: "%.2fx", $0) } ?? "-" }
        for (op, target) in [("create", "≥ 5x"), ("get", "≥ 10x")] {
            let r = ratios(op)
            print("\(op): mitosis/kazoo \(format(r.mitosisOverKazoo)) (target \(target)); ceiling/kazoo \(format(r.ceilingOverKazoo)) on one server, \(format(r.spreadCeilingOverKazoo)) spread; mitosis/ceiling \(format(r.mitosisOverCeiling)) on one server, \(format(r.spreadMitosisOverSpreadCeiling)) spread; spread mitosis/kazoo \(format(r.spreadMitosisOverKazoo))")
        }
        for peer in ["kazoo", "java"] {
            if let ours = row(mitosisName, "get"), let theirs = row(peer, "get"), let create = row(mitosisName, "create"), let peerCreate = row(peer, "create") {
                print("\(peer)/mitosis client CPU per operation: create \(String(format: "%.1f", peerCreate.cpuMicrosecondsPerOperation / create.cpuMicrosecondsPerOperation))x, get \(String(format: "%.1f", theirs.cpuMicrosecondsPerOperation / ours.cpuMicrosecondsPerOperation))x")
            }
        }
    }
}

extension String {
    func padded(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}


/// What this process has used so far: CPU time (user + system) and context switches.
struct ProcessUsage {
    var cpuSeconds: Double
    var contextSwitches: Int

    static func now() -> ProcessUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return ProcessUsage(cpuSeconds: user + system, contextSwitches: usage.ru_nvcsw + usage.ru_nivcsw)
    }

    static func - (after: ProcessUsage, before: ProcessUsage) -> ProcessUsage {
        ProcessUsage(cpuSeconds: after.cpuSeconds - before.cpuSeconds, contextSwitches: after.contextSwitches - before.contextSwitches)
    }
}
