import Ensemble
import Foundation
public import Hosts
import MigrationPlanning
public import NIOCore
import Probes
import TreeCopy
import ZooKeeper
import ZooKeeperProtocol

/// How a run goes.
public struct ExecutionOptions: Sendable {
    /// Print what would be done; read the current files for diffs; change nothing, write no journal.
    public var dryRun: Bool
    /// Continue a journal that already has events (after the tool was stopped or killed).
    public var resume: Bool
    /// Stop after this step (the journal remembers; `resume` continues).
    public var until: StepID?
    /// How long a gate may take to hold before the run stops.
    public var gateTimeout: Duration
    /// Asked before each step (`--step`); false pauses the run.
    public var confirm: (@Sendable (Step) async -> Bool)?
    /// What the census before the split accepts besides the plan's client groups.
    public var census: CensusPolicy

    public init(
        dryRun: Bool = false, resume: Bool = false, until: StepID? = nil, gateTimeout: Duration = .seconds(300),
        confirm: (@Sendable (Step) async -> Bool)? = nil, census: CensusPolicy = CensusPolicy()
    ) {
        self.dryRun = dryRun
        self.resume = resume
        self.until = until
        self.gateTimeout = gateTimeout
        self.confirm = confirm
        self.census = census
    }
}

/// How a run ended (errors are thrown).
public enum ExecutionOutcome: Sendable, Hashable {
    case finished
    /// Stopped on purpose after a step (`until`, or a declined confirmation); resume to go on.
    case paused(after: StepID?)
    case dryRun
}

/// Executes a plan on real hosts: for each step, waits for its gates, runs its actions through
/// the host drivers, checks the gates after, and journals every event so that a run that was
/// killed resumes without redoing what was done.
///
/// It takes a ``ProvenPlan``, which only the prover makes: a plan runs only as it was proved.
public struct MigrationExecutor: Sendable {
    /// The plan and its proof; fixed for the executor's life (a `let`, so no other plan can be
    /// swapped in after the proof).
    public let proven: ProvenPlan
    public var plan: Plan { proven.plan }
    public var hosts: any HostDirectory
    public var clients: any ClientGroupController
    public var eventLoopGroup: any EventLoopGroup
    public var journal: Journal
    public var options: ExecutionOptions
    public var onEvent: @Sendable (ExecutionEvent) -> Void
    /// The block & copy followers of the run under way (set by ``run()``).
    var followers: CopyFollowers?

    public init(
        plan: ProvenPlan, hosts: any HostDirectory, clients: (any ClientGroupController)? = nil, eventLoopGroup: any EventLoopGroup,
        journal: Journal, options: ExecutionOptions = ExecutionOptions(), onEvent: @escaping @Sendable (ExecutionEvent) -> Void = { _ in }
    ) {
        self.proven = plan
        self.hosts = hosts
        self.clients = clients ?? HostClientGroupController(plan: plan.plan, hosts: hosts, eventLoopGroup: eventLoopGroup)
        self.eventLoopGroup = eventLoopGroup
        self.journal = journal
        self.options = options
        self.onEvent = onEvent
    }

    var gates: GateChecker {
        var checker = GateChecker(plan: plan, hosts: hosts, clients: clients, eventLoopGroup: eventLoopGroup)
        checker.followers = followers
        checker.census = options.census
        return checker
    }

    /// What the proof this run rests on found, for its first event.
    var provedText: String { "proved safe again by prover v\(Prover.version) (\(proven.proof.statesExplored) states)" }

    func record(_ event: ExecutionEvent) throws {
        if !options.dryRun { try journal.append(event) }
        onEvent(event)
    }

