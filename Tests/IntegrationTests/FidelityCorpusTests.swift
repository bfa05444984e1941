import Foundation
import Hosts
import Probes
import Testing
import TreeCopy
import ZooKeeper
import ZooKeeperTestSupport

/// A tree as applications write it, written and checked by kazoo (Interop/fidelity_corpus.py):
/// digest, ip and world ACLs; parents made READ-only after their children existed; lock parents
/// with live ephemeral children; sequential children with gaps; binary data with NULs, a 1 MB node,
/// unicode names, depth 40; a data version of 300; container and TTL nodes where the server has
/// them. After a copy, kazoo finds every node equal (data, ACL, data version, next sequential
/// suffix, visible node type), and the next sequential child under every parent gets the same
/// suffix on both sides; `copy --verify` (TreeDiff) and kazoo agree, also on differences.
extension RealServers {
    @Suite struct FidelityCorpusTests {
        static let script = RealServers.InteropTests.interop + "/fidelity_corpus.py"

        struct Comparison: Decodable {
            var nodes: Int
            var mismatches: [[String: String]]
        }

        struct Suffixes: Decodable {
            var parents: Int
            var denied: Int
            var mismatches: [[String: String]]
        }

        static func kazoo<T: Decodable>(_ arguments: [String], as: T.Type) async throws -> T {
            let (status, output) = try await ChildProcess.run(["/usr/bin/python3", script] + arguments)
            guard status == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
                throw LocalEnsembleError("fidelity_corpus.py \(arguments.first ?? "") failed (\(status)): \(output)")
            }
            return try JSONDecoder().decode(T.self, from: Data(line.utf8))
        }

        /// kazoo's comparison of the source's `from` with the destination's `to`.
        static func compare(_ source: LocalEnsemble, _ from: String, _ destination: LocalEnsemble, _ to: String) async throws -> Comparison {
            try await kazoo(["compare", source.connectionString, from, destination.connectionString, to, "--auth=dave:pw"], as: Comparison.self)
        }

