public import Ensemble

/// Why a plan could not be made, and what to do instead.
public struct PlanningError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let unknownEnsemble = Code(rawValue: "unknown-ensemble")
        /// The ZooKeeper versions cannot do what the strategy needs (e.g. reconfig on 3.4).
        public static let unsupportedVersion = Code(rawValue: "unsupported-version")
        /// A known bug of the version breaks the strategy (see ``KnownHazard``).
        public static let versionHazard = Code(rawValue: "version-hazard")
        /// The sizes of the ensembles do not allow the strategy.
        public static let unsupportedSize = Code(rawValue: "unsupported-size")
        public static let destinationNotEmpty = Code(rawValue: "destination-not-empty")
        public static let serverIDConflict = Code(rawValue: "server-id-conflict")
        public static let addressMismatch = Code(rawValue: "address-mismatch")
        public static let invalidConfig = Code(rawValue: "invalid-config")
        public static let unknownClientGroup = Code(rawValue: "unknown-client-group")
        /// Block & copy into an ensemble holding data needs each moving group under a chroot.
        public static let chrootRequired = Code(rawValue: "chroot-required")
        /// The files discovery read on the hosts do not fit the inventory (see ``EstateProblem``).
        public static let estateRefused = Code(rawValue: "estate-refused")
    }

    public var code: Code
    public var strategy: StrategyKind
    /// What is wrong and what to do instead.
    public var message: String
    /// For ``Code/estateRefused``: every problem, each with its host, file and line.
    public var estateProblems: [EstateProblem]

    public init(_ code: Code, strategy: StrategyKind, _ message: String, estateProblems: [EstateProblem] = []) {
        self.code = code
        self.strategy = strategy
        self.message = message
        self.estateProblems = estateProblems
    }

    public var description: String { "cannot plan \(strategy): \(message)" }
}

/// Choices a planner leaves to the operator.
public struct PlanningOptions: Sendable, Hashable {
    /// The pause between two restarts of a rolling restart (Yelp: at least 10 seconds).
    public var rollingRestartPause: PlanDuration
    /// How long clients that move are expected to find no quorum at a mitosis split (the
    /// destination's restart and leader election).
    public var splitWindow: PlanDuration
    /// How long clients are expected to wait for a leader election when the server that leads
    /// stops (replace stops every server once, the leader's included).
    public var electionWindow: PlanDuration
    /// How long the clients are expected to be stopped for block & copy's final catch-up.
    public var copyBlockWindow: PlanDuration
    /// The host that runs `mitosis copy` for block & copy.
    public var copyHost: String
    /// `standaloneEnabled` on the servers (3.5+ default true): reconfig may not go below two voters.
    public var standaloneEnabled: Bool

    public init(
        rollingRestartPause: PlanDuration = .seconds(10), splitWindow: PlanDuration = .seconds(10),
        electionWindow: PlanDuration = .seconds(5), copyBlockWindow: PlanDuration = .seconds(120), copyHost: String = "localhost",
        standaloneEnabled: Bool = true
    ) {
        self.rollingRestartPause = rollingRestartPause
        self.splitWindow = splitWindow
        self.electionWindow = electionWindow
        self.copyBlockWindow = copyBlockWindow
        self.copyHost = copyHost
        self.standaloneEnabled = standaloneEnabled
    }
}

