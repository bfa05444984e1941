import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import NIOCore
import Probes
public import Reports
import Synchronization
import TreeCopy
import ZooKeeper
import ZooKeeperProtocol

/// What a rehearsal found.
public struct RehearsalResult: Sendable {
    public var report: RunReport
    public var passed: Bool { report.outcome == .passed }
    /// report.html, report.json, summary.txt, plan.json, runbook.txt, journal.jsonl.
    public var directory: String
    public var files: [String]
}

/// A migration rehearsed end to end on real ZooKeeper servers in a network-namespace sandbox:
/// a source with data and live clients, an empty destination, the plan proved and executed
/// through the same executor `mitosis run` uses, while every client operation is measured.
public enum Rehearsal {
    public static func run(_ options: RehearsalOptions, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> RehearsalResult {
        try await withSandboxNetwork(options.networkID, output: options.outputDirectory, keep: options.keepSandboxes) { manager, group, directory in
            try await Rehearsing(options: options, manager: manager, group: group, directory: directory, progress: progress).run()
        }
    }

    /// A fresh sandbox network for one rehearsal (root needed): anything left on it is removed
    /// first, `body` runs from its control namespace, and the sandboxes go afterwards unless `keep`.
    static func withSandboxNetwork<T: Sendable>(_ networkID: String, output: String, keep: Bool,
                                                _ body: (SandboxManager, any EventLoopGroup, URL) async throws -> T) async throws -> T {
        try SandboxManager.requireRoot()
        let manager = SandboxManager(network: SandboxNetwork(id: networkID))
        try await manager.downAll()
        let directory = URL(fileURLWithPath: output, isDirectory: true).standardizedFileURL
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let result = try await manager.withControlGroup { group in try await body(manager, group, directory) }
            if !keep { try await manager.downAll() }
            return result
        } catch {
            if !keep { try? await manager.downAll() }
            throw error
        }
    }
}

/// One rehearsal in progress.
struct Rehearsing {
    let options: RehearsalOptions
    let manager: SandboxManager
    let group: any EventLoopGroup
    let directory: URL
    let progress: @Sendable (String) -> Void
    let startedAt = Date()
    let origin = ContinuousClock.now

    static let dataPath = "/rehearsal/data"
    static let containerPath = dataPath + "/kinds-container"
    static let ttlPath = dataPath + "/kinds-lease"
    static let ttl = Duration.seconds(3600)

    /// Block & copy from a source that has container and TTL nodes: the rehearsal writes one of
    /// each and checks that the destination holds them as such.
    var checksNodeKinds: Bool { options.strategy == .copy && options.sourceVersion.supportsExtendedNodeTypes && options.destinationVersion.supportsExtendedNodeTypes }

