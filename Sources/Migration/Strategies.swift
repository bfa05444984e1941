import Ensemble

extension PlanBuilder {
    // MARK: Shared checks

    func requireDistinctIDs(instead: String) throws(PlanningError) {
        let sourceIDs = Set(source.servers.map(\.id))
        if let clash = destination.servers.first(where: { sourceIDs.contains($0.id) }) {
            throw fail(
                .serverIDConflict,
                "\(strategy) puts destination servers into the source's configuration, so their ids must differ from the source's, but destination server \(clash.id) (\(clash.host)) has the same id as a source server; give the destination servers other ids (their myid files are written by the plan) or \(instead)")
        }
    }

    func requireEmptyDestination() throws(PlanningError) {
        if destination.initialData == .holdsData {
            throw fail(
                .destinationNotEmpty,
                "\(strategy) makes the destination servers sync from the source, which replaces whatever they hold, so the destination '\(destination.name)' must be empty; to move clients to an ensemble that already holds data use strategy copy (block & copy), or empty the destination's data directories first")
        }
    }

    /// Stop the destination servers (a no-op for servers not running) after checking they are empty.
    mutating func preflight(extraGates: [Gate] = [], why: String) {
        add(
            Step(
                id: "preflight",
                title: "Check the source, and stop the empty destination",
                why: why,
                gatesBefore: [sourceHealthy(), .destinationEmpty(servers: destination.refs)] + extraGates,
                actions: destination.servers.map { .stopServer(destination.ref($0)) },
                gatesAfter: [sourceHealthy()]))
    }

    // MARK: mitosis (Yelp)