/// Makes plans. Pure: it reads the description of what exists and returns data.
public enum Planner {
    /// Plans a migration between two ensembles of an inventory.
    ///
    /// - Parameters:
    ///   - movingGroups: the client groups that move to the destination; nil means every group
    ///     that uses the source. The other groups using the source stay on it.
    ///   - destinationHoldsData: whether the destination already holds data (only `copy` allows it).
    ///   - estate: what discovery read on the hosts (``EstateDiscovery``). With it the plan is
    ///     refused when the files do not fit the inventory, its writes start from the real files
    ///     (keeping every other line), and it records the estate's fingerprint. Without it the
    ///     planner assumes files of its own (for tests and examples).
    public static func plan(
        _ strategy: StrategyKind, inventory: Inventory, source: String, destination: String,
        movingGroups: [String]? = nil, destinationHoldsData: Bool = false, options: PlanningOptions = PlanningOptions(),
        estate: ObservedEstate? = nil
    ) throws(PlanningError) -> Plan {
        guard let sourceSpec = inventory.ensemble(named: source) else {
            throw PlanningError(
                .unknownEnsemble, strategy: strategy,
                "the inventory has no ensemble named '\(source)'; it has \(inventory.ensembles.map(\.name).joined(separator: ", "))")
        }
        guard let destinationSpec = inventory.ensemble(named: destination) else {
            throw PlanningError(
                .unknownEnsemble, strategy: strategy,
                "the inventory has no ensemble named '\(destination)'; it has \(inventory.ensembles.map(\.name).joined(separator: ", "))")
        }
        let sourceGroups = inventory.clientGroups.filter { $0.ensemble == source }
        if let movingGroups {
            for name in movingGroups where !sourceGroups.contains(where: { $0.name == name }) {
                throw PlanningError(
                    .unknownClientGroup, strategy: strategy,
                    "no client group named '\(name)' uses ensemble '\(source)'; groups using it: \(sourceGroups.map(\.name).joined(separator: ", "))")
            }
        }
        let sourceEnsemble = planEnsemble(sourceSpec, data: .holdsData, running: true)
        let destinationEnsemble = planEnsemble(
            destinationSpec, data: destinationHoldsData ? .holdsData : .empty,
            running: strategy == .copy)
        let groups = sourceGroups.map { group in
            PlanClientGroup(
                name: group.name, chroot: group.chroot, moves: movingGroups.map { $0.contains(group.name) } ?? true, kind: group.kind,
                members: group.members.map { member in
                    PlanClientMember(
                        name: member.name, host: member.host, configPath: member.configPath,
                        connectionKey: member.connectionKey, restart: member.restart, stop: member.stop, healthCheck: member.healthCheck,
                        connectionString: inventory.currentConnectionString(for: sourceSpec, chroot: group.chroot).description,
                        format: member.format, switchCommand: member.switchCommand, verifyCommand: member.verifyCommand, match: member.match,
                        address: inventory.host(named: member.host)?.address ?? member.host)
                })
        }
        return try plan(strategy, source: sourceEnsemble, destination: destinationEnsemble, clientGroups: groups, options: options, estate: estate)
    }

    /// Plans a migration from ensembles and client groups already in plan form (see the
    /// inventory form for `estate`).
    public static func plan(
        _ strategy: StrategyKind, source: PlanEnsemble, destination: PlanEnsemble, clientGroups: [PlanClientGroup],
        options: PlanningOptions = PlanningOptions(), estate: ObservedEstate? = nil
    ) throws(PlanningError) -> Plan {
        try checkVersionPair(strategy, source: source, destination: destination)
        if let estate {
            let problems = EstateValidation.problems(
                source: source, destination: destination, estate: estate, destinationHoldsData: destination.initialData == .holdsData,
                strategy: strategy)
            if !problems.isEmpty {
                throw PlanningError(.estateRefused, strategy: strategy, EstateError(problems: problems).description, estateProblems: problems)
            }
        }
        var builder = PlanBuilder(strategy: strategy, source: source, destination: destination, groups: clientGroups, options: options)
        builder.estate = estate
        builder.sourceReconfig = SourceReconfig.observe(source: source, destination: destination, estate: estate)
        switch strategy {
        case .mitosis: try builder.mitosis(observers: false)
        case .mitosisObservers: try builder.mitosis(observers: true)
        case .replace: try builder.replace()
        case .reconfig: try builder.reconfig()
        case .copy: try builder.copy()
        }
        return builder.finish()
    }

    /// An inventory ensemble in plan form: its servers as the inventory has them (addresses
    /// resolved), without the inventory locations a plan's JSON does not carry.
    public static func planEnsemble(_ spec: EnsembleSpec, data: InitialData, running: Bool) -> PlanEnsemble {
        PlanEnsemble(
            name: spec.name, version: spec.version,
            servers: spec.servers.map { server in
                var server = server
                server.location = nil
                return server
            },
            initialData: data, initiallyRunning: running)
    }

    /// An inventory ensemble in plan form (the inventory is no longer needed: addresses are
    /// resolved as it is read).
    @available(*, deprecated, renamed: "planEnsemble(_:data:running:)")
    public static func planEnsemble(_ spec: EnsembleSpec, inventory: Inventory, data: InitialData, running: Bool) -> PlanEnsemble {
        planEnsemble(spec, data: data, running: running)
    }

