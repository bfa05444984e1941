import Foundation
import Hosts
import Testing
import ZooKeeper
import ZooKeeperProtocol
import ZooKeeperTestSupport

/// The client against real 3-server ensembles of both tested versions (every operation also on 3.9.3).
extension RealServers {
    @Suite struct ClientTests {
        @Test(arguments: ZooKeeperDistribution.installable)
        func everyOperation(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    // create / exists / get / set with versions
                    #expect(try await zk.create("/ops", data: Array("v0".utf8)) == "/ops")
                    let stat = try #require(try await zk.exists("/ops"))
                    #expect(stat.dataLength == 2)
                    #expect(try await zk.exists("/missing") == nil)
                    let updated = try await zk.setData("/ops", data: Array("v1".utf8), version: stat.version)
                    #expect(updated.version == stat.version + 1)
                    await #expect(throws: ZooKeeperError.self) { try await zk.setData("/ops", data: [], version: stat.version) }
                    let (data, readStat) = try await zk.getData("/ops")
                    #expect(data == Array("v1".utf8))
                    #expect(readStat == updated)

                    // sequential and ephemeral children
                    let first = try await zk.create("/ops/seq-", mode: .persistentSequential)
                    let second = try await zk.create("/ops/seq-", mode: .ephemeralSequential)
                    #expect(first == "/ops/seq-0000000000")
                    #expect(second == "/ops/seq-0000000001")
                    let ephemeral = try #require(try await zk.exists(second))
                    #expect(ephemeral.ephemeralOwner == (await zk.sessionID))
                    #expect(try await zk.getChildren("/ops").sorted() == ["seq-0000000000", "seq-0000000001"])
                    let (children, parent) = try await zk.getChildrenWithStat("/ops")
                    #expect(children.count == 2)
                    #expect(parent.numChildren == 2)
                    #expect(parent.cversion == 2)

                    // ACLs
                    let (acl, _) = try await zk.getACL("/ops")
                    #expect(acl == ACL.openUnsafe)
                    let aclStat = try await zk.setACL("/ops", acl: ACL.readUnsafe + [ACL(permissions: [.write, .create, .delete, .admin], identity: .anyone)], version: 0)
                    #expect(aclStat.aversion == 1)

                    // sync, delete with version, notEmpty
                    try await zk.sync("/ops")
                    await #expect(throws: ZooKeeperError.self) { try await zk.delete("/ops") }
                    try await zk.delete(first, version: 0)
                    try await zk.delete(second)
                    try await zk.delete("/ops", version: updated.version)
                    #expect(try await zk.exists("/ops") == nil)

                    // Whole subtrees: parents first when listed, deepest first when deleted.
                    try await zk.create("/tree")
                    try await zk.create("/tree/a")
                    try await zk.create("/tree/a/b")
                    try await zk.create("/tree/c")
                    #expect(try await zk.subtree("/tree") == ["/tree", "/tree/a", "/tree/a/b", "/tree/c"])
                    #expect(try await zk.deleteRecursively("/tree") == ["/tree/c", "/tree/a/b", "/tree/a", "/tree"])
                    #expect(try await zk.exists("/tree") == nil)
                    #expect(try await zk.subtree("/tree") == [])

                    // Version-specific node types and calls.
                    if version.supportsExtendedNodeTypes {
                        let (created, createdStat) = try await zk.createReturningStat("/c2", data: [1, 2, 3])
                        #expect(created == "/c2")
                        #expect(createdStat.dataLength == 3)
                        try await zk.create("/container", mode: .container)
                        try await zk.create("/ttl", mode: .persistentWithTTL(.seconds(60)))
                        let config = try await zk.getConfig()
                        #expect(config.config.contains("server.1="))
                    } else {
                        await #expect(throws: ZooKeeperError.self) { try await zk.create("/container", mode: .container) }
                        // 3.4 answers an unknown opcode and drops the connection: the client reconnects,
                        // resumes its session, and works on (a request racing the drop may see
                        // connectionLoss, as with any lost connection).
                        var root: Stat? = nil
                        for _ in 0..<50 where root == nil {
                            do {
                                root = try await zk.exists("/")
                            } catch let error as ZooKeeperError where error.code == .connectionLoss {
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                        #expect(root != nil)
                    }
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func multiReadAnswersEachReadOnItsOwn(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                _ = try await ZooKeeperClient.withClient(ensemble.connectionString) { admin in try await admin.create("/chroot") }
                try await ZooKeeperClient.withClient(ensemble.connectionString + "/chroot") { zk in
                    try await zk.create("/r", data: Array("parent".utf8))
                    try await zk.create("/r/a", data: [1, 2, 3])
                    try await zk.create("/r/b")
                    try await zk.create("/r/locked", data: [9], acl: [ACL(permissions: [.write], identity: .anyone)])
                    let reads: [ReadOperation] = [
                        .getData(path: "/r/a"), .getData(path: "/r/missing"), .getChildren(path: "/r"),
                        .getData(path: "/r/locked"), .getChildren(path: "/r/b"), .getData(path: "/r"),
                    ]
                    guard version.supportsMultiRead else {
                        let sessionID = await zk.sessionID
                        let error = await #expect(throws: ZooKeeperError.self) { try await zk.multiRead(reads) }
                        #expect(error?.code == .unsupportedByServer)
                        #expect(error?.description.contains("3.6") == true, "\(String(describing: error))")
                        // The server drops the connection after refusing: the client resumes the same
                        // session elsewhere (a request racing the drop may see connectionLoss).
                        var data: [UInt8]? = nil
                        for _ in 0..<50 where data == nil {
                            do {
                                data = try await zk.getData("/r/a").data
                            } catch let error as ZooKeeperError where error.code == .connectionLoss {
                                try await zk.waitUntilConnected()
                            }
                        }
                        #expect(data == [1, 2, 3])
                        #expect(await zk.sessionID == sessionID)
                        return
                    }
                    let results = try await zk.multiRead(reads)
                    #expect(results.count == 6)
                    let (aData, aStat) = try await zk.getData("/r/a")
                    #expect(results[0] == .data(aData, aStat))
                    #expect(results[1] == .failed(.noNode))
                    guard case .children(let children) = results[2] else {
                        Issue.record("expected children, got \(results[2])")
                        return
                    }
                    #expect(children.sorted() == ["a", "b", "locked"], "paths are under the chroot")
                    #expect(results[3] == .failed(.noAuth), "no READ permission fails that read alone")
                    #expect(results[4] == .children([]))
                    #expect(results[5].error == nil)
                    if case .data(let data, let stat) = results[5] {
                        #expect(data == Array("parent".utf8))
                        #expect(stat.numChildren == 3)
                    }
                    #expect(try await zk.multiRead([]) == [])
                    await #expect(throws: ZooKeeperError.self) { try await zk.multiRead([.getData(path: "no-slash")]) }
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func multiRollsBackWhenACheckFails(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    try await zk.create("/m", data: [0])
                    let results = try await zk.multi([
                        .create(CreateRequest(path: "/m/a", data: [1], acl: ACL.openUnsafe, mode: .persistent)),
                        .setData(SetDataRequest(path: "/m", data: [2], version: 0)),
                        .check(CheckVersionRequest(path: "/m", version: 1)),
                    ])
                    #expect(results.count == 3)
                    #expect(results[0] == .created(path: "/m/a", stat: nil))

                    do {
                        try await zk.multi([
                            .create(CreateRequest(path: "/m/b", data: [], acl: ACL.openUnsafe, mode: .persistent)),
                            .delete(DeleteRequest(path: "/m/a")),
                            .check(CheckVersionRequest(path: "/m", version: 99)),
                        ])
                        Issue.record("the multi should have failed")
                    } catch let error as ZooKeeperError {
                        #expect(error.code == .badVersion)
                        #expect(error.path == "/m")
                        #expect(error.message?.contains("operation 3 of 3") == true)
                    }
                    #expect(try await zk.exists("/m/b") == nil, "the create was rolled back")
                    #expect(try await zk.exists("/m/a") != nil, "the delete was rolled back")
                    #expect(try await zk.getData("/m").data == [2])
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func watchesFireOnceWithTheRightEvent(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { watcher in
                    try await ZooKeeperClient.withClient(ensemble.connectionString) { writer in
                        try await writer.create("/w", data: [0])

                        let (_, _, dataWatch) = try await watcher.getDataAndWatch("/w")
                        let (_, _, childWatch) = try await watcher.getChildrenAndWatch("/w")
                        let (missing, existsWatch) = try await watcher.existsAndWatch("/w/new")
                        #expect(missing == nil)

                        try await writer.setData("/w", data: [1])
                        try await writer.setData("/w", data: [2])
                        #expect(try await dataWatch.event() == WatchedEvent(type: .nodeDataChanged, path: "/w"))

                        try await writer.create("/w/new")
                        #expect(try await existsWatch.event() == WatchedEvent(type: .nodeCreated, path: "/w/new"))
                        #expect(try await childWatch.event() == WatchedEvent(type: .nodeChildrenChanged, path: "/w"))

                        // A fired watch is gone: only a re-armed watch sees the next change, and it
                        // sees that change, not an earlier one.
                        let (data, _, again) = try await watcher.getDataAndWatch("/w")
                        #expect(data == [2])
                        try await writer.delete("/w/new")
                        try await writer.delete("/w")
                        #expect(try await again.event() == WatchedEvent(type: .nodeDeleted, path: "/w"))
                    }
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func closingTheSessionRemovesItsEphemeralsAtOnce(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                // A long session timeout: only closing the session can remove the node quickly.
                let owner = try await ZooKeeperClient.connect(ensemble.connectionString, sessionTimeout: .seconds(30))
                try await owner.create("/lock", mode: .ephemeral)
                try await ZooKeeperClient.withClient(ensemble.connectionString) { observer in
                    let (stat, watch) = try await observer.existsAndWatch("/lock")
                    #expect(stat?.ephemeralOwner == (await owner.sessionID))
                    await owner.close()
                    #expect(try await watch.event() == WatchedEvent(type: .nodeDeleted, path: "/lock"))
                    #expect(try await observer.exists("/lock") == nil)
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func sessionResumesOnAnotherServerWhenItsServerIsKilled(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString, sessionTimeout: .seconds(10)) { zk in
                    let states = await zk.stateUpdates()
                    var iterator = states.makeAsyncIterator()
                    guard case .connected(let sessionID, let server, _) = await iterator.next() else {
                        Issue.record("expected the client to be connected")
                        return
                    }
                    try await zk.create("/resume", data: [0])
                    try await zk.create("/resume/mine", mode: .ephemeral)
                    let (_, _, watch) = try await zk.getDataAndWatch("/resume")

                    let victim = try #require(ensemble.serverID(clientAddress: server))
                    try await ensemble.kill(victim)

                    var seen: [ConnectionState] = []
                    while let state = await iterator.next() {
                        seen.append(state)
                        if case .connected = state { break }
                    }
                    #expect(seen.first == .suspended)
                    guard case .connected(let resumedID, let newServer, _) = seen.last else {
                        Issue.record("never reconnected: \(seen)")
                        return
                    }
                    #expect(resumedID == sessionID, "the same session, resumed")
                    #expect(newServer != server)
                    #expect(try await zk.exists("/resume/mine") != nil, "the session's ephemeral survived")

                    // The watch was re-armed on the new server with SetWatches.
                    _ = try await ZooKeeperClient.withClient(ensemble.connectionString(excluding: [victim])) { other in
                        try await other.setData("/resume", data: [1])
                    }
                    #expect(try await watch.event() == WatchedEvent(type: .nodeDataChanged, path: "/resume"))
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func noAcknowledgedWriteIsLostWhenTheLeaderIsKilled(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                let zk = try await ZooKeeperClient.connect(ensemble.connectionString, sessionTimeout: .seconds(10))
                try await zk.create("/acked")
                var acknowledged: [Int] = []
                var failed = 0
                var killed = false
                var attempt = 0
                while acknowledged.count < 300 {
                    attempt += 1
                    if acknowledged.count == 100 && !killed {
                        let leader = try #require(try await ensemble.leader())
                        try await ensemble.kill(leader)
                        killed = true
                    }
                    do {
                        try await zk.create("/acked/n\(attempt)", data: Array("\(attempt)".utf8))
                        acknowledged.append(attempt)
                    } catch let error as ZooKeeperError where error.code == .connectionLoss || error.code == .nodeExists {
                        failed += 1
                        if failed > 10_000 { throw error }
                    }
                }
                await zk.close()
                try await ZooKeeperClient.withClient(ensemble.connectionString) { reader in
                    let present = Set(try await reader.getChildren("/acked"))
                    let lost = acknowledged.filter { !present.contains("n\($0)") }
                    #expect(lost.isEmpty, "acknowledged writes lost: \(lost)")
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func digestAuthAndACLsAreEnforced(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                let alice = DigestAuth.identity(user: "alice", password: "s3cret")
                try await ZooKeeperClient.withClient(ensemble.connectionString) { owner in
                    try await owner.addDigestAuth(user: "alice", password: "s3cret")
                    try await owner.create("/private", data: Array("mine".utf8), acl: [
                        ACL(permissions: .all, identity: alice),
                        ACL(permissions: .read, identity: .anyone),
                    ])
                    try await owner.create("/creator", acl: ACL.creatorAll)
                    #expect(try await owner.getACL("/creator").acl == [ACL(permissions: .all, identity: alice)], "auth:'' expands to the session's identity")
                }
                try await ZooKeeperClient.withClient(ensemble.connectionString) { stranger in
                    #expect(try await stranger.getData("/private").data == Array("mine".utf8), "world may read")
                    await expectCode(.noAuth) { try await stranger.setData("/private", data: []) }
                    await expectCode(.noAuth) { try await stranger.getData("/creator") }
                    try await stranger.addDigestAuth(user: "alice", password: "wrong")
                    await expectCode(.noAuth) { try await stranger.setData("/private", data: []) }
                }
                // Credentials given in the configuration are sent on every connection.
                var configuration = try ZooKeeperConfiguration(ensemble.connectionString)
                configuration.authentication = [("digest", DigestAuth.credentials(user: "alice", password: "s3cret"))]
                try await ZooKeeperClient.withClient(configuration) { alice in
                    try await alice.setData("/private", data: Array("changed".utf8))
                    _ = try await alice.getData("/creator")
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func badInputGivesClearErrorsNotHangs(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 1, distribution: version) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    let big = [UInt8](repeating: 7, count: 1_100_000)
                    await expectCode(.requestTooLarge) { try await zk.create("/big", data: big) }
                    await expectCode(.invalidPath) { try await zk.create("relative") }
                    await expectCode(.invalidPath) { try await zk.getData("/a//b") }
                    await expectCode(.invalidPath) { try await zk.delete("/trailing/") }
                    // Just under the server's limit still works, and the session is unharmed.
                    let nearLimit = [UInt8](repeating: 1, count: 1_000_000)
                    try await zk.create("/near-limit", data: nearLimit)
                    #expect(try await zk.getData("/near-limit").data == nearLimit)
                }
            }
        }
    }
}

@Suite struct UnreachableServerTests {
    @Test func unreachableServersFailWithinTheTimeout() async throws {
        // A port nobody listens on: every attempt is refused, the wait ends with a clear error.
        let port = try FreePort.allocate()
        do {
            let zk = try await ZooKeeperClient.connect("127.0.0.1:\(port)", sessionTimeout: .seconds(2), timeout: .seconds(2))
            await zk.close()
            Issue.record("connect should fail")
        } catch let error as ZooKeeperError {
            #expect(error.code == .connectionLoss)
            #expect(error.description.contains("127.0.0.1:\(port)"))
        }
    }

    @Test func malformedConnectionStringsAreRejectedBeforeAnyIO() {
        #expect(throws: ConnectionStringError.self) { try ZooKeeperConfiguration("host:port:extra") }
        #expect(throws: ConnectionStringError.self) { try ZooKeeperConfiguration("a:2181,,b:2181") }
    }

    @Test func requestsOnAClosedClientFailImmediately() async throws {
        let zk = ZooKeeperClient(configuration: try ZooKeeperConfiguration("127.0.0.1:1"))
        zk.start()
        await zk.close()
        await expectCode(.clientClosed) { try await zk.exists("/") }
    }
}

func expectCode(_ code: ZooKeeperError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> some Any) async {
    do {
        _ = try await body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch let error as ZooKeeperError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