    /// - Parameter carriersOverride: join this many destination voters instead of the number the
    ///   rule allows (only for showing, in tests, what the rule prevents).
    mutating func mitosis(observers: Bool, carriersOverride: Int? = nil) throws(PlanningError) {
        let n = source.voters.count
        let destinationVoters = destination.voters.sorted { $0.id < $1.id }
        if destination.servers.isEmpty || destinationVoters.isEmpty {
            throw fail(.unsupportedSize, "the destination '\(destination.name)' has no participants; list its servers in the inventory")
        }
        try requireDistinctIDs(instead: "use strategy replace to keep the ids")
        try requireEmptyDestination()
        let instead =
            observers
            ? "upgrade first, or with 3.5+ use strategy reconfig (membership changes without restarts)"
            : "upgrade first, or use strategy reconfig (3.5+, membership changes without restarts)"
        try refuseHazards(.membershipChangeByRollingRestart, versions: [source.version, destination.version], instead: instead)
        try checkMixedVersions(instead: "use strategy copy, which does not mix the releases in one ensemble")
        if sourceReconfig == .enabled, carriersOverride == nil {
            try mitosisByReconfig()
            return
        }
        var carriers: [ServerSpec]
        if observers {
            carriers = destination.servers.sorted { $0.id < $1.id }
        } else {
            let staying = groups.filter { !$0.moves }.map(\.name)
            guard
                let k = carriersOverride
                    ?? Planner.mitosisCarrierCount(
                    sourceVoters: n, destinationVoters: destinationVoters.count, clientsStay: !staying.isEmpty)
            else {
                let needed = (destinationVoters.count + 1) / 2
                let limit =
                    staying.isEmpty
                    ? "at most \(max(n - 1, 0)) may join the \(n) source voters (else the source loses its majority when the firewall splits them off)"
                    : "with client group\(staying.count > 1 ? "s" : "") \(staying.joined(separator: ", ")) staying on the source, at most \(max((0...n).last { n - 1 >= (n + $0) / 2 + 1 } ?? 0, 0)) may join the \(n) source voters (after the split the source servers still count the cut-off carriers as voters until each is restarted, and restarting one must leave a majority)"
                throw fail(
                    .unsupportedSize,
                    "mitosis joins k destination voters to the source: at least \(needed) of the destination's \(destinationVoters.count) voters must carry the data at the split (else a quorum of empty servers could elect a leader with no data), and \(limit); no k fits \(n)→\(destinationVoters.count). Use strategy mitosis-observers (destination servers join as observers, which never changes the source's quorum) or reconfig (3.5+)")
            }
            carriers = Array(destinationVoters.prefix(k))
        }
        noteHazards(.learnerSnapshotSync, versions: [destination.version], context: "every joining destination server syncs by snapshot")
        notes.append(
            "the firewall rules take effect host by host: a write a moved client makes through a destination server not yet cut off reaches only the servers still joined, so the joined servers may end with different last zxids. Restart the joined servers together so that every one of them takes part in the destination's first election (which prefers the highest zxid); the prover does not model zxid order, so this is on the operator and the rehearsal's lost-write count")
        assumeInitialConfigs()

        preflight(
            why: "The destination's data is replaced by the source's, so it must hold nothing; its servers are stopped so that they only start again as members of the joint ensemble.")

        let sourceLines = source.servers.map { $0.line(clientPortInLine: false) }
        var jointLines = sourceLines
        var joint: [(PlanEnsemble, ServerSpec)] = source.servers.map { (source, $0) }
        let sourceRefs = source.refs

        if observers {
            jointLines += carriers.map { $0.line(role: .observer, clientPortInLine: false) }
            var writes: [Action] = []
            for carrier in carriers {
                writes.append(try write(destination, carrier, lines: jointLines, myid: true))
            }
            for (ensemble, server) in joint {
                writes.append(try write(ensemble, server, lines: jointLines))
            }
            add(
                Step(
                    id: "join-configs", title: "Write the joint configuration: destination servers as observers",
                    why: "Every destination server joins the source ensemble as an observer: observers replicate but do not vote, so the source's voters and its quorum never change. Only files are written here; nothing restarts.",
                    gatesBefore: [sourceHealthy()], actions: writes, gatesAfter: []))
            add(
                Step(
                    id: "join-start", title: "Start the destination servers as observers",
                    why: "They connect to the source's leader and replicate its data.",
                    gatesBefore: [sourceHealthy()], actions: carriers.map { .startServer(destination.ref($0)) },
                    gatesAfter: [
                        .quorumHealthy(ensemble: source.name, servers: sourceRefs + carriers.map { destination.ref($0) }),
                        .followersSynced(servers: carriers.map { destination.ref($0) }),
                    ]))
            rollingRestart(
                joint, idPrefix: "join", title: "Rolling restart of the source",
                why: "The source servers learn about the observers (the observers' lines are in their configuration). One at a time, so the source keeps its quorum; the voters are the same before and after.",
                healthy: sourceRefs, ensembleName: source.name)
            joint += carriers.map { (destination, $0) }
            add(
                Step(
                    id: "join-synced", title: "Check that the observers have the source's data",
                    why: "Clients may only move to the destination servers once they serve the same data.",
                    gatesBefore: [], actions: [],
                    gatesAfter: [
                        .followersSynced(servers: carriers.map { destination.ref($0) }),
                        .quorumHealthy(ensemble: source.name, servers: joint.map { $0.0.ref($0.1) }),
                    ]))
        } else {
            for carrier in carriers {
                let running = joint.map { $0.0.ref($0.1) }
                jointLines.append(carrier.line(role: .participant, clientPortInLine: false))
                var writes: [Action] = [try write(destination, carrier, lines: jointLines, myid: true)]
                for (ensemble, server) in joint {
                    writes.append(try write(ensemble, server, lines: jointLines, version: ensemble.version))
                }
                add(
                    Step(
                        id: StepID("join-\(carrier.id)-configs"),
                        title: "Add destination server \(carrier.id) to the joint configuration",
                        why: "Destination server \(carrier.id) joins as a voter. One voter is added per round, so a majority of the old server list and a majority of the new one always share a server: whatever the order of the restarts, and whatever one server does if it crashes and comes back with the file on its disk, two leaders cannot be elected. Only files are written; nothing restarts.",
                        gatesBefore: [.quorumHealthy(ensemble: source.name, servers: running)], actions: writes))
                add(
                    Step(
                        id: StepID("join-\(carrier.id)-start"), title: "Start destination server \(carrier.id)",
                        why: "The new server starts first (Yelp: destination nodes before source nodes): restarting source servers into a larger server list before the new voter runs would leave them short of a majority of it.",
                        gatesBefore: [.quorumHealthy(ensemble: source.name, servers: running)],
                        actions: [.startServer(destination.ref(carrier))],
                        // The new server must follow the leader before any source server restarts:
                        // a restarted server (and the new one) joins the running leader only when a
                        // majority of its larger server list already follows it, and without the
                        // new server that is one short (seen on real 3.8 servers: both stay LOOKING).
                        gatesAfter: [
                            .quorumHealthy(ensemble: source.name, servers: running + [destination.ref(carrier)]),
                            .followersSynced(servers: [destination.ref(carrier)]),
                        ]))
                rollingRestart(
                    joint, idPrefix: "join-\(carrier.id)", title: "Rolling restart for server \(carrier.id)",
                    why: "Each server of the joint ensemble picks up the server list with \(carrier.id) in it. One at a time, with a pause, so a quorum is always up.",
                    healthy: running + [destination.ref(carrier)], ensembleName: source.name, intoLargerList: [destination.ref(carrier)])
                joint.append((destination, carrier))
                add(
                    Step(
                        id: StepID("join-\(carrier.id)-synced"), title: "Check that server \(carrier.id) has the source's data",
                        why: "The next round, and the clients, rely on this server holding the source's data.",
                        actions: [],
                        gatesAfter: [
                            .followersSynced(servers: [destination.ref(carrier)]),
                            .quorumHealthy(ensemble: source.name, servers: joint.map { $0.0.ref($0.1) }),
                        ]))
            }
        }

        switchClients(
            to: destination,
            why: "The destination servers are members of the source ensemble and serve its data: this member sees the same tree through them. Members move one at a time (a rolling restart of the client group).")

        // The split.
        let moving = movingGroups.map(\.name)
        windows.append(
            ImpactWindow(
                id: "split", clientGroups: moving, expectedLength: options.splitWindow,
                reason: "from the firewall split until the destination has elected its own leader, the moved clients' servers are a minority of the joint ensemble and do not serve"))
        let carrierRefs = carriers.map { destination.ref($0) }
        let rules = splitRules()
        let dormant = destination.servers.filter { server in !carriers.contains { $0.id == server.id } }
        add(
            Step(
                id: "split-firewall", title: "Split: firewall the destination servers off from the source",
                why: observers
                    ? "The observers stop hearing from the source's leader. The source's voters are unchanged and keep serving the clients that stay."
                    : "The \(carriers.count) joined destination servers are a minority of the joint ensemble's \(n + carriers.count) voters, so they stop serving, and the \(n) source servers keep a majority and keep serving the clients that stay.",
                gatesBefore: [
                    .followersSynced(servers: carrierRefs), .quorumHealthy(ensemble: source.name, servers: joint.map { $0.0.ref($0.1) }),
                ] + movingGroups.map { .clientGroupHealthy(group: $0.name) },
                actions: rules.map { .addFirewallRule($0) }, impact: .window(id: "split")))
        var finalWrites: [Action] = []
        let destinationLines = destination.servers.map { $0.line(clientPortInLine: false) }
        for server in destination.servers {
            finalWrites.append(try write(destination, server, lines: destinationLines, myid: true))
        }
        for server in source.servers {
            finalWrites.append(try write(source, server, lines: sourceLines))
        }
        add(
            Step(
                id: "split-configs", title: "Write the final configurations",
                why: "The destination servers get the destination's own server list\(observers ? " (now as voters)" : "")\(dormant.isEmpty ? "" : ", including the dormant server\(dormant.count > 1 ? "s" : "") \(dormant.map(\.id.description).joined(separator: ","))"), the source servers their original one. Written only now that the firewall separates the two sides: a server that crashed and came back with its final file before the split could make a quorum with servers still on the joint list. Nothing restarts.",
                actions: finalWrites, impact: .window(id: "split")))
        let restartStep: StepID = "split-restart-destination"
        // The dormant servers hold nothing and never ran: when the carriers alone are a majority
        // of the destination's voters, they restart alone and serve the clients at once, and the
        // dormant servers start afterwards and sync from them (fewer JVMs starting in the window).
        let carriersAreAQuorum = !dormant.isEmpty && carriers.filter { $0.role == .participant }.count * 2 > destinationVoters.count
        let restarted = carriersAreAQuorum ? carriers : destination.servers
        add(
            Step(
                id: restartStep,
                title: carriersAreAQuorum ? "Restart the destination servers that carry the data, together" : "Restart every destination server together",
                why: carriersAreAQuorum
                    ? "They pick up the destination's server list and, a majority of its voters, elect their own leader among themselves, so the leader has the data. The dormant server\(dormant.count > 1 ? "s start" : " starts") next. From here the two ensembles are separate and writes go to both: there is no way back without copying data."
                    : "They pick up the destination's server list and elect their own leader; the servers that carried the data are a majority-blocking share of it, so the leader has the data. From here the two ensembles are separate and writes go to both: there is no way back without copying data.",
                actions: restarted.map { .restartServer(destination.ref($0)) },
                gatesAfter: [.quorumHealthy(ensemble: destination.name, servers: restarted.map { destination.ref($0) })]
                    + movingGroups.map { .clientGroupHealthy(group: $0.name) },
                impact: .window(id: "split")))
        if carriersAreAQuorum {
            add(
                Step(
                    id: "split-start-dormant", title: "Start the dormant destination server\(dormant.count > 1 ? "s" : "")",
                    why: "\(dormant.count > 1 ? "They join" : "It joins") the destination's leader and sync\(dormant.count > 1 ? "" : "s") its data; the clients are already served.",
                    gatesBefore: [.quorumHealthy(ensemble: destination.name, servers: carrierRefs)],
                    actions: dormant.map { .startServer(destination.ref($0)) },
                    gatesAfter: [
                        .followersSynced(servers: dormant.map { destination.ref($0) }),
                        .quorumHealthy(ensemble: destination.name, servers: destination.refs),
                    ]))
        }
        pointOfNoReturn = restartStep
        rollingRestart(
            source.servers.map { (source, $0) }, idPrefix: "split-source", title: "Restart the source",
            why: "The source servers drop the destination servers from their server list. One at a time, so the clients that stay keep their quorum.",
            healthy: sourceRefs, ensembleName: source.name)
        removeSplitFirewall(rules)
        if let advice = reconfigAdvice(sourceReconfig) { notes.append(advice) }
    }