    /// How many destination voters mitosis joins to an `n`-voter source for an `m`-voter
    /// destination, or nil when no number works.
    ///
    /// The joined servers (carriers) must be
    /// - a majority-blocking share of the destination (`k ≥ ⌈m/2⌉`), so that no quorum of the
    ///   destination can consist of empty (dormant) servers only: such a quorum could elect a
    ///   leader with no data and serve an empty tree to the moved clients;
    /// - fewer than the source's voters (`k ≤ n − 1`), so that the source servers alone stay a
    ///   strict majority of the joint configuration when the firewall cuts the carriers off, and
    ///   the carriers cannot elect a leader on their own;
    /// - when client groups stay on the source, few enough that the source still has a majority of
    ///   the joint configuration with one of its own servers down (`n − 1 ≥ ⌊(n+k)/2⌋ + 1`, i.e.
    ///   `k ≤ n − 3` for odd `n`): after the split the source servers are restarted one at a time
    ///   into their own server list, and until then they count the cut-off carriers as voters.
    /// The remaining `m − k` destination servers stay dormant until the split. Carriers are joined
    /// one per rolling restart, so that the majorities of the old and the new server list always
    /// intersect. 3→3 with no client staying gives Yelp's 2 joined + 1 dormant; 3→5 has no
    /// solution, nor 3→3 with clients staying (use the observer variant).
    public static func mitosisCarrierCount(sourceVoters n: Int, destinationVoters m: Int, clientsStay: Bool) -> Int? {
        let needed = (m + 1) / 2
        let allowed = clientsStay ? (0...n).last { k in n - 1 >= (n + k) / 2 + 1 } ?? -1 : n - 1
        return needed <= allowed && needed >= 1 ? needed : nil
    }
}

/// Builds a plan step by step, tracking what the planner believes each config file holds.
struct PlanBuilder {
    let strategy: StrategyKind
    let source: PlanEnsemble
    let destination: PlanEnsemble
    var groups: [PlanClientGroup]
    let options: PlanningOptions
    var steps: [Step] = []
    var windows: [ImpactWindow] = []
    var notes: [String] = []
    var pointOfNoReturn: StepID?
    /// The config text the planner believes is on each server's disk, keyed by "ensemble/id".
    var currentText: [String: String] = [:]
    var currentDynamic: [String: String] = [:]
    /// What discovery read; nil when the planner assumes the files.
    var estate: ObservedEstate?
    /// Whether the source's own files enable reconfig (mitosis then joins by reconfig).
    var sourceReconfig: SourceReconfig = .unavailable

    init(strategy: StrategyKind, source: PlanEnsemble, destination: PlanEnsemble, groups: [PlanClientGroup], options: PlanningOptions) {
        self.strategy = strategy
        self.source = source
        self.destination = destination
        self.groups = groups
        self.options = options
    }

    /// The plan; its point of no return waits first for the census of the source's sessions, so
    /// that no client the plan does not know is left on the source by the split. Every stop or
    /// restart of a server clients may use is declared (``ServerRestartImpact``).
    func finish() -> Plan {
        var (steps, windows) = ServerRestartImpact.declare(
            steps: steps, windows: windows, source: source.name, destination: destination.name, groups: groups,
            expectedLength: options.electionWindow)
        if let index = Self.censusStep(steps, pointOfNoReturn: pointOfNoReturn) {
            steps[index].gatesBefore.insert(.sessionsAccountedFor(ensemble: source.name, servers: source.refs), at: 0)
        }
        var plan = Plan(
            strategy: strategy, source: source, destination: destination, clientGroups: groups, steps: steps,
            pointOfNoReturn: pointOfNoReturn, impactWindows: windows, notes: notes)
        plan.estateFingerprint = estate?.fingerprint
        return plan
    }