    /// The kinds of the rehearsal's container and TTL node, as a destination server's own
    /// snapshot and logs show them (read through its sandbox host, as the copy step read the
    /// source's): clients cannot tell them from persistent nodes.
    func nodeKindsVerdict(_ plan: Plan) async -> VerdictItem? {
        guard checksNodeKinds, let server = plan.ensemble(named: "dst")?.servers.first else { return nil }
        let expected: [String: NodeKind] = [Self.containerPath: .container, Self.ttlPath: .ttl(milliseconds: Self.ttl.milliseconds)]
        do {
            let driver = try await manager.driver(for: server.host)
            let map = try await ServerDataFiles.read(server, through: driver)
            let found = expected.keys.sorted().map { "\($0): \(map.kind(of: $0).map { "\($0)" } ?? "persistent")" }
            let passed = expected.allSatisfy { map.kind(of: $0.key) == $0.value }
            return VerdictItem(
                name: "container and TTL nodes kept", value: passed ? "2 of 2" : "\(expected.filter { map.kind(of: $0.key) == $0.value }.count) of 2", passed: passed,
                detail: "read from \(map.origin)'s snapshot and logs: " + found.joined(separator: ", "))
        } catch {
            return VerdictItem(name: "container and TTL nodes kept", value: "not read", passed: false, detail: "\(error)")
        }
    }
    /// The writers' chroot (with the data set under it) and their path inside it.
    static let writersChroot = "/rehearsal"
    static let writesPath = "/writes"
    static let kafkaChroot = "/kafka"
    /// Block & copy's destination already serves another application: its data must survive.
    static let otherAppPath = "/other-app"
    static let otherAppNodes = 40
    /// The YAML client's (Patroni-shaped) group, its chroot and its key path.
    static let yamlGroup = "patroni"
    static let yamlChroot = "/patroni"
    static let yamlKey = "zookeeper.hosts"

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func run() async throws -> RehearsalResult {
        // 1. The sandboxes. Block & copy moves clients to an ensemble that already serves
        // another application; every other strategy needs an empty destination.
        let copy = options.strategy == .copy
        progress("source: \(options.sourceServers) × ZooKeeper \(options.sourceVersion.version); destination: \(options.destinationServers) × \(options.destinationVersion.version), \(copy ? "running and holding another application's data" : "empty, not started")")
        let reconfig = options.strategy == .reconfig || options.reconfigEnabled
        // replace: each source server is known by a stable address, and each destination host
        // takes over the id and the address of the source host it replaces (HubSpot, Zalando).
        let replace = options.strategy == .replace
        var sourceRequest = SandboxManager.Request(
            name: "src", servers: options.sourceServers, version: options.sourceVersion, start: true,
            // Addresses that follow their servers are services too in the sandbox (DNAT rules in
            // every namespace), but the rehearsal's controller points them, not the plan.
            stableAddresses: replace && options.stableAddressKind == .interface,
            serviceAddresses: replace && [.service, .follows].contains(options.stableAddressKind),
            reconfigEnabled: reconfig, tickTime: options.tickTime)
        // HubSpot's starting point: the services point nowhere yet; servers and clients use the hosts' addresses.
        sourceRequest.peersOnHostAddresses = replace && options.stableAddressKind == .service && options.fromHostAddresses
        let source = try await manager.up(sourceRequest)
        let destination = try await manager.up(
            .init(
                name: "dst", servers: options.destinationServers, version: options.destinationVersion, start: copy,
                replacing: replace ? source.name : nil, reconfigEnabled: reconfig, tickTime: options.tickTime))
        var otherApp: OtherAppData?
        if copy {
            progress("loading \(Self.otherAppNodes) znodes of another application under \(Self.otherAppPath) on the destination; they must survive")
            otherApp = try await loadOtherApp(into: destination.connectionString)
        }

        if options.moveLeadership {
            let leader = try await manager.status(of: source).first { $0.mode == "leader" }
            if let leader, let host = source.host(named: leader.host) {
                progress("moving leadership away from \(host.name)")
                _ = try await SandboxHostDriver(host: host, network: manager.network).restartService(source.zookeeperService(on: host))
                try await manager.waitUntilServing(source, hosts: source.hosts)
            }
        }

        // Two hosts of their own for real client processes: a YAML client the plan moves, and a
        // client the inventory does not know (the census must catch it).
        let apps = try await manager.up(.init(name: "app", servers: 2, start: false))
        let script = apps.hosts[0].directory + "/config_client.py"
        try ConfigFileClient.program.write(toFile: script, atomically: true, encoding: .utf8)
        let processes = RehearsalProcesses(
            yaml: ConfigFileClient(host: apps.hosts[0], format: .yaml, key: Self.yamlKey, script: script),
            stranger: ConfigFileClient(host: apps.hosts[1], format: .properties, key: "zookeeper.connect", script: script))
        do {
            let result = try await rehearse(source: source, destination: destination, otherApp: otherApp, apps: apps, processes: processes)
            await processes.stop(manager: manager)
            return result
        } catch {
            await processes.stop(manager: manager)
            throw error
        }
    }

    /// The real client processes on their own sandbox hosts.
    struct RehearsalProcesses {
        var yaml: ConfigFileClient
        var stranger: ConfigFileClient

        func stop(manager: SandboxManager) async {
            await yaml.stopProcess(manager: manager)
            await stranger.stopProcess(manager: manager)
        }
    }

    /// Patroni's shape: `zookeeper: hosts:` as a list of `host:port`; with a chroot (which a list
    /// cannot hold) as one comma-separated string, which Patroni accepts too.
    static func patroniYAML(_ connectionString: String) -> String {
        let hosts =
            connectionString.contains("/")
            ? " '\(connectionString)'\n" : "\n" + connectionString.split(separator: ",").map { "    - '\($0)'\n" }.joined()
        return "# Patroni\nscope: rehearsal\nzookeeper:\n  # the ensemble Mitosis moves\n  hosts:" + hosts + "  retry_timeout: 10\n"
    }

    /// The YAML client's chroot: none (Patroni's list of hosts), except for block & copy, which
    /// copies each moving group's subtree and so needs one.
    var yamlChroot: String? { options.strategy == .copy ? Self.yamlChroot : nil }

    func rehearse(source: Sandbox, destination: Sandbox, otherApp: OtherAppData?, apps: Sandbox, processes: RehearsalProcesses) async throws -> RehearsalResult {
        let copy = options.strategy == .copy
        // What the clients use when they start: the hosts' addresses when the plan puts the servers behind their services first.
        let start = source.peersOnHostAddresses == true ? source.hostConnectionString : source.connectionString
        // 2. Data, then live clients.
        progress("loading \(options.dataNodes) znodes under \(Self.dataPath)")
        try await loadData(into: start)
        progress("starting a YAML client (kazoo, Patroni-shaped file) on \(processes.yaml.name) and a client no inventory lists on \(processes.stranger.name)")
        try await processes.yaml.start(Self.patroniYAML(start + (yamlChroot ?? "")), manager: manager)
        try await processes.stranger.start("zookeeper.connect=\(start)\n", manager: manager)
        try await processes.yaml.waitUntilConnected()
        try await processes.stranger.waitUntilConnected()
        progress("starting \(options.brokers) simulated Kafka brokers and \(options.writers) numbered writers")
        let kafka = try await SimulatedKafkaCluster.start(
            SimulatedKafkaOptions(
                group: RehearsalClients.kafkaGroup, connectionString: try ConnectionString(parsing: start + Self.kafkaChroot),
                brokers: options.brokers, sessionTimeout: .seconds(18)),
            origin: origin, eventLoopGroup: group)
        let writers = WriterRuns(
            options: NumberedWritersOptions(
                group: RehearsalClients.writersGroup, connectionString: try ConnectionString(parsing: start + Self.writersChroot),
                basePath: Self.writesPath, writers: options.writers, writesPerSecond: options.writesPerSecond, sessionTimeout: .seconds(10)),
            origin: origin, eventLoopGroup: group)
        do {
            try await writers.start()
        } catch {
            _ = await kafka.stop()
            throw error
        }

        // 3. The plan and its proof.
        var inventory = SandboxInventory.inventory(
            [source, destination],
            clientGroups: [
                ClientGroup(
                    name: RehearsalClients.kafkaGroup, ensemble: "src", chroot: Self.kafkaChroot,
                    members: kafka.memberNames.map {
                        ClientGroupMember(
                            name: $0, host: "rehearsal", configPath: path("clients/\($0).properties"), restart: "in-process broker restart",
                            stop: "in-process broker stop")
                    }),
                ClientGroup(
                    name: RehearsalClients.writersGroup, ensemble: "src", chroot: Self.writersChroot,
                    members: [
                        ClientGroupMember(
                            name: RehearsalClients.writersMember, host: "rehearsal", configPath: path("clients/writers.properties"), restart: "in-process reconnect",
                            stop: "in-process stop")
                    ]),
                ClientGroup(
                    name: Self.yamlGroup, ensemble: "src", chroot: yamlChroot,
                    members: [
                        ClientGroupMember(
                            name: processes.yaml.name, host: processes.yaml.name, configPath: processes.yaml.configPath, format: .yaml,
                            connectionKey: Self.yamlKey, restart: processes.yaml.restart, stop: processes.yaml.stop,
                            healthCheck: processes.yaml.healthCheck)
                    ]),
            ],
            localHosts: ["rehearsal"])
        // The client hosts, not their (never started) servers.
        inventory.hosts += apps.hostSpecs
        if options.stableAddressKind == .follows {
            // The platform points these addresses by itself: the inventory says so, and the plan moves nothing.
            for ensemble in inventory.ensembles.indices {
                for server in inventory.ensembles[ensemble].servers.indices where inventory.ensembles[ensemble].servers[server].stableAddress != nil {
                    inventory.ensembles[ensemble].servers[server].stableAddress = .follows
                }
            }
        }
        var planning = PlanningOptions()
        planning.rollingRestartPause = PlanDuration(options.rollingRestartPause)
        planning.copyHost = "rehearsal"
        planning.copyBlockWindow = PlanDuration(options.copyBlockWindow)
        let plan: Plan
        let proof: ProofResult
        let proven: ProvenPlan?
        do {
            // As `mitosis plan` does: from the files on the sandbox hosts, read through their drivers.
            let estate = await EstateDiscovery(
                hosts: InventoryHostDirectory(inventory: inventory, sandbox: manager, eventLoopGroup: group), eventLoopGroup: group
            ).discover(inventory: inventory, source: "src", destination: "dst")
            try estate.jsonData().write(to: directory.appendingPathComponent("estate.json"))
            plan = try Planner.plan(
                options.strategy, inventory: inventory, source: "src", destination: "dst", destinationHoldsData: copy, options: planning,
                estate: estate)
            (proof, proven) = try Prover.attempt(plan)
        } catch {
            _ = await kafka.stop()
            _ = await writers.stop()
            throw error
        }
        try (proven?.recorded ?? plan).jsonData().write(to: directory.appendingPathComponent("plan.json"))
        try Runbook.render(plan, proof: proof).write(to: directory.appendingPathComponent("runbook.txt"), atomically: true, encoding: .utf8)
        progress("plan: \(plan.steps.count) steps; prover: \(proof.isSafe ? "safe" : "UNSAFE") (\(proof.statesExplored) states)")
        let clients = RehearsalClients(
            kafka: kafka, writers: writers,
            processes: HostClientGroupController(plan: RehearsalClients.processGroups(of: plan), hosts: manager, healthTimeout: .seconds(60), eventLoopGroup: group))

        // 4. Execute, with the leader monitor and faults beside it.
        let timeline = TimelineRecorder(origin: origin, plan: plan)
        timeline.event(.note, "clients started")
        var execution = ExecutionSummary()
        var splitDiff: TreeDiffReport?
        if let proven {
            let monitor = LeaderMonitor(
                servers: Self.servers(source) + Self.servers(destination),
                ensembles: Dictionary(uniqueKeysWithValues: [source, destination].flatMap { sandbox in sandbox.hosts.map { ($0.name, sandbox.name) } }),
                timeline: timeline, group: group)
            // The platform behind addresses that follow their servers: beside the executor, which sees only its effect.
            let platform = FollowingAddressController(
                manager: manager, addresses: FollowingAddressController.addresses(of: plan, sandboxes: [source, destination]), timeline: timeline)
            (execution, splitDiff) = try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await monitor.run() }
                if !platform.addresses.isEmpty { tasks.addTask { await platform.run() } }
                defer { tasks.cancelAll() }
                let executed = try await execute(proven, clients: clients, timeline: timeline, source: source, destination: destination, stranger: processes.stranger)
                // A last look, so that an election near the end is not missed between two rounds.
                await monitor.poll()
                return executed
            }
        } else {
            progress("the prover refused the plan; nothing runs:\n\(proof)")
        }