    // MARK: replace (HubSpot, Zalando)

    mutating func replace() throws(PlanningError) {
        let sourceIDs = source.servers.map(\.id).sorted()
        let destinationIDs = destination.servers.map(\.id).sorted()
        guard sourceIDs == destinationIDs else {
            throw fail(
                .serverIDConflict,
                "replace moves each server one for one and keeps its myid, so the destination must have the same ids as the source (source \(sourceIDs.map(\.description).joined(separator: ",")), destination \(destinationIDs.map(\.description).joined(separator: ","))); to change the number of servers use strategy reconfig (3.5+) or mitosis")
        }
        for server in source.servers {
            guard let twin = destination.server(server.id) else { continue }
            if twin.address != server.address || twin.quorumPort != server.quorumPort
                || twin.electionPort != server.electionPort || twin.clientPort != server.clientPort
            {
                throw fail(
                    .addressMismatch,
                    "replace keeps every server behind a stable address, but destination server \(server.id) is at \(twin.address):\(twin.quorumPort):\(twin.electionPort) (client \(twin.clientPort)) and source server \(server.id) at \(server.address):\(server.quorumPort):\(server.electionPort) (client \(server.clientPort)); put server \(server.id) behind a stable address first (HubSpot: a ClusterIP service per server; Zalando: a movable network interface), give both servers that address in the inventory, or use strategy mitosis or reconfig")
            }
            if twin.host == server.host {
                throw fail(
                    .addressMismatch,
                    "destination server \(server.id) is on the same host (\(server.host)) as the source server it replaces; replace moves servers to new hosts")
            }
            if let held = server.stableAddress?.behindIt, let taken = twin.stableAddress?.behindIt, held != taken, held.kind != taken.kind {
                throw fail(
                    .addressMismatch,
                    "server \(server.id)'s stable address \(server.address) is \(held) on \(server.host) but \(taken) on \(twin.host); give both inventory entries the same stableAddress (kind \(held.kind.rawValue) or \(taken.kind.rawValue))")
            }
            if (server.stableAddress ?? twin.stableAddress)?.kind == .follows, server.commands.status == nil {
                // The no-move variant checks with it that the old server stays stopped (see FollowingAddressGates).
                throw fail(
                    .invalidConfig,
                    "server \(server.id)'s address \(server.address) follows its server by itself, and Mitosis checks that the old server on \(server.host) stays stopped while the new one starts and syncs, with its status command; give it one under commands: (e.g. status: systemctl is-active zookeeper)")
            }
            if let held = server.stableAddress?.behindIt, let taken = twin.stableAddress?.behindIt, held != taken {
                throw fail(
                    .addressMismatch,
                    "server \(server.id)'s stable address \(server.address) is \(held) on \(server.host) but \(taken) on \(twin.host); the move deletes it from one device and adds it to the other with one prefix length, so give both inventory entries the same device and prefixLength")
            }
        }
        try requireEmptyDestination()
        try checkMixedVersions(instead: "upgrade the source in place first, or use strategy copy")
        noteHazards(.learnerSnapshotSync, versions: [destination.version], context: "every new server syncs by snapshot")
        assumeInitialConfigs()
        notes.append(
            "the new servers listen on every address (quorumListenOnAllIPs=true): a stable address that is not bound on the host itself (a service address) cannot be bound directly")
        let moving = source.servers.filter { [.interface, .command].contains(($0.stableAddress ?? destination.server($0.id)?.stableAddress)?.kind) }
        let services = source.servers.filter { ($0.stableAddress ?? destination.server($0.id)?.stableAddress)?.kind == .service }
        if !services.isEmpty {
            notes.append(
                "the service\(services.count == 1 ? "" : "s") of server\(services.count == 1 ? "" : "s") \(services.map(\.id.description).joined(separator: ",")) \(services.count == 1 ? "is" : "are") pointed at the new host while neither server runs (a Kubernetes Endpoints change, which kube-proxy turns into DNAT rules on every node): peers and clients keep the service address, so no configuration and no client changes")
        }
        let following = source.servers.filter { ($0.stableAddress ?? destination.server($0.id)?.stableAddress)?.kind == .follows }
        if !following.isEmpty {
            notes.append(
                "the address\(following.count == 1 ? "" : "es") of server\(following.count == 1 ? "" : "s") \(following.map(\.id.description).joined(separator: ",")) \(following.count == 1 ? "follows its server by itself" : "follow their servers by themselves") (a DNS name or a Kubernetes Service with a selector): Mitosis moves nothing and checks the effect instead. The platform must point the address at whichever of the two servers runs (Kubernetes: a selector on the pod and publishNotReadyAddresses: true, so that peers reach it while it syncs), drop the old server when it stops, and nothing may start the old server again (disable its supervisor's restart, e.g. systemd Restart=always, before the run)")
        }
        if !moving.isEmpty {
            notes.append(
                "the stable address\(moving.count == 1 ? "" : "es") of server\(moving.count == 1 ? "" : "s") \(moving.map(\.id.description).joined(separator: ",")) move\(moving.count == 1 ? "s" : "") from the old host to the new one (ip addr del, ip addr add, gratuitous ARP; or the inventory's detach and attach commands) while neither server runs: peers and clients keep the address, so no configuration and no client changes")
        }
        preflight(why: "The new servers start empty and take their data from the ensemble; they must not run before their turn.")
        try behindServices()
        // Every server stops once, the leader's too: that one costs an election. Which server
        // leads is known only when the plan runs, so each stop is in the window.
        // Declared whether or not the inventory lists client groups: the clients are there all the same.
        windows.append(
            ImpactWindow(
                id: "leader-election", clientGroups: groups.map(\.name), expectedLength: options.electionWindow,
                reason: "when the server that leads stops, the others elect a new leader (once: the executor replaces the server that leads last, and the new servers have the same ids); until then no server serves, and requests in flight on any stopped server fail with connection loss"))
        let stopImpact = ClientImpact.window(id: "leader-election")
        let lines = source.servers.map { $0.line(clientPortInLine: false) }
        // Each server's replacement is one unit of the rolling restart "replace": the executor
        // replaces the server that leads last (one election in all), so the gates name the ids,
        // not which of each id's two servers runs by then.
        let ids = source.servers.map(\.id).sorted()
        let healthy = Gate.idsHealthy(ensemble: source.name, ids: ids)
        func unit(_ step: Step, _ id: ServerID) -> Step {
            var step = step
            step.rollingRestart = "replace"
            step.restartUnit = "replace-\(id)"
            return step
        }
        // From host addresses: a client nobody listed is still on them, and from the first stop
        // on it loses its servers one by one. The census is the last moment to find it.
        if source.startsOnHostAddresses {
            add(
                Step(
                    id: "replace-census", title: "Census of the sessions on the source, before the first server is replaced",
                    why: "Any server may be replaced first (the one that leads goes last): from the first stop on, a client still on the host addresses loses its servers one by one.",
                    gatesBefore: [.sessionsAccountedFor(ensemble: source.name, servers: source.refs)], actions: []))
        }
        for server in destination.servers.sorted(by: { $0.id < $1.id }) {
            guard let old = source.server(server.id) else { continue }
            let prepare = try write(
                destination, server, lines: lines, extra: [ZooKeeperConfig.Key.quorumListenOnAllIPs: "true"], myid: true)
            // An address that follows the server by itself: nothing moves it, the gates check the effect.
            let stableAddress = old.stableAddress ?? server.stableAddress
            let follows = stableAddress?.kind == .follows
            let followed = FollowingAddressGates(old: source.ref(old), new: destination.ref(server), address: "\(old.address):\(old.clientPort)", oldHost: old.host, newHost: server.host)
            add(
                unit(
                    Step(
                        id: StepID("replace-\(server.id)-prepare"), title: "Prepare the new server \(server.id) on \(server.host)",
                        why: "Same server list and same myid as the server it replaces; nothing runs yet.",
                        actions: [prepare]), server.id))
            add(
                unit(
                    Step(
                        id: StepID("replace-\(server.id)-stop-old"), title: "Stop the old server \(server.id) on \(old.host)",
                        why: "The old and the new server share id \(server.id) and its address: the old one must be down before the new one starts. The rest of the ensemble keeps a quorum."
                            + (follows ? " " + followed.stopWhy : ""),
                        gatesBefore: [healthy],
                        actions: [.stopServer(source.ref(old))], gatesAfter: follows ? followed.afterStop : [], impact: stopImpact), server.id))
            if let stable = stableAddress, !follows {
                let move = AddressMove(
                    address: old.address, kind: stable.kind, prefixLength: stable.prefixLength, device: stable.device, from: source.ref(old),
                    to: destination.ref(server), commands: stable.commands)
                let service = stable.kind == .service
                add(
                    unit(Step(
                        id: StepID("replace-\(server.id)-\(service ? "retarget-service" : "move-address")"),
                        title: service
                            ? "Point server \(server.id)'s service \(old.address) at \(server.host) instead of \(old.host)"
                            : "Move server \(server.id)'s address \(old.address) from \(old.host) to \(server.host)",
                        why: service
                            ? "Peers and clients reach server \(server.id) through the service at \(old.address) (kube-proxy sends its traffic to the endpoint): once the endpoint is \(server.host) they reach the new server without any change. Only while the old server is stopped: an old backend still serving behind its own address would vote as server \(server.id) beside the new one."
                            : "Peers and clients reach server \(server.id) at \(old.address): once it is on \(server.host) they reach the new server there without any change. Only while the old server is stopped: a server that lost its address while running would still vote as server \(server.id) through connections it opens itself.",
                        gatesBefore: [.serversStopped(servers: [source.ref(old)])],
                        actions: [.moveAddress(move)]), server.id))
            }
            add(
                unit(
                    Step(
                        id: StepID("replace-\(server.id)-start-new"), title: "Start the new server \(server.id) on \(server.host)",
                        why: "It syncs the data from the leader. The next server is replaced only once this one has caught up: two empty servers could otherwise be a quorum without the data."
                            + (follows ? " " + followed.startWhy : ""),
                        gatesBefore: follows ? followed.beforeStart : [],
                        actions: [.startServer(destination.ref(server))],
                        gatesAfter: (follows ? followed.afterStart : [.followersSynced(servers: [destination.ref(server)])]) + [healthy]), server.id))
        }
    }

