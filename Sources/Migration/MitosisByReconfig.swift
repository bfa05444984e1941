import Ensemble

/// Whether the source accepts `reconfig`, as the files on its hosts say (never the inventory's
/// say-so): mitosis joins the destination by reconfig only when every source server's own
/// `zoo.cfg` enables it.
public enum SourceReconfig: Sendable, Hashable, CustomStringConvertible {
    /// Every source server runs 3.5+ with `reconfigEnabled=true` (or 3.5.0–3.5.2, where it is the default).
    case enabled
    /// The releases have reconfig but the files do not enable it (the servers that do not, or why
    /// it is not known).
    case disabled(String)
    /// One of the releases is 3.4: no reconfig at all.
    case unavailable

    public var description: String {
        switch self {
        case .enabled: return "reconfig enabled on every source server"
        case .disabled(let why): return "reconfig off: \(why)"
        case .unavailable: return "no reconfig before ZooKeeper 3.5"
        }
    }

    /// Reads `reconfigEnabled` from each source server's zoo.cfg as discovery found it.
    public static func observe(source: PlanEnsemble, destination: PlanEnsemble, estate: ObservedEstate?) -> SourceReconfig {
        guard source.version.supports(.dynamicReconfiguration), destination.version.supports(.dynamicReconfiguration) else { return .unavailable }
        guard let estate else { return .disabled("no files were read from the hosts (plan from the inventory with discovery to use it)") }
        var off: [String] = []
        for server in source.servers.sorted(by: { $0.id < $1.id }) {
            guard let observed = estate.server(ensemble: source.name, id: server.id), let text = observed.config.text else {
                off.append("server \(server.id) (\(server.host): \(server.configPath) not read)")
                continue
            }
            let value = ZooKeeperConfig(parsing: text).reconfigEnabled ?? !source.version.reconfigNeedsExplicitEnable
            if !value { off.append("server \(server.id) (\(server.host):\(server.configPath) has no reconfigEnabled=true)") }
        }
        return off.isEmpty ? .enabled : .disabled(off.joined(separator: ", "))
    }
}

extension PlanBuilder {
    // MARK: mitosis by reconfig (3.5+, reconfigEnabled=true on the source)

    /// Mitosis without a restart of the source: the destination servers join as observers by
    /// `reconfig` (observers do not vote, so the source's voters, quorum and leader never change),
    /// clients move to them, a firewall splits them off, they restart together as their own
    /// ensemble (the one election the moving clients see), and the source drops them by
    /// `reconfig -remove` (no restart, no election for the clients that stay).
    mutating func mitosisByReconfig() throws(PlanningError) {
        notes.append(
            "the source enables reconfig (reconfigEnabled=true in every source server's zoo.cfg), so the destination servers join as observers by reconfig: no source server restarts, the join costs no election, and the clients that stay see none at the split")
        let join = try joinAsObservers(
            ObserverJoinTexts(
                preflight: "The destination's data is replaced by the source's, so it must hold nothing; its servers are stopped so that they only start again as observers of the source. The source must still allow reconfig.",
                configsTitle: "Write the destination servers' configurations: the source's members and themselves as observers",
                configs: "Each destination server lists the source's voters and the destination servers as observers, in a dynamic config file with reconfigEnabled=true. Nothing on the source changes.",
                start: "They connect to the source's leader and wait to be added; they do not vote, so the source's quorum is as it was.",
                observersTitle: "Add the destination servers to the source as observers (reconfig)",
                observers: "Observers replicate but do not vote: adding them, all at once, changes neither the source's voters nor its leader, so no client sees an election. They must have synced before any client moves to them."),
            gatesAfter: [.quorumHealthy(ensemble: source.name, servers: source.refs + destination.refs)])
        let sourceLines = source.servers.map { $0.line(clientPortInLine: true) }
        let joinerRefs = destination.servers.sorted { $0.id < $1.id }.map { destination.ref($0) }
        let via = join.via
        switchClients(
            to: destination,
            why: "The destination servers observe the source ensemble and serve its data: this member sees the same tree through them. Members move one at a time (a rolling restart of the client group).")

        try splitByReconfig(joinerRefs: joinerRefs, sourceLines: sourceLines, via: via)
    }

