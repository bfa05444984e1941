import Foundation
import Hosts
import Testing
import ZooKeeper
import ZooKeeperTestSupport

/// What Mitosis writes, kazoo and the official Java client read identically, and the other way round.
extension RealServers {
    @Suite struct InteropTests {
        static let interop = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop").path

        struct Node: Decodable, Equatable {
            struct Entry: Decodable, Equatable, Hashable {
                var perms: Int32
                var scheme: String
                var id: String
            }
            var data_hex: String
            var acl: [Entry]
            var stat: [String: Int64]
        }

        static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

        static func mitosisView(_ zk: ZooKeeperClient, _ path: String) async throws -> Node {
            let (data, stat) = try await zk.getData(path)
            let (acl, _) = try await zk.getACL(path)
            return Node(
                data_hex: hex(data),
                acl: acl.map { .init(perms: $0.permissions.rawValue, scheme: $0.identity.scheme, id: $0.identity.id) },
                stat: [
                    "czxid": stat.czxid.rawValue, "mzxid": stat.mzxid.rawValue, "ctime": stat.ctime, "mtime": stat.mtime,
                    "version": Int64(stat.version), "cversion": Int64(stat.cversion), "aversion": Int64(stat.aversion),
                    "ephemeralOwner": stat.ephemeralOwner, "dataLength": Int64(stat.dataLength),
                    "numChildren": Int64(stat.numChildren), "pzxid": stat.pzxid.rawValue,
                ]
            )
        }

        static func kazoo(_ arguments: [String]) async throws -> String {
            let (status, output) = try await ChildProcess.run(["/usr/bin/python3", "\(interop)/kazoo_interop.py"] + arguments)
            guard status == 0 else { throw LocalEnsembleError("kazoo_interop.py failed (\(status)): \(output)") }
            return output
        }

        static func java(_ arguments: [String], distribution: ZooKeeperDistribution) async throws -> String {
            // The 3.8.0 client reads and writes both server versions.
            let classpath = try ZooKeeperDistribution.v3_8_0.classpath()
            let (status, output) = try await ChildProcess.run(["java", "-cp", classpath, "\(interop)/ZkInterop.java"] + arguments)
            guard status == 0 else { throw LocalEnsembleError("ZkInterop.java failed (\(status)): \(output)") }
            return output
        }

        /// The JSON object line of a tool's output (log lines may surround it).
        static func jsonObject(in output: String) throws -> [String: Node] {
            guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
                throw LocalEnsembleError("no JSON in: \(output)")
            }
            return try JSONDecoder().decode([String: Node].self, from: Data(line.utf8))
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func whatMitosisWritesOthersReadIdentically(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                let bob = DigestAuth.identity(user: "bob", password: "pw")
                let paths = ["/interop", "/interop/binary", "/interop/empty", "/interop/acl"]
                var ours: [String: Node] = [:]
                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    try await zk.addDigestAuth(user: "bob", password: "pw")
                    try await zk.create("/interop", data: Array("ünïcödé".utf8))
                    try await zk.create("/interop/binary", data: (0...255).map(UInt8.init))
                    try await zk.create("/interop/empty")
                    try await zk.create("/interop/acl", data: [1], acl: [ACL(permissions: .all, identity: bob), ACL(permissions: [.read], identity: .anyone)])
                    try await zk.setData("/interop/binary", data: (0...255).reversed().map(UInt8.init))
                    for path in paths { ours[path] = try await Self.mitosisView(zk, path) }
                }
                let kazoo = try Self.jsonObject(in: try await Self.kazoo(["dump", ensemble.connectionString, "--auth=bob:pw"] + paths))
                let java = try Self.jsonObject(in: try await Self.java(["dump", ensemble.connectionString, "--auth=bob:pw"] + paths, distribution: version))
                for path in paths {
                    #expect(kazoo[path] == ours[path], "kazoo reads \(path) differently")
                    #expect(java[path] == ours[path], "the Java client reads \(path) differently")
                }
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func whatOthersWriteMitosisReadsIdentically(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                let carol = DigestAuth.identity(user: "carol", password: "pw")
                let binary = Self.hex((0...255).map(UInt8.init))
                let spec = """
                    [{"path": "/from-kazoo", "data_hex": "\(binary)", "acl": [{"perms": 31, "scheme": "digest", "id": "\(carol.id)"}, {"perms": 1, "scheme": "world", "id": "anyone"}]}]
                    """
                let specPath = FileManager.default.temporaryDirectory.appendingPathComponent("interop-\(UUID().uuidString).json").path
                try spec.write(toFile: specPath, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(atPath: specPath) }
                let (status, output) = try await ChildProcess.run(["/bin/sh", "-c", "/usr/bin/python3 '\(Self.interop)/kazoo_interop.py' write '\(ensemble.connectionString)' < '\(specPath)'"])
                #expect(status == 0, "\(output)")
                _ = try await Self.java(["write", ensemble.connectionString, "/from-java", "00ff7f80", "world:anyone:31"], distribution: version)

                let paths = ["/from-kazoo", "/from-java"]
                let kazoo = try Self.jsonObject(in: try await Self.kazoo(["dump", ensemble.connectionString, "--auth=carol:pw"] + paths))
                // Servers hide digest hashes from sessions without ADMIN permission (CVE-2019-0201):
                // both clients see the same masked id.
                let masked = try Self.jsonObject(in: try await Self.kazoo(["dump", ensemble.connectionString, "/from-kazoo"]))
                try await ZooKeeperClient.withClient(ensemble.connectionString) { stranger in
                    let strangerView = try await Self.mitosisView(stranger, "/from-kazoo")
                    #expect(strangerView == masked["/from-kazoo"])
                    #expect(masked["/from-kazoo"]?.acl.first?.id == "carol:x")
                }
                var configuration = try ZooKeeperConfiguration(ensemble.connectionString)
                configuration.authentication = [("digest", DigestAuth.credentials(user: "carol", password: "pw"))]
                try await ZooKeeperClient.withClient(configuration) { zk in
                    let fromKazoo = try await Self.mitosisView(zk, "/from-kazoo")
                    #expect(fromKazoo.data_hex == binary)
                    #expect(fromKazoo.acl == [.init(perms: 31, scheme: "digest", id: carol.id), .init(perms: 1, scheme: "world", id: "anyone")])
                    #expect(fromKazoo == kazoo["/from-kazoo"])
                    let fromJava = try await Self.mitosisView(zk, "/from-java")
                    #expect(fromJava.data_hex == "00ff7f80")
                    #expect(fromJava == kazoo["/from-java"])
                }
            }
        }
    }
}