    /// The gates of a replacement behind an address that follows the server by itself (a DNS
    /// name or a Kubernetes Service with a selector): Mitosis moves nothing, so it checks what the
    /// platform did, and the `why` of each step says what the platform must do.
    struct FollowingAddressGates {
        var old: ServerRef
        var new: ServerRef
        /// `address:clientPort`.
        var address: String
        var oldHost: String
        var newHost: String

        /// After the old server's stop: nothing serving answers at the address any more.
        var afterStop: [Gate] { [.addressReleased(address: address, server: old)] }
        var stopWhy: String {
            "The address \(address) follows the server by itself and Mitosis moves nothing, so after the stop it checks the effect: `srvr` at \(address) must get no answer from a serving server (the platform dropped \(oldHost), or nothing listens there any more). A serving answer means the old server still runs or something started it again."
        }
        /// Before the new server's start: the old one is still stopped.
        var beforeStart: [Gate] { [.serversStopped(servers: [old])] }
        /// After it: the old one still stopped, the server at the address synced, the old one still stopped.
        var afterStart: [Gate] { [.serversStopped(servers: [old]), .followersSynced(servers: [new]), .serversStopped(servers: [old])] }
        var startWhy: String {
            "The platform must point \(address) at \(newHost) once the new server exists (Kubernetes: the pod enters the Endpoints as soon as it exists, with publishNotReadyAddresses: true, so that its peers reach it while it syncs). Mitosis checks the effect, in this order: the old server on \(oldHost) is still stopped (a supervisor such as systemd Restart=always could have brought it back, and the address could then reach it instead of the new one); the server answering at \(address) follows the leader with a caught-up zxid; and the old server is stopped still. With the old server stopped before and after the sync check, the answer at the address came from the new one: the address reaches only a server that runs, and a supervisor that brought the old one back would keep it running, which the last check sees."
        }
    }

