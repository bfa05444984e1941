import Foundation
import Probes
import Testing
import TreeCopy
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    @Suite struct CopyTests {
        /// A tree with everything that is hard to copy faithfully.
        static func buildSourceTree(_ zk: ZooKeeperClient) async throws {
            let dave = DigestAuth.identity(user: "dave", password: "pw")
            try await zk.create("/app", data: Array("root".utf8))
            try await zk.create("/app/binary", data: (0...255).map(UInt8.init))
            try await zk.create("/app/empty")
            try await zk.create("/app/secret", data: [42], acl: [ACL(permissions: .all, identity: dave), ACL(permissions: .read, identity: .anyone)])
            try await zk.create("/app/large", data: [UInt8](repeating: 0xAB, count: 900_000))
            var deep = "/app/deep"
            for level in 0..<20 {
                try await zk.create(deep, data: [UInt8(level)])
                deep += "/d"
            }
            try await zk.create("/app/queue")
            for _ in 0..<7 { try await zk.create("/app/queue/item-", mode: .persistentSequential) }
            try await zk.delete("/app/queue/item-0000000002")  // gaps
            try await zk.delete("/app/queue/item-0000000005")
            try await zk.create("/app/brokers")
            try await zk.create("/app/brokers/1", data: Array("{\"host\":\"a\"}".utf8), mode: .ephemeral)
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func copyIsFaithfulAndSequenceCountersMatch(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 1, distribution: version) { source in
                try await withLocalEnsemble(servers: 1, distribution: version) { destination in
                    var sourceConfiguration = try ZooKeeperConfiguration(source.connectionString)
                    sourceConfiguration.authentication = [("digest", DigestAuth.credentials(user: "dave", password: "pw"))]
                    try await ZooKeeperClient.withClient(sourceConfiguration) { from in
                        try await Self.buildSourceTree(from)
                        // Faithful digest ACLs need ADMIN rights on both sides: servers mask digests otherwise.
                        var destinationConfiguration = try ZooKeeperConfiguration(destination.connectionString)
                        destinationConfiguration.authentication = sourceConfiguration.authentication
                        try await ZooKeeperClient.withClient(destinationConfiguration) { to in
                            let report = try await TreeCopier(source: TreeLocation(client: from, root: "/app"), destination: TreeLocation(client: to, root: "/app")).run()
                            #expect(report.ephemeralsSkipped == 1)
                            // 3.8.0 is read with multiRead; 3.4.13 refuses it and is read node by node.
                            #expect(report.sourceReads == (version.supportsMultiRead ? "multiRead" : "per-node"))
                            // /app/brokers had one (skipped) ephemeral child: its child version is odd and is
                            // rounded up on the destination, which the report says.
                            #expect(report.warnings.count == 1 && report.warnings[0].hasPrefix("/app/brokers:"), "\(report.warnings)")

                            // An independent reader sees identical trees (data, ACLs, child versions).
                            var paths = ["/app", "/app/binary", "/app/empty", "/app/secret", "/app/large", "/app/queue", "/app/brokers"]
                            paths += try await from.getChildren("/app/queue").map { "/app/queue/\($0)" }
                            var deep = "/app/deep"
                            for _ in 0..<20 { paths.append(deep); deep += "/d" }
                            let sourceDump = try await Self.kazooDump(source.connectionString, paths)
                            let destinationDump = try await Self.kazooDump(destination.connectionString, paths)
                            for path in paths {
                                let left = try #require(sourceDump[path])
                                let right = try #require(destinationDump[path])
                                #expect(left.data_hex == right.data_hex, "data of \(path)")
                                #expect(left.acl == right.acl, "ACL of \(path)")
                                if path == "/app/brokers" {
                                    #expect(right.stat["cversion"]! >= left.stat["cversion"]!, "never lower")
                                } else {
                                    #expect(left.stat["cversion"] == right.stat["cversion"], "child version of \(path)")
                                }
                            }
                            #expect(try await to.exists("/app/brokers/1") == nil, "ephemerals are skipped by default")

                            // The next sequential child gets the same suffix on both sides.
                            let nextOnSource = try await from.create("/app/queue/item-", mode: .persistentSequential)
                            let nextOnDestination = try await to.create("/app/queue/item-", mode: .persistentSequential)
                            #expect(nextOnSource == nextOnDestination)
                            #expect(nextOnSource == "/app/queue/item-0000000007")

                            // Running the copy again writes nothing and leaves the trees equal.
                            try await to.delete("/app/queue/item-0000000007")
                            try await from.delete("/app/queue/item-0000000007")
                            let again = try await TreeCopier(source: TreeLocation(client: from, root: "/app"), destination: TreeLocation(client: to, root: "/app")).run()
                            #expect(again.created == 0 && again.dataUpdated == 0 && again.aclsUpdated == 0)
                        }
                    }
                }
            }
        }

        /// A catch-up pass (--since with --mirror) over a directory wider than one read chunk,
        /// read through a session on each of three servers: it writes only what changed, deletes
        /// what the source lost, and leaves the trees identical.
        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func catchUpWritesOnlyWhatChangedAndMirrorsDeletes(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    try await zk.create("/src", data: [0])
                    for index in 0..<300 {
                        try await zk.create("/src/c\(index)", data: Array("node \(index)".utf8))
                        if index % 50 == 7 { try await zk.create("/src/c\(index)/g", data: [UInt8(index % 256)]) }
                    }
                    let source = TreeLocation(client: zk, root: "/src")
                    let destination = TreeLocation(client: zk, root: "/dst")
                    var options = CopyOptions()
                    options.readSessions = 3
                    let first = try await TreeCopier(source: source, destination: destination, options: options).run()
                    #expect(first.sourceReads == (version.supportsMultiRead ? "multiRead" : "per-node") + " × 3 sessions")
                    #expect(first.created == 1 + 300 + 6)

                    try await zk.setData("/src/c5", data: [5, 5])
                    try await zk.create("/src/c7/new", data: [7])
                    try await zk.delete("/src/c9")
                    options.sinceMtime = first.highestMtime
                    options.mirror = true
                    let second = try await TreeCopier(source: source, destination: destination, options: options).run()
                    #expect(second.created == 1)
                    #expect(second.dataUpdated == 1)
                    #expect(second.deleted == 1)
                    #expect(second.aclsUpdated == 0)
                    #expect(second.visited == 1 + 299 + 6 + 1)
                    #expect(try await zk.getData("/dst/c5").data == [5, 5])
                    #expect(try await zk.getData("/dst/c7/new").data == [7])
                    #expect(try await zk.exists("/dst/c9") == nil)
                    let diff = try await TreeDiff(left: source, right: destination).run()
                    #expect(diff.identical, "\(diff.differences)")
                }
            }
        }

        @Test func followCarriesWritesDeletesAndACLChanges() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { from in
                    try await ZooKeeperClient.withClient(ensemble.connectionString) { to in
                        try await from.create("/live", data: [0])
                        try await from.create("/live/a", data: [1])
                        try await from.create("/live/gone", data: [2])
                        let (stop, stopNow) = AsyncStream<Void>.makeStream()
                        let follower = TreeFollower(source: TreeLocation(client: from, root: "/live"), destination: TreeLocation(client: to, root: "/copy"))
                        let report = try await withThrowingTaskGroup(of: FollowReport?.self) { group in
                            group.addTask { try await follower.run(stop: stop) }
                            group.addTask {
                                // Wait for the initial pass, then change the source while following.
                                while (try? await to.exists("/copy/gone")) == nil {
                                    try await Task.sleep(for: .milliseconds(20))
                                }
                                try await from.setData("/live/a", data: [9])
                                try await from.create("/live/new", data: [3])
                                try await from.create("/live/new/child", data: [4])
                                try await from.delete("/live/gone")
                                try await from.setACL("/live/a", acl: ACL.readUnsafe + [ACL(permissions: [.write, .delete, .create, .admin], identity: .anyone)])
                                try await Task.sleep(for: .milliseconds(500))
                                stopNow.yield()
                                return nil
                            }
                            var result: FollowReport? = nil
                            for try await value in group { if let value { result = value } }
                            return result
                        }
                        let followed = try #require(report)
                        #expect(followed.events > 0)
                        let diff = try await TreeDiff(left: TreeLocation(client: from, root: "/live"), right: TreeLocation(client: to, root: "/copy")).run()
                        #expect(diff.identical, "\(diff.differences)")
                        #expect(try await to.getData("/copy/a").data == [9])
                        #expect(try await to.getData("/copy/new/child").data == [4])
                        #expect(try await to.exists("/copy/gone") == nil)
                        #expect(try await to.getACL("/copy/a").acl == (try await from.getACL("/live/a").acl))
                    }
                }
            }
        }

        static func kazooDump(_ hosts: String, _ paths: [String]) async throws -> [String: RealServers.InteropTests.Node] {
            let output = try await RealServers.InteropTests.kazoo(["dump", hosts, "--auth=dave:pw"] + paths)
            return try RealServers.InteropTests.jsonObject(in: output)
        }
    }
}