    /// The split of ``mitosisByReconfig()``: firewall, the destination's own configuration and
    /// election, then the source forgets the observers.
    private mutating func splitByReconfig(
        joinerRefs: [ServerRef], sourceLines: [QuorumServer], via: ServerRef
    ) throws(PlanningError) {
        windows.append(
            ImpactWindow(
                id: "split", clientGroups: movingGroups.map(\.name), expectedLength: options.splitWindow,
                reason: "from the firewall split until the destination has elected its own leader, the moved clients' servers (observers cut off from the source's leader) do not serve"))
        let rules = splitRules()
        add(
            Step(
                id: "split-firewall", title: "Split: firewall the destination servers off from the source",
                why: "The observers stop hearing from the source's leader and stop serving. The source's voters are unchanged and keep serving the clients that stay: no election for them.",
                gatesBefore: [.observersSynced(servers: joinerRefs), .quorumHealthy(ensemble: source.name, servers: source.refs + joinerRefs)]
                    + movingGroups.map { .clientGroupHealthy(group: $0.name) },
                actions: rules.map { .addFirewallRule($0) }, impact: .window(id: "split")))
        let destinationLines = destination.servers.map { $0.line(clientPortInLine: true) }
        var finalWrites: [Action] = []
        for server in destination.servers {
            finalWrites.append(try write(destination, server, lines: destinationLines, dynamic: true, myid: true))
        }
        add(
            Step(
                id: "split-configs", title: "Write the destination's own configuration",
                why: "The destination servers get the destination's own members, as participants, in a new dynamic config file. Written only now that the firewall separates the two sides. The source's files are not touched: it drops the observers by reconfig.",
                actions: finalWrites, impact: .window(id: "split")))
        let restartStep: StepID = "split-restart-destination"
        add(
            Step(
                id: restartStep, title: "Restart every destination server together",
                why: "They pick up the destination's members and elect their own leader, all of them holding the source's data: this is the one election the moving clients see. From here the two ensembles are separate and writes go to both: there is no way back without copying data.",
                actions: destination.servers.map { .restartServer(destination.ref($0)) },
                gatesAfter: [.quorumHealthy(ensemble: destination.name, servers: destination.refs)] + movingGroups.map { .clientGroupHealthy(group: $0.name) },
                impact: .window(id: "split")))
        pointOfNoReturn = restartStep
        add(
            Step(
                id: "split-remove-observers", title: "Remove the destination servers from the source's configuration (reconfig)",
                why: "Observers do not vote: removing them changes neither the source's quorum nor its leader, so the clients that stay see no election and no source server restarts. A write after the committed change makes every source server activate it.",
                gatesBefore: [sourceHealthy()],
                actions: [.reconfig(Reconfig(ensemble: source.name, via: via, remove: destination.servers.map(\.id)))],
                gatesAfter: [
                    .reconfigCommitted(ensemble: source.name, membership: Membership(lines: sourceLines)),
                    .writeAfterReconfig(ensemble: source.name, via: via),
                    sourceHealthy(),
                ]))
        removeSplitFirewall(rules)
    }

    /// The split's rules: each destination server cut off from every source server's quorum and
    /// election ports, both ways.
    func splitRules() -> [FirewallRule] {
        destination.servers.map { server in
            FirewallRule(
                server: destination.ref(server), localPorts: [server.quorumPort, server.electionPort],
                peers: source.servers.map { peer in
                    FirewallPeer(server: source.ref(peer), address: peer.address, ports: [peer.quorumPort, peer.electionPort])
                })
        }
    }

