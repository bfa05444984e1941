import ArgumentParser
import Foundation
import Hosts
import TreeCopy
import Probes
import ZooKeeper
import ZooKeeperTestSupport

/// Block & copy throughput between two real 3-server ensembles: Mitosis's copy, a raw writer that
/// only sends pre-built multi batches (the servers' ceiling), zk-shell's `cp` and, given where it
/// was built, zkcopy (ksprojects/zkcopy, multi transactions), in one run.
struct CopyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a tree between two 3-server ensembles: Mitosis vs a raw multi writer (ceiling) vs zk-shell cp."
    )

    @Option(help: "Nodes in the source tree (100 children per parent).") var nodes = 100_000
    @Option(help: "Nodes zk-shell copies (it is slow; its rate is measured on a subtree of this size).") var zkShellNodes = 2_000
    @Option(help: "Bytes of data per node.") var size = 100
    @Option(help: "The zk-shell executable (PyPI zk-shell).") var zkShell = "zk-shell"
    @Option(help: "Maximum heap of each ZooKeeper JVM, in MB (a million-node tree needs about 2048: the destination holds the ceiling's tree and the copy).") var serverHeapMb = 256
    @Option(help: "Also copy reading through this many sessions (one per source server, readSessions), into a tree of its own: the destination then holds three trees.") var alsoReadSessions: Int?
    @Option(help: "A zkcopy executable (ksprojects/zkcopy, built locally: none of it is part of Mitosis); it copies the whole tree with its default workers and 1000-operation transactions.") var zkcopy: String?
    @Option(help: "Also copy a tree of this many leaves whose data versions are --data-version, with and without reproducing versions (what carrying versions costs).") var versionedNodes = 0
    @Option(help: "The data version of every leaf of the --versioned-nodes tree.") var dataVersion: Int32 = 300
    @Flag(help: "Print JSON.") var json = false

    struct Result: Codable {
        var writer: String
        var nodes: Int
        var seconds: Double
        var nodesPerSecond: Double { Double(nodes) / seconds }
        /// Resident memory of this process when the copy started, and its peak during the copy.
        var residentBeforeMegabytes: Double?
        var peakResidentMegabytes: Double?
    }

    func run() async throws {
        var results: [Result] = []
        try await withLocalEnsemble(servers: 3, distribution: .v3_8_0, fastStartup: false, heapMegabytes: serverHeapMb) { source in
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0, fastStartup: false, heapMegabytes: serverHeapMb) { destination in
                try await ZooKeeperClient.withClient(source.connectionString) { from in
                    try await ZooKeeperClient.withClient(destination.connectionString) { to in
                        // The ceiling: pre-built multi batches, 8 in flight, into the destination.
                        let clock = ContinuousClock()
                        var began = clock.now
                        try await Self.writeTree(to, root: "/ceiling", nodes: nodes, size: size)
                        results.append(Result(writer: "raw multi writer (ceiling)", nodes: nodes + nodes / 100 + 1, seconds: (clock.now - began).seconds))
                        try await Self.writeTree(from, root: "/tree", nodes: nodes, size: size)

                        // The default options, then with --also-read-sessions N the same reading
                        // through N sessions, each into a tree of its own on the destination. The
                        // copier's own peak: the high-water mark is reset to what is resident now
                        // (the writers before it are done), then read after the copy.
                        let variants = [("/tree", CopyOptions().readSessions)] + (alsoReadSessions.map { [("/tree-sessions", $0)] } ?? [])
                        for (target, sessions) in variants {
                            var options = CopyOptions()
                            options.readSessions = sessions
                            try ResidentMemory.resetPeak()
                            let before = try ResidentMemory.current()
                            began = clock.now
                            let report = try await TreeCopier(source: TreeLocation(client: from, root: "/tree"), destination: TreeLocation(client: to, root: target), options: options).run()
                            let seconds = (clock.now - began).seconds
                            results.append(Result(writer: "mitosis copy (\(report.sourceReads))", nodes: report.visited, seconds: seconds, residentBeforeMegabytes: before, peakResidentMegabytes: try ResidentMemory.peak()))
                        }
                        if versionedNodes > 0 {
                            try await Self.writeTree(from, root: "/versioned", nodes: versionedNodes, size: size, version: dataVersion)
                            for carry in [true, false] {
                                var options = CopyOptions()
                                options.reproduceDataVersions = carry
                                began = clock.now
                                let report = try await TreeCopier(
                                    source: TreeLocation(client: from, root: "/versioned"),
                                    destination: TreeLocation(client: to, root: carry ? "/versioned" : "/versioned-not-carried"), options: options
                                ).run()
                                let label = carry ? "versions \(dataVersion) carried, \(report.versionSteps) setData steps" : "versions \(dataVersion) not carried"
                                results.append(Result(writer: "mitosis copy (\(label))", nodes: report.visited, seconds: (clock.now - began).seconds))
                            }
                        }
                    }
                }
                if let zkcopy {
                    // The same tree, all of it, into a tree of its own on the destination.
                    let began = ContinuousClock.now
                    let (status, output) = try await ChildProcess.run(
                        [zkcopy, "--source", "\(source.connectionString)/tree", "--target", "\(destination.connectionString)/zkcopy"], timeout: .seconds(3600))
                    guard status == 0 else { throw ValidationError("zkcopy failed (\(status)): \(output.suffix(500))") }
                    results.append(Result(writer: "zkcopy", nodes: nodes + nodes / 100 + 1, seconds: (ContinuousClock.now - began).seconds))
                }
                // zk-shell on a subtree of zkShellNodes nodes.
                let parents = max(1, zkShellNodes / 100)
                try await ZooKeeperClient.withClient(source.connectionString) { from in
                    try await Self.writeTree(from, root: "/small", nodes: parents * 99, size: size)
                }
                let began = ContinuousClock.now
                let command = "\(zkShell) --run-once 'cp /small zk://\(destination.connectionString)/small true true' \(source.connectionString)"
                let (status, output) = try await ChildProcess.run(["/bin/sh", "-c", command], timeout: .seconds(3600))
                guard status == 0 else { throw ValidationError("zk-shell failed (\(status)): \(output.suffix(500)); install it with: python3 -m pip install zk-shell") }
                results.append(Result(writer: "zk-shell cp", nodes: parents * 100 + 1, seconds: (ContinuousClock.now - began).seconds))
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
            return
        }
        print("writer".padded(to: 40), "nodes     seconds   nodes/s    RSS before MB  peak RSS MB")
        for result in results {
            print(
                result.writer.padded(to: 40), String(result.nodes).padded(to: 9), String(format: "%.2f", result.seconds).padded(to: 9),
                String(Int(result.nodesPerSecond)).padded(to: 10), (result.residentBeforeMegabytes.map { String(format: "%.0f", $0) } ?? "-").padded(to: 14),
                result.peakResidentMegabytes.map { String(format: "%.0f", $0) } ?? "-"
            )
        }
        if let ours = results.first(where: { $0.writer.hasPrefix("mitosis copy") }), let ceiling = results.first(where: { $0.writer.hasPrefix("raw") }), let shell = results.first(where: { $0.writer == "zk-shell cp" }) {
            print("mitosis vs zk-shell: \(String(format: "%.1f", ours.nodesPerSecond / shell.nodesPerSecond))x (target ≥ 50x); vs the ceiling: \(String(format: "%.0f", 100 * ours.nodesPerSecond / ceiling.nodesPerSecond))% (target ≥ 80%)")
            if let peer = results.first(where: { $0.writer == "zkcopy" }) {
                print("mitosis vs zkcopy: \(String(format: "%.1f", ours.nodesPerSecond / peer.nodesPerSecond))x (target ≥ 10x)")
            }
        }
    }

    /// `nodes` leaves under nodes/100 parents, written as multi batches with 8 in flight; with a
    /// `version`, every leaf is then set that many times.
    static func writeTree(_ zk: ZooKeeperClient, root: String, nodes: Int, size: Int, version: Int32 = 0) async throws {
        try await zk.create(root)
        let data = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        var inFlight: [Submission] = []
        var batch: [MultiOperation] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            inFlight.append(try zk.submit(batch))
            batch = []
            if inFlight.count > 8 { _ = try await inFlight.removeFirst().results() }
        }
        for parent in 0..<max(1, nodes / 100) {
            let parentPath = "\(root)/p\(parent)"
            batch.append(.create(CreateRequest(path: parentPath, data: data, acl: ACL.openUnsafe, mode: .persistent)))
            for child in 0..<min(100, nodes - parent * 100) {
                batch.append(.create(CreateRequest(path: "\(parentPath)/c\(child)", data: data, acl: ACL.openUnsafe, mode: .persistent)))
                if batch.count >= 1000 { try await flush() }
            }
        }
        for parent in 0..<(version > 0 ? max(1, nodes / 100) : 0) {
            for child in 0..<min(100, nodes - parent * 100) {
                for _ in 0..<version {
                    batch.append(.setData(SetDataRequest(path: "\(root)/p\(parent)/c\(child)", data: data)))
                    if batch.count >= 1000 { try await flush() }
                }
            }
        }
        try await flush()
        for submission in inFlight { _ = try await submission.results() }
    }
}

/// This process's resident memory, from /proc/self/status (Linux).
enum ResidentMemory {
    /// Resident now (`VmRSS`), in MiB.
    static func current() throws -> Double { try field("VmRSS") }

    /// The high-water mark since the start or the last `resetPeak()` (`VmHWM`), in MiB.
    static func peak() throws -> Double { try field("VmHWM") }

    /// Lowers the high-water mark to what is resident now (`echo 5 > /proc/self/clear_refs`, Linux 4.0+).
    static func resetPeak() throws {
        try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    private static func field(_ name: String) throws -> Double {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            // "VmHWM:     34816 kB"
            if let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) { return kilobytes / 1024 }
        }
        throw ValidationError("no \(name) in /proc/self/status")
    }
}
