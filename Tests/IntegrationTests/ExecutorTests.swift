import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import NIOPosix
import Synchronization
import Testing
import ZooKeeper
import ZooKeeperProtocol
import ZooKeeperTestSupport

#if canImport(Glibc)
import Glibc
#endif

// Issue 6: the executor against real servers in sandboxes. A full mitosis plan, the tool killed at
// a random step and resumed, a server killed in the middle of a step, `until` and resume, the
// refusals, a rollback before the point of no return, and a dry run that changes nothing.

/// A serving source sandbox holding ``marker``, an empty destination sandbox that is not started,
/// the inventory of both, a plan between them, and a directory of the test's own.
struct MigrationFixture: Sendable {
    var manager: SandboxManager
    var source: Sandbox
    var destination: Sandbox
    var inventory: Inventory
    var plan: Plan
    var directory: String

    static let markerPath = "/before-migration"
    static let marker = Array("written before the migration".utf8)

    var journalPath: String { directory + "/plan.journal" }
    var hosts: any HostDirectory { InventoryHostDirectory(inventory: inventory, sandbox: manager) }
    var sandboxes: [Sandbox] { [source, destination] }

    func driver(_ host: SandboxHost) -> SandboxHostDriver { SandboxHostDriver(host: host, network: manager.network) }

    func sandbox(of host: SandboxHost) -> Sandbox { source.hosts.contains(host) ? source : destination }

    func serviceState(_ host: SandboxHost) async throws -> ServiceState {
        try await driver(host).serviceState(sandbox(of: host).zookeeperService(on: host))
    }

    /// Every configuration and myid file of both sandboxes, by path (nil: the file does not exist).
    func configFiles() -> [String: Data?] {
        var files: [String: Data?] = [:]
        for host in source.hosts + destination.hosts {
            for path in [host.configPath, host.myidPath] { files[path] = FileManager.default.contents(atPath: path) }
        }
        return files
    }

    /// Runs the plan through the library executor, collecting every event.
    func execute(
        _ plan: ProvenPlan? = nil, journal: String? = nil, options: ExecutionOptions = ExecutionOptions(), events: EventLog? = nil,
        group: MultiThreadedEventLoopGroup
    ) async throws -> ExecutionOutcome {
        // The census reads cons three times; a quarter second apart is enough here (no client
        // reconnects between servers in these runs), and keeps the suite short.
        var options = options
        options.census.interval = .milliseconds(250)
        return try await MigrationExecutor(
            plan: try plan ?? Prover.prove(self.plan), hosts: hosts, eventLoopGroup: group, journal: Journal(path: journal ?? journalPath), options: options,
            onEvent: { event in events?.append(event) }
        ).run()
    }
}

/// A source of 3 servers (3.8.0) and an empty destination of `destinationServers`, planned with
/// `strategy` and a half-second pause between restarts (the gates wait for each server to be back); the network is removed afterwards.
func withMigrationFixture<T>(
    _ label: String, strategy: StrategyKind = .mitosis, destinationServers: Int = 3,
    _ body: (MigrationFixture, MultiThreadedEventLoopGroup) async throws -> T
) async throws -> T {
    try await withSandboxNetwork(label) { manager, group in
        let source = try await manager.up(.init(name: "src", servers: 3))
        let destination = try await manager.up(.init(name: "dst", servers: destinationServers, start: false))
        let inventory = SandboxInventory.inventory([source, destination])
        let plan = try Planner.plan(
            strategy, inventory: inventory, source: source.name, destination: destination.name,
            options: PlanningOptions(rollingRestartPause: PlanDuration(milliseconds: 500)))
        let proof = try Prover.check(plan)
        try #require(proof.isSafe, "\(proof)")

        let client = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(source.connectionString), eventLoopGroup: group)
        _ = try await client.create(MigrationFixture.markerPath, data: MigrationFixture.marker)
        await client.close()
        if strategy == .mitosis { try await makeLeader(source.hosts.last!, of: source, manager: manager, group: group) }

        let directory = NSTemporaryDirectory() + "mitosis-executor-\(label)-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fixture = MigrationFixture(
            manager: manager, source: source, destination: destination, inventory: inventory, plan: plan, directory: directory)
        return try await body(fixture, group)
    }
}

