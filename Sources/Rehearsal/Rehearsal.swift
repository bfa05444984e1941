import Ensemble
import Foundation
import Hosts
import Migration
import NIOCore
import Probes
public import Reports
import Synchronization
import ZooKeeper
import ZooKeeperTestSupport

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
        try SandboxManager.requireRoot()
        let manager = SandboxManager(network: SandboxNetwork(id: options.networkID))
        try await manager.downAll()
        let directory = URL(fileURLWithPath: options.outputDirectory, isDirectory: true).standardizedFileURL
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let result = try await manager.withControlGroup { group in
                try await Rehearsing(options: options, manager: manager, group: group, directory: directory, progress: progress).run()
            }
            if !options.keepSandboxes { try await manager.downAll() }
            return result
        } catch {
            if !options.keepSandboxes { try? await manager.downAll() }
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
    static let writesPath = "/rehearsal/writes"
    static let kafkaChroot = "/kafka"

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func run() async throws -> RehearsalResult {
        // 1. The sandboxes.
        progress("source: \(options.sourceServers) × ZooKeeper \(options.sourceVersion.version); destination: \(options.destinationServers) × \(options.destinationVersion.version), empty, not started")
        let reconfig = options.strategy == .reconfig
        let source = try await manager.up(
            .init(name: "src", servers: options.sourceServers, version: options.sourceVersion, start: true, reconfigEnabled: reconfig, tickTime: options.tickTime))
        let destination = try await manager.up(
            .init(
                name: "dst", servers: options.destinationServers, version: options.destinationVersion, start: false, reconfigEnabled: reconfig,
                tickTime: options.tickTime))

        if options.moveLeadership {
            let leader = try await manager.status(of: source).first { $0.mode == "leader" }
            if let leader, let host = source.host(named: leader.host) {
                progress("moving leadership away from \(host.name)")
                _ = try await SandboxHostDriver(host: host, network: manager.network).restartService(source.zookeeperService(on: host))
                try await manager.waitUntilServing(source, hosts: source.hosts)
            }
        }

        // 2. Data, then live clients.
        progress("loading \(options.dataNodes) znodes under \(Self.dataPath)")
        try await loadData(into: source.connectionString)
        progress("starting \(options.brokers) simulated Kafka brokers and \(options.writers) numbered writers")
        let kafka = try await SimulatedKafkaCluster.start(
            SimulatedKafkaOptions(
                group: RehearsalClients.kafkaGroup, connectionString: try ConnectionString(parsing: source.connectionString + Self.kafkaChroot),
                brokers: options.brokers, sessionTimeout: .seconds(18)),
            origin: origin, eventLoopGroup: group)
        let writers = WriterRuns(
            options: NumberedWritersOptions(
                group: RehearsalClients.writersGroup, connectionString: try ConnectionString(parsing: source.connectionString),
                basePath: Self.writesPath, writers: options.writers, writesPerSecond: options.writesPerSecond, sessionTimeout: .seconds(10)),
            origin: origin, eventLoopGroup: group)
        do {
            try await writers.start()
        } catch {
            _ = await kafka.stop()
            throw error
        }
        let clients = RehearsalClients(kafka: kafka, writers: writers)

        // 3. The plan and its proof.
        let inventory = SandboxInventory.inventory(
            [source, destination],
            clientGroups: [
                ClientGroup(
                    name: RehearsalClients.kafkaGroup, ensemble: "src", chroot: Self.kafkaChroot,
                    members: kafka.memberNames.map {
                        ClientGroupMember(name: $0, host: "rehearsal", configPath: path("clients/\($0).properties"), restart: "in-process broker restart")
                    }),
                ClientGroup(
                    name: RehearsalClients.writersGroup, ensemble: "src",
                    members: [ClientGroupMember(name: RehearsalClients.writersMember, host: "rehearsal", configPath: path("clients/writers.properties"), restart: "in-process reconnect")]),
            ],
            localHosts: ["rehearsal"])
        var planning = PlanningOptions()
        planning.rollingRestartPause = PlanDuration(options.rollingRestartPause)
        let plan: Plan
        let proof: ProofResult
        do {
            plan = try Planner.plan(options.strategy, inventory: inventory, source: "src", destination: "dst", options: planning)
            proof = try Prover.check(plan)
        } catch {
            _ = await kafka.stop()
            _ = await writers.stop()
            throw error
        }
        try plan.jsonData().write(to: directory.appendingPathComponent("plan.json"))
        try Runbook.render(plan, proof: proof).write(to: directory.appendingPathComponent("runbook.txt"), atomically: true, encoding: .utf8)
        progress("plan: \(plan.steps.count) steps; prover: \(proof.isSafe ? "safe" : "UNSAFE") (\(proof.statesExplored) states)")

        // 4. Execute, with the leader monitor and faults beside it.
        let timeline = TimelineRecorder(origin: origin, plan: plan)
        timeline.event(.note, "clients started")
        var execution = ExecutionSummary()
        var splitDiff: TreeDiffReport?
        if proof.isSafe {
            let monitor = LeaderMonitor(servers: Self.servers(source) + Self.servers(destination), timeline: timeline, group: group)
            (execution, splitDiff) = try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await monitor.run() }
                defer { tasks.cancelAll() }
                return try await execute(plan, clients: clients, timeline: timeline, source: source, destination: destination)
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
                let verification = try await report.verify(connectionString: try ConnectionString(parsing: destination.connectionString), eventLoopGroup: group)
                lost += verification.lost
                acknowledged += verification.acknowledged
                if verification.wrongData > 0 { verificationProblems.append("\(verification.wrongData) nodes with wrong data") }
            } catch {
                verificationProblems.append("cannot read the destination: \(error)")
            }
        }
        let finalStatus = await Self.finalModes(source: source, destination: destination, group: group)

        // 6. The verdict and the report.
        let report = makeReport(
            plan: plan, proof: proof, execution: execution, splitDiff: splitDiff, timeline: timeline, kafka: kafkaReport, writers: writerReports,
            lost: lost, acknowledged: acknowledged, verificationProblems: verificationProblems, finalStatus: finalStatus)
        let written = try writeReport(report, to: directory)
        return RehearsalResult(
            report: report, directory: directory.path,
            files: written.all.map(\.path) + [path("plan.json"), path("runbook.txt"), path("journal.jsonl")])
    }

    // MARK: Data

    func loadData(into connectionString: String) async throws {
        let client = try await ZooKeeperClient.connect(ZooKeeperConfiguration(connectionString), eventLoopGroup: group)
        do {
            for path in ["/rehearsal", Self.dataPath, Self.writesPath] {
                do { _ = try await client.create(path) } catch let error as ZooKeeperError where error.code == .nodeExists {}
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
    }

    func execute(_ plan: Plan, clients: RehearsalClients, timeline: TimelineRecorder, source: Sandbox, destination: Sandbox) async throws -> (ExecutionSummary, TreeDiffReport?) {
        var summary = ExecutionSummary()
        let journal = Journal(path: path("journal.jsonl"))
        try? FileManager.default.removeItem(atPath: journal.path)
        let pauseForDiff = plan.pointOfNoReturn
        var splitDiff: TreeDiffReport?
        var diffDone = false
        var resume = false
        let faults = FaultTriggers(killTool: resolve(options.killToolAt, in: plan), killServer: resolve(options.killServerAt, in: plan))
        while true {
            let until = diffDone ? nil : pauseForDiff
            let outcome: ExecutionOutcome?
            do {
                outcome = try await executeOnce(
                    plan, journal: journal, clients: clients, timeline: timeline, resume: resume, until: until, faults: faults,
                    source: source)
            } catch {
                summary.failure = "\(error)"
                progress("the run stopped: \(error)")
                return (summary, splitDiff)
            }
            resume = true
            guard let outcome else {
                summary.toolKills += 1
                progress("the tool was stopped mid-step (as asked); resuming from the journal")
                continue
            }
            switch outcome {
            case .paused:
                progress("at the point of no return: comparing \(Self.dataPath) on the source and the destination")
                splitDiff = try? await diff(source: source, destination: destination)
                if splitDiff == nil { progress("the data diff at the split could not run") }
                diffDone = true
            case .finished, .dryRun:
                summary.finished = true
                if splitDiff == nil { splitDiff = try? await diff(source: source, destination: destination) }
                return (summary, splitDiff)
            }
        }
    }

    /// Runs the executor once; nil when it was stopped on purpose (the tool-kill fault).
    func executeOnce(
        _ plan: Plan, journal: Journal, clients: RehearsalClients, timeline: TimelineRecorder, resume: Bool, until: StepID?,
        faults: FaultTriggers, source: Sandbox
    ) async throws -> ExecutionOutcome? {
        let (signals, signal) = AsyncStream<Fault>.makeStream()
        let progress = self.progress
        let executor = MigrationExecutor(
            plan: plan, hosts: manager, clients: clients, eventLoopGroup: group, journal: journal,
            options: ExecutionOptions(resume: resume, until: until, gateTimeout: options.gateTimeout)
        ) { event in
            timeline.record(event)
            Self.announce(event, progress: progress)
            guard event.kind == .stepStarted, let step = event.step else { return }
            if faults.toolKill.withLock({ target in
                guard target == step else { return false }
                target = nil
                return true
            }) {
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
                    case .killServer(let step):
                        await Self.killServer(during: step, plan: plan, source: source, manager: manager, downtime: downtime, timeline: timeline, progress: progress)
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
                case .faultsDone:
                    continue
                }
            }
            return nil
        }
    }

    /// A fault's step: `random` picks one of the plan's steps that act (printed, so the run can
    /// be repeated with that step).
    func resolve(_ step: StepID?, in plan: Plan) -> StepID? {
        guard let step, step.rawValue == "random" else { return step }
        let candidates = plan.steps.filter { step in !step.actions.isEmpty && !step.actions.allSatisfy { if case .wait = $0 { return true } else { return false } } }
        guard let chosen = candidates.randomElement()?.id else { return nil }
        progress("fault step chosen at random: \(chosen) (pass it instead of random to repeat)")
        return chosen
    }

    /// The steps at which faults fire, each once.
    final class FaultTriggers: Sendable {
        let toolKill: Mutex<StepID?>
        let serverKill: Mutex<StepID?>

        init(killTool: StepID?, killServer: StepID?) {
            toolKill = Mutex(killTool)
            serverKill = Mutex(killServer)
        }
    }

    enum Fault: Sendable {
        case killTool
        case killServer(StepID)
    }

    enum Outcome: Sendable {
        case executor(ExecutionOutcome)
        case toolKilled
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
        _ = try? await driver.run("\(host.serviceScript) kill", timeout: .seconds(30))
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

    func diff(source: Sandbox, destination: Sandbox) async throws -> TreeDiffReport {
        let left = try await ZooKeeperClient.connect(ZooKeeperConfiguration(source.connectionString), eventLoopGroup: group)
        let right: ZooKeeperClient
        do {
            right = try await ZooKeeperClient.connect(ZooKeeperConfiguration(destination.connectionString), eventLoopGroup: group)
        } catch {
            await left.close()
            throw error
        }
        let result = await Result(catching: {
            try await TreeDiff(left: TreeLocation(client: left, root: Self.dataPath), right: TreeLocation(client: right, root: Self.dataPath)).run()
        })
        await left.close()
        await right.close()
        return try result.get()
    }

    // MARK: Servers

    static func servers(_ sandbox: Sandbox) -> [(String, ConnectionString.Server)] {
        sandbox.hosts.map { ($0.name, ConnectionString.Server(host: $0.stableAddress ?? $0.address, port: sandbox.clientPort)) }
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