    /// Where the census goes: before the split begins, which is the point of no return or, when
    /// the steps just before it are in the same window (mitosis: the firewall goes up, then the
    /// configs are written), the first of them. Once the firewall cuts the source from a leader
    /// among the destination's servers, the source's servers elect again and hold no sessions for
    /// a moment: a census taken then would see nobody and let the split go ahead.
    static func censusStep(_ steps: [Step], pointOfNoReturn: StepID?) -> Int? {
        guard let point = pointOfNoReturn, var index = steps.firstIndex(where: { $0.id == point }) else { return nil }
        let impact = steps[index].impact
        guard impact != .none else { return index }
        while index > 0, steps[index - 1].impact == impact { index -= 1 }
        return index
    }

    func fail(_ code: PlanningError.Code, _ message: String) -> PlanningError {
        PlanningError(code, strategy: strategy, message)
    }

    static func key(_ ensemble: PlanEnsemble, _ server: ServerSpec) -> String { "\(ensemble.name)/\(server.id)" }

    var movingGroups: [PlanClientGroup] { groups.filter(\.moves) }

    mutating func add(_ step: Step) { steps.append(step) }

    // MARK: Configs

    /// The four-letter words Mitosis asks servers (gates, status, discovery).
    static let fourLetterWords = ["srvr", "mntr", "conf", "ruok", "isro", "stat", "cons"]