    /// The split's last step, once neither side lists the other's servers.
    mutating func removeSplitFirewall(_ rules: [FirewallRule]) {
        add(
            Step(
                id: "split-remove-firewall", title: "Remove the firewall rules",
                why: "Neither side lists the other's servers any more, so they cannot rejoin.",
                gatesBefore: [sourceHealthy(), .quorumHealthy(ensemble: destination.name, servers: destination.refs)],
                actions: rules.map { .removeFirewallRule($0) },
                gatesAfter: [sourceHealthy(), .quorumHealthy(ensemble: destination.name, servers: destination.refs)]))
    }

    /// What the steps of an observer join say (the two strategies that join by reconfig word them
    /// for what follows).
    struct ObserverJoinTexts {
        var preflight: String
        var configsTitle: String
        var configs: String
        var start: String
        var observersTitle: String
        var observers: String
    }

    /// The join that strategy reconfig and mitosis by reconfig share: the destination servers get
    /// the source's members plus themselves as observers in a dynamic config, start, and are added
    /// with one `reconfig -add …:observer`, gated on the committed configuration, a write after it
    /// and their sync. Returns the source server that ran the reconfig and the joint server lines.
    mutating func joinAsObservers(_ texts: ObserverJoinTexts, gatesAfter extra: [Gate] = []) throws(PlanningError) -> (via: ServerRef, lines: [QuorumServer]) {
        noteHazards(.learnerSnapshotSync, versions: [destination.version], context: "every joining destination server syncs by snapshot")
        notes.append(
            "reconfig must be called by a user allowed to: the super user, a user with write access to /zookeeper/config, or with skipACL=yes")
        assumeInitialConfigs()
        preflight(extraGates: [.reconfigEnabled(servers: source.refs)], why: texts.preflight)
        let sourceLines = source.servers.map { $0.line(clientPortInLine: true) }
        let joiners = destination.servers.sorted { $0.id < $1.id }
        let observerLines = joiners.map { $0.line(role: .observer, clientPortInLine: true) }
        var writes: [Action] = []
        for joiner in joiners {
            writes.append(try write(destination, joiner, lines: sourceLines + observerLines, dynamic: true, myid: true))
        }
        add(Step(id: "join-configs", title: texts.configsTitle, why: texts.configs, actions: writes))
        add(
            Step(
                id: "join-start", title: "Start the destination servers", why: texts.start,
                gatesBefore: [sourceHealthy()], actions: joiners.map { .startServer(destination.ref($0)) }))
        let via = source.ref(source.voters.sorted { $0.id < $1.id }[0])
        let lines = sourceLines + observerLines
        add(
            Step(
                id: "join-observers", title: texts.observersTitle, why: texts.observers,
                gatesBefore: [sourceHealthy()],
                actions: [.reconfig(Reconfig(ensemble: source.name, via: via, add: observerLines))],
                gatesAfter: [
                    .reconfigCommitted(ensemble: source.name, membership: Membership(lines: lines)),
                    .writeAfterReconfig(ensemble: source.name, via: via),
                    .observersSynced(servers: joiners.map { destination.ref($0) }),
                ] + extra))
        return (via, lines)
    }

    /// For a mitosis that joins by rolling restarts although both releases have reconfig: what
    /// enabling it would cost and save.
    func reconfigAdvice(_ reconfig: SourceReconfig) -> String? {
        guard case .disabled(let why) = reconfig else { return nil }
        let restarts = steps.flatMap(\.actions).filter { action in
            if case .restartServer(let server) = action { return server.ensemble == source.name }
            return false
        }.count
        return
            "the source runs ZooKeeper \(source.version), which has reconfig, but it is off (\(why)): this plan joins the destination by restarting source servers \(restarts) times (each drops its clients' connections, and each restart of the leader costs every client an election), including a rolling restart after the split that the clients that stay feel. Enabling reconfig costs one rolling restart of the source now (reconfigEnabled=true in every zoo.cfg, and a user allowed to reconfig, e.g. skipACL=yes or the super user); planned again, mitosis then adds the destination servers as observers by reconfig and removes them the same way: no source restart, no election at the join, none for the clients that stay, and the split is the one election the moving clients see"
    }
}
