import ArgumentParser
import Ensemble
import Foundation
import Hosts
import Kafka
import Migration
import MigrationPlanning
import NIOCore
import NIOPosix
import ZooKeeper

/// `mitosis kafka kraft`: the ZooKeeper → KRaft migration (KIP-866), read from ZooKeeper and the
/// nodes' server.properties.
struct KafkaKRaft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kraft",
        abstract: "ZooKeeper → KRaft migration: readiness checks, the phase, a proved plan that runs, resumes and rolls back, and simulated nodes for rehearsals.",
        subcommands: [KafkaKRaftCheck.self, KafkaKRaftStatus.self, KafkaKRaftPlanCommand.self, KafkaKRaftRunCommand.self, KafkaKRaftRollbackCommand.self, KafkaKRaftSimulate.self]
    )
}

/// Kafka's ZooKeeper and where the brokers' and controllers' server.properties come from: local
/// files, or an inventory's client groups read through their hosts. (Not `ConnectionOptions`:
/// its `--inventory` picks an ensemble to connect to, while here it names the hosts to read.)
struct KRaftNodeOptions: ParsableArguments {
    @Option(name: [.short, .customLong("server"), .customLong("zookeeper")], help: "Kafka's zookeeper.connect, chroot included: host:port[,host:port...]/chroot. Default with --inventory: the broker group's ensemble and chroot.")
    var server: String?
    @Option(name: .customLong("broker-config"), help: "A broker's server.properties (repeat for each broker).") var brokerConfigs: [String] = []
    @Option(name: .customLong("controller-config"), help: "A KRaft controller's server.properties (repeat for each controller).") var controllerConfigs: [String] = []
    @Option(help: "An inventory (YAML) whose client groups list the brokers and controllers with host and configPath.") var inventory: String?
    @Option(help: "With --inventory: the client group of brokers; each member's server.properties is read through its host.") var group: String?
    @Option(help: "With --inventory: the client group of KRaft controllers.") var controllerGroup: String?
    @Option(help: "Seconds to wait for a session before giving up.") var connectTimeout: Double = 10
    @Option(help: "Digest credentials user:password, sent before any request.") var auth: String?
    @Flag(help: "Print JSON on stdout instead of text.") var json = false

    func validate() throws {
        if (group != nil || controllerGroup != nil) && inventory == nil { throw ValidationError("--group and --controller-group need --inventory") }
        if inventory != nil && group == nil && controllerGroup == nil { throw ValidationError("--inventory needs --group (brokers) and/or --controller-group") }
        if server == nil && group == nil && controllerGroup == nil && ProcessInfo.processInfo.environment["MITOSIS_ZOOKEEPER"] == nil {
            throw ValidationError("give -s HOST:PORT,…/chroot (Kafka's zookeeper.connect) or --inventory with --group")
        }
        if let server { do { _ = try ConnectionString(parsing: server) } catch { throw ValidationError("-s: \(error.description)") } }
        if connectTimeout <= 0 { throw ValidationError("--connect-timeout must be a positive number of seconds") }
        if let auth, !auth.contains(":") { throw ValidationError("--auth takes user:password") }
    }

    /// The files named on the command line, read now; a missing file is an error that names it.
    func localFiles() throws -> [KafkaNodeFile] {
        func read(_ path: String, _ role: KafkaNodeFile.Role) throws -> KafkaNodeFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                Output.error("cannot read the \(role.rawValue) config \(path): no such file or not readable")
                throw ExitCode.failure
            }
            return KafkaNodeFile(source: path, role: role, text: String(decoding: data, as: UTF8.self))
        }
        return try brokerConfigs.map { try read($0, .broker) } + controllerConfigs.map { try read($0, .controller) }
    }

    /// Each member's config file of the named groups, read through the inventory's host drivers.
    func inventoryFiles(_ inventory: Inventory) async throws -> [KafkaNodeFile] {
        var wanted: [(ClientGroup, KafkaNodeFile.Role)] = []
        for (name, role) in [(group, KafkaNodeFile.Role.broker), (controllerGroup, .controller)] {
            guard let name else { continue }
            guard let found = inventory.clientGroup(named: name) else {
                Output.error("the inventory has no client group '\(name)'; it has \(inventory.clientGroups.map(\.name).joined(separator: ", "))")
                throw ExitCode.failure
            }
            wanted.append((found, role))
        }
        guard !wanted.isEmpty else { return [] }
        let usesSandbox = inventory.hosts.contains { if case .sandbox = $0.access { return true } else { return false } }
            && ProcessInfo.processInfo.environment["MITOSIS_IN_NETNS"] == nil
        let sandbox = SandboxManager()
        let read = { (eventLoopGroup: any EventLoopGroup) async throws -> [KafkaNodeFile] in
            let directory = InventoryHostDirectory(inventory: inventory, sandbox: sandbox, eventLoopGroup: eventLoopGroup)
            do {
                var files: [KafkaNodeFile] = []
                for (group, role) in wanted {
                    for member in group.members {
                        let driver = try directory.driver(for: member.host)
                        guard let text = try await driver.readFile(member.configPath) else {
                            Output.error("\(member.name) on \(member.host): \(member.configPath) does not exist; fix configPath in the inventory's group '\(group.name)'")
                            throw ExitCode.failure
                        }
                        files.append(KafkaNodeFile(source: "\(member.name) on \(member.host):\(member.configPath)", role: role, text: text))
                    }
                }
                await directory.close()
                return files
            } catch {
                await directory.close()
                throw error
            }
        }
        if usesSandbox { return try await sandbox.withControlGroup { try await read($0) } }
        return try await read(MultiThreadedEventLoopGroup.singleton)
    }
}

