import Crypto
import Ensemble
import Foundation
import Hosts
import NIOPosix
import ZooKeeperProtocol

@testable import Migration
@testable import MigrationPlanning

/// An estate of real files under a temporary directory, on hosts the inventory reaches with
/// `via: local` (``LocalHostDriver``): a running 3-server source (ids 1–3, hosts h1–h3) holding
/// data, an empty 3-server destination (ids 4–6, hosts h4–h6) without config files yet, and a
/// Kafka-like client group. Each server has its own loopback address (127.0.0.11…16) and ports
/// (quorum 2000N, election 2100N, client 2200N), on which nothing listens, so discovery's `srvr`
/// finds no server. The service commands only touch
/// marker files: a test sees any start or stop.
struct EstateFixture {
    let root: String
    var version: ZooKeeperVersion
    var destinationVersion: ZooKeeperVersion
    /// Per server id: the host it runs on (tests move a destination server onto a source host).
    var hostOf: [Int64: String] = [:]
    var addressOf: [Int64: String] = [:]
    var clientPortOf: [Int64: Int] = [:]
    var quorumPortOf: [Int64: Int] = [:]
    var roleOf: [Int64: ServerRole] = [:]
    var dynamicConfigPathOf: [Int64: String] = [:]

    init(version: ZooKeeperVersion = .v3_8_0, destinationVersion: ZooKeeperVersion? = nil) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-estate-\(UUID().uuidString)").path
        self.version = version
        self.destinationVersion = destinationVersion ?? version
        for id in Int64(1)...6 {
            hostOf[id] = "h\(id)"
            addressOf[id] = "127.0.0.\(10 + id)"
            clientPortOf[id] = 22000 + Int(id)
            quorumPortOf[id] = 20000 + Int(id)
        }
        try write(sourceFiles: [1, 2, 3])
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    func directory(_ id: Int64) -> String { "\(root)/\(hostOf[id] ?? "h\(id)")/zk\(id)" }
    func configPath(_ id: Int64) -> String { "\(directory(id))/conf/zoo.cfg" }
    func dataDir(_ id: Int64) -> String { "\(directory(id))/data" }
    func myidPath(_ id: Int64) -> String { "\(dataDir(id))/myid" }
    func marker(_ id: Int64, _ name: String) -> String { "\(directory(id))/\(name)" }
    var clientConfigPath: String { "\(root)/h1/kafka/server.properties" }

    /// The source's files as a careful operator keeps them: every id, data, and its own whitelist.
    func write(sourceFiles ids: [Int64]) throws {
        for id in ids {
            let lines = [Int64(1), 2, 3].map { "server.\($0)=\(addressOf[$0]!):\(quorumPortOf[$0]!):\(21000 + $0)\(roleOf[$0] == .observer ? ":observer" : "")" }
            try put(
                configPath(id),
                "# managed by hand\ntickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=\(dataDir(id))\nclientPort=\(clientPortOf[id]!)\n"
                    + "4lw.commands.whitelist=*\nautopurge.snapRetainCount=5\n" + lines.joined(separator: "\n") + "\n"
                    + (roleOf[id] == .observer ? "peerType=observer\n" : ""))
            try put(myidPath(id), "\(id)\n")
            try put("\(dataDir(id))/version-2/snapshot.100000000", "snapshot")
            try put("\(dataDir(id))/version-2/log.100000001", "log")
            try put(marker(id, "running"), "")
        }
        try put(clientConfigPath, "broker.id=1\nzookeeper.connect=\(connectionString)/kafka\n")
    }

    var connectionString: String { [Int64(1), 2, 3].map { "\(addressOf[$0]!):\(clientPortOf[$0]!)" }.joined(separator: ",") }

    func put(_ path: String, _ text: String) throws {
        try put(path, bytes: Array(text.utf8))
    }

    func put(_ path: String, bytes: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Edits a file as a person would: replaces text in it and adds lines at its end.
    func edit(_ path: String, replacing old: String = "", with new: String = "", appending tail: String = "") throws {
        let text = String(decoding: bytes(path) ?? [], as: UTF8.self)
        try put(path, (old.isEmpty ? text : text.replacingOccurrences(of: old, with: new)) + tail)
    }

    func bytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map(Array.init) }

    func server(_ id: Int64) -> ServerSpec {
        ServerSpec(
            id: ServerID(id), host: hostOf[id]!, address: addressOf[id]!, quorumPort: quorumPortOf[id]!, electionPort: 21000 + Int(id),
            clientPort: clientPortOf[id]!, role: roleOf[id] ?? .participant,
            configPath: configPath(id), dynamicConfigPath: dynamicConfigPathOf[id], dataDir: dataDir(id),
            commands: ServiceCommands(
                start: "touch \(shellQuoted(marker(id, "started")))", stop: "touch \(shellQuoted(marker(id, "stopped")))",
                restart: "touch \(shellQuoted(marker(id, "restarted")))", status: "test -e \(shellQuoted(marker(id, "running")))"))
    }

    var inventory: Inventory {
        let hosts = Set(hostOf.values).sorted().map { HostSpec(name: $0, access: .local) }
        return Inventory(
            ensembles: [
                EnsembleSpec(name: "src", version: version, servers: [1, 2, 3].map(server)),
                EnsembleSpec(name: "dst", version: destinationVersion, servers: [4, 5, 6].map(server)),
            ],
            hosts: hosts,
            clientGroups: [
                ClientGroup(
                    name: "kafka", ensemble: "src", chroot: "/kafka", kind: .generic,
                    members: [ClientGroupMember(name: "broker-1", host: "h1", configPath: clientConfigPath, restart: "true")])
            ])
    }

    var hosts: InventoryHostDirectory { InventoryHostDirectory(inventory: inventory, eventLoopGroup: MultiThreadedEventLoopGroup.singleton) }

    func discover() async -> ObservedEstate {
        await EstateDiscovery(hosts: hosts, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, fourLetterWordTimeout: .seconds(1))
            .discover(inventory: inventory, source: "src", destination: "dst")
    }

    /// Discovers, then plans.
    func plan(_ strategy: StrategyKind = .mitosis) async throws -> Plan {
        let estate = await discover()
        return try Planner.plan(strategy, inventory: inventory, source: "src", destination: "dst", estate: estate)
    }

    /// SHA-256 of every file under the root, by path: the hosts' state, to compare before and after.
    func snapshot() throws -> [String: String] {
        var hashes: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return hashes }
        for case let relative as String in walker {
            let path = "\(root)/\(relative)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            hashes[relative] = SHA256.hash(data: bytes(path) ?? []).map { String(format: "%02x", $0) }.joined()
        }
        return hashes
    }

    /// Every directory under the root, by path relative to it.
    func directories() -> Set<String> {
        var directories: Set<String> = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return directories }
        for case let relative as String in walker {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(relative)", isDirectory: &isDirectory), isDirectory.boolValue { directories.insert(relative) }
        }
        return directories
    }
}