    // MARK: reconfig (3.5+)

    /// The releases were checked by ``Planner/checkVersionPair(_:source:destination:)``: both run 3.5+.
    mutating func reconfig() throws(PlanningError) {
        try refuseHazards(
            .reconfigAddParticipant, versions: [source.version, destination.version],
            instead: "upgrade to 3.5.3 or later first, or use strategy mitosis-observers")
        try requireDistinctIDs(instead: "use strategy replace to keep the ids")
        try requireEmptyDestination()
        try checkMixedVersions(instead: "use strategy copy, which does not mix the releases in one ensemble")
        if let staying = groups.first(where: { !$0.moves }) {
            throw fail(
                .unsupportedSize,
                "reconfig turns the source ensemble into the destination and removes the source servers, so client group \(staying.name) cannot stay on them; move it too, or use strategy mitosis-observers to leave it on a source that keeps running")
        }
        let destinationVoters = destination.voters.sorted { $0.id < $1.id }
        let minimum = options.standaloneEnabled ? 2 : 1
        if destinationVoters.count < minimum {
            throw fail(
                .unsupportedSize,
                "the destination has \(destinationVoters.count) participant\(destinationVoters.count == 1 ? "" : "s"); with standaloneEnabled=true (the default) reconfig cannot shrink an ensemble below two participants: add destination servers, or set standaloneEnabled=false on every server first")
        }
        let join = try joinAsObservers(
            ObserverJoinTexts(
                preflight: "reconfig changes membership without restarts; the source must allow it (reconfigEnabled=true) and the destination must be empty and stopped until it joins.",
                configsTitle: "Write the destination servers' configurations",
                configs: "Each lists the source ensemble and the destination servers as observers, in a dynamic config file with reconfigEnabled=true.",
                start: "They are not members yet; they connect to the source's leader and wait to be added.",
                observersTitle: "Add the destination servers as observers",
                observers: "Observers do not vote: adding them, all at once, leaves the source's quorum as it is. They sync before any of them is given a vote."))
        var lines = join.lines
        let via = join.via
        var members = source.refs + destination.refs
        for voter in destinationVoters {
            let promoted = voter.line(role: .participant, clientPortInLine: true)
            lines = lines.map { $0.id == voter.id ? promoted : $0 }
            add(
                Step(
                    id: StepID("promote-\(voter.id)"), title: "Promote destination server \(voter.id) to participant",
                    why: "One participant at a time: the majorities of the configurations before and after share a server, so no two leaders can be elected even if a server misses the change.",
                    gatesBefore: [.followersSynced(servers: [destination.ref(voter)]), .quorumHealthy(ensemble: source.name, servers: members)],
                    actions: [.reconfig(Reconfig(ensemble: source.name, via: via, add: [promoted]))],
                    gatesAfter: [
                        .reconfigCommitted(ensemble: source.name, membership: Membership(lines: lines)),
                        .writeAfterReconfig(ensemble: source.name, via: via),
                        .quorumHealthy(ensemble: source.name, servers: members),
                    ]))
        }
        switchClients(
            to: destination,
            why: "The destination servers are members of the ensemble and serve its data; members move one at a time.")
        let remover = destination.ref(destinationVoters[0])
        for old in source.servers.sorted(by: { $0.id < $1.id }) {
            lines.removeAll { $0.id == old.id }
            members.removeAll { $0.ensemble == source.name && $0.id == old.id }
            let step = StepID("remove-\(old.id)")
            if pointOfNoReturn == nil { pointOfNoReturn = step }
            add(
                Step(
                    id: step, title: "Remove source server \(old.id) from the ensemble",
                    why: "One server at a time, through a destination server. A write after the committed change makes every remaining server activate the new configuration before the removed one stops.",
                    gatesBefore: [.quorumHealthy(ensemble: source.name, servers: members)],
                    actions: [.reconfig(Reconfig(ensemble: source.name, via: remover, remove: [old.id]))],
                    gatesAfter: [
                        .reconfigCommitted(ensemble: source.name, membership: Membership(lines: lines)),
                        .writeAfterReconfig(ensemble: source.name, via: remover),
                    ]))
            add(
                Step(
                    id: StepID("remove-\(old.id)-stop"), title: "Stop source server \(old.id)",
                    why: "It is no longer a member.",
                    actions: [.stopServer(source.ref(old))],
                    gatesAfter: [.quorumHealthy(ensemble: source.name, servers: members)]))
        }
    }