/// Reads the node files, connects to Kafka's ZooKeeper (-s, else the broker group's ensemble and
/// chroot) and runs `body`; ZooKeeper and znode errors become a message naming the ensemble and exit code 1.
private func withKafkaZooKeeper<T: Sendable>(_ options: KRaftNodeOptions,
                                             _ body: (ZooKeeperClient) async throws -> T) async throws -> (T, [KafkaNodeFile]) {
    var files = try options.localFiles()
    var connectionString: ConnectionString?
    if let text = options.server ?? ProcessInfo.processInfo.environment["MITOSIS_ZOOKEEPER"] {
        connectionString = try ConnectionString(parsing: text)
    }
    if let path = options.inventory {
        let inventory = try loadInventory(path)
        files += try await options.inventoryFiles(inventory)
        if connectionString == nil, let name = options.group ?? options.controllerGroup, let group = inventory.clientGroup(named: name) {
            guard let ensemble = inventory.ensemble(named: group.ensemble) else {
                Output.error("client group '\(name)' names ensemble '\(group.ensemble)', which the inventory does not define")
                throw ExitCode.failure
            }
            connectionString = inventory.connectionString(for: ensemble, chroot: group.chroot)
        }
    }
    guard let connectionString else { throw ValidationError("give -s HOST:PORT,…/chroot (Kafka's zookeeper.connect)") }
    var configuration = ZooKeeperConfiguration(connectionString: connectionString)
    if let auth = options.auth { configuration.authentication = digestAuthentication(auth) }
    do {
        let result = try await ZooKeeperClient.withClient(configuration, timeout: .milliseconds(Int64(options.connectTimeout * 1000)), body)
        return (result, files)
    } catch let error as ZooKeeperError {
        Output.error("\(connectionString): \(error.description)")
        throw ExitCode.failure
    } catch let error as KafkaMetadataError {
        Output.error("reading Kafka's znodes under \(connectionString): \(error.description)")
        throw ExitCode.failure
    }
}

struct KafkaKRaftCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Is this Kafka cluster ready for a ZooKeeper → KRaft migration? Each check passes, fails (with what to fix) or is skipped (with why). Exit code 1 when any check fails.",
        discussion: """
            Reads Kafka's znodes (point -s at zookeeper.connect, chroot included) and, when given, the brokers' and \
            controllers' server.properties (--broker-config/--controller-config, or --inventory with --group and \
            --controller-group to read them through the inventory's hosts). Checks: cluster id, replica ids registered, \
            topic ids, pending deletions, /migration, /admin/reassign_partitions, inter.broker.protocol.version, JBOD, \
            node.id collisions, listeners, zookeeper.connect, encrypted dynamic passwords, authorizer, known bugs of the \
            Kafka release (--kafka-version).
            """)

    @OptionGroup var nodes: KRaftNodeOptions
    @Option(help: "The Kafka release the brokers run, e.g. 3.9.0 (inter.broker.protocol.version must match it; known migration bugs are looked up for it).") var kafkaVersion: String?

    func validate() throws {
        if let kafkaVersion, KafkaVersion(kafkaVersion) == nil { throw ValidationError("--kafka-version: '\(kafkaVersion)' is not a release such as 3.9.0") }
    }

    func run() async throws {
        let (view, files) = try await withKafkaZooKeeper(nodes) { try await KRaftZooKeeperView.read($0) }
        let readiness = KRaftReadiness(view: view, brokers: files.filter { $0.role == .broker }, controllers: files.filter { $0.role == .controller },
                                       kafkaVersion: kafkaVersion.flatMap(KafkaVersion.init))
        let checks = readiness.checks
        let failed = checks.filter { $0.outcome == .fail }
        if nodes.json {
            struct Report: Encodable { var ready: Bool; var checks: [ReadinessCheck] }
            try Output.json(Report(ready: failed.isEmpty, checks: checks))
        } else {
            var table = Table(["check", "result", "detail"])
            for check in checks { table.add([check.id, check.outcome.rawValue, check.detail]) }
            Output.note(table.render())
            for check in failed { if let fix = check.fix { Output.note("fix \(check.id): \(fix)") } }
            Output.note(failed.isEmpty ? "ready: no check failed" : "not ready: \(failed.count) of \(checks.count) checks failed")
        }
        if !failed.isEmpty { throw ExitCode.failure }
    }
}