/// Restarts the leader until `host` leads (an election among the others picks the highest id).
///
/// Plain mitosis restarts the source servers in id order in its first join round, and is live
/// only when the server restarted last leads: if an earlier one leads, its restart elects the new
/// server (it has the highest id), and a source server not yet restarted ignores a leader missing
/// from its server list and stays LOOKING, so the round's gate never holds (seen on 3.8.0: a plan
/// started while server 2 led stops at join-4-restart-2). Until the planner restarts the leader
/// last, these tests start from the leader the plan needs, as an operator must.
func makeLeader(_ host: SandboxHost, of sandbox: Sandbox, manager: SandboxManager, group: MultiThreadedEventLoopGroup) async throws {
    for _ in 0..<5 {
        var leader: SandboxHost?
        for candidate in sandbox.hosts {
            let status = try? await FourLetterWords.srvr(ConnectionString.Server(host: candidate.address, port: sandbox.clientPort), timeout: .seconds(2), group: group)
            if status?.mode == .leader { leader = candidate }
        }
        if leader == host { return }
        if let leader {
            _ = try await SandboxHostDriver(host: leader, network: manager.network).restartService(sandbox.zookeeperService(on: leader))
        }
        try await manager.waitUntilServing(sandbox, hosts: sandbox.hosts)
    }
    throw LocalEnsembleError("\(host.name) did not become the leader of \(sandbox.name) after five leader restarts")
}

/// Events as the executor reports them, from any thread.
final class EventLog: Sendable {
    private let events = Mutex<[ExecutionEvent]>([])

    func append(_ event: ExecutionEvent) { events.withLock { $0.append(event) } }
    var all: [ExecutionEvent] { events.withLock { $0 } }
}

/// The server ids of a `zoo.cfg`'s `server.N` lines, and the lines themselves.
func serverLines(ofConfigAt path: String) -> [String] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").filter { $0.hasPrefix("server.") }.map(String.init)
}

func configuredIDs(_ host: SandboxHost) -> [Int64] {
    let text = (try? String(contentsOfFile: host.configPath, encoding: .utf8)) ?? ""
    return ZooKeeperConfig(parsing: text).servers.map(\.id.rawValue).sorted()
}

/// One sandbox serves on its own: every server answers, exactly one leads (or a lone server
/// serves standalone), every file lists exactly its own servers, and the marker is there.
func expectServesOnItsOwn(_ sandbox: Sandbox, group: MultiThreadedEventLoopGroup, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
    let ids = sandbox.hosts.map { Int64($0.serverID) }.sorted()
    var modes: [ServerStatus.Mode] = []
    for host in sandbox.hosts {
        let status = try await FourLetterWords.srvr(ConnectionString.Server(host: host.address, port: sandbox.clientPort), timeout: .seconds(5), group: group)
        modes.append(status.mode)
        #expect(configuredIDs(host) == ids, "\(host.name)'s zoo.cfg lists \(configuredIDs(host)), not its own servers \(ids)", sourceLocation: sourceLocation)
    }
    if sandbox.hosts.count == 1 {
        #expect(modes == [.standalone], "\(sandbox.name): \(modes)", sourceLocation: sourceLocation)
    } else {
        #expect(modes.filter { $0 == .leader }.count == 1, "\(sandbox.name): \(modes)", sourceLocation: sourceLocation)
        #expect(modes.filter { $0 == .follower }.count == sandbox.hosts.count - 1, "\(sandbox.name): \(modes)", sourceLocation: sourceLocation)
    }
    let client = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(sandbox.connectionString), eventLoopGroup: group)
    try await client.sync(MigrationFixture.markerPath)
    let data = try await client.getData(MigrationFixture.markerPath, watch: false).data
    #expect(data == MigrationFixture.marker, "\(sandbox.name) lost the data written before the migration", sourceLocation: sourceLocation)
    await client.close()
}

/// After a finished migration: both ensembles serve on their own, a write to one is not seen by
/// the other, and no firewall rule is left on any host.
func expectSeparateEnsembles(_ fixture: MigrationFixture, group: MultiThreadedEventLoopGroup, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
    try await expectServesOnItsOwn(fixture.source, group: group, sourceLocation: sourceLocation)
    try await expectServesOnItsOwn(fixture.destination, group: group, sourceLocation: sourceLocation)
    let destination = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(fixture.destination.connectionString), eventLoopGroup: group)
    _ = try await destination.create("/written-to-the-destination-after", data: [])
    await destination.close()
    let source = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(fixture.source.connectionString), eventLoopGroup: group)
    try await source.sync("/")
    #expect(try await source.exists("/written-to-the-destination-after") == nil, "a write to the destination reached the source", sourceLocation: sourceLocation)
    await source.close()
    for host in fixture.source.hosts + fixture.destination.hosts {
        #expect(try await fixture.driver(host).peerBlockTags() == [], "firewall rules left on \(host.name)", sourceLocation: sourceLocation)
    }
}