    // MARK: copy (block & copy)

    mutating func copy() throws(PlanningError) {
        let moving = movingGroups
        if moving.isEmpty {
            throw fail(
                .unknownClientGroup,
                "block & copy moves client groups, and no group using '\(source.name)' moves; name the groups to move, or add them to the inventory")
        }
        if destination.initialData == .holdsData, let whole = moving.first(where: { ($0.chroot ?? "/") == "/" }) {
            throw fail(
                .chrootRequired,
                "block & copy copies each moving group's chroot and keeps the destination's copy of it identical to the source's, but client group \(whole.name) has no chroot: its tree is the whole of '\(source.name)', and copying it would delete or overwrite what '\(destination.name)' already holds; give the group a chroot (chroot: in the inventory, and the same suffix in its members' connection strings), or empty the destination and use strategy mitosis")
        }
        assumeInitialConfigs()
        let copied = moving.map { $0.chroot ?? "/" }
        notes.append(
            "block & copy makes \(copied.joined(separator: ", ")) on '\(destination.name)' identical to the source's: whatever '\(destination.name)' holds under \(copied.count == 1 ? "that path" : "those paths") now is replaced; everything else it holds stays as it is")
        add(
            Step(
                id: "preflight", title: "Check both ensembles",
                why: "Both ensembles serve on their own; nothing joins them. The destination keeps what it holds.",
                gatesBefore: [sourceHealthy(), .quorumHealthy(ensemble: destination.name, servers: destination.refs)],
                actions: []))
        func copies(_ phase: CopyPhase) -> [Action] {
            moving.map { group in
                .copy(
                    CopyAction(
                        from: source.name, to: destination.name, path: group.chroot ?? "/", phase: phase, group: group.name,
                        host: options.copyHost))
            }
        }
        func caughtUp() -> [Gate] {
            moving.map { .zxidCaughtUp(from: source.name, to: destination.name, path: $0.chroot ?? "/") }
        }
        add(
            Step(
                id: "copy-initial", title: "Copy the data",
                why: "The bulk copy runs while the clients keep working on the source.",
                actions: copies(.initial)))
        add(
            Step(
                id: "copy-follow", title: "Follow the source",
                why: "Changes are applied to the destination as they happen, so the final catch-up is short.",
                actions: copies(.follow), gatesAfter: caughtUp()))
        windows.append(
            ImpactWindow(
                id: "block", clientGroups: moving.map(\.name), expectedLength: options.copyBlockWindow,
                reason: "the moving clients are stopped from the block until they run again on the destination (final catch-up and restart)"))
        add(
            Step(
                id: "block", title: "Block: stop the moving clients",
                why: "No client may write to the source once the final catch-up begins: such a write would be lost.",
                gatesBefore: caughtUp(),
                actions: moving.flatMap { group in
                    group.members.map { .stopClient(ClientRef(group: group.name, member: $0.name, host: $0.host)) }
                },
                impact: .window(id: "block")))
        add(
            Step(
                id: "catch-up", title: "Final catch-up",
                why: "The last changes are copied; the copy then stops following.",
                actions: copies(.finalCatchUp), gatesAfter: caughtUp(), impact: .window(id: "block")))
        let switchStep: StepID = "switch"
        add(
            Step(
                id: switchStep, title: "Start the clients on the destination",
                why: "Every member starts with the destination's connection string; from here the destination holds writes the source does not have.",
                actions: moving.flatMap { group in
                    group.members.map { .switchClient(clientSwitch(group, $0, to: destination.connectionString(chroot: group.chroot))) }
                },
                gatesAfter: moving.map { .clientGroupHealthy(group: $0.name) }, impact: .window(id: "block")))
        pointOfNoReturn = switchStep
    }
}
