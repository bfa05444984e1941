import Foundation
import Probes
import Testing
import TreeCopy
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    @Suite struct ProbeTests {
        @Test func statusSpotsAKilledServer() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0) { ensemble in
                let servers = ensemble.servers.map(\.clientAddress)
                let healthy = await EnsembleStatus.collect(servers)
                #expect(healthy.healthy, "\(healthy.warnings)")
                #expect(healthy.servers.filter { $0.mode == "leader" }.count == 1)
                #expect(healthy.servers.allSatisfy { $0.membership?.count == 3 })
                let leader = try await ensemble.leader()
                let follower = try #require(ensemble.servers.first { $0.id != leader })
                try await ensemble.kill(follower.id)
                let degraded = await EnsembleStatus.collect(servers, timeout: .seconds(1))
                #expect(degraded.warnings.contains { $0.contains(follower.clientAddress.description) && $0.contains("does not answer") })
            }
        }

        /// zk-smoketest's and zk-latencies' checks on one ensemble: a clean pass (one request at a
        /// time and pipelined), leftovers refused and then cleaned, and failures that name the
        /// server and the check: a server frozen before the run, one frozen while the watches are
        /// armed (its delete and its notifications stall), and one that is down.
        @Test func smoketestPassesAndFailsWhenAServerIsCutOff() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_4_13) { ensemble in
                let options = SmoketestOptions(
                    servers: ensemble.servers.map(\.clientAddress), operationsPerPhase: 20, connectTimeout: .seconds(3), sessionTimeout: .seconds(2))
                // A follower: freezing the leader would stop the whole ensemble until an election.
                let leader = try await ensemble.leader()
                let victim = try #require(ensemble.servers.last { $0.id != leader })
                let victimAddress = victim.clientAddress.description
                func failed(_ report: SmoketestReport) -> [String] {
                    report.checks.filter { !$0.passed }.map { "\($0.name)@\($0.server ?? "")" }
                }

                let passing = await Smoketest(options: options).run()
                #expect(passing.passed, "\(passing.checks.filter { !$0.passed })")
                #expect(passing.phases.filter { $0.server == victimAddress }.map(\.name) == Smoketest.phaseNames)
                #expect(passing.checks.filter { $0.name == "write through the server" && $0.passed }.count == 3, "one ephemeral through every server")
                #expect(passing.checks.filter { $0.name == "watch notifications" && $0.passed }.count == 3, "3 × 3 watches, in order")
                #expect(passing.checks.filter { $0.name == "child count" && $0.passed }.count == 3)
                var pipelinedOptions = options
                pipelinedOptions.pipelined = true
                let pipelined = await Smoketest(options: pipelinedOptions).run()
                #expect(pipelined.passed, "\(pipelined.checks.filter { !$0.passed })")
                #expect(pipelined.pipelined && pipelined.phases.count == 3 * Smoketest.phaseNames.count)

                // Leftovers under the test root: refused (named), then removed with cleanLeftovers.
                _ = try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    #expect(try await zk.exists(options.testRoot) == nil, "a passing run removes its test root")
                    try await zk.create(options.testRoot)
                    try await zk.create(ZooKeeperPath.join(options.testRoot, "stale"))
                }
                let refused = await Smoketest(options: options).run()
                #expect(failed(refused) == ["test root empty@\(ensemble.servers[0].clientAddress)"])
                #expect(refused.checks.first { !$0.passed }?.detail?.contains("stale") == true)
                #expect(refused.phases.isEmpty, "nothing runs on a test root with leftovers")
                var cleaning = options
                cleaning.cleanLeftovers = true
                let cleaned = await Smoketest(options: cleaning).run()
                #expect(cleaned.passed, "\(cleaned.checks.filter { !$0.passed })")
                #expect(cleaned.checks.first { $0.name == "test root empty" }?.detail?.contains("removed 1 leftover") == true)

                // Repeated (`smoketest --watch`): one timeline event per run, until cancelled.
                var quick = cleaning
                quick.operationsPerPhase = 0
                let (events, sink) = AsyncStream<CanaryEvent>.makeStream()
                let watching = Task { await Smoketest(options: quick).watch(every: .milliseconds(50)) { sink.yield($0) } }
                var seen: [CanaryEvent] = []
                for await event in events {
                    seen.append(event)
                    if seen.count == 2 { break }
                }
                watching.cancel()
                let watched = await watching.value
                #expect(seen.map(\.kind) == [.smoketestPassed, .smoketestPassed])
                #expect(watched.count >= 2 && watched.allSatisfy(\.passed))

                // Frozen before the run: its session fails; the other servers' checks still run.
                ensemble.freeze(victim.id)
                let frozen = await Smoketest(options: options).run()
                ensemble.thaw(victim.id)
                #expect(failed(frozen) == ["session@\(victimAddress)"])
                #expect(frozen.checks.filter { $0.name == "watch notifications" && $0.passed }.count == 2)

                // Frozen once the watches are armed: the delete through it and its notifications stall.
                let stalled = await Smoketest(options: cleaning).run { message in
                    if message.hasPrefix("deleting the") { ensemble.freeze(victim.id) }
                }
                ensemble.thaw(victim.id)
                #expect(!stalled.passed)
                #expect(failed(stalled).contains("watch notifications@\(victimAddress)"), "\(failed(stalled))")
                #expect(failed(stalled).contains("delete through the server@\(victimAddress)"), "\(failed(stalled))")
                #expect(stalled.checks.filter { $0.name == "watch notifications" && $0.server != victimAddress }.allSatisfy { $0.passed }, "the others are told of every delete that happened")

                // Down: its session fails, the others pass.
                try await ensemble.stop(victim.id)
                let down = await Smoketest(options: cleaning).run()
                #expect(failed(down) == ["session@\(victimAddress)"])
            }
        }

        @Test func watchMeasuresAnInjectedStall() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0) { ensemble in
                let canary = Canary(options: CanaryOptions(
                    group: "kafka", connectionString: try ConnectionString(parsing: ensemble.connectionString),
                    interval: .milliseconds(50), slowThreshold: .milliseconds(300), sessionTimeout: .seconds(10)
                ))
                let injected = 2.0
                let summary = await withTaskGroup(of: CanarySummary?.self) { group in
                    group.addTask { await canary.run() }
                    group.addTask {
                        try? await Task.sleep(for: .seconds(2))
                        // Every server stops answering for exactly `injected` seconds.
                        for server in ensemble.servers { ensemble.freeze(server.id) }
                        try? await Task.sleep(for: .seconds(injected))
                        for server in ensemble.servers { ensemble.thaw(server.id) }
                        try? await Task.sleep(for: .seconds(2))
                        return nil
                    }
                    _ = await group.next()  // the injector finished
                    group.cancelAll()
                    var result: CanarySummary? = nil
                    for await value in group { if let value { result = value } }
                    return result
                }
                let result = try #require(summary)
                #expect(result.operations > 20)
                #expect(result.sessionsExpired == 0)
                // The stall matches the injected outage within the tick time plus the canary's interval.
                let tolerance = Double(ensemble.tickTime) / 1000 + 0.05
                #expect(abs(result.longestStallMilliseconds / 1000 - injected) <= tolerance, "longest stall \(result.longestStallMilliseconds) ms, injected \(injected) s")
                #expect(result.stalls.filter { $0.milliseconds > 300 }.count == 1)
            }
        }

        @Test func diffFindsAByteAnACLAndACounterIn10kNodes() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    // 10,000 nodes under 100 parents, written in multi batches.
                    try await zk.create("/left")
                    for parent in 0..<100 {
                        var operations: [MultiOperation] = [.create(CreateRequest(path: "/left/p\(parent)", data: [UInt8(parent)], acl: ACL.openUnsafe, mode: .persistent))]
                        for child in 0..<99 {
                            operations.append(.create(CreateRequest(path: "/left/p\(parent)/c\(child)", data: Array("value \(parent)-\(child)".utf8), acl: ACL.openUnsafe, mode: .persistent)))
                        }
                        try await zk.multi(operations)
                    }
                    let copy = try await TreeCopier(source: TreeLocation(client: zk, root: "/left"), destination: TreeLocation(client: zk, root: "/right")).run()
                    #expect(copy.created == 10_001)
                    let diff = TreeDiff(left: TreeLocation(client: zk, root: "/left"), right: TreeLocation(client: zk, root: "/right"))
                    let same = try await diff.run()
                    #expect(same.identical, "\(same.differences.prefix(5))")
                    #expect(same.nodesLeft == 10_001)
                    #expect(same.leftDigest == same.rightDigest)

                    try await zk.setData("/right/p7/c42", data: Array("value 7-43".utf8))  // one byte
                    try await zk.setACL("/right/p50/c1", acl: ACL.readUnsafe)
                    try await zk.create("/right/p99/extra")
                    try await zk.delete("/right/p99/extra")  // same children, higher cversion
                    let changed = try await diff.run()
                    let found = Set(changed.differences.map { "\($0.kind.rawValue) \($0.path)" })
                    // The setData also moved the data version; the create+delete the next sequential suffix.
                    #expect(found == ["data /p7/c42", "version /p7/c42", "acl /p50/c1", "sequence /p99"])
                    #expect(changed.leftDigest != changed.rightDigest)
                    #expect(changed.subtreeDigests["/p3"]?[0] == changed.subtreeDigests["/p3"]?[1], "untouched subtrees keep equal digests")
                    #expect(changed.subtreeDigests["/p7"]?[0] != changed.subtreeDigests["/p7"]?[1])
                }
            }
        }
    }
}