        /// Starts kazoo writing the corpus under /corpus; it holds the ephemeral nodes until stopped.
        static func startWriter(_ source: LocalEnsemble, version: ZooKeeperDistribution) async throws -> (ChildProcess, String) {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("fidelity-corpus-\(UUID().uuidString).log").path
            let writer = try ChildProcess(
                ["/usr/bin/python3", script, "build", source.connectionString, "/corpus"] + (version.supportsExtendedNodeTypes ? ["--extended"] : []), outputPath: log)
            // Not a timed assertion: a bound on waiting for a process that may have failed.
            let deadline = ContinuousClock.now + .seconds(120)
            while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("READY") {
                guard writer.isRunning, ContinuousClock.now < deadline else {
                    writer.signal(SIGKILL)
                    throw LocalEnsembleError("kazoo did not write the corpus: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            return (writer, log)
        }

        static func configuration(_ ensemble: LocalEnsemble, auth: Bool) throws -> ZooKeeperConfiguration {
            var configuration = try ZooKeeperConfiguration(ensemble.connectionString)
            if auth { configuration.authentication = [("digest", DigestAuth.credentials(user: "dave", password: "pw"))] }
            return configuration
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func corpusWrittenByKazooIsCopiedFaithfully(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 1, distribution: version) { source in
                try await withLocalEnsemble(servers: 1, distribution: version) { destination in
                    let (writer, log) = try await Self.startWriter(source, version: version)
                    defer { try? FileManager.default.removeItem(atPath: log) }
                    do {
                        try await Self.check(source, destination, version: version)
                        if version.supportsExtendedNodeTypes { try await Self.checkNodeTypes(source, destination, version: version) }
                    } catch {
                        writer.signal(SIGKILL)
                        _ = try? await writer.waitForExit(timeout: .seconds(10))
                        throw error
                    }
                    writer.signal(SIGTERM)
                    _ = try await writer.waitForExit(timeout: .seconds(30))
                }
            }
        }

        /// The source's files name /corpus/container a container and /corpus/ttl a TTL node (the
        /// client protocol shows both as persistent): a copy that reads them writes both kinds.
        /// ZooKeeper's own SnapshotFormatter, run on the destination's snapshot after a restart,
        /// agrees with Mitosis's reading of the same snapshot.
        static func checkNodeTypes(_ source: LocalEnsemble, _ destination: LocalEnsemble, version: ZooKeeperDistribution) async throws {
            let local = { (directory: String) in try FileManager.default.contentsOfDirectory(atPath: directory) }
            let bytes = { (path: String) in FileManager.default.contents(atPath: path).map { Array($0) } }
            let expected: [String: NodeKind] = ["/corpus/container": .container, "/corpus/ttl": .ttl(milliseconds: 3_600_000), "/corpus/ttl-parent": .ttl(milliseconds: 3_600_000)]
            let sourceTypes = try await ServerDataFiles.read(dataDir: source.dataDirectory(of: 1), dataLogDir: nil, origin: "source", list: local, read: bytes)
            #expect(sourceTypes.kinds == expected)
            try await ZooKeeperClient.withClient(try configuration(source, auth: true)) { from in
                try await ZooKeeperClient.withClient(try configuration(destination, auth: true)) { to in
                    // The first copy (without the files) wrote them as persistent: copy again, elsewhere.
                    var options = CopyOptions()
                    options.nodeTypes = sourceTypes
                    let report = try await TreeCopier(source: TreeLocation(client: from, root: "/corpus"), destination: TreeLocation(client: to, root: "/typed"), options: options).run()
                    #expect(report.warnings.isEmpty, "\(report.warnings)")
                    #expect(report.nodeTypesRead?.hasPrefix("containers: 1, TTL nodes: 2,") == true, "\(report.nodeTypesRead ?? "nil")")
                }
            }
            // 3.5+ writes a snapshot when it starts: the destination's tree, kinds included.
            try await destination.restart(1)
            let directory = destination.dataDirectory(of: 1) + "/version-2"
            let snapshot = try #require(ServerDataFiles.select(files: try local(directory)).snapshot)
            let ours = try ServerDataFiles.readSnapshot(try #require(bytes(directory + "/" + snapshot)), file: snapshot)
            let typed = Dictionary(uniqueKeysWithValues: expected.map { ("/typed" + $0.key.dropFirst("/corpus".count), $0.value) })
            #expect(ours.filter { $0.key.hasPrefix("/typed") } == typed, "\(snapshot) of \((try? local(directory)) ?? [])")
            let (status, dump) = try await ChildProcess.run(["java", "-cp", try version.classpath(), "org.apache.zookeeper.server.SnapshotFormatter", directory + "/" + snapshot])
            #expect(status == 0, "\(dump)")
            // Each node: its path on a line of its own, then "  ephemeralOwner = 0x…" among its fields.
            var theirs: [String: String] = [:]
            var path = ""
            for line in dump.split(separator: "\n") {
                if line.hasPrefix("/") { path = String(line) }
                if line.hasPrefix("  ephemeralOwner = "), path.hasPrefix("/typed") {
                    let owner = String(line.dropFirst("  ephemeralOwner = ".count))
                    if UInt64(owner.dropFirst(2), radix: 16) != 0 { theirs[path] = owner }
                }
            }
            #expect(theirs == ["/typed/container": "0x8000000000000000", "/typed/ttl": "0xff0000000036ee80", "/typed/ttl-parent": "0xff0000000036ee80"], "\(theirs)")
        }

        static func check(_ source: LocalEnsemble, _ destination: LocalEnsemble, version: ZooKeeperDistribution) async throws {
            var verifying = TreeDiffOptions()
            verifying.ignoreEphemeralNodes = true  // as `copy --verify` after a default copy
            try await ZooKeeperClient.withClient(try configuration(source, auth: true)) { from in
                try await ZooKeeperClient.withClient(try configuration(destination, auth: true)) { to in
                    let sourceTree = TreeLocation(client: from, root: "/corpus")
                    let destinationTree = TreeLocation(client: to, root: "/corpus")
                    let copier = TreeCopier(source: sourceTree, destination: destinationTree)
                    let report = try await copier.run()
                    #expect(report.warnings.isEmpty, "\(report.warnings)")
                    #expect(report.sourceReads == (version.supportsMultiRead ? "multiRead" : "per-node"))
                    #expect(report.ephemeralsSkipped == 5 + 2 + 1 + 1, "locks, election, broker")
                    // /open/readonly, /open/readonly/child and /readonly-digest deny the copier CREATE.
                    #expect(report.aclsDeferred == 3)
                    #expect(report.versionSteps == 300 + 3)

                    let comparison = try await compare(source, "/corpus", destination, "/corpus")
                    #expect(comparison.mismatches.isEmpty, "\(comparison.mismatches)")
                    let verify = try await TreeDiff(left: sourceTree, right: destinationTree, options: verifying).run()
                    #expect(verify.identical, "\(verify.differences)")
                    #expect(verify.aclsPartlyHidden == 0)
                    #expect(verify.nodesLeft == comparison.nodes && comparison.nodes > 60)

                    // Again: nothing to write, under READ-only parents too.
                    let again = try await copier.run()
                    #expect(again.created + again.dataUpdated + again.aclsUpdated + again.sequencePads + again.versionSteps == 0)
                    #expect(again.warnings.isEmpty, "\(again.warnings)")

                    // A suffix handed out and a setData of the same bytes on the source: both
                    // checkers see exactly these two differences, and a copy repairs them.
                    try await from.delete(try await from.create("/corpus/queue/item-", mode: .persistentSequential))
                    try await from.setData("/corpus/counter", data: try await from.getData("/corpus/counter").data)
                    let behind = try await TreeDiff(left: sourceTree, right: destinationTree, options: verifying).run()
                    #expect(Set(behind.differences.map { "\($0.kind) \($0.path)" }) == ["sequence /queue", "version /counter"], "\(behind.differences)")
                    let kazooBehind = try await compare(source, "/corpus", destination, "/corpus")
                    #expect(Set(kazooBehind.mismatches.map { "\($0["field"] ?? "") \($0["path"] ?? "")" }) == ["next_suffix /corpus/queue", "version /corpus/counter"])
                    let repair = try await copier.run()
                    #expect(repair.sequencePads == 1 && repair.versionSteps == 1)
                    #expect(try await TreeDiff(left: sourceTree, right: destinationTree, options: verifying).run().identical)

                    // Without credentials, a copy of the world-readable part: READ-only parents
                    // are written under a temporary ACL too.
                    try await ZooKeeperClient.withClient(try configuration(source, auth: false)) { anonymousSource in
                        try await ZooKeeperClient.withClient(try configuration(destination, auth: false)) { anonymousDestination in
                            let anonymous = TreeCopier(
                                source: TreeLocation(client: anonymousSource, root: "/corpus/open"),
                                destination: TreeLocation(client: anonymousDestination, root: "/anonymous"))
                            let open = try await anonymous.run()
                            #expect(open.aclsDeferred == 2 && open.warnings.isEmpty, "\(open.warnings)")
                            #expect(try await compare(source, "/corpus/open", destination, "/anonymous").mismatches.isEmpty)
                            let openAgain = try await anonymous.run()
                            #expect(openAgain.created + openAgain.dataUpdated + openAgain.aclsUpdated + openAgain.sequencePads == 0)

                            // Hidden digest hashes: the comparison says it was partial.
                            let partial = try await TreeDiff(
                                left: TreeLocation(client: anonymousSource, root: "/corpus/acl/digest-mixed"),
                                right: TreeLocation(client: anonymousDestination, root: "/corpus/acl/digest-mixed")
                            ).run()
                            #expect(partial.aclsPartlyHidden == 1 && partial.aclWarning != nil)
                        }
                    }

                    // One more sequential child under every parent on both sides: the same suffix.
                    let suffixes = try await kazoo(
                        ["next-suffix", source.connectionString, "/corpus", destination.connectionString, "/corpus", "--auth=dave:pw"], as: Suffixes.self)
                    #expect(suffixes.mismatches.isEmpty, "\(suffixes.mismatches)")
                    #expect(suffixes.denied == 3 && suffixes.parents == comparison.nodes)
                    // The lock parent of the issue: five live ephemeral children, none copied.
                    let nextOnSource = try await from.create("/corpus/open/locks/lock-a/lock-", mode: .ephemeralSequential)
                    let nextOnDestination = try await to.create("/corpus/open/locks/lock-a/lock-", mode: .ephemeralSequential)
                    #expect(nextOnSource == "/corpus/open/locks/lock-a/lock-0000000006" && nextOnDestination == nextOnSource)
                }
            }
        }
    }
}
