import ArgumentParser
import Foundation
import Histogram
import ZooKeeper
import ZooKeeperTestSupport

/// Pipelined create and get throughput and latency: Mitosis's client and kazoo, same ensemble,
/// same run, same window of requests in flight.
struct ClientBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Pipelined create/get throughput and latency, Mitosis vs kazoo, on a real 3-server ensemble."
    )

    @Option(help: "Requests per operation.") var operations = 20_000
    @Option(help: "Requests in flight at once.") var window = 256
    @Option(help: "Bytes of data per node.") var size = 64
    @Option(help: "ZooKeeper version of the ensemble the benchmark starts.") var zookeeper = "3.8.0"
    @Option(help: "Use this ensemble instead of starting one.") var server: String?
    @Flag(help: "Print JSON.") var json = false

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
        var op: String
        var count: Int
        var seconds: Double
        /// CPU time the client process spent (user + system): what the client costs the machine.
        var cpuSeconds: Double
        var errors: Int
        var p50_us: Double
        var p99_us: Double
        var p999_us: Double
        var opsPerSecond: Double { Double(count) / seconds }
        var cpuMicrosecondsPerOperation: Double { cpuSeconds * 1e6 / Double(count) }
    }

    func measure(connectionString: String) async throws {
        let stamp = UInt64(Date().timeIntervalSince1970 * 1000)
        var results: [Result] = []
        try await ZooKeeperClient.withClient(connectionString) { zk in
            let prefix = "/bench-mitosis-\(stamp)"
            try await zk.create(prefix)
            let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
            results.append(try await pipelined(zk, op: "create", prefix: prefix) { zk, path in
                _ = try await zk.create(path, data: payload)
            })
            results.append(try await pipelined(zk, op: "get", prefix: prefix) { zk, path in
                _ = try await zk.getData(path)
            })
        }
        results += try runKazoo(connectionString: connectionString, prefix: "/bench-kazoo-\(stamp)")
        report(results)
    }

    func pipelined(
        _ zk: ZooKeeperClient, op: String, prefix: String,
        _ operation: @escaping @Sendable (ZooKeeperClient, String) async throws -> Void
    ) async throws -> Result {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var errors = 0
        let clock = ContinuousClock()
        let began = clock.now
        let cpuBegan = processCPUSeconds()
        try await withThrowingTaskGroup(of: (Duration, Bool).self) { group in
            var issued = 0
            func issue() {
                let path = "\(prefix)/k" + String(issued).leftPadded(to: 8)
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
        return Result(
            client: "mitosis", op: op, count: operations, seconds: seconds, cpuSeconds: processCPUSeconds() - cpuBegan, errors: errors,
            p50_us: Double(histogram.valueAtPercentile(50)), p99_us: Double(histogram.valueAtPercentile(99)),
            p999_us: Double(histogram.valueAtPercentile(99.9))
        )
    }

    func runKazoo(connectionString: String, prefix: String) throws -> [Result] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", KazooPeer.script, connectionString, prefix, String(operations), String(window), String(size)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("the kazoo peer failed (exit \(process.terminationStatus)); is python3-kazoo installed? run scripts/setup.sh")
        }
        struct Raw: Codable { var op: String; var count: Int; var seconds: Double; var cpu_seconds: Double; var errors: Int; var p50_us: Double; var p99_us: Double; var p999_us: Double }
        return try JSONDecoder().decode([Raw].self, from: data).map {
            Result(client: "kazoo", op: $0.op, count: $0.count, seconds: $0.seconds, cpuSeconds: $0.cpu_seconds, errors: $0.errors, p50_us: $0.p50_us, p99_us: $0.p99_us, p999_us: $0.p999_us)
        }
    }

    func report(_ results: [Result]) {
        func ratio(_ op: String) -> Double? {
            guard let ours = results.first(where: { $0.client == "mitosis" && $0.op == op }),
                  let theirs = results.first(where: { $0.client == "kazoo" && $0.op == op }) else { return nil }
            return ours.opsPerSecond / theirs.opsPerSecond
        }
        if json {
            struct Report: Encodable { var results: [Result]; var createRatio: Double?; var getRatio: Double? }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(Report(results: results, createRatio: ratio("create"), getRatio: ratio("get"))) {
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        print("client   op      count   ops/s      p50 µs   p99 µs   p99.9 µs  cpu µs/op  errors")
        for result in results {
            print(
                result.client.padded(to: 8), result.op.padded(to: 7), String(result.count).padded(to: 7),
                String(Int(result.opsPerSecond)).padded(to: 10), String(Int(result.p50_us)).padded(to: 8),
                String(Int(result.p99_us)).padded(to: 8), String(Int(result.p999_us)).padded(to: 9),
                String(format: "%.1f", result.cpuMicrosecondsPerOperation).padded(to: 10), result.errors
            )
        }
        func cpuRatio(_ op: String) -> Double? {
            guard let ours = results.first(where: { $0.client == "mitosis" && $0.op == op }),
                  let theirs = results.first(where: { $0.client == "kazoo" && $0.op == op }) else { return nil }
            return theirs.cpuMicrosecondsPerOperation / ours.cpuMicrosecondsPerOperation
        }
        if let create = cpuRatio("create"), let get = cpuRatio("get") {
            print("kazoo/mitosis client CPU per operation: create \(String(format: "%.1f", create))x, get \(String(format: "%.1f", get))x")
        }
        if let create = ratio("create"), let get = ratio("get") {
            print("mitosis/kazoo throughput: create \(String(format: "%.1f", create))x (target ≥ 5x), get \(String(format: "%.1f", get))x (target ≥ 10x)")
        }
    }
}

extension String {
    func padded(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}


/// User plus system CPU time of this process so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}
