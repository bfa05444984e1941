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

/// The inventory, Kafka's ZooKeeper and the hosts of the migration's brokers and controllers,
/// shared by `kafka kraft plan`, `run` and `rollback`.
struct KRaftInventoryOptions: ParsableArguments {
    @Option(help: "The inventory (YAML) whose client groups list the brokers and the KRaft controllers (host, configPath, restart; controllers also stop).") var inventory: String
    @Option(name: [.short, .customLong("server"), .customLong("zookeeper")], help: "Kafka's zookeeper.connect, chroot included. Default: the plan's (run, rollback) or the broker group's ensemble and chroot (plan).")
    var server: String?
    @Option(help: "Seconds to wait for a session before giving up.") var connectTimeout: Double = 10
    @Option(help: "Digest credentials user:password, sent before any request.") var auth: String?
    @Flag(help: "Events and results as JSON lines on stdout.") var json = false

    func validate() throws {
        if let server { do { _ = try ConnectionString(parsing: server) } catch { throw ValidationError("-s: \(error.description)") } }
        if connectTimeout <= 0 { throw ValidationError("--connect-timeout must be a positive number of seconds") }
        if let auth, !auth.contains(":") { throw ValidationError("--auth takes user:password") }
    }

    /// Connects to Kafka's ZooKeeper and reaches every member of the groups through its host; runs `body`.
    func withNodes<T: Sendable>(groups: [String], defaultConnect: String?,
                                _ body: @escaping @Sendable (ZooKeeperClient, [KRaftNodeAccess]) async throws -> T) async throws -> T {
        let parsed = try loadInventory(inventory)
        for name in groups where parsed.clientGroup(named: name) == nil {
            throw ValidationError("the inventory has no client group '\(name)'; it has \(parsed.clientGroups.map(\.name).joined(separator: ", "))")
        }
        var connect = server ?? defaultConnect
        if connect == nil, let group = groups.first.flatMap(parsed.clientGroup(named:)), let ensemble = parsed.ensemble(named: group.ensemble) {
            connect = parsed.connectionString(for: ensemble, chroot: group.chroot).description
        }
        guard let connect else { throw ValidationError("give -s HOST:PORT,…/chroot (Kafka's zookeeper.connect)") }
        var settings = ZooKeeperConfiguration(connectionString: try ConnectionString(parsing: connect))
        if let auth { settings.authentication = digestAuthentication(auth) }
        let configuration = settings
        let timeout = Duration.milliseconds(Int64(connectTimeout * 1000))
        let usesSandbox = parsed.hosts.contains { if case .sandbox = $0.access { return true } else { return false } }
            && ProcessInfo.processInfo.environment["MITOSIS_IN_NETNS"] == nil
        let sandbox = SandboxManager()
        let work = { @Sendable (eventLoopGroup: any EventLoopGroup) async throws -> T in
            let directory = InventoryHostDirectory(inventory: parsed, sandbox: sandbox, eventLoopGroup: eventLoopGroup)
            do {
                let nodes = try KRaftNodeAccess.members(of: groups, in: parsed, hosts: directory)
                let result = try await ZooKeeperClient.withClient(configuration, timeout: timeout, eventLoopGroup: eventLoopGroup) { try await body($0, nodes) }
                await directory.close()
                return result
            } catch {
                await directory.close()
                throw error
            }
        }
        if usesSandbox { return try await sandbox.withControlGroup { try await work($0) } }
        return try await work(MultiThreadedEventLoopGroup.singleton)
    }
}

/// How the run and the rollback wait: shared by `kafka kraft run` and `rollback`.
struct KRaftGateOptions: ParsableArguments {
    @Option(help: "Seconds without under-replicated partitions before each restart (and, for run, before finalization).") var healthyPeriod: Double = 30
    @Option(help: "Seconds a gate may wait.") var gateTimeout: Double = 1800
    @Option(help: "Seconds between two reads of ZooKeeper while a gate waits.") var pollInterval: Double = 1

    func validate() throws {
        if healthyPeriod < 0 { throw ValidationError("--healthy-period must be 0 or more seconds") }
        if pollInterval <= 0 || gateTimeout <= 0 { throw ValidationError("--poll-interval and --gate-timeout must be positive numbers of seconds") }
    }

    var options: KRaftExecutor.Options {
        KRaftExecutor.Options(healthyPeriod: .milliseconds(Int64(healthyPeriod * 1000)), pollInterval: .milliseconds(Int64(pollInterval * 1000)),
                              gateTimeout: .milliseconds(Int64(gateTimeout * 1000)))
    }
}