struct KafkaKRaftStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The migration's phase from ZooKeeper: /controller's owner, /migration, the controller epochs, brokers still in ZooKeeper, each node's mode from its config.",
        discussion: """
            /migration is read twice, --interval seconds apart: dual-write is alive when its offset and mtime advanced. \
            Give --broker-config/--controller-config (or --inventory with --group/--controller-group) to see each node's \
            mode (zk, migration, kraft) from its server.properties.
            """)

    @OptionGroup var nodes: KRaftNodeOptions
    @Option(help: "Seconds between the two reads of /migration (0: read once, no dual-write liveness).") var interval: Double = 3

    func validate() throws {
        if interval < 0 { throw ValidationError("--interval must be 0 or more seconds") }
    }

    func run() async throws {
        let pause = interval
        let ((view, second), files) = try await withKafkaZooKeeper(nodes) { zk in
            let view = try await KRaftZooKeeperView.read(zk)
            guard pause > 0, view.migration != nil else { return (view, KRaftStatus.SecondRead?.none) }
            try await Task.sleep(for: .milliseconds(Int64(pause * 1000)))
            return (view, KRaftStatus.SecondRead(migration: try await KRaftZooKeeperView.readMigration(zk)))
        }
        let status = KRaftStatus(view: view, secondRead: second, nodes: files)
        if nodes.json { try Output.json(status); return }
        Output.note("phase: \(status.phase.rawValue) — \(status.summary)")
        let c = status.controller
        Output.note("/controller: \(c.owner)" + (c.id.map { " \($0)" } ?? "") + (c.znode.map { ", \($0)" } ?? "")
            + (c.kraftControllerEpoch.map { ", kraftControllerEpoch \($0)" } ?? "") + (c.problem.map { " (\($0))" } ?? ""))
        Output.note("/controller_epoch: \(status.controllerEpoch.map(String.init) ?? "absent"); highest partition-state controller_epoch: \(status.highestPartitionControllerEpoch.map(String.init) ?? "-")"
            + (status.rollbackEpochUnsafe ? " — above /controller_epoch + 1: a rollback to ZooKeeper now would leave partitions offline (KAFKA-20488)" : ""))
        let m = status.migration
        var migrationLine = "/migration: \(m.state)"
        if let offset = m.kraftMetadataOffset {
            migrationLine += " (kraft_controller_id \(m.kraftControllerID ?? -1), kraft_controller_epoch \(m.kraftControllerEpoch ?? -1), kraft_metadata_offset \(offset), kraft_metadata_epoch \(m.kraftMetadataEpoch ?? -1), data version \(m.dataVersion ?? -1))"
        }
        if let problem = m.problem { migrationLine += ": \(problem)" }
        if let dualWrite = m.dualWrite { migrationLine += "; dual-write \(dualWrite) (offset +\(m.offsetAdvancedBy ?? 0) in \(pause) s)" }
        Output.note(migrationLine)
        Output.note("brokers in ZooKeeper: \(status.brokersInZooKeeper.isEmpty ? "none" : status.brokersInZooKeeper.map(String.init).joined(separator: ","))")
        if !status.nodes.isEmpty {
            var table = Table(["node", "role", "id", "mode", "in /brokers/ids"])
            for node in status.nodes {
                table.add([node.source, node.role.rawValue, node.id.map(String.init) ?? "-", node.mode.rawValue,
                           node.registeredInZooKeeper.map { $0 ? "yes" : "no" } ?? "-"])
            }
            Output.note(table.render())
        }
    }
}