    public func run() async throws -> ExecutionOutcome {
        let state = try journal.load()
        let fingerprint = try Journal.fingerprint(of: plan)
        if !state.events.isEmpty {
            if let recorded = state.planFingerprint, recorded != fingerprint {
                throw ExecutionError(.journalMismatch, "the journal \(journal.path) belongs to another plan (fingerprint \(recorded.prefix(12)), this plan \(fingerprint.prefix(12))); use that plan, or another --journal for this one")
            }
            if state.rolledBack {
                throw ExecutionError(.alreadyStarted, "the journal \(journal.path) records a rollback of this plan; start again with a new journal")
            }
            if state.planFinished { return .finished }
            if !options.resume && !options.dryRun {
                throw ExecutionError(.alreadyStarted, "the journal \(journal.path) shows this plan has run before (last finished step: \(state.lastFinishedStep(in: plan)?.rawValue ?? "none")); pass --resume to continue it")
            }
        }
        // Every host reached and every program found before the first journal entry and the
        // first change: a refused run leaves the hosts, and the journal, as they were.
        let checked = try await preflight()
        // Every file the plan changes next must be as the plan or this run left it: else
        // stop, with nothing changed and nothing journaled.
        try await checkDrift(plan.steps, state: state)
        if !state.events.isEmpty {
            try record(ExecutionEvent(kind: .resumed, summary: "resuming after \(state.lastFinishedStep(in: plan)?.rawValue ?? "the start"); \(provedText); \(checked)"))
        } else {
            try record(ExecutionEvent(kind: .planStarted, summary: "\(plan.strategy) from \(plan.source.name) to \(plan.destination.name), \(plan.steps.count) steps; \(provedText); \(checked)", plan: fingerprint))
        }
        if options.dryRun { return try await runSteps(state) }

        // Block & copy's followers run beside the steps, as child tasks of this run: a follow
        // action starts one, the final catch-up stops it, and whatever still follows when the
        // run ends (paused, failed, cancelled) stops with it.
        let followers = CopyFollowers(eventLoopGroup: eventLoopGroup)
        var executor = self
        executor.followers = followers
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await followers.serve() }
            defer { followers.finish() }
            try await executor.restartFollows(state)
            return try await executor.runSteps(state)
        }
    }

    func runSteps(_ state: JournalState) async throws -> ExecutionOutcome {
        // A proven plan's rolling restarts can be ordered (the prover refuses any other).
        let restarts = (try? RollingRestarts.of(plan.steps).get()) ?? RollingRestarts(groups: [])
        // Where a run stopped part way, its units keep the places they had: those the journal
        // shows begun first, in the order they began (one interrupted in the middle is finished
        // before another begins), then the others in plan order.
        var orders: [String: [Int]] = [:]
        for group in restarts.groups { orders[group.name] = Self.unitOrder(group, steps: plan.steps, state: state) }
        var steps = restarts.steps(plan.steps, orders: orders)
        for index in steps.indices {
            if !options.dryRun, let later = try await leaderLast(at: index, restarts: restarts, orders: orders, state: state) {
                orders[later.group] = later.order
                steps = restarts.steps(plan.steps, orders: orders)
                try record(
                    ExecutionEvent(
                        kind: .reordered, step: steps[index].id,
                        summary: "\(steps[index].id) before \(later.leader): server \(later.server.id), which \(later.leader) stops, leads, and a rolling restart restarts the leader last"))
            }
            let step = steps[index]
            if state.finishedSteps.contains(step.id) {
                onEvent(ExecutionEvent(kind: .stepSkipped, step: step.id, summary: "done before"))
                continue
            }
            if let confirm = options.confirm, !(await confirm(step)) {
                try record(ExecutionEvent(kind: .paused, step: step.id, summary: "declined before \(step.id)"))
                return .paused(after: state.lastFinishedStep(in: plan))
            }
            do {
                try await execute(step, state: state)
            } catch is CancellationError {
                // Stopped from outside, like a killed tool: the journal stays as it is, and
                // --resume continues from it.
                throw CancellationError()
            } catch {
                let message = "\(error)"
                try? record(ExecutionEvent(kind: .failed, step: step.id, summary: message))
                if let error = error as? ExecutionError { throw error }
                throw ExecutionError(.actionFailed, step: step.id, message)
            }
            if options.until == step.id {
                try record(ExecutionEvent(kind: .paused, step: step.id, summary: "stopped after \(step.id) as asked (--until)"))
                return .paused(after: step.id)
            }
        }
        if options.dryRun { return .dryRun }
        try record(ExecutionEvent(kind: .planFinished, summary: "all \(plan.steps.count) steps done"))
        return .finished
    }

    /// The order of `group`'s units (indices of ``RollingRestarts/Group/units``) a run follows
    /// from `state`: the units the journal shows begun, in the order they began, then the others
    /// in plan order.
    static func unitOrder(_ group: RollingRestarts.Group, steps: [Step], state: JournalState) -> [Int] {
        var began: [StepID: Int] = [:]
        for (number, event) in state.events.enumerated() where event.kind == .stepStarted {
            if let step = event.step, began[step] == nil { began[step] = number }
        }
        let start = group.units.map { unit in unit.compactMap { began[steps[$0].id] }.min() }
        let begun = group.units.indices.filter { start[$0] != nil }.sorted { start[$0]! < start[$1]! }
        return begun + group.units.indices.filter { start[$0] == nil }
    }

    /// The index (into `group.units`) of the unit whose step fills the group's place `place` in `order`.
    static func unit(at place: Int, of group: RollingRestarts.Group, order: [Int]) -> Int {
        var filled = 0
        for unit in order {
            filled += group.units[unit].count
            if place < filled { return unit }
        }
        return order.last ?? 0
    }

    /// The server a unit stops or restarts first: the one whose leading matters.
    static func server(of unit: [Int], in steps: [Step]) -> ServerRef? {
        for index in unit {
            for action in steps[index].actions {
                switch action {
                case .restartServer(let ref), .stopServer(let ref): return ref
                default: continue
                }
            }
        }
        return nil
    }

    /// `order` with the unit that would begin at the group's place `place` moved to the end,
    /// when it has not begun and a unit after it has not either; else nil.
    static func movingLast(_ order: [Int], place: Int, of group: RollingRestarts.Group, steps: [Step], state: JournalState) -> [Int]? {
        let unit = unit(at: place, of: group, order: order)
        let first = order.prefix { $0 != unit }.reduce(0) { $0 + group.units[$1].count }
        let begun = { (unit: Int) in group.units[unit].contains { state.startedSteps.contains(steps[$0].id) } }
        guard place == first, !begun(unit), let position = order.firstIndex(of: unit),
            order[(position + 1)...].contains(where: { !begun($0) })
        else { return nil }
        var moved = order
        moved.remove(at: position)
        moved.append(unit)
        return moved
    }

    /// At the place `index` where a unit of a rolling restart would begin: when its server leads
    /// now and another unit is still to come, the group and its order with that unit last.
    func leaderLast(at index: Int, restarts: RollingRestarts, orders: [String: [Int]], state: JournalState) async throws
        -> (group: String, order: [Int], leader: StepID, server: ServerRef)?
    {
        guard let group = restarts.groups.first(where: { $0.positions.contains(index) }), let order = orders[group.name],
            let place = group.positions.firstIndex(of: index),
            let moved = Self.movingLast(order, place: place, of: group, steps: plan.steps, state: state)
        else { return nil }
        let unit = group.units[Self.unit(at: place, of: group, order: order)]
        guard let ref = Self.server(of: unit, in: plan.steps), case .success(let status)? = await gates.srvr(ref), status.mode == .leader else {
            return nil
        }
        return (group.name, moved, plan.steps[unit[0]].id, ref)
    }

    func execute(_ step: Step, state: JournalState) async throws {
        if !options.dryRun { try await checkDrift([step], state: state) }
        try record(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
        let done = state.finishedActions[step.id] ?? []
        let interrupted = state.interruptedActions[step.id] ?? []
        if done.isEmpty && interrupted.isEmpty {
            for gate in step.gatesBefore { try await wait(for: gate, step: step) }
        } else {
            // The step's actions had begun when the tool stopped, so its gates held then; what
            // those actions did may break them now (a restart stopped a server and was killed
            // before starting it again), and waiting for them would wait forever. The gates after
            // the step check the outcome.
            for gate in step.gatesBefore {
                try record(ExecutionEvent(kind: .gatePassed, step: step.id, summary: "\(gate.summary): held before the interruption, when the step's actions began; not checked again"))
            }
        }
        var pending: [(index: Int, action: Action)] = []
        for (index, action) in step.actions.enumerated() {
            if done.contains(index) {
                onEvent(ExecutionEvent(kind: .actionSkipped, step: step.id, action: index, summary: "done before: \(action.summary)"))
            } else if interrupted.contains(index), try await alreadyDone(action) {
                try record(ExecutionEvent(kind: .actionSkipped, step: step.id, action: index, summary: "found done after an interruption: \(action.summary)", changed: true))
            } else if options.dryRun {
                onEvent(ExecutionEvent(kind: .actionSkipped, step: step.id, action: index, summary: "would \(action.summary)\(try await preview(action))"))
            } else {
                pending.append((index, action))
            }
        }
        // A step's actions may run in any order or together (the prover checked every order):
        // servers and hosts are acted on together, so a step like "restart every destination
        // server" takes as long as its slowest server. Client switches, reconfigs, copies and
        // waits go one at a time, in the plan's order.
        let together = pending.count > 1 && pending.allSatisfy { $0.action.runsTogether }
        if together {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, action) in pending {
                    group.addTask { try await self.perform(action, index: index, in: step) }
                }
                try await group.waitForAll()
            }
        } else {
            for (index, action) in pending { try await perform(action, index: index, in: step) }
        }
        if options.dryRun {
            onEvent(ExecutionEvent(kind: .stepFinished, step: step.id, summary: "dry run: gates after not checked"))
            return
        }
        for gate in step.gatesAfter { try await wait(for: gate, step: step) }
        try record(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
    }

    /// Polls the gate until it holds; throws after the gate timeout with what was last seen.
    func wait(for gate: Gate, step: Step) async throws {
        if options.dryRun {
            let result = await gates.evaluate(gate)
            onEvent(ExecutionEvent(kind: result.passed ? .gatePassed : .gateWaiting, step: step.id, summary: "\(gate.summary): \(result.detail)"))
            return
        }
        if case .sessionsAccountedFor = gate { try await settleBeforeCensus(step: step) }
        let deadline = ContinuousClock.now + options.gateTimeout
        var announced = false
        while true {
            let result = await gates.evaluate(gate)
            if result.passed {
                try record(ExecutionEvent(kind: .gatePassed, step: step.id, summary: "\(gate.summary): \(result.detail)"))
                return
            }
            if !announced {
                // Journaled, so a run's record shows where it waited and what it saw first.
                try record(ExecutionEvent(kind: .gateWaiting, step: step.id, summary: "\(gate.summary): \(result.detail)"))
                announced = true
            }
            guard ContinuousClock.now < deadline else {
                throw ExecutionError(.gateFailed, step: step.id, "gate did not hold within \(options.gateTimeout): \(gate.summary); last seen: \(result.detail)")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Waits until ``CensusPolicy/settle`` has passed since the journal's last event of a step that
    /// stopped, started or restarted a server or moved an address (its gates after, when it had
    /// them: the ensemble served again then), so that clients that lost their server have
    /// reconnected before the census counts them.
    func settleBeforeCensus(step: Step) async throws {
        let changing = Set(
            plan.steps.filter { step in
                step.actions.contains { action in
                    switch action {
                    case .startServer, .stopServer, .restartServer, .moveAddress: return true
                    default: return false
                    }
                }
            }.map(\.id))
        let state = try journal.load()
        guard
            let last = state.events.last(where: { event in
                event.step.map(changing.contains) == true && [.actionFinished, .gatePassed, .stepFinished].contains(event.kind)
            })
        else { return }
        let since = Date().timeIntervalSince(last.time)
        let settle = options.census.settle.seconds
        guard since < settle else { return }
        let wait = settle - since
        try record(
            ExecutionEvent(
                kind: .gateWaiting, step: step.id,
                summary: "the census waits \(String(format: "%.1f", wait)) s more: \(last.step?.rawValue ?? "a step") changed servers \(String(format: "%.1f", since)) s ago, and a client that lost its server reconnects with a backoff (no server lists it until then)"))
        try await Task.sleep(for: .seconds(wait))
    }

    // MARK: Actions

    func perform(_ action: Action, index: Int, in step: Step) async throws {
        var before: [String: String]?
        var missing: [String]?
        var missingDirectories: [String]?
        if case .writeConfig(let write) = action {
            let contents = try await currentContents(of: write)
            before = contents
            missing = write.files.map(\.path).filter { contents[$0] == nil }
            missingDirectories = try await self.missingDirectories(above: missing ?? [], on: write.server.host)
        }
        try record(
            ExecutionEvent(
                kind: .actionStarted, step: step.id, action: index, summary: action.summary, previousContents: before,
                createdFiles: missing?.isEmpty == false ? missing : nil, createdDirectories: missingDirectories?.isEmpty == false ? missingDirectories : nil))
        let changes: [HostChange]
        var applied: AppliedWrite?
        if case .writeConfig(let write) = action {
            applied = try await apply(write)
            changes = applied?.changes ?? []
        } else {
            changes = try await perform(action)
        }
        let summary = changes.isEmpty ? action.summary : changes.map(\.description).joined(separator: "; ")
        // The directories the write created: those missing when it began that exist now.
        var createdDirectories: [String]?
        if case .writeConfig(let write) = action, let missingDirectories, !missingDirectories.isEmpty {
            let stillMissing = Set(try await self.missingDirectories(above: missing ?? [], on: write.server.host))
            createdDirectories = missingDirectories.filter { !stillMissing.contains($0) }
        }
        try record(
            ExecutionEvent(
                kind: .actionFinished, step: step.id, action: index, summary: summary, changed: changes.contains { $0.changed },
                previousContents: applied?.previous.isEmpty == false ? applied?.previous : nil,
                createdFiles: applied?.created.isEmpty == false ? applied?.created : nil,
                createdDirectories: createdDirectories?.isEmpty == false ? createdDirectories : nil,
                writtenFiles: applied?.written.isEmpty == false ? applied?.written : nil))
    }

    /// The directories above `paths` on `host` that do not exist, deepest first (each path's
    /// missing parent, its missing parent, and so on up to the first that exists).
    func missingDirectories(above paths: [String], on host: String) async throws -> [String] {
        Self.deepestFirst(try await hosts.driver(for: host).missingDirectories(above: paths))
    }

    /// Directories ordered so that each comes before every directory above it.
    static func deepestFirst(_ directories: some Sequence<String>) -> [String] {
        directories.sorted { ($0.split(separator: "/").count, $0) > ($1.split(separator: "/").count, $1) }
    }

    func service(_ ref: ServerRef) throws -> ServiceSpec {
        guard let server = plan.server(ref) else {
            throw ExecutionError(.actionFailed, "the plan has no \(ref)")
        }
        let commands = server.commands
        // A pod's StatefulSet is its service: the driver starts and stops it, no command does.
        if let own = try hosts.driver(for: ref.host).ownService() { return own }
        guard let start = commands.start, let stop = commands.stop, let status = commands.status else {
            throw ExecutionError(.actionFailed, "\(ref) has no \(commands.absentForService.joined(separator: ", ")) command; add them under commands: in the inventory")
        }
        return ServiceSpec(name: "zookeeper", start: start, stop: stop, restart: commands.restart, status: status, timeout: .seconds(120))
    }

    func perform(_ action: Action) async throws -> [HostChange] {
        switch action {
        case .writeConfig(let write):
            return try await apply(write).changes
        case .startServer(let ref):
            return [try await hosts.driver(for: ref.host).startService(try service(ref))]
        case .stopServer(let ref):
            return [try await hosts.driver(for: ref.host).stopService(try service(ref))]
        case .restartServer(let ref):
            return [try await hosts.driver(for: ref.host).restartService(try service(ref))]
        case .addFirewallRule(let rule):
            return [try await hosts.driver(for: rule.server.host).blockPeers(rule.peerBlock)]
        case .removeFirewallRule(let rule):
            return [try await hosts.driver(for: rule.server.host).unblockPeers(tag: rule.tag)]
        case .switchClient(let change):
            return try await clients.switchMember(change)
        case .stopClient(let client):
            return try await clients.stopMember(client)
        case .reconfig(let change):
            return [try await reconfigure(change)]
        case .copy(let copy):
            return [try await self.copy(copy)]
        case .moveAddress(let move):
            return try await self.move(move)
        case .wait(let pause):
            try await Task.sleep(for: pause.length.duration)
            return [HostChange(host: "-", changed: false, summary: "waited \(pause.length)")]
        }
    }

    /// After an interruption: whether an action whose effect cannot be repeated safely already
    /// took effect. Everything else is repeated (it is idempotent, or, for a restart, safe).
    func alreadyDone(_ action: Action) async throws -> Bool {
        switch action {
        case .switchClient(let change):
            return try await clients.hasSwitched(change)
        case .reconfig(let change):
            // Any serving server of either ensemble knows the committed configuration (the one the
            // request went through may have been removed by it).
            let everyServer = (plan.source.refs + plan.destination.refs).compactMap { gates.clientAddress($0)?.description }.joined(separator: ",")
            let text = try await gates.withClient(everyServer) { client in
                try await client.sync("/zookeeper/config")
                return try await client.getConfig().config
            }
            let current = DynamicConfig(parsing: text).servers
            let added = change.add.allSatisfy { line in current.contains { $0.id == line.id && $0.role == line.role } }
            let removed = change.remove.allSatisfy { id in !current.contains { $0.id == id } }
            return added && removed
        default:
            return false
        }
    }

    /// The server list and settings applied to the file on the host: every other line stays.
    /// Files are read and written as ISO-8859-1, as ZooKeeper reads them, so every byte the
    /// write does not change stays as it was. Returns what changed, what each changed file
    /// held before and the files it created (for a rollback). A rollback's restore also removes
    /// the files the run created (``ConfigWrite/removes``).
    func apply(_ write: ConfigWrite) async throws -> AppliedWrite {
        let driver = try hosts.driver(for: write.server.host)
        var changes: [HostChange] = []
        var previous: [String: String] = [:]
        var created: [String] = []
        var written: [String: String] = [:]
        func store(_ path: String, _ contents: String, replacing current: String?) async throws {
            let change = try await driver.writeLatin1(path, contents: contents)
            if change.changed {
                if let current { previous[path] = current } else { created.append(path) }
            }
            written[path] = ExecutionEvent.digest(of: contents)
            changes.append(change)
        }
        let removes = write.removes ?? []
        for path in removes {
            guard let current = try await driver.readLatin1(path) else {
                changes.append(HostChange(host: driver.host, changed: false, summary: "\(path) is already gone"))
                continue
            }
            let removed = try await driver.removeFile(path)
            previous[path] = current
            changes.append(HostChange(host: driver.host, changed: removed.changed, summary: "\(removed.summary), which the run created"))
        }
        if !removes.contains(write.configPath) {
            let current = try await driver.readLatin1(write.configPath)
            try await store(write.configPath, write.applied(to: current), replacing: current)
        }
        if let path = write.dynamicConfigPath {
            let currentDynamic = try await driver.readLatin1(path)
            if let text = write.appliedDynamic(to: currentDynamic) { try await store(path, text, replacing: currentDynamic) }
        }
        if let path = write.myidPath, let text = write.myidText {
            try await store(path, text, replacing: try await driver.readLatin1(path))
        }
        // A rollback's restore: the directories the run created, deepest first, each only when it
        // is empty now (never `rm -r`: a directory holding anything, the server's data, stays).
        for directory in Self.deepestFirst(write.removesDirectories ?? []) {
            let quoted = shellQuoted(directory)
            let outcome = try await driver.check(
                "if [ ! -d \(quoted) ]; then echo gone; elif [ -z \"$(ls -A -- \(quoted))\" ]; then rmdir -- \(quoted) && echo removed; else echo kept; fi",
                timeout: .seconds(60), operation: "remove \(directory), which the run created, if it is empty")
            switch outcome.trimmingCharacters(in: .whitespacesAndNewlines) {
            case "removed": changes.append(HostChange(host: driver.host, changed: true, summary: "removed the empty directory \(directory), which the run created"))
            case "gone": changes.append(HostChange(host: driver.host, changed: false, summary: "\(directory) is already gone"))
            default: changes.append(HostChange(host: driver.host, changed: false, summary: "kept \(directory), which the run created: it is not empty"))
            }
        }
        return AppliedWrite(changes: changes, previous: previous, created: created, written: written)
    }

    /// What a configuration write did: what changed, what each changed file held before, the files
    /// it created and the digest of what it left in each file it wrote (for the journal).
    struct AppliedWrite {
        var changes: [HostChange]
        var previous: [String: String]
        var created: [String]
        var written: [String: String]
    }

    /// What each file a write is about to change holds now, by path (a missing file is not
    /// listed): journaled before the write, so a rollback knows them even if the tool dies mid-write.
    func currentContents(of write: ConfigWrite) async throws -> [String: String] {
        let driver = try hosts.driver(for: write.server.host)
        var contents: [String: String] = [:]
        for path in [write.configPath, write.dynamicConfigPath, write.myidPath].compactMap({ $0 }) {
            if let text = try await driver.readLatin1(path) { contents[path] = text }
        }
        return contents
    }

    /// A dry run's view of an action: the config diff it would make, as the runbook shows it.
    func preview(_ action: Action) async throws -> String {
        guard case .writeConfig(let write) = action else { return "" }
        let driver = try hosts.driver(for: write.server.host)
        let current = try await driver.readLatin1(write.configPath)
        return Runbook.fileChange(path: write.configPath, before: current, after: write.applied(to: current)).map { "\n      " + $0 }.joined()
    }

    // MARK: Drift

    /// Checks that every file `steps` are the first of the plan to write (zoo.cfg, the dynamic
    /// file, myid) is as the plan observed it, or already as the write makes it (a resumed run).
    /// A file an earlier step wrote is the run's own (and ZooKeeper may rewrite it itself, e.g.
    /// after a reconfig): the journal knows what it held. Only plans made from discovered files
    /// are checked: an estate-less plan's previous texts are the planner's assumptions.
    func checkDrift(_ steps: [Step], state: JournalState) async throws {
        guard plan.estateFingerprint != nil, let first = steps.first, let start = plan.index(of: first.id) else { return }
        try await checkWrittenFiles()
        let earlierWrites = plan.steps[..<start].flatMap(\.actions).compactMap { action -> ConfigWrite? in
            if case .writeConfig(let write) = action { return write }
            return nil
        }
        var seen = Set(earlierWrites.flatMap { write in write.files.map { "\(write.server.host)#\($0.path)" } })
        for step in steps {
            let done = state.finishedActions[step.id] ?? []
            for (index, action) in step.actions.enumerated() {
                guard case .writeConfig(let write) = action, write.restoresExactly != true else { continue }
                for file in write.files {
                    let key = "\(write.server.host)#\(file.path)"
                    guard !seen.contains(key) else { continue }
                    seen.insert(key)
                    if done.contains(index) { continue }
                    let current = try await hosts.driver(for: write.server.host).readLatin1(file.path)
                    if current == file.found || current == file.written { continue }
                    let what = current == nil ? "it is gone" : file.found == nil ? "it was missing when planned, and now exists" : "changed since `mitosis plan`"
                    let diff = Runbook.fileChange(path: file.path, before: file.found ?? "", after: current ?? "").map { "  " + $0 }.joined(separator: "\n")
                    throw ExecutionError(
                        .drift, step: step.id,
                        "\(write.server.host):\(file.path) is not as the plan found it (\(what)); nothing was changed. What changed, from the plan's view to the host's:\n\(diff)\nPlan again from the hosts as they are (`mitosis plan`), or put the file back")
                }
            }
        }
    }

    /// Checks that every file this run (and the runs it resumes) already wrote holds exactly the
    /// bytes the journal says it left there (``ExecutionEvent/writtenFiles``): a hand edit between
    /// two steps, or between a crash and `--resume`, stops the run with a diff before anything
    /// else changes. The journal is read again, so the check sees this run's own writes.
    ///
    /// Left out: zoo.cfg and the dynamic file of a server whose written zoo.cfg enables reconfig
    /// (`reconfigEnabled=true`). ZooKeeper rewrites those itself when its membership changes (a
    /// reconfig, or a joiner syncing with its leader), so what they hold is the server's, not the
    /// run's. myid files are always checked.
    func checkWrittenFiles() async throws {
        let state = try journal.load()
        var expected: [String: (host: String, path: String, digest: String, step: StepID, write: ConfigWrite)] = [:]
        for event in state.events where event.kind == .actionFinished {
            guard let written = event.writtenFiles, let id = event.step, let index = event.action, let step = plan.step(id), step.actions.indices.contains(index),
                case .writeConfig(let write) = step.actions[index]
            else { continue }
            let reconfigurable = ZooKeeperConfig(parsing: write.text).reconfigEnabled == true
            for (path, digest) in written {
                if reconfigurable && (path == write.configPath || path == write.dynamicConfigPath) { continue }
                expected["\(write.server.host)#\(path)"] = (write.server.host, path, digest, id, write)
            }
        }
        for key in expected.keys.sorted() {
            guard let file = expected[key] else { continue }
            let current = try await hosts.driver(for: file.host).readLatin1(file.path)
            if let current, ExecutionEvent.digest(of: current) == file.digest { continue }
            // The text the write left, when the plan's view of it is what the journal recorded.
            let planned = file.write.files.first { $0.path == file.path }?.written
            let writtenText = planned.flatMap { ExecutionEvent.digest(of: $0) == file.digest ? $0 : nil }
            let what = current == nil ? "it is gone" : "it was changed by something other than this run"
            let diff =
                writtenText.map { text in
                    "What changed, from what step \(file.step) wrote to the host's:\n"
                        + Runbook.fileChange(path: file.path, before: text, after: current ?? "").map { "  " + $0 }.joined(separator: "\n")
                } ?? "It holds \(current.map { "bytes with SHA-256 \(ExecutionEvent.digest(of: $0).prefix(12))" } ?? "nothing"), not the bytes step \(file.step) wrote (SHA-256 \(file.digest.prefix(12)))."
            throw ExecutionError(
                .drift, step: file.step,
                "\(file.host):\(file.path) is not as step \(file.step) of this run left it (\(what)); nothing was changed. \(diff)\nPut back what the run wrote (the diff above), then --resume; or roll back (`mitosis rollback`)")
        }
    }

    /// Detaches the address on the old host, then attaches it on the new one (which announces
    /// it). Both halves are idempotent, so a move interrupted between them is simply repeated.
    /// The sandbox's driver records the new holder in the sandbox's state as it attaches.
    func move(_ move: AddressMove) async throws -> [HostChange] {
        if move.kind == .service {
            // Phase 1 (the service pointed at the host its server runs on now) creates the
            // service where it may not exist yet.
            if move.from == move.to, let server = plan.server(move.from) {
                return [try await hosts.createService(for: server, ensemble: plan.source.name, at: move.to.host)]
            }
            return [try await hosts.retargetService(move.address, to: move.to.host)]
        }
        if move.kind == .command {
            guard let commands = move.commands else { throw ExecutionError(.actionFailed, "the plan's move of \(move.address) has no commands; plan again") }
            func run(_ command: String, _ name: String, on host: String) async throws -> HostChange {
                let output = try await hosts.driver(for: host).check(
                    AddressCommands.invocation(command, address: move.address, from: move.from.host, to: move.to.host), timeout: .seconds(300),
                    operation: "\(name) \(move.address) (the inventory's stableAddress.\(name) command of server \(move.to.id))")
                let said = output.trimmingCharacters(in: .whitespacesAndNewlines)
                return HostChange(host: host, changed: name != "check", summary: "\(name) \(move.address): ran `\(command)`" + (said.isEmpty ? "" : " (\(said.suffix(200)))"))
            }
            return [
                try await run(commands.detach, "detach", on: move.from.host), try await run(commands.attach, "attach", on: move.to.host),
                try await run(commands.check, "check", on: move.to.host),
            ]
        }
        let detached = try await hosts.driver(for: move.from.host).detachAddress(move.address, prefixLength: move.prefixLength, device: move.device)
        let attached = try await hosts.driver(for: move.to.host).attachAddress(move.address, prefixLength: move.prefixLength, device: move.device)
        return [detached, attached]
    }

    func reconfigure(_ change: Reconfig) async throws -> HostChange {
        guard let address = gates.clientAddress(change.via) else { throw ExecutionError(.actionFailed, "the plan has no \(change.via)") }
        let joining = change.add.isEmpty ? nil : change.add.map { line in
            // reconfig's syntax: server.N=host:quorum:election[:role];[clientAddress:]clientPort
            var text = "server.\(line.id)=\(line.host):\(line.quorumPort):\(line.electionPort ?? 3888):\(line.role.rawValue)"
            if let port = line.clientPort { text += ";" + (line.clientAddress.map { "\($0):" } ?? "") + "\(port)" }
            return text
        }.joined(separator: ",")
        let leaving = change.remove.isEmpty ? nil : change.remove.map(\.description).joined(separator: ",")
        var attempt = 0
        while true {
            attempt += 1
            do {
                let result = try await gates.withClient(address.description) { try await $0.reconfig(joining: joining, leaving: leaving) }
                let membership = Membership(lines: DynamicConfig(parsing: result.config).servers)
                return HostChange(host: change.via.host, changed: true, summary: "\(change.command): configuration now \(membership)")
            } catch let error as ZooKeeperError where error.code == .connectionLoss || error.code == .sessionExpired || error.code == .operationTimeout {
                // Removing the leader ends its leadership while it answers: the reply is lost,
                // the change usually committed. Look before trying again.
                try await Task.sleep(for: .seconds(1))
                if (try? await alreadyDone(.reconfig(change))) == true {
                    return HostChange(host: change.via.host, changed: true, summary: "\(change.command): committed (the reply was lost: \(error.code))")
                }
                if attempt >= 5 { throw error }
            }
        }
    }

    func copy(_ copy: CopyAction) async throws -> HostChange {
        guard let source = plan.ensemble(named: copy.from), let destination = plan.ensemble(named: copy.to) else {
            throw ExecutionError(.actionFailed, "unknown ensemble in \(copy.summaryLine)")
        }
        let key = FollowKey(copy)
        switch copy.phase {
        case .initial:
            let types = await nodeTypes(of: source, for: destination)
            let report = try await fullCopy(copy, source: source, destination: destination, mirror: false, nodeTypes: types.map)
            return HostChange(
                host: copy.host, changed: report.written > 0,
                summary: "copied \(copy.path) from \(copy.from) to \(copy.to): \(report.created) created, \(report.dataUpdated) updated in \(Self.seconds(report.seconds)); \(types.note)")
        case .follow:
            guard let followers else {
                throw ExecutionError(.unsupportedAction, "following \(key) needs a run to host the follower; use MigrationExecutor.run()")
            }
            let types = await nodeTypes(of: source, for: destination)
            let initial = try await followers.start(key, source: source.connectionString(chroot: nil), destination: destination.connectionString(chroot: nil), nodeTypes: types.map)
            return HostChange(
                host: copy.host, changed: initial.written > 0,
                summary: "following \(key): the first full compare wrote \(initial.created) created, \(initial.dataUpdated + initial.aclsUpdated) updated, \(initial.deleted) deleted in \(Self.seconds(initial.seconds)); \(types.note); the source's changes are applied as they happen until the final catch-up")
        case .finalCatchUp:
            if let (report, status) = try await followers?.stop(key) {
                let final = report.finalCatchUp ?? report.initial
                var summary = "final catch-up of \(key) in \(Self.seconds(report.finalCatchUpSeconds)) (the copy's share of the block window): \(final.created) created, \(final.dataUpdated + final.aclsUpdated) updated, \(final.deleted) deleted; stopped following after applying \(status.changesApplied) changes"
                if status.attempts > 1 {
                    summary += " (the follower started \(status.attempts) times, each with a full compare; last error: \(status.lastError ?? "none"))"
                }
                return HostChange(host: copy.host, changed: final.written > 0, summary: summary)
            }
            // No follower ran (the plan has no follow phase): one full compare that mirrors.
            let report = try await fullCopy(copy, source: source, destination: destination, mirror: true)
            return HostChange(
                host: copy.host, changed: report.written > 0,
                summary: "final catch-up of \(key) in \(Self.seconds(report.seconds)) (a full compare; no follower ran): \(report.created) created, \(report.dataUpdated + report.aclsUpdated) updated, \(report.deleted) deleted")
        }
    }

    func fullCopy(_ copy: CopyAction, source: PlanEnsemble, destination: PlanEnsemble, mirror: Bool, nodeTypes: NodeTypeMap? = nil) async throws -> CopyReport {
        var options = CopyOptions()
        options.mirror = mirror
        options.nodeTypes = nodeTypes
        return try await gates.withClient(source.connectionString(chroot: nil)) { from in
            try await gates.withClient(destination.connectionString(chroot: nil)) { to in
                try await TreeCopier(source: TreeLocation(client: from, root: copy.path), destination: TreeLocation(client: to, root: copy.path), options: options).run()
            }
        }
    }

    static func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }

    /// The source's containers and TTL nodes, read from the first of its servers whose snapshot
    /// and logs its host driver can read (clients see both kinds as persistent), and a note
    /// for the step's summary saying what was read or why nothing was.
    func nodeTypes(of source: PlanEnsemble, for destination: PlanEnsemble) async -> (map: NodeTypeMap?, note: String) {
        guard source.version.supports(.containerNodes) else {
            return (nil, "no container or TTL nodes on \(source.name) (ZooKeeper \(source.version) has none)")
        }
        var failures: [String] = []
        for server in source.servers {
            do {
                let driver = try await hosts.driver(for: server.host)
                let map = try await ServerDataFiles.read(server, through: driver)
                if !map.kinds.isEmpty && !destination.version.supports(.containerNodes) {
                    return (nil, "containers: \(map.containers), TTL nodes: \(map.ttlNodes) on \(source.name), which ZooKeeper \(destination.version) cannot hold: copied as persistent")
                }
                return (map, "node types read from \(map.origin) through zxid \(map.zxid): containers: \(map.containers), TTL nodes: \(map.ttlNodes)")
            } catch {
                failures.append("\(server.host): \(error)")
            }
        }
        return (nil, "containers and TTL nodes copied as persistent: no source server's files could be read (\(failures.joined(separator: "; ")))")
    }

    /// A resumed run starts again the followers its journal shows started and not yet stopped by
    /// their final catch-up. A follower begins with a full compare, so what changed on the source
    /// while none ran is copied before the run goes on.
    func restartFollows(_ state: JournalState) async throws {
        for (step, index, copy) in Self.followsToRestart(plan: plan, journal: state) {
            let action = Action.copy(copy)
            let change: HostChange
            do {
                change = try await self.copy(copy)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let message = "cannot \(action.summary) again after the interruption: \(error); check that both ensembles serve, then run again with --resume"
                try? record(ExecutionEvent(kind: .failed, step: step, summary: message))
                throw ExecutionError(.actionFailed, step: step, message)
            }
            try record(ExecutionEvent(kind: .followRestarted, step: step, action: index, summary: "\(action.summary) again after the interruption: \(change.summary)", changed: change.changed))
        }
    }

    /// The follow actions a journal shows started (finished or interrupted) whose subtree's final
    /// catch-up has not finished.
    static func followsToRestart(plan: Plan, journal: JournalState) -> [(StepID, Int, CopyAction)] {
        var started: [(StepID, Int, CopyAction)] = []
        var caughtUp = Set<FollowKey>()
        for step in plan.steps {
            let touched = (journal.finishedActions[step.id] ?? []).union(journal.interruptedActions[step.id] ?? [])
            for (index, action) in step.actions.enumerated() {
                guard case .copy(let copy) = action else { continue }
                if copy.phase == .follow && touched.contains(index) { started.append((step.id, index, copy)) }
                if copy.phase == .finalCatchUp && journal.finishedActions[step.id]?.contains(index) == true { caughtUp.insert(FollowKey(copy)) }
            }
        }
        return started.filter { !caughtUp.contains(FollowKey($0.2)) }
    }
}

extension Action {
    /// Whether the action may run at the same time as the step's other actions.
    var runsTogether: Bool {
        switch self {
        case .writeConfig, .startServer, .stopServer, .restartServer, .addFirewallRule, .removeFirewallRule, .moveAddress: return true
        case .switchClient, .stopClient, .reconfig, .copy, .wait: return false
        }
    }
}

extension CopyAction {
    var summaryLine: String { "copy \(path) from \(from) to \(to)" }
}

extension CopyReport {
    /// Nodes created, updated (data or ACL) or deleted.
    var written: Int { created + dataUpdated + aclsUpdated + deleted }
}

extension ServerDataFiles {
    /// The node types in `server`'s own snapshot and logs, read through its host's driver.
    public static func read(_ server: ServerSpec, through driver: any HostDriver) async throws -> NodeTypeMap {
        try await read(
            dataDir: server.dataDir, dataLogDir: server.dataLogDir, origin: "\(server.host):\(server.dataDir)",
            list: { directory in try await driver.listDirectory(directory) ?? [] },
            read: { try await driver.readBytes($0) })
    }
}