/// The plan `kafka kraft plan` wrote and proved, proved again by this prover; refused (exit 1,
/// nothing reached) when it was altered since or is unsafe, with the prover's counterexample.
func loadKRaftPlan(_ path: String) throws -> ProvenKRaftPlan {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read the plan \(path)") }
    let plan: KRaftPlan
    do {
        plan = try JSONDecoder().decode(KRaftPlan.self, from: data)
    } catch {
        throw ValidationError("\(path) is not a KRaft migration plan (`mitosis kafka kraft plan` writes one): \(error)")
    }
    do {
        return try KRaftProver.verify(plan, source: path)
    } catch {
        Output.error("\(error)")
        throw ExitCode.failure
    }
}

/// Prints one run or rollback event: text on stderr, or a JSON line on stdout.
@Sendable func showKRaftEvent(_ event: ExecutionEvent, json: Bool) {
    if json { try? Output.json(event); return }
    let prefix: String
    switch event.kind {
    case .stepStarted: prefix = "▶"
    case .stepFinished, .gatePassed: prefix = "  ✓"
    case .failed: prefix = "✗"
    case .paused: prefix = "⏸"
    default: prefix = "  ·"
    }
    Output.note("\(prefix) \(event.summary)")
}

func phaseOrStep(_ text: String) -> (KRaftPhase?, String?) {
    if let phase = KRaftPhase(rawValue: text) { return (phase, nil) }
    return (nil, text)
}

struct KafkaKRaftPlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan the ZooKeeper → KRaft migration from the brokers' and controllers' real server.properties and ZooKeeper; prove it; write plan.json and runbook.md. Touches nothing.",
        discussion: """
            The steps: readiness (kafka kraft check must pass), each controller provisioned in migration mode, each broker \
            rolled into migration mode (the ZooKeeper controller last), the load, dual-write, each broker rolled into KRaft \
            mode, then finalization — the point of no return. Every diff is against the file as read through its host.
            """)

    @OptionGroup var options: KRaftInventoryOptions
    @Option(help: "The client group of brokers.") var group: String
    @Option(help: "The client group of KRaft controllers.") var controllerGroup: String
    @Option(name: .shortAndLong, help: "The directory to write plan.json and runbook.md into.") var output: String
    @Option(help: "The Kafka release the brokers run, e.g. 3.9.0 (for the readiness checks).") var kafkaVersion: String?

    func validate() throws {
        if let kafkaVersion, KafkaVersion(kafkaVersion) == nil { throw ValidationError("--kafka-version: '\(kafkaVersion)' is not a release such as 3.9.0") }
    }

    func run() async throws {
        let (group, controllerGroup, version, inventoryPath) = (group, controllerGroup, kafkaVersion.flatMap(KafkaVersion.init), options.inventory)
        let plan: KRaftPlan
        do {
            plan = try await options.withNodes(groups: [group, controllerGroup], defaultConnect: nil) { zk, nodes in
                let inventory = try loadInventory(inventoryPath)
                let names = { (name: String) in inventory.clientGroup(named: name)?.members.map(\.name) ?? [] }
                return try await KRaftPlanner.plan(zookeeper: zk, nodes: nodes, brokerGroup: group, brokers: names(group),
                                                   controllerGroup: controllerGroup, controllers: names(controllerGroup), kafkaVersion: version)
            }
        } catch let error as KRaftPlanError {
            Output.error(error.description)
            throw ExitCode.failure
        }
        let proven: ProvenKRaftPlan
        do {
            proven = try KRaftProver.prove(plan)
        } catch {
            Output.error("the plan does not prove (a bug in the planner): \(error)")
            throw ExitCode.failure
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let planPath = (output as NSString).appendingPathComponent("plan.json")
        try encoder.encode(proven.recorded).write(to: URL(fileURLWithPath: planPath))
        try Data(plan.runbook().utf8).write(to: URL(fileURLWithPath: (output as NSString).appendingPathComponent("runbook.md")))
        if options.json { try Output.json(proven.recorded); return }
        for step in plan.steps {
            if step.pointOfNoReturn { Output.note("  ── POINT OF NO RETURN ──") }
            Output.note("\(step.id) [\(step.phase.rawValue)] \(step.title)" + (step.diff.isEmpty ? "" : " (\(step.edits.count) edits)"))
        }
        Output.note("proved: \(plan.steps.count) steps (KRaft prover v\(KRaftProver.version)); wrote \(planPath) and runbook.md. Run: mitosis kafka kraft run \(planPath) --inventory \(options.inventory)")
    }
}

