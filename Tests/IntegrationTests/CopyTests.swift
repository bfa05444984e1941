import Foundation
import Hosts
import Probes
import Testing
import TreeCopy
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    @Suite struct CopyTests {
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

        /// While following: writes, deletes and ACL changes arrive; so do data versions (a setData of
        /// the same bytes) and next sequential suffixes (a lock parent whose ephemeral children are
        /// not copied, a READ-only parent created with its child).
        @Test func followCarriesWritesDeletesAndACLChanges() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { from in
                    try await ZooKeeperClient.withClient(ensemble.connectionString) { to in
                        try await from.create("/live", data: [0])
                        try await from.create("/live/a", data: [1])
                        try await from.create("/live/gone", data: [2])
                        try await from.create("/live/lock")
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
                                for _ in 0..<3 { try await from.create("/live/lock/lock-", mode: .ephemeralSequential) }
                                try await from.setData("/live/new", data: [3])
                                try await from.create("/live/readonly", data: [5])
                                try await from.create("/live/readonly/child", data: [6])
                                try await from.setACL("/live/readonly", acl: ACL.readUnsafe)
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
                        var options = TreeDiffOptions()
                        options.ignoreEphemeralNodes = true  // skipped by default
                        let diff = try await TreeDiff(left: TreeLocation(client: from, root: "/live"), right: TreeLocation(client: to, root: "/copy"), options: options).run()
                        #expect(diff.identical, "\(diff.differences)")
                        #expect(try await to.exists("/copy/new")?.version == 1)
                        #expect(try await to.getACL("/copy/readonly").acl == ACL.readUnsafe)
                        let nextOnSource = try await from.create("/live/lock/lock-", mode: .ephemeralSequential)
                        let nextOnDestination = try await to.create("/copy/lock/lock-", mode: .ephemeralSequential)
                        #expect(nextOnSource == "/live/lock/lock-0000000003" && nextOnDestination == "/copy/lock/lock-0000000003")
                        #expect(try await to.getData("/copy/a").data == [9])
                        #expect(try await to.getData("/copy/new/child").data == [4])
                        #expect(try await to.exists("/copy/gone") == nil)
                        #expect(try await to.getACL("/copy/a").acl == (try await from.getACL("/live/a").acl))
                    }
                }
            }
        }
    }
}
