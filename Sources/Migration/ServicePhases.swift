public import Ensemble
import ZooKeeperProtocol

// HubSpot's phases 1–3: putting servers that peers and clients know by their host addresses
// behind their per-server services, before strategy replace moves them (phase 4).

extension ServerSpec {
    /// The address peers and clients use now, while the server is not yet behind its service
    /// (``StableAddress/hostAddress``); nil when they use ``address`` already.
    public var hostAddress: String? { stableAddress?.kind == .service ? stableAddress?.hostAddress : nil }

    /// The address in the peers' `server.N` lines and the clients' connection strings now.
    public var currentAddress: String { hostAddress ?? address }
}

extension PlanEnsemble {
    /// Whether some server is not yet behind its service (the plan starts with phases 1–3).
    public var startsOnHostAddresses: Bool { servers.contains { $0.hostAddress != nil } }

    /// The server list as the servers' files hold it now (host addresses where the servers are
    /// not yet behind their services).
    public var currentLines: [QuorumServer] {
        servers.map { server in
            var line = server.line(clientPortInLine: false)
            line.host = server.currentAddress
            return line
        }
    }

    /// The servers a connection string names, by their address or their host address.
    public func servers(namedIn connectionString: String) -> Set<ServerID> {
        guard let parsed = try? ConnectionString(parsing: connectionString) else { return [] }
        var found: Set<ServerID> = []
        for endpoint in parsed.servers {
            for server in servers where server.clientPort == endpoint.port {
                let names = [server.address, server.hostAddress, server.clientAddress].compactMap { $0?.lowercased() }
                if names.contains(endpoint.host.lowercased()) { found.insert(server.id) }
            }
        }
        return found
    }

    /// Whether a switch from `from` to `to` changes only how the clients reach the same servers
    /// (host addresses to service addresses, HubSpot's phase 2): `cons` on the servers cannot
    /// tell the two apart, so the switch is verified on the client's host (its sockets' peers).
    public func isServiceSwitch(from: String, to: String) -> Bool {
        guard startsOnHostAddresses, from != to else { return false }
        let before = servers(namedIn: from)
        return !before.isEmpty && before == servers(namedIn: to)
    }
}

extension PlanBuilder {
    /// HubSpot's phases 1–3, for servers whose peers and clients still use their host addresses:
    /// each service is pointed at the host its server runs on now; the clients move to the
    /// service addresses one member at a time; the servers get the service addresses in their
    /// server lines with `quorumListenOnAllIPs=true` and restart one at a time, each synced before
    /// the next (the leader last). Afterwards every server is behind its service, as replace's
    /// phase 4 expects.
    mutating func behindServices() throws(PlanningError) {
        let onHost = source.servers.filter { $0.hostAddress != nil }
        guard !onHost.isEmpty else { return }
        if let twin = destination.servers.first(where: { $0.hostAddress != nil }) {
            throw fail(
                .addressMismatch,
                "destination server \(twin.id) on \(twin.host) has stableAddress.hostAddress \(twin.hostAddress ?? ""), but only a source server can start on its host address: the new servers start behind their services; drop hostAddress from the destination's entries")
        }
        let sourceRefs = source.refs
        // Phase 1.
        for server in onHost {
            let ref = source.ref(server)
            add(
                Step(
                    id: StepID("service-\(server.id)-create"),
                    title: "Point server \(server.id)'s service \(server.address) at \(server.host), where it runs now",
                    why: "Phase 1 (HubSpot): the service (a ClusterIP with Endpoints, carrying the client, quorum and election ports) sends its traffic to the server's current host. Nobody uses the service yet: peers and clients still use \(server.hostAddress ?? ""), so nothing changes for them.",
                    gatesBefore: [sourceHealthy()],
                    actions: [
                        .moveAddress(
                            AddressMove(
                                address: server.address, kind: .service, prefixLength: 32, device: "", from: ref, to: ref))
                    ]))
        }
        // Phase 2.
        switchClients(
            to: source, named: "the service addresses", everyGroup: true,
            why: "Phase 2 (HubSpot): the member connects through the services, which point at the hosts the servers run on: it reaches the same servers and sees the same data. One member at a time; its connections through the services are seen on its own host.")
        // Phase 3.
        let serviceLines = source.servers.map { $0.line(clientPortInLine: false) }
        var writes: [Action] = []
        for server in source.servers {
            writes.append(try write(source, server, lines: serviceLines, extra: [ZooKeeperConfig.Key.quorumListenOnAllIPs: "true"]))
        }
        add(
            Step(
                id: "services-configs", title: "Write the service addresses into the servers' server lines",
                why: "Phase 3 (HubSpot): peers will reach each other through the services. A service address is on no interface of the host, so each server listens on every address (quorumListenOnAllIPs=true). The services point at the same hosts, so a server that restarts early from its new file reaches the same peers. Only files are written; nothing restarts.",
                gatesBefore: [sourceHealthy()], actions: writes))
        rollingRestart(
            source.servers.map { (source, $0) }, idPrefix: "services", title: "Rolling restart onto the service addresses",
            why: "Each server picks up the service addresses and quorumListenOnAllIPs. One at a time, each synced before the next, the leader last: the restart of the leader costs the one election of this phase.",
            healthy: sourceRefs, ensembleName: source.name, synced: true)
        // Declared here for every group: each has switched by now, but to the same servers.
        windows.append(
            ImpactWindow(
                id: "services-restart", clientGroups: groups.map(\.name), expectedLength: options.electionWindow,
                reason: "phase 3's rolling restart: each restarted server drops its clients' connections (they reconnect through another service), and the restart of the leader costs one election, during which no server serves",
                exemptsQuorum: false))
        for index in steps.indices where steps[index].rollingRestart == "services" {
            steps[index].impact = .window(id: "services-restart")
        }
        notes.append(
            "server\(onHost.count == 1 ? "" : "s") \(onHost.map(\.id.description).joined(separator: ",")) \(onHost.count == 1 ? "is" : "are") not yet behind \(onHost.count == 1 ? "its service" : "their services"): the plan first points each service at the host the server runs on (phase 1), switches the clients to the service addresses (phase 2) and the servers' lines, with quorumListenOnAllIPs=true, by one rolling restart (phase 3), then replaces the servers (phase 4)")
    }
}