/// The journal holds, for every step, one step-finished after a step-started, and for every
/// action one finish (action-finished, or action-skipped when found done after an interruption).
func expectEveryStepAndActionFinishedOnce(_ plan: Plan, _ events: [ExecutionEvent], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(events.first?.kind == .planStarted, sourceLocation: sourceLocation)
    #expect(events.last?.kind == .planFinished, sourceLocation: sourceLocation)
    for step in plan.steps {
        let started = events.firstIndex { $0.kind == .stepStarted && $0.step == step.id }
        let finished = events.indices.filter { events[$0].kind == .stepFinished && events[$0].step == step.id }
        #expect(started != nil, "step \(step.id) never started", sourceLocation: sourceLocation)
        #expect(finished.count == 1, "step \(step.id) finished \(finished.count) times", sourceLocation: sourceLocation)
        if let started, let finished = finished.first { #expect(started < finished, sourceLocation: sourceLocation) }
        for index in step.actions.indices {
            let finishes = events.filter { ($0.kind == .actionFinished || $0.kind == .actionSkipped) && $0.step == step.id && $0.action == index }
            #expect(finishes.count == 1, "\(step.id) action \(index) (\(step.actions[index].summary)) finished \(finishes.count) times", sourceLocation: sourceLocation)
        }
    }
}

/// A small deterministic generator, so that a seed printed by a test reproduces its choices.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The `mitosis` executable built next to the test bundle (`swift build --build-tests` builds it).
func mitosisExecutable() throws -> String {
    var candidates: [String] = []
    if let path = ProcessInfo.processInfo.environment["MITOSIS_EXECUTABLE"] { candidates.append(path) }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(directory.appendingPathComponent("mitosis").path)
        directory.deleteLastPathComponent()
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug/mitosis")
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw LocalEnsembleError("no mitosis executable at \(candidates.joined(separator: ", ")); build it with `swift build --build-tests` or set MITOSIS_EXECUTABLE")
    }
    return found
}

/// `mitosis ARGUMENTS` in the fixture's sandbox network, output to a file; not waited for.
func startMitosis(_ arguments: [String], fixture: MigrationFixture, output: String) throws -> ChildProcess {
    var environment = ProcessInfo.processInfo.environment
    environment["MITOSIS_SANDBOX_NETWORK"] = fixture.manager.network.id
    return try ChildProcess([try mitosisExecutable()] + arguments, outputPath: output, environment: environment)
}

/// Runs `mitosis ARGUMENTS` in the fixture's sandbox network to completion; its exit code and output.
func runMitosis(_ arguments: [String], fixture: MigrationFixture, timeout: Duration = .seconds(300)) async throws -> (status: Int32, output: String) {
    var environment = ProcessInfo.processInfo.environment
    environment["MITOSIS_SANDBOX_NETWORK"] = fixture.manager.network.id
    return try await runMitosis(arguments, environment: environment, outputDirectory: fixture.directory, timeout: timeout)
}

/// Runs `mitosis ARGUMENTS` to completion; its exit code and output.
func runMitosis(
    _ arguments: [String], environment: [String: String]? = nil, outputDirectory: String = NSTemporaryDirectory(), timeout: Duration = .seconds(300)
) async throws -> (status: Int32, output: String) {
    let output = outputDirectory + "/mitosis-\(UUID().uuidString).out"
    defer { try? FileManager.default.removeItem(atPath: output) }
    let child = try ChildProcess([try mitosisExecutable()] + arguments, outputPath: output, environment: environment)
    do {
        let status = try await child.waitForExit(timeout: timeout)
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    } catch {
        child.signal(SIGKILL)
        _ = try? await child.waitForExit(timeout: .seconds(5))
        throw error
    }
}