struct KafkaKRaftRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a KRaft migration plan step by step, each gated on ZooKeeper and the files read back; journaled and resumable. Stops before finalization unless --through finalize.")

    @Argument(help: "The plan.json `kafka kraft plan` wrote (re-proved before anything runs).") var plan: String
    @OptionGroup var options: KRaftInventoryOptions
    @Option(help: "The journal (default: journal.jsonl next to the plan).") var journal: String?
    @Flag(help: "Continue the run the journal records.") var resume = false
    @OptionGroup var gates: KRaftGateOptions
    @Option(help: "Seconds between the two reads of /migration that show dual-write alive.") var dualWriteInterval: Double = 3
    @Option(help: "The last phase to run (readiness, provision-controllers, brokers-to-migration, load, dual-write, brokers-to-kraft, finalize), or a step id to stop after. Default brokers-to-kraft: finalization is irreversible and runs only with --through finalize.")
    var through: String = KRaftPhase.brokersToKRaft.rawValue
    @Option(help: "The Kafka release the brokers run, e.g. 3.9.0 (for the readiness checks).") var kafkaVersion: String?

    func validate() throws {
        if dualWriteInterval <= 0 { throw ValidationError("--dual-write-interval must be a positive number of seconds") }
        if let kafkaVersion, KafkaVersion(kafkaVersion) == nil { throw ValidationError("--kafka-version: '\(kafkaVersion)' is not a release such as 3.9.0") }
    }

    func run() async throws {
        let parsed = try loadKRaftPlan(plan)
        let (phase, step) = phaseOrStep(through)
        var settings = gates.options
        settings.dualWriteInterval = .milliseconds(Int64(dualWriteInterval * 1000))
        settings.through = phase ?? .finalize
        settings.stopAfter = step
        settings.kafkaVersion = kafkaVersion.flatMap(KafkaVersion.init)
        let runOptions = settings
        let journalPath = journal ?? ((plan as NSString).deletingLastPathComponent as NSString).appendingPathComponent("journal.jsonl")
        let (json, resume) = (options.json, resume)
        do {
            let report = try await options.withNodes(groups: [parsed.plan.brokerGroup, parsed.plan.controllerGroup], defaultConnect: parsed.plan.zookeeperConnect) { zk, nodes in
                try await KRaftExecutor(plan: parsed, zookeeper: zk, nodes: nodes, journal: Journal(path: journalPath), options: runOptions)
                    .run(resume: resume) { showKRaftEvent($0, json: json) }
            }
            if json { try Output.json(report) } else {
                Output.note(report.stoppedBefore.map { "stopped before \($0); continue with --resume (journal \(journalPath))" } ?? "finished: the migration is finalized")
            }
        } catch let error as KRaftRunError {
            Output.error("\(error.description) (journal \(journalPath))")
            throw ExitCode.failure
        }
    }
}

struct KafkaKRaftRollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Roll a KRaft migration back to ZooKeeper mode from any step before finalization: brokers back, controllers stopped and their metadata logs wiped, /controller_epoch made safe, /controller and /migration removed, verified.")

    @Argument(help: "The plan.json that ran.") var plan: String
    @OptionGroup var options: KRaftInventoryOptions
    @Option(help: "The run's journal (what it changed, and the files as they were).") var journal: String
    @OptionGroup var gates: KRaftGateOptions

    func run() async throws {
        let parsed = try loadKRaftPlan(plan)
        let rollbackOptions = gates.options
        let (json, journalPath) = (options.json, journal)
        do {
            let report = try await options.withNodes(groups: [parsed.plan.brokerGroup, parsed.plan.controllerGroup], defaultConnect: parsed.plan.zookeeperConnect) { zk, nodes in
                try await KRaftRollback(plan: parsed, zookeeper: zk, nodes: nodes, journal: Journal(path: journalPath), options: rollbackOptions)
                    .run { showKRaftEvent($0, json: json) }
            }
            if json { try Output.json(report) } else { Output.note("rolled back: \(report.actions.count) actions; ZooKeeper is safe for a ZooKeeper-mode controller") }
        } catch let error as KRaftRunError {
            Output.error("\(error.description) (journal \(journalPath))")
            throw ExitCode.failure
        }
    }
}