        // 5. Let the clients settle on the destination, stop them, verify.
        try await Task.sleep(for: .seconds(2))
        progress("stopping the clients and verifying every acknowledged write on the destination")
        let kafkaReport = await kafka.stop()
        let writerReports = await writers.stop()
        var lost = 0
        var acknowledged = 0
        var verificationProblems: [String] = []
        for report in writerReports {
            do {
                let target = try ConnectionString(parsing: destination.connectionString + (report.chroot ?? ""))
                let verification = try await report.verify(connectionString: target, eventLoopGroup: group)
                lost += verification.lost
                acknowledged += verification.acknowledged
                if verification.wrongData > 0 { verificationProblems.append("\(verification.wrongData) nodes with wrong data") }
            } catch {
                verificationProblems.append("cannot read the destination: \(error)")
            }
        }
        let finalStatus = await Self.finalModes(source: source, destination: destination, group: group)
        var otherAppCheck: OtherAppCheck?
        if let otherApp {
            otherAppCheck = await checkOtherApp(otherApp, on: destination.connectionString)
        }

        // 6. The verdict and the report.
        var report = makeReport(
            plan: plan, proof: proof, execution: execution, splitDiff: splitDiff, timeline: timeline, kafka: kafkaReport, writers: writerReports,
            lost: lost, acknowledged: acknowledged, verificationProblems: verificationProblems, finalStatus: finalStatus,
            otherApp: otherAppCheck, destination: destination, processes: processes)
        if let kinds = await nodeKindsVerdict(plan) { report.verdict.append(kinds) }
        let written = try writeReport(report, to: directory)
        return RehearsalResult(
            report: report, directory: directory.path,
            files: written.all.map(\.path) + [path("plan.json"), path("runbook.txt"), path("journal.jsonl")])
    }

    // MARK: Data

    func loadData(into connectionString: String) async throws {
        let client = try await ZooKeeperClient.connect(ZooKeeperConfiguration(connectionString), eventLoopGroup: group)
        do {
            for path in ["/rehearsal", Self.dataPath, Self.writesPath, Self.yamlChroot] {
                do { _ = try await client.create(path) } catch let error as ZooKeeperError where error.code == .nodeExists {}
            }
            if checksNodeKinds {
                // A container (with a member, so the server keeps it) and a TTL node, as
                // applications write them; clients see both as persistent.
                _ = try await client.create(Self.containerPath, data: Array("a container".utf8), mode: .container)
                _ = try await client.create(Self.containerPath + "/member", data: Array("in a container".utf8))
                _ = try await client.create(Self.ttlPath, data: Array("a lease".utf8), mode: .persistentWithTTL(Self.ttl))
            }
            let total = options.dataNodes
            var next = 0
            while next < total {
                let chunk = next..<min(next + 200, total)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    for index in chunk {
                        tasks.addTask {
                            let name = String(format: "%@/config-%06d", Self.dataPath, index)
                            _ = try await client.create(name, data: Array("value \(index) written before the migration".utf8))
                        }
                    }
                    try await tasks.waitForAll()
                }
                next = chunk.upperBound
            }
            await client.close()
        } catch {
            await client.close()
            throw error
        }
    }

    // MARK: Execution

    struct ExecutionSummary {
        var finished = false
        var failure: String?
        var toolKills = 0
        var serverKills = 0
        /// How long the run was paused for the data diff (block & copy: inside the block window).
        var diffPauseSeconds: Double?
        /// What the census gate saw when it held the split (the unknown client), and the
        /// addresses then accepted with the equivalent of `--leave-behind`.
        var censusHeld: String?
        var leftBehind: [String] = []
    }

    func execute(
        _ proven: ProvenPlan, clients: RehearsalClients, timeline: TimelineRecorder, source: Sandbox, destination: Sandbox, stranger: ConfigFileClient
    ) async throws -> (ExecutionSummary, TreeDiffReport?) {
        let plan = proven.plan
        var summary = ExecutionSummary()
        let journal = Journal(path: path("journal.jsonl"))
        try? FileManager.default.removeItem(atPath: journal.path)
        // The data is compared where the two ensembles are last meant to agree: mitosis after its
        // split, block & copy after its final catch-up (the switch then writes to the destination).
        var pauseForDiff = plan.pointOfNoReturn
        if plan.strategy == .copy, let point = plan.pointOfNoReturn, let index = plan.index(of: point), index > 0 {
            pauseForDiff = plan.steps[index - 1].id
        }
        var splitDiff: TreeDiffReport?
        var diffDone = false
        var resume = false
        // Both faults fire when their step starts; a tool stopped at the server kill's step would
        // take the server kill with it, so a random tool kill picks another step.
        let serverKillStep = resolve(options.killServerAt, in: plan)
        let faults = FaultTriggers(killTool: resolve(options.killToolAt, in: plan, avoiding: serverKillStep), killServer: serverKillStep)
        var leaveBehind: [ClientAddressMatch] = []
        while true {
            let until = diffDone ? nil : pauseForDiff
            let outcome: ExecutionOutcome?
            do {
                outcome = try await executeOnce(
                    proven, journal: journal, clients: clients, timeline: timeline, resume: resume, until: until, faults: faults,
                    source: source, leaveBehind: leaveBehind)
            } catch {
                summary.failure = "\(error)"
                progress("the run stopped: \(error)")
                return (summary, splitDiff)
            }
            resume = true
            // A tool kill and the census can stop the same run (both at the block of a copy):
            // each is counted, whichever the loop handles.
            summary.toolKills = faults.toolKills.withLock { $0 }
            if leaveBehind.isEmpty, let held = faults.censusHeld.withLock({ $0 }) {
                // As an operator would: the client is known now and may stay on the source.
                summary.censusHeld = held
                summary.leftBehind = [stranger.host.address]
                leaveBehind = [ClientAddressMatch(address: stranger.host.address)]
                timeline.event(.note, "census held the split; resumed with --leave-behind \(stranger.host.address)", subject: stranger.name)
                progress("the census held the split (\(held)); resuming as `mitosis run --resume --leave-behind \(stranger.host.address)` would")
                continue
            }
            guard let outcome else {
                progress("the tool was stopped mid-step (as asked); resuming from the journal")
                continue
            }
            switch outcome {
            case .paused:
                progress("\(plan.strategy == .copy ? "before the switch" : "at the point of no return"): comparing \(diffPaths(plan).joined(separator: ", ")) on the source and the destination")
                let began = ContinuousClock.now
                splitDiff = try? await diff(plan, source: source, destination: destination)
                let paused = ContinuousClock.now - began
                summary.diffPauseSeconds = paused.seconds
                if splitDiff == nil { progress("the data diff could not run") }
                diffDone = true
            case .finished, .dryRun:
                summary.finished = true
                if splitDiff == nil { splitDiff = try? await finalDiff(plan, source: source, destination: destination) }
                return (summary, splitDiff)
            }
        }
    }

    /// Runs the executor once; nil when it was stopped on purpose (the tool-kill fault).
    func executeOnce(
        _ plan: ProvenPlan, journal: Journal, clients: RehearsalClients, timeline: TimelineRecorder, resume: Bool, until: StepID?,
        faults: FaultTriggers, source: Sandbox, leaveBehind: [ClientAddressMatch]
    ) async throws -> ExecutionOutcome? {
        let (signals, signal) = AsyncStream<Fault>.makeStream()
        // The census gate before the point of no return, as its events name it.
        let census = plan.plan.steps.lazy.flatMap(\.gatesBefore).first { gate in
            if case .sessionsAccountedFor = gate { return true } else { return false }
        }?.summary
        let progress = self.progress
        let executor = MigrationExecutor(
            plan: plan, hosts: manager, clients: clients, eventLoopGroup: group, journal: journal,
            // The rehearsal's clients run in this process, from the control address: its own.
            options: ExecutionOptions(
                resume: resume, until: until, gateTimeout: options.gateTimeout,
                census: CensusPolicy(ownAddresses: [manager.network.controlAddress], leaveBehind: leaveBehind, interval: options.censusInterval, settle: options.censusSettle))
        ) { event in
            timeline.record(event)
            Self.announce(event, progress: progress)
            // The census found a session nobody accounts for: the run stops there, as `mitosis
            // run` would after its gate timeout, and the operator decides.
            // (Only a hold for unknown sessions: the census also waits while a source server is
            // not serving, which is no client of anyone's.)
            if event.kind == .gateWaiting, let census, event.summary.hasPrefix(census), event.summary.contains("clients the plan does not know"),
                leaveBehind.isEmpty,
                faults.censusHeld.withLock({ held in
                    guard held == nil else { return false }
                    held = event.summary
                    return true
                })
            {
                signal.yield(.censusHeld)
            }
            guard event.kind == .stepStarted, let step = event.step else { return }
            if faults.toolKill.withLock({ target in
                guard target == step else { return false }
                target = nil
                return true
            }) {
                faults.toolKills.withLock { $0 += 1 }
                signal.yield(.killTool)
            }
            if faults.serverKill.withLock({ target in
                guard target == step else { return false }
                target = nil
                return true
            }) {
                signal.yield(.killServer(step))
            }
        }
        let downtime = options.serverDowntime
        let manager = self.manager
        return try await withThrowingTaskGroup(of: Outcome.self) { tasks in
            tasks.addTask { .executor(try await executor.run()) }
            tasks.addTask {
                for await fault in signals {
                    switch fault {
                    case .killTool: return .toolKilled
                    case .censusHeld: return .censusHeld
                    case .killServer(let step):
                        await Self.killServer(during: step, plan: plan.plan, source: source, manager: manager, downtime: downtime, timeline: timeline, progress: progress)
                    }
                }
                return .faultsDone
            }
            defer {
                signal.finish()
                tasks.cancelAll()
            }
            while let next = try await tasks.next() {
                switch next {
                case .executor(let outcome):
                    return outcome
                case .toolKilled:
                    timeline.interrupted()
                    tasks.cancelAll()
                    // The executor stops at its next suspension point, as a killed process would
                    // stop between two journal writes.
                    while let rest = try? await tasks.next() {
                        if case .executor(let outcome) = rest { return outcome }
                    }
                    return nil
                case .censusHeld:
                    tasks.cancelAll()
                    while let rest = try? await tasks.next() {
                        if case .executor = rest { break }
                    }
                    return nil
                case .faultsDone:
                    continue
                }
            }
            return nil
        }
    }

    /// A fault's step: `random` picks one of the plan's steps that act (printed, so the run can
    /// be repeated with that step).
    func resolve(_ step: StepID?, in plan: Plan, avoiding taken: StepID? = nil) -> StepID? {
        guard let step, step.rawValue == "random" else { return step }
        let candidates = plan.steps.filter { step in
            step.id != taken && !step.actions.isEmpty && !step.actions.allSatisfy { if case .wait = $0 { return true } else { return false } }
        }
        guard let chosen = candidates.randomElement()?.id else { return nil }
        progress("fault step chosen at random: \(chosen) (pass it instead of random to repeat)")
        return chosen
    }

    /// The steps at which faults fire, each once.
    final class FaultTriggers: Sendable {
        let toolKill: Mutex<StepID?>
        let serverKill: Mutex<StepID?>
        /// What the census gate saw when it first held the split.
        let censusHeld = Mutex<String?>(nil)
        /// How many times the tool was stopped on purpose.
        let toolKills = Mutex(0)

        init(killTool: StepID?, killServer: StepID?) {
            toolKill = Mutex(killTool)
            serverKill = Mutex(killServer)
        }
    }

    enum Fault: Sendable {
        case killTool
        case censusHeld
        case killServer(StepID)
    }

    enum Outcome: Sendable {
        case executor(ExecutionOutcome)
        case toolKilled
        case censusHeld
        case faultsDone
    }

    /// Kills (SIGKILL) a source server the step does not act on, and starts it again after
    /// `downtime`, as a supervisor would.
    static func killServer(
        during step: StepID, plan: Plan, source: Sandbox, manager: SandboxManager, downtime: Duration, timeline: TimelineRecorder,
        progress: @Sendable (String) -> Void
    ) async {
        let touched = Set(plan.step(step)?.actions.flatMap(\.servers).map(\.host) ?? [])
        guard let host = source.hosts.reversed().first(where: { !touched.contains($0.name) }) ?? source.hosts.last else { return }
        let driver = SandboxHostDriver(host: host, network: manager.network)
        progress("fault: killing \(host.name)'s server during \(step)")
        _ = try? await driver.run(host.serviceCommand("kill"), timeout: .seconds(30))
        timeline.event(.serverKilled, "\(host.name) killed", subject: host.name)
        try? await Task.sleep(for: downtime)
        _ = try? await driver.startService(source.zookeeperService(on: host))
        timeline.event(.serverStarted, "\(host.name) back", subject: host.name)
        progress("fault: \(host.name)'s server started again")
    }

    static func announce(_ event: ExecutionEvent, progress: @Sendable (String) -> Void) {
        switch event.kind {
        case .stepStarted: progress("▶ \(event.step?.rawValue ?? ""): \(event.summary)")
        case .failed: progress("✘ \(event.step?.rawValue ?? ""): \(event.summary)")
        case .gateWaiting: progress("  … \(event.summary)")
        default: break
        }
    }

    /// What the data diff compares: the data set, or for block & copy every copied subtree (the
    /// moving groups' chroots, which hold the data set too).
    func diffPaths(_ plan: Plan) -> [String] {
        plan.strategy == .copy ? plan.clientGroups.filter(\.moves).map { $0.chroot ?? "/" } : [Self.dataPath]
    }

    func diff(_ plan: Plan, source: Sandbox, destination: Sandbox) async throws -> TreeDiffReport {
        try await diff(plan, source.connectionString, destination.connectionString)
    }

    /// The diff after a plan without a split. With replace the source and the destination are one
    /// ensemble behind the same addresses, so comparing them through those would compare a tree
    /// with itself: instead the first and the last new server are read each on its own (at its
    /// host's own address), which shows that the new servers synced the same data.
    func finalDiff(_ plan: Plan, source: Sandbox, destination: Sandbox) async throws -> TreeDiffReport {
        guard plan.strategy == .replace, let first = destination.hosts.first, let last = destination.hosts.last else {
            return try await diff(plan, source: source, destination: destination)
        }
        return try await diff(plan, "\(first.address):\(destination.clientPort)", "\(last.address):\(destination.clientPort)")
    }

    /// What the data diff compared, for the report.
    func diffSides(destination: Sandbox) -> (left: String, right: String) {
        guard options.strategy == .replace, let first = destination.hosts.first, let last = destination.hosts.last else {
            return ("the source", "the destination")
        }
        return ("\(first.name) alone", "\(last.name) alone (replace has no split: the first and the last new server)")
    }

    func diff(_ plan: Plan, _ leftConnection: String, _ rightConnection: String) async throws -> TreeDiffReport {
        let left = try await ZooKeeperClient.connect(ZooKeeperConfiguration(leftConnection), eventLoopGroup: group)
        let right: ZooKeeperClient
        do {
            right = try await ZooKeeperClient.connect(ZooKeeperConfiguration(rightConnection), eventLoopGroup: group)
        } catch {
            await left.close()
            throw error
        }
        var options = TreeDiffOptions()
        if plan.strategy == .copy {
            // The copy leaves ephemeral nodes out (they belong to the source's sessions); the
            // stopped clients' are gone anyway. Data, ACLs and child versions must match.
            options.ignoreEphemeralNodes = true
            options.compareEphemeralFlag = false
        }
        let paths = diffPaths(plan)
        let result = await Result(catching: {
            var total = TreeDiffReport()
            for root in paths {
                let report = try await TreeDiff(left: TreeLocation(client: left, root: root), right: TreeLocation(client: right, root: root), options: options).run()
                total.nodesLeft += report.nodesLeft
                total.nodesRight += report.nodesRight
                total.differences += report.differences.map { difference in
                    var difference = difference
                    difference.path = root == "/" ? difference.path : (difference.path == "/" ? root : root + difference.path)
                    return difference
                }
                total.moreDifferences += report.moreDifferences
            }
            return total
        })
        await left.close()
        await right.close()
        return try result.get()
    }

    // MARK: Another application's data (block & copy)

    /// What the other application's subtree held: each node's data, ACL and versions.
    typealias OtherAppData = [String: OtherAppNode]

    struct OtherAppNode: Equatable {
        var data: [UInt8]
        var acl: [ACL]
        var version: Int32
        var cversion: Int32
        var aversion: Int32
        var mzxid: Zxid
    }

    struct OtherAppCheck {
        var nodes: Int
        var problems: [String]
    }

    /// Writes another application's tree on the destination (configs, a nested service registry,
    /// a read-only node) and returns what it holds.
    func loadOtherApp(into connectionString: String) async throws -> OtherAppData {
        let client = try await ZooKeeperClient.connect(ZooKeeperConfiguration(connectionString), eventLoopGroup: group)
        let result = await Result(catching: {
            _ = try await client.create(Self.otherAppPath, data: Array("another application, not part of the migration".utf8))
            _ = try await client.create(Self.otherAppPath + "/services")
            for index in 0..<Self.otherAppNodes - 3 {
                let parent = index % 2 == 0 ? Self.otherAppPath : Self.otherAppPath + "/services"
                _ = try await client.create(String(format: "%@/node-%03d", parent, index), data: Array("other-app value \(index)".utf8))
            }
            _ = try await client.create(
                Self.otherAppPath + "/read-only", data: Array("nobody may change this".utf8),
                acl: ACL.readUnsafe)
            return try await Self.snapshot(Self.otherAppPath, client: client)
        })
        await client.close()
        return try result.get()
    }

    static func snapshot(_ root: String, client: ZooKeeperClient) async throws -> OtherAppData {
        var nodes: OtherAppData = [:]
        for path in try await client.subtree(root) {
            let (data, stat) = try await client.getData(path)
            let (acl, _) = try await client.getACL(path)
            nodes[path] = OtherAppNode(data: data, acl: acl, version: stat.version, cversion: stat.cversion, aversion: stat.aversion, mzxid: stat.mzxid)
        }
        return nodes
    }

    /// Whether the other application's tree is exactly as loaded.
    func checkOtherApp(_ before: OtherAppData, on connectionString: String) async -> OtherAppCheck {
        do {
            let client = try await ZooKeeperClient.connect(ZooKeeperConfiguration(connectionString), eventLoopGroup: group)
            let after = await Result(catching: { try await Self.snapshot(Self.otherAppPath, client: client) })
            await client.close()
            let now = try after.get()
            var problems: [String] = []
            for path in before.keys.sorted() {
                guard let node = now[path] else {
                    problems.append("\(path) is gone")
                    continue
                }
                if node != before[path] { problems.append("\(path) changed") }
            }
            for path in now.keys.sorted() where before[path] == nil { problems.append("\(path) appeared") }
            return OtherAppCheck(nodes: now.count, problems: problems)
        } catch {
            return OtherAppCheck(nodes: 0, problems: ["cannot read \(Self.otherAppPath) on the destination: \(error)"])
        }
    }

    // MARK: Servers

    /// Each server at its host's own address (servers listen on every address): a stable address
    /// may have moved to the host of the server that replaced it.
    static func servers(_ sandbox: Sandbox) -> [(String, ConnectionString.Server)] {
        sandbox.hosts.map { ($0.name, ConnectionString.Server(host: $0.address, port: sandbox.clientPort)) }
    }

    static func finalModes(source: Sandbox, destination: Sandbox, group: any EventLoopGroup) async -> [(ensemble: String, host: String, mode: String)] {
        var rows: [(String, String, String)] = []
        for sandbox in [source, destination] {
            for (host, server) in servers(sandbox) {
                let mode = (try? await FourLetterWords.srvr(server, timeout: .seconds(2), group: group))?.mode.rawValue ?? "not serving"
                rows.append((sandbox.name, host, mode))
            }
        }
        return rows
    }
}