extension RealServers {
    @Suite struct Executor {
        /// The full 3→3 mitosis plan. First a dry run: it changes no file, writes no journal and
        /// shows the config diffs. Then `mitosis run` killed (SIGKILL) when a randomly chosen step
        /// has started, and `mitosis run --resume`: no finished action runs again, only the
        /// interrupted one is repeated, and the plan finishes with two separate ensembles, each
        /// with the data, and a journal with every step and action once. A rollback is then
        /// refused (past the point of no return), and running the finished plan again does
        /// nothing. MITOSIS_KILL_SEED=N reproduces a run's choice.
        @Test func killedRunResumesToTheEnd() async throws {
            let seed = ProcessInfo.processInfo.environment["MITOSIS_KILL_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
            print("killedRunResumesToTheEnd: seed \(seed) (MITOSIS_KILL_SEED=\(seed) reproduces it)")
            var random = SplitMix64(state: seed)
            try await withMigrationFixture("exkill") { fixture, group in
                let originalFiles = fixture.configFiles()
                let preview = EventLog()
                let dryRun = try await fixture.execute(options: ExecutionOptions(dryRun: true), events: preview, group: group)
                #expect(dryRun == .dryRun)
                #expect(fixture.configFiles() == originalFiles, "the dry run changed a configuration or myid file")
                #expect(!FileManager.default.fileExists(atPath: fixture.journalPath), "the dry run wrote a journal")
                for host in fixture.destination.hosts { #expect(try await fixture.serviceState(host) == .stopped) }
                for host in fixture.source.hosts { #expect(try await fixture.serviceState(host) == .running) }
                // The first join round adds server 4 to every source server's file: the preview says so.
                let carrier = fixture.destination.hosts[0]
                let joinWrites = preview.all.filter { $0.kind == .actionSkipped && $0.step == "join-4-configs" }
                #expect(joinWrites.count == 4)
                #expect(joinWrites.allSatisfy { $0.summary.hasPrefix("would write") }, "\(joinWrites.map(\.summary))")
                let sourceWrites = joinWrites.filter { $0.summary.contains("src server") }
                #expect(sourceWrites.count == 3)
                for event in sourceWrites {
                    #expect(event.summary.contains("+server.4=\(carrier.address):2888:3888"), "\(event.summary)")
                }
                #expect(joinWrites.contains { $0.summary.contains("dst server 4") && $0.summary.contains("-server.5=") }, "the carrier's own file loses the dormant server 5")

                let planPath = fixture.directory + "/plan.json"
                let inventoryPath = fixture.directory + "/inventory.yaml"
                // As `mitosis plan --out` writes it: with its proof record, which `run` checks.
                try Prover.prove(fixture.plan).recorded.jsonData().write(to: URL(fileURLWithPath: planPath))
                try SandboxInventory.yaml(fixture.inventory).write(toFile: inventoryPath, atomically: true, encoding: .utf8)
                let run = ["run", planPath, "--inventory", inventoryPath, "--journal", fixture.journalPath, "--gate-timeout", "120"]

                let victim = fixture.plan.steps[Int.random(in: 0..<fixture.plan.steps.count, using: &random)]
                let inAction = !victim.actions.isEmpty && Bool.random(using: &random)
                print("killedRunResumesToTheEnd: seed \(seed): killing mitosis when step \(victim.id) has \(inAction ? "started an action" : "started")")

                let output = fixture.directory + "/first-run.out"
                let child = try startMitosis(run, fixture: fixture, output: output)
                var killed = false
                while child.isRunning {
                    let events = (try? Journal(path: fixture.journalPath).load().events) ?? []
                    if events.contains(where: { $0.step == victim.id && $0.kind == (inAction ? .actionStarted : .stepStarted) }) {
                        child.signal(SIGKILL)
                        killed = true
                        break
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let status = try await child.waitForExit(timeout: .seconds(30))
                let firstOutput = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                try #require(killed, "seed \(seed): mitosis exited (\(status)) before step \(victim.id) started:\n\(firstOutput)")
                #expect(status == 128 + SIGKILL)
                let killedAt = try Journal(path: fixture.journalPath).load()
                #expect(!killedAt.planFinished)

                // Without --resume a started journal is refused, and nothing is touched.
                let refused = try await runMitosis(run, fixture: fixture)
                #expect(refused.status != 0)
                #expect(refused.output.contains("pass --resume to continue it"), "\(refused.output)")
                #expect(try Journal(path: fixture.journalPath).load().events == killedAt.events)

                let resumed = try await runMitosis(run + ["--resume"], fixture: fixture)
                #expect(resumed.status == 0, "seed \(seed): the resumed run failed:\n\(resumed.output)")
                #expect(resumed.output.contains("plan finished"), "\(resumed.output)")

                let journal = try Journal(path: fixture.journalPath).load()
                #expect(journal.planFinished, "seed \(seed)")
                let events = journal.events
                let resumeIndex = try #require(events.firstIndex { $0.kind == .resumed })
                #expect(resumeIndex == killedAt.events.count, "the resumed run rewrote the journal before its resume event")
                let before = events[..<resumeIndex]
                let after = events[resumeIndex...]
                struct ActionKey: Hashable { var step: StepID?, action: Int? }
                let finishedBefore = Set(before.filter { $0.kind == .actionFinished || $0.kind == .actionSkipped }.map { ActionKey(step: $0.step, action: $0.action) })
                let startedBefore = Set(before.filter { $0.kind == .actionStarted }.map { ActionKey(step: $0.step, action: $0.action) })
                let interrupted = startedBefore.subtracting(finishedBefore)
                let startedAfter = Set(after.filter { $0.kind == .actionStarted }.map { ActionKey(step: $0.step, action: $0.action) })
                #expect(startedAfter.isDisjoint(with: finishedBefore), "seed \(seed): actions finished before the kill ran again: \(startedAfter.intersection(finishedBefore))")
                let stepsFinishedBefore = Set(before.filter { $0.kind == .stepFinished }.compactMap(\.step))
                #expect(!after.contains { $0.kind == .stepStarted && stepsFinishedBefore.contains($0.step!) }, "seed \(seed): a finished step started again")
                // Interrupted actions were done again or found done, once.
                for key in interrupted {
                    #expect(after.contains { ($0.kind == .actionFinished || $0.kind == .actionSkipped) && ActionKey(step: $0.step, action: $0.action) == key })
                }
                expectEveryStepAndActionFinishedOnce(fixture.plan, events.filter { $0.kind != .resumed })
                try await expectSeparateEnsembles(fixture, group: group)

                let refusedRollback = #expect(throws: ExecutionError.self) { try Rollback.plan(for: Prover.prove(fixture.plan), journal: journal) }
                #expect(refusedRollback?.code == .pastPointOfNoReturn)
                // Running a finished plan again does nothing.
                let again = try await runMitosis(run + ["--resume"], fixture: fixture)
                #expect(again.status == 0, "\(again.output)")
                #expect(try Journal(path: fixture.journalPath).load().events.count == journal.events.count)
            }
        }

        /// A source server the step does not touch is killed while a rolling-restart step runs
        /// and started again a little later, as a supervisor would: the step's gate waits for it
        /// and the run finishes. (3→1 with the destination server as an observer: the shortest
        /// plan with a rolling restart of the source.)
        @Test func serverKilledMidStepIsWaitedFor() async throws {
            try await withMigrationFixture("exsrv", strategy: .mitosisObservers, destinationServers: 1) { fixture, group in
                let step: StepID = "join-restart-1"
                let touched = try #require(fixture.plan.step(step)).actions.flatMap(\.servers).map(\.id.rawValue)
                #expect(touched == [1])
                let victim = fixture.source.hosts[2]
                let (stream, continuation) = AsyncStream.makeStream(of: ExecutionEvent.self)
                let events = EventLog()
                let executor = MigrationExecutor(
                    plan: try Prover.prove(fixture.plan), hosts: fixture.hosts, eventLoopGroup: group, journal: Journal(path: fixture.journalPath),
                    options: ExecutionOptions(gateTimeout: .seconds(120)),
                    onEvent: { event in
                        events.append(event)
                        continuation.yield(event)
                    })
                let outcome = try await withThrowingTaskGroup(of: ExecutionOutcome?.self) { tasks in
                    tasks.addTask {
                        defer { continuation.finish() }
                        return try await executor.run()
                    }
                    tasks.addTask {
                        var killed = false
                        var restarted = false
                        for await event in stream where event.step == step {
                            if !killed && event.kind == .actionStarted {
                                try await fixture.driver(victim).check(victim.serviceCommand("kill"), operation: "kill \(victim.name)'s server")
                                killed = true
                            } else if killed && !restarted && event.kind == .gateWaiting {
                                try await Task.sleep(for: .seconds(2))
                                _ = try await fixture.driver(victim).startService(fixture.source.zookeeperService(on: victim))
                                restarted = true
                            }
                        }
                        #expect(killed && restarted, "killed \(killed), restarted \(restarted)")
                        return nil
                    }
                    var outcome: ExecutionOutcome?
                    for try await result in tasks { if let result { outcome = result } }
                    return outcome
                }
                #expect(outcome == .finished)
                let journal = try Journal(path: fixture.journalPath).load().events.filter { $0.step == step }
                let kinds = journal.map(\.kind)
                #expect(kinds.first == .stepStarted)
                let finished = try #require(kinds.firstIndex(of: .actionFinished))
                let waiting = try #require(kinds.firstIndex(of: .gateWaiting), "the journal does not show the gate waiting: \(kinds)")
                let passed = try #require(kinds.lastIndex(of: .gatePassed))
                #expect(finished < waiting && waiting < passed && kinds.last == .stepFinished, "\(kinds)")
                #expect(journal[waiting].summary.contains("server 3"), "\(journal[waiting].summary)")
                let all = try Journal(path: fixture.journalPath).load().events
                expectEveryStepAndActionFinishedOnce(fixture.plan, all)
                // Everything reported was journaled, in the same order (nothing was skipped).
                #expect(all.map(\.kind) == events.all.map(\.kind))
                #expect(!all.contains { $0.kind == .failed || $0.kind == .resumed })
                try await expectSeparateEnsembles(fixture, group: group)
            }
        }

        /// Right after an election, before any write, the leader reports its new epoch and the
        /// followers the last transaction they logged: they are caught up all the same.
        @Test func followersAreSyncedRightAfterAnElection() async throws {
            try await withMigrationFixture("exsync") { fixture, group in
                let source = fixture.source
                let leader = try #require(source.hosts.last)
                _ = try await fixture.driver(leader).restartService(source.zookeeperService(on: leader))
                try await fixture.manager.waitUntilServing(source, hosts: source.hosts)
                var zxids: [ServerStatus.Mode: [Zxid]] = [:]
                for host in source.hosts {
                    let status = try await FourLetterWords.srvr(ConnectionString.Server(host: host.address, port: source.clientPort), timeout: .seconds(5), group: group)
                    zxids[status.mode, default: []].append(status.zxid)
                }
                let newLeader = try #require(zxids[.leader]?.first)
                try #require(newLeader.counter == 0 && (zxids[.follower] ?? []).allSatisfy { $0 < newLeader }, "not the situation under test: \(zxids)")
                let gates = GateChecker(
                    plan: fixture.plan, hosts: fixture.hosts, clients: HostClientGroupController(plan: fixture.plan, hosts: fixture.hosts),
                    eventLoopGroup: group)
                let result = await gates.evaluate(.followersSynced(servers: fixture.plan.source.refs))
                #expect(result.passed, "\(result.detail)")
            }
        }

        /// `until` pauses after a step and resume goes on with the next one; a started journal
        /// without resume, and a journal of another plan, are refused without touching anything.
        /// Then, in the second join round (before the point of no return), a rollback brings the
        /// source back to its own three-server files, serving with its data, and stops every
        /// destination server.
        @Test func untilPausesResumeContinuesAndRollbackRestoresTheSource() async throws {
            try await withMigrationFixture("exroll") { fixture, group in
                let original = Dictionary(uniqueKeysWithValues: fixture.source.hosts.map { ($0.name, serverLines(ofConfigAt: $0.configPath)) })
                let originalFiles = fixture.configFiles()

                #expect(try await fixture.execute(options: ExecutionOptions(until: "join-4-configs"), group: group) == .paused(after: "join-4-configs"))
                let paused = try Journal(path: fixture.journalPath).load()
                #expect(paused.events.last?.kind == .paused)
                #expect(paused.lastFinishedStep(in: fixture.plan) == "join-4-configs")
                #expect(!paused.events.contains { $0.step == "join-4-start" })

                let again = await #expect(throws: ExecutionError.self) { try await fixture.execute(group: group) }
                #expect(again?.code == .alreadyStarted)
                #expect(again?.description.contains("--resume") == true, "\(String(describing: again))")
                var other = fixture.plan
                other.steps.removeLast()
                let mismatch = await #expect(throws: ExecutionError.self) {
                    try await fixture.execute(try Prover.prove(other), options: ExecutionOptions(resume: true), group: group)
                }
                #expect(mismatch?.code == .journalMismatch)
                #expect(try Journal(path: fixture.journalPath).load().events == paused.events, "a refused run wrote to the journal")
                #expect(try await fixture.serviceState(fixture.destination.hosts[0]) == .stopped)

                let until: StepID = "join-5-restart-1"
                #expect(try await fixture.execute(options: ExecutionOptions(resume: true, until: until), group: group) == .paused(after: until))
                let state = try Journal(path: fixture.journalPath).load()
                let resumed = state.events[paused.events.count...]
                #expect(resumed.first?.kind == .resumed)
                #expect(resumed.first { $0.kind == .stepStarted }?.step == "join-4-start", "resume did not continue with the next step")
                #expect(!resumed.contains { $0.step != nil && paused.finishedSteps.contains($0.step!) }, "resume redid a finished step")
                #expect(state.finishedSteps.contains(until) && !state.finishedSteps.contains("join-5-pause-1"))
                for host in fixture.destination.hosts.prefix(2) { #expect(try await fixture.serviceState(host) == .running) }

                // The way back is proved (after the steps the journal records) before it runs.
                let back = try Prover.prove(rollback: Rollback.plan(for: Prover.prove(fixture.plan), journal: state), of: Prover.prove(fixture.plan), journal: state)
                let outcome = try await fixture.execute(back, journal: fixture.journalPath + ".rollback", options: ExecutionOptions(resume: true), group: group)
                #expect(outcome == .finished)
                try Journal(path: fixture.journalPath).append(ExecutionEvent(kind: .rollbackFinished, summary: "rolled back \(back.plan.steps.count) steps"))

                for host in fixture.source.hosts {
                    #expect(serverLines(ofConfigAt: host.configPath) == original[host.name], "\(host.name)'s server lines were not restored")
                    #expect(originalFiles[host.configPath] == FileManager.default.contents(atPath: host.configPath), "\(host.name)'s zoo.cfg differs from what it held before")
                }
                for host in fixture.destination.hosts { #expect(try await fixture.serviceState(host) == .stopped, "\(host.name) still runs") }
                try await expectServesOnItsOwn(fixture.source, group: group)
                for host in fixture.source.hosts { #expect(try await fixture.driver(host).peerBlockTags() == []) }

                let rolledBack = await #expect(throws: ExecutionError.self) { try await fixture.execute(options: ExecutionOptions(resume: true), group: group) }
                #expect(rolledBack?.code == .alreadyStarted)
            }
        }
    }
}

/// A client group of one member on this machine (through `LocalHostDriver`): a properties file,
/// a restart command that records each run and makes the member healthy, and a health check.
struct LocalClientFixture {
    let directory: String
    var configPath: String { directory + "/server.properties" }
    var restartLog: String { directory + "/restarts.log" }
    var healthyMarker: String { directory + "/healthy" }
    let host = "app-host"
    static let from = "10.200.1.11:2181,10.200.1.12:2181/kafka"
    static let to = "10.200.2.11:2181,10.200.2.12:2181/kafka"
    /// Comments, blank lines, odd separators, a continuation and no newline at the end: every byte
    /// but the connection string must survive the switch.
    static let original =
        "# broker 1\r\nbroker.id = 1\n\n! an old-style comment\nlog.dirs=/var/lib/kafka/a,\\\n    /var/lib/kafka/b\nzookeeper.connect : \(from)\nzookeeper.connection.timeout.ms=18000\nlisteners=PLAINTEXT://:9092"

    init() throws {
        directory = NSTemporaryDirectory() + "mitosis-client-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.original.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// Records the connection string it finds, then (when `heals`) makes the member healthy.
    func restartCommand(heals: Bool = true) -> String {
        "echo \"restarted with $(grep '^zookeeper.connect ' \(shellQuoted(configPath)))\" >> \(shellQuoted(restartLog))" + (heals ? " && touch \(shellQuoted(healthyMarker))" : "")
    }

    var restarts: [String] {
        ((try? String(contentsOfFile: restartLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    var config: String { (try? String(contentsOfFile: configPath, encoding: .utf8)) ?? "" }

    func change(heals: Bool = true) -> ClientSwitch {
        ClientSwitch(
            client: ClientRef(group: "app", member: "app-1", host: host), configPath: configPath, connectionKey: "zookeeper.connect",
            from: Self.from, to: Self.to, restart: restartCommand(heals: heals))
    }

    /// A plan of one step that switches the member; `gateBefore` adds the group's health as a gate before it.
    func plan(heals: Bool = true, gateBefore: Bool = false) -> Plan {
        let member = PlanClientMember(
            name: "app-1", host: host, configPath: configPath, restart: restartCommand(heals: heals),
            healthCheck: "test -f \(shellQuoted(healthyMarker))", connectionString: Self.from)
        // Servers at both connection strings' addresses, in one ensemble, so that the prover sees
        // the member served before and after its switch (none of them is contacted: the plan has
        // no server action and no server gate).
        let addresses = ["10.200.1.11", "10.200.1.12", "10.200.2.11", "10.200.2.12"]
        let servers = addresses.enumerated().map { ServerSpec(id: ServerID(Int64($0.offset + 1)), host: "zk-\($0.offset + 1)", address: $0.element) }
        let source = PlanEnsemble(name: "src", version: ZooKeeperVersion(3, 8, 0), servers: servers, initialData: .holdsData, initiallyRunning: true)
        let destination = PlanEnsemble(name: "dst", version: ZooKeeperVersion(3, 8, 0), servers: [], initialData: .empty, initiallyRunning: false)
        return Plan(
            strategy: .mitosis, source: source, destination: destination,
            clientGroups: [PlanClientGroup(name: "app", chroot: "/kafka", moves: true, members: [member])],
            steps: [
                Step(
                    id: "switch-app-1", title: "Switch app-1", why: "test", gatesBefore: gateBefore ? [.clientGroupHealthy(group: "app")] : [],
                    actions: [.switchClient(change(heals: heals))], gatesAfter: [.clientGroupHealthy(group: "app")])
            ],
            pointOfNoReturn: nil, impactWindows: [])
    }

    var hosts: any HostDirectory {
        InventoryHostDirectory(inventory: SandboxInventory.inventory([], localHosts: [host]))
    }

    /// The controller for these tests: there are no servers (and the plan's addresses may not be
    /// asked), so sessions are not checked.
    func controller(_ plan: Plan, healthTimeout: Duration = .seconds(300)) -> HostClientGroupController {
        HostClientGroupController(plan: plan, hosts: hosts, healthTimeout: healthTimeout, verifiesSessions: false)
    }

    func executor(_ plan: Plan, journal: Journal, options: ExecutionOptions) throws -> MigrationExecutor {
        MigrationExecutor(
            plan: try Prover.prove(plan), hosts: hosts, clients: controller(plan), eventLoopGroup: MultiThreadedEventLoopGroup.singleton, journal: journal, options: options)
    }
}

/// Client switches through `HostClientGroupController` and `LocalHostDriver`, with no servers.
@Suite struct ClientGroupSwitching {
    @Test func switchRewritesOnlyTheConnectionStringRestartsAndWaitsForHealth() async throws {
        let fixture = try LocalClientFixture()
        defer { fixture.remove() }
        let plan = fixture.plan()
        let controller = fixture.controller(plan, healthTimeout: .seconds(30))

        let sick = try await controller.health(of: "app")
        #expect(!sick.healthy)
        #expect(sick.detail.contains("app-1's health check failed"), "\(sick.detail)")
        #expect(try await controller.hasSwitched(fixture.change()) == false)

        let changes = try await controller.switchMember(fixture.change())
        #expect(changes.map(\.changed) == [true, true], "\(changes)")
        let expected = LocalClientFixture.original.replacingOccurrences(of: LocalClientFixture.from, with: LocalClientFixture.to)
        #expect(fixture.config == expected)
        #expect(fixture.restarts == ["restarted with zookeeper.connect : \(LocalClientFixture.to)"], "the restart ran before the file was written, or not once")
        #expect(try await controller.health(of: "app").healthy)
        #expect(try await controller.hasSwitched(fixture.change()) == false, "without sessions to see, the file alone never counts as switched")

        // Again: the file is already right and stays byte for byte; the member is restarted again.
        let again = try await controller.switchMember(fixture.change())
        #expect(again.count == 1 && again[0].summary.hasPrefix("restarted app-1"), "\(again)")
        #expect(fixture.config == expected)
        #expect(fixture.restarts.count == 2)
    }

    @Test func aMemberThatStaysUnhealthyFailsItsSwitchAndHoldsTheGate() async throws {
        let fixture = try LocalClientFixture()
        defer { fixture.remove() }
        let controller = fixture.controller(fixture.plan(heals: false), healthTimeout: .seconds(1))
        let error = await #expect(throws: HostError.self) { try await controller.switchMember(fixture.change(heals: false)) }
        #expect(error?.kind == .timeout)
        #expect(error?.operation == "wait for app-1 to be healthy")
        #expect(fixture.restarts.count == 1)
        #expect(try await controller.hasSwitched(fixture.change(heals: false)) == false, "switched, but not healthy")

        // As a gate before a step: the step's switch never runs while the group is unhealthy.
        let other = try LocalClientFixture()
        defer { other.remove() }
        let journal = Journal(path: other.directory + "/plan.journal")
        let gated = await #expect(throws: ExecutionError.self) {
            try await other.executor(other.plan(gateBefore: true), journal: journal, options: ExecutionOptions(gateTimeout: .seconds(1))).run()
        }
        #expect(gated?.code == .gateFailed)
        #expect(gated?.message.contains("client group app healthy") == true, "\(String(describing: gated))")
        #expect(other.restarts.isEmpty)
        #expect(other.config == LocalClientFixture.original)
        let events = try journal.load().events.map(\.kind)
        #expect(events == [.planStarted, .stepStarted, .gateWaiting, .failed])
    }

    /// Resuming a run killed in the middle of a switch, after the file was written: the file alone
    /// proves nothing (the member may never have been restarted), so the switch is redone.
    @Test func resumeRedoesAnInterruptedSwitchWhoseFileWasWritten() async throws {
        let fixture = try LocalClientFixture()
        defer { fixture.remove() }
        let plan = fixture.plan()
        let journal = Journal(path: fixture.directory + "/plan.journal")
        try journal.append(ExecutionEvent(kind: .planStarted, summary: "test", plan: try Journal.fingerprint(of: plan)))
        try journal.append(ExecutionEvent(kind: .stepStarted, step: "switch-app-1", summary: ""))
        try journal.append(ExecutionEvent(kind: .actionStarted, step: "switch-app-1", action: 0, summary: ""))
        try LocalClientFixture.original.replacingOccurrences(of: LocalClientFixture.from, with: LocalClientFixture.to)
            .write(toFile: fixture.configPath, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: fixture.healthyMarker, contents: nil)

        #expect(try await fixture.executor(plan, journal: journal, options: ExecutionOptions(resume: true)).run() == .finished)
        #expect(fixture.restarts == ["restarted with zookeeper.connect : \(LocalClientFixture.to)"], "the member was not restarted")
        let events = try journal.load().events
        #expect(!events.contains { $0.kind == .actionSkipped })
        #expect(events.filter { $0.kind == .actionFinished }.count == 1)
    }

    /// Resuming a step whose action was interrupted does not wait again for the gates before it:
    /// they held when the action began, and the action itself may have broken them (here: the
    /// member was being restarted, so it is not healthy). The action is redone and checked after.
    @Test func resumeDoesNotWaitForTheGatesBeforeAnInterruptedStep() async throws {
        let fixture = try LocalClientFixture()
        defer { fixture.remove() }
        let plan = fixture.plan(gateBefore: true)
        let journal = Journal(path: fixture.directory + "/plan.journal")
        try journal.append(ExecutionEvent(kind: .planStarted, summary: "test", plan: try Journal.fingerprint(of: plan)))
        try journal.append(ExecutionEvent(kind: .stepStarted, step: "switch-app-1", summary: ""))
        try journal.append(ExecutionEvent(kind: .gatePassed, step: "switch-app-1", summary: ""))
        try journal.append(ExecutionEvent(kind: .actionStarted, step: "switch-app-1", action: 0, summary: ""))

        let outcome = try await fixture.executor(plan, journal: journal, options: ExecutionOptions(resume: true, gateTimeout: .seconds(1))).run()
        #expect(outcome == .finished)
        #expect(fixture.restarts.count == 1)
        let resumed = try journal.load().events.drop { $0.kind != .resumed }
        #expect(resumed.map(\.kind) == [.resumed, .stepStarted, .gatePassed, .actionStarted, .actionFinished, .gatePassed, .stepFinished, .planFinished])
        #expect(resumed.dropFirst(2).first?.summary.contains("not checked again") == true)
    }
}