    /// Renders `zoo.cfg` (and for dynamic configurations the dynamic file) for `server`: a new
    /// file, or, when `base` holds the file as it is, that file with the server list and the
    /// plan's settings applied and every other line kept.
    func render(
        _ server: ServerSpec, version: ZooKeeperVersion, lines: [QuorumServer], dynamic: Bool = false,
        extra: [String: String?] = [:], base: String? = nil
    ) -> (text: String, dynamicText: String?, settings: [String: String?]) {
        let existing = base.map(ZooKeeperConfig.init(parsing:))
        var config = existing ?? ZooKeeperConfig(
            tickTime: 2000, initLimit: 10, syncLimit: 5, dataDir: server.dataDir,
            clientPort: dynamic ? nil : server.clientPort, servers: dynamic ? [] : lines)
        var settings: [String: String?] = [:]
        func set(_ key: String, _ value: String?) {
            config.setValue(value, forKey: key)
            settings[key] = value
        }
        if let existing {
            // What ZooKeeper needs and the file lacks; the server's own paths and port, as the
            // inventory gives them (a destination file pointing at a source's dataDir is refused
            // at discovery, and rewritten here).
            for (key, value) in [(ZooKeeperConfig.Key.tickTime, "2000"), (ZooKeeperConfig.Key.initLimit, "10"), (ZooKeeperConfig.Key.syncLimit, "5")]
            where existing.value(forKey: key) == nil {
                set(key, value)
            }
            set(ZooKeeperConfig.Key.dataDir, server.dataDir)
            set(ZooKeeperConfig.Key.clientPort, dynamic ? nil : String(server.clientPort))
        }
        if let dataLogDir = server.dataLogDir { set(ZooKeeperConfig.Key.dataLogDir, dataLogDir) }
        if !dynamic, let address = server.clientAddress { set(ZooKeeperConfig.Key.clientPortAddress, address) }
        if version.reconfigNeedsExplicitEnable { set(ZooKeeperConfig.Key.reconfigEnabled, dynamic ? "true" : "false") }
        if version >= ZooKeeperVersion(3, 5, 3) {
            // Keep the operator's list (`*` stays `*`); add only the words Mitosis asks.
            let present = existing?.fourLetterWordWhitelist ?? []
            if !present.contains("*") {
                let missing = Self.fourLetterWords.filter { !present.contains($0) }
                if !missing.isEmpty || existing?.value(forKey: ZooKeeperConfig.Key.fourLetterWordWhitelist) == nil {
                    set(ZooKeeperConfig.Key.fourLetterWordWhitelist, (present + missing).joined(separator: ","))
                }
            }
        }
        let ownRole = lines.first { $0.id == server.id }?.role ?? server.role
        set(ZooKeeperConfig.Key.peerType, ownRole == .observer ? "observer" : nil)
        var dynamicText: String?
        if dynamic {
            let path = server.dynamicConfigPath ?? server.configPath + ".dynamic"
            set(ZooKeeperConfig.Key.dynamicConfigFile, path)
            if !options.standaloneEnabled { set(ZooKeeperConfig.Key.standaloneEnabled, "false") }
            dynamicText = DynamicConfig(servers: lines).rendered
        }
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) { set(key, value) }
        guard let base else { return (config.rendered, dynamicText, settings) }
        // The text is what the executor makes of the file: one function for both, so that the
        // runbook and the run agree to the byte.
        let text = ConfigWrite.applying(servers: dynamic ? [] : lines, settings: settings, to: base)
        return (text, dynamicText, settings)
    }

    /// A config write for `server`, checked with Ensemble's validation.
    mutating func write(
        _ ensemble: PlanEnsemble, _ server: ServerSpec, lines: [QuorumServer], version: ZooKeeperVersion? = nil,
        dynamic: Bool = false, extra: [String: String?] = [:], myid: Bool = false
    ) throws(PlanningError) -> Action {
        let version = version ?? ensemble.version
        let key = Self.key(ensemble, server)
        let rendered = render(server, version: version, lines: lines, dynamic: dynamic, extra: extra, base: estate == nil ? nil : currentText[key])
        let dynamicConfig = rendered.dynamicText.map { DynamicConfig(parsing: $0) }
        let diagnostics = ZooKeeperConfig(parsing: rendered.text).validate(
            version: version, myid: server.id, dynamicConfig: dynamicConfig, fileName: server.configPath)
        if let error = diagnostics.first(where: { $0.severity == .error }) {
            throw fail(
                .invalidConfig,
                "the config planned for \(ensemble.name) server \(server.id) would not work on ZooKeeper \(version): \(error.message); fix the inventory entry of server \(server.id)")
        }
        let action = Action.writeConfig(
            ConfigWrite(
                server: ensemble.ref(server), configPath: server.configPath, servers: lines, settings: rendered.settings,
                text: rendered.text, previousText: currentText[key],
                dynamicConfigPath: dynamic ? (server.dynamicConfigPath ?? server.configPath + ".dynamic") : nil,
                dynamicText: rendered.dynamicText, previousDynamicText: dynamic ? currentDynamic[key] : nil,
                myidPath: myid ? server.myidPath : nil, myid: myid ? server.id : nil,
                previousMyidText: myid ? estate?.server(ensemble: ensemble.name, id: server.id)?.myid.text : nil))
        currentText[key] = rendered.text
        if let dynamicText = rendered.dynamicText { currentDynamic[key] = dynamicText }
        return action
    }

    /// Records what the planner believes the initial config files hold.
    mutating func assumeInitialConfigs() {
        if let estate {
            // The files as discovery read them (a missing file stays unknown: it is written new).
            for ensemble in [source, destination] {
                for server in ensemble.servers {
                    let observed = estate.server(ensemble: ensemble.name, id: server.id)
                    currentText[Self.key(ensemble, server)] = observed?.config.text
                    // Only the file the plan writes: zoo.cfg may name another (ZooKeeper's own
                    // `zoo.cfg.dynamic.<version>`), which the plan replaces by its own.
                    let written = server.dynamicConfigPath ?? server.configPath + ".dynamic"
                    currentDynamic[Self.key(ensemble, server)] = observed?.dynamicConfig.flatMap { $0.path == written ? $0.text : nil }
                }
            }
            return
        }
        for ensemble in [source, destination] {
            let lines = ensemble.currentLines
            for server in ensemble.servers {
                currentText[Self.key(ensemble, server)] = render(server, version: ensemble.version, lines: lines).text
            }
        }
    }

    // MARK: Common steps

    func sourceHealthy() -> Gate { .quorumHealthy(ensemble: source.name, servers: source.refs) }

    /// Rejects hazards of `operation` on any of `versions`, with the hazard's advice.
    func refuseHazards(_ operation: MigrationOperation, versions: [ZooKeeperVersion], instead: String) throws(PlanningError) {
        for version in Set(versions).sorted() {
            if let hazard = version.hazards(for: operation).first {
                throw fail(
                    .versionHazard,
                    "ZooKeeper \(version) has \(hazard.id) (\(hazard.title)): \(hazard.advice). Instead: \(instead)")
            }
        }
    }

    mutating func noteHazards(_ operation: MigrationOperation, versions: [ZooKeeperVersion], context: String) {
        for version in Set(versions).sorted() {
            for hazard in version.hazards(for: operation) {
                notes.append("\(context) on ZooKeeper \(version): \(hazard.id) (\(hazard.title)) applies: \(hazard.advice)")
            }
        }
    }

    mutating func checkMixedVersions(instead: String) throws(PlanningError) {
        guard source.version != destination.version else { return }
        try refuseHazards(.mixedVersionEnsemble, versions: [source.version, destination.version], instead: instead)
        if source.version.line != destination.version.line {
            notes.append(
                "source servers run \(source.version) and destination servers \(destination.version) in one ensemble for a while; ZooKeeper supports mixed releases during rolling upgrades between adjacent release lines: rehearse this pair (mitosis rehearse) before running it")
        }
    }

    /// One step per client member: point it at `to` and restart it, then check the group.
    /// - Parameter named: how the title names the target (default: the ensemble's name).
    /// - Parameter everyGroup: switch the groups that stay on the source too (their servers stay,
    ///   only the addresses they are reached by change).
    mutating func switchClients(to ensemble: PlanEnsemble, named: String? = nil, everyGroup: Bool = false, why: String, impact: ClientImpact = .none) {
        for group in everyGroup ? groups : movingGroups {
            let target = ensemble.connectionString(chroot: group.chroot)
            for member in group.members {
                add(
                    Step(
                        id: StepID("switch-\(group.name)-\(member.name)"),
                        title: "Point \(group.name) member \(member.name) at \(named ?? ensemble.name)",
                        why: why,
                        gatesBefore: [.clientGroupHealthy(group: group.name)],
                        actions: [.switchClient(clientSwitch(group, member, to: target))],
                        gatesAfter: [.clientGroupHealthy(group: group.name)],
                        impact: impact))
            }
        }
    }

    func clientSwitch(_ group: PlanClientGroup, _ member: PlanClientMember, to target: String) -> ClientSwitch {
        ClientSwitch(
            client: ClientRef(group: group.name, member: member.name, host: member.host), configPath: member.configPath,
            connectionKey: member.connectionKey, from: member.connectionString, to: target, restart: member.restart)
    }

    /// Steps that restart `servers` one at a time, with a pause and a quorum check between them.
    /// The restart steps may run in any order (``Step/rollingRestart``), so their gates name no
    /// other server of the rolling restart: each asks that the restarted server serve again.
    ///
    /// - Parameter intoLargerList: the servers restart into a server list with new voters
    ///   (`joined`). A server restarted into it follows a leader only when a majority of the larger
    ///   list does, and a server not yet restarted cannot follow a new voter it does not list (if
    ///   the new voter, with the highest id, wins an election): so the gate after a restart asks
    ///   that the restarted server and `joined` serve under one leader, not every server (seen on
    ///   real 3.8 servers), and the executor restarts the leader last.
    /// - Parameter synced: each restarted server must also have caught up with the leader.
    mutating func rollingRestart(
        _ servers: [(PlanEnsemble, ServerSpec)], idPrefix: String, title: String, why: String,
        healthy: [ServerRef], ensembleName: String, intoLargerList joined: [ServerRef]? = nil, synced: Bool = false
    ) {
        for (index, (ensemble, server)) in servers.enumerated() {
            let gateBefore: Gate
            let gateAfter: Gate
            if let joined {
                gateBefore = .quorumHealthy(ensemble: ensembleName, servers: joined)
                gateAfter = .quorumHealthy(ensemble: ensembleName, servers: [ensemble.ref(server)] + joined)
            } else {
                gateBefore = .quorumHealthy(ensemble: ensembleName, servers: healthy)
                gateAfter = gateBefore
            }
            add(
                Step(
                    id: StepID("\(idPrefix)-restart-\(server.id)"),
                    title: "\(title): restart \(ensemble.name) server \(server.id)",
                    why: why,
                    gatesBefore: [gateBefore],
                    actions: [.restartServer(ensemble.ref(server))],
                    gatesAfter: [gateAfter] + (synced ? [.followersSynced(servers: [ensemble.ref(server)])] : []),
                    rollingRestart: idPrefix))
            if index + 1 < servers.count {
                add(
                    Step(
                        id: StepID("\(idPrefix)-pause-\(server.id)"),
                        title: "\(title): pause",
                        why: "A pause between restarts lets the restarted server settle before the next one goes down.",
                        actions: [.wait(Pause(options.rollingRestartPause, reason: "let server \(server.id) settle"))]))
            }
        }
    }
}
