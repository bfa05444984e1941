import Ensemble
import Foundation
import Hosts
import MigrationPlanning
public import NIOCore
import Probes
import TreeCopy
import ZooKeeper
import ZooKeeperProtocol

/// Whether a gate held, and what was seen.
public struct GateResult: Sendable, Hashable, Codable {
    public var passed: Bool
    public var detail: String

    public init(passed: Bool, detail: String) {
        self.passed = passed
        self.detail = detail
    }
}

/// Checks a plan's gates against the real servers: four-letter words, client sessions, files on
/// the hosts. Every check reads; only `writeAfterReconfig` writes (one node, created and deleted).
public struct GateChecker: Sendable {
    public var plan: Plan
    public var hosts: any HostDirectory
    public var clients: any ClientGroupController
    public var eventLoopGroup: any EventLoopGroup
    /// The block & copy followers of the run, when the checker serves one.
    var followers: CopyFollowers?
    /// What the census accepts besides the plan's client groups.
    public var census = CensusPolicy()

    public init(plan: Plan, hosts: any HostDirectory, clients: any ClientGroupController, eventLoopGroup: any EventLoopGroup) {
        self.plan = plan
        self.hosts = hosts
        self.clients = clients
        self.eventLoopGroup = eventLoopGroup
    }

    func clientAddress(_ ref: ServerRef) -> ConnectionString.Server? {
        guard let server = plan.server(ref) else { return nil }
        // A source server not yet behind its service answers at its host address throughout: the
        // service may not exist yet (HubSpot's phase 1 creates it).
        let host = server.clientAddress.flatMap { isWildcardAddress($0) ? nil : $0 } ?? server.currentAddress
        return ConnectionString.Server(host: host, port: server.clientPort)
    }

    func srvr(_ ref: ServerRef) async -> Result<ServerStatus, FourLetterWordError>? {
        guard let address = clientAddress(ref) else { return nil }
        do {
            return .success(try await FourLetterWords.srvr(address, timeout: .seconds(2), group: eventLoopGroup))
        } catch {
            return .failure(error)
        }
    }

    public func evaluate(_ gate: Gate) async -> GateResult {
        do {
            return try await check(gate)
        } catch {
            return GateResult(passed: false, detail: "\(error)")
        }
    }

    func check(_ gate: Gate) async throws -> GateResult {
        switch gate {
        case .idsHealthy(let ensemble, let ids):
            // Each id's server is the one that answers at its address (the old and the new one
            // share it); asked by the destination's entry first, whose address is the stable one.
            var servers: [ServerRef] = []
            for id in ids {
                let refs = [plan.destination, plan.source].compactMap { ensemble in ensemble.server(id).map(ensemble.ref) }
                var answering: ServerRef?
                for ref in refs where answering == nil {
                    if case .success? = await srvr(ref) { answering = ref }
                }
                guard let chosen = answering ?? refs.first else { return GateResult(passed: false, detail: "server \(id) is in neither ensemble") }
                servers.append(chosen)
            }
            return try await check(.quorumHealthy(ensemble: ensemble, servers: servers))
        case .quorumHealthy(_, let servers):
            // One leader among them, every other one following or observing. (Zxid epochs do not
            // tell quorums apart: an idle follower reports the zxid of the last transaction it
            // logged, which may be from an earlier epoch.) An ensemble of one server has no
            // leader: it serves standalone.
            var leaders: [ServerRef] = []
            var problems: [String] = []
            for ref in servers {
                switch await srvr(ref) {
                case .success(let status)?:
                    if status.mode == .leader || (status.mode == .standalone && servers.count == 1) { leaders.append(ref) }
                    if status.mode == .readOnly { problems.append("server \(ref.id) is read-only") }
                    if status.mode == .standalone && servers.count > 1 { problems.append("server \(ref.id) runs standalone") }
                case .failure(let error)?: problems.append("server \(ref.id) does not serve (\(error.kind.rawValue))")
                case nil: problems.append("server \(ref.id) is not in the plan")
                }
            }
            if leaders.isEmpty && problems.isEmpty {
                // They may follow a leader that is not listed (e.g. a rolling restart's gate names
                // only the servers restarted so far): it must be the one leader of the plan's servers.
                // Servers sharing a (stable) address with one already asked answer the same: once each.
                var asked = Set(servers.compactMap { clientAddress($0)?.description })
                for ref in plan.source.refs + plan.destination.refs where !servers.contains(ref) {
                    guard let address = clientAddress(ref)?.description, asked.insert(address).inserted else { continue }
                    if case .success(let status)? = await srvr(ref), status.mode == .leader { leaders.append(ref) }
                }
                if leaders.count > 1 { problems.append("they follow one of \(leaders.count) leaders (\(leaders.map(\.id.description).joined(separator: ", "))), which srvr cannot tell apart") }
            }
            if leaders.isEmpty { problems.append("no leader") }
            if leaders.count > 1 && !problems.contains(where: { $0.hasPrefix("they follow") }) {
                problems.append("\(leaders.count) leaders: \(leaders.map(\.id.description).joined(separator: ", "))")
            }
            guard problems.isEmpty else { return GateResult(passed: false, detail: problems.joined(separator: "; ")) }
            if servers.count == 1 && leaders == servers { return GateResult(passed: true, detail: "server \(servers[0].id) serves on its own") }
            return GateResult(passed: true, detail: "servers \(servers.map(\.id.description).joined(separator: ",")) serve under leader \(leaders[0].id)")

        case .followersSynced(let servers), .observersSynced(let servers):
            let observersOnly = if case .observersSynced = gate { true } else { false }
            // The leader may be in either ensemble: look at every server of the plan.
            var leaderZxid: Zxid?
            for ref in plan.source.refs + plan.destination.refs {
                if case .success(let status)? = await srvr(ref), status.mode == .leader { leaderZxid = status.zxid }
            }
            guard let leaderZxid else { return GateResult(passed: false, detail: "no server leads") }
            var behind: [String] = []
            for ref in servers {
                switch await srvr(ref) {
                case .success(let status)?:
                    if observersOnly && status.mode != .observer {
                        behind.append("server \(ref.id) is \(status.mode.rawValue), not an observer (it should have joined without a vote: check peerType=observer and its line's :observer)")
                    } else if status.mode != .follower && status.mode != .observer && status.mode != .leader {
                        behind.append("server \(ref.id) is \(status.mode.rawValue)")
                    } else if status.zxid < leaderZxid && leaderZxid.counter != 0 {
                        // A newly elected leader reports its new epoch with counter 0 until the
                        // first transaction, while its followers report the last transaction they
                        // logged, from an earlier epoch. A follower serves only after it synced
                        // with the leader, so until then serving is being caught up.
                        behind.append("server \(ref.id) at \(status.zxid), leader at \(leaderZxid)")
                    }
                default:
                    // Behind an address that follows it, the platform may not point there yet.
                    let platform =
                        plan.server(ref).flatMap { $0.stableAddress?.kind == .follows ? $0 : nil }.map {
                            " at \($0.address):\($0.clientPort) (the address follows it by itself: check that the platform points it at \(ref.host), e.g. that the pod is in the Service's Endpoints or the DNS name resolves there)"
                        } ?? ""
                    behind.append("server \(ref.id) does not answer\(platform)")
                }
            }
            return GateResult(passed: behind.isEmpty, detail: behind.isEmpty ? "caught up with the leader's \(leaderZxid)" : behind.joined(separator: "; "))

        case .destinationEmpty(let servers):
            var found: [String] = []
            for ref in servers {
                // A server known by a stable address its host does not hold (yet) is not the one
                // that answers there: its files tell.
                if try await reachable(ref), case .success? = await srvr(ref), let address = clientAddress(ref) {
                    let children = try await withClient(address.description) { try await $0.getChildren("/") }
                    let extra = children.filter { $0 != "zookeeper" }
                    if !extra.isEmpty { found.append("server \(ref.id) holds /\(extra.sorted().prefix(3).joined(separator: ", /"))") }
                } else if let server = plan.server(ref) {
                    let driver = try hosts.driver(for: ref.host)
                    var files: [String] = []
                    for directory in [server.dataDir, server.dataLogDir].compactMap({ $0 }) {
                        let listing = try await driver.listDirectory(directory + "/version-2") ?? []
                        files += listing.filter { $0.hasPrefix("log.") || ($0.hasPrefix("snapshot.") && $0 != "snapshot.0") }
                    }
                    if !files.isEmpty { found.append("server \(ref.id) has transaction logs or snapshots (\(files.prefix(3).joined(separator: ", "))) in \(server.dataDir)/version-2") }
                }
            }
            return GateResult(passed: found.isEmpty, detail: found.isEmpty ? "no data besides /zookeeper" : found.joined(separator: "; ") + "; empty those data directories or plan with strategy copy")

        case .zxidCaughtUp(let from, let to, let path):
            guard let source = plan.ensemble(named: from), let destination = plan.ensemble(named: to) else {
                return GateResult(passed: false, detail: "unknown ensemble")
            }
            // While a follower runs, ACL differences wait for its final catch-up (ACL changes
            // fire no watch); once it has stopped, everything must match.
            let follower = followers?.status(FollowKey(from: from, to: to, path: path))
            let report = try await withClient(source.connectionString(chroot: nil)) { left in
                try await withClient(destination.connectionString(chroot: nil)) { right in
                    try await CatchUpCheck(
                        source: TreeLocation(client: left, root: path), destination: TreeLocation(client: right, root: path),
                        acceptACLDifferences: follower != nil
                    ).run()
                }
            }
            let following = follower.map { "; follower: \($0)" } ?? ""
            return GateResult(passed: report.caughtUp, detail: "\(path): \(report.summary)\(following)")

        case .clientGroupHealthy(let group):
            let (healthy, detail) = try await clients.health(of: group)
            return GateResult(passed: healthy, detail: detail)

        case .reconfigCommitted(let name, let membership):
            guard let ensemble = plan.ensemble(named: name) else { return GateResult(passed: false, detail: "unknown ensemble \(name)") }
            let text = try await withClient(ensemble.connectionString(chroot: nil)) { try await $0.getConfig().config }
            let actual = Membership(lines: DynamicConfig(parsing: text).servers)
            return GateResult(passed: actual == membership, detail: "configuration is \(actual)")

        case .writeAfterReconfig(_, let via):
            guard let address = clientAddress(via) else { return GateResult(passed: false, detail: "server \(via.id) is not in the plan") }
            try await withClient(address.description) { client in
                let path = "/mitosis-write-check-\(UUID().uuidString.prefix(8))"
                _ = try await client.create(path, data: [], mode: .ephemeral)
                try await client.delete(path)
            }
            return GateResult(passed: true, detail: "a write through server \(via.id) succeeded")

        case .reconfigEnabled(let servers):
            var off: [String] = []
            for ref in servers {
                guard let server = plan.server(ref) else { continue }
                let text = try await hosts.driver(for: ref.host).readFile(server.configPath) ?? ""
                if ZooKeeperConfig(parsing: text).reconfigEnabled != true { off.append("server \(ref.id)") }
            }
            return GateResult(passed: off.isEmpty, detail: off.isEmpty ? "reconfigEnabled=true" : "reconfigEnabled is not true on \(off.joined(separator: ", "))")

        case .sessionsAccountedFor(let ensemble, let servers):
            let addresses = servers.compactMap(clientAddress)
            let census = await SessionCensus.sample(rounds: self.census.rounds, interval: self.census.interval) {
                await SessionCensus.read(addresses, timeout: .seconds(5), group: eventLoopGroup)
            }
            // Replace from host addresses takes its census before phase 4, not before a split.
            let stakes =
                plan.source.startsOnHostAddresses
                ? "They still use the hosts' addresses: from the first old server stopped they lose their servers one by one. Switch them to the service addresses (\(plan.destination.connectionString(chroot: nil)))" : nil
            return census.judge(ensemble: ensemble, servers: addresses.map(\.description), owners: SessionOwner.members(of: plan) + self.census.owners, stakes: stakes)
        case .serversStopped(let servers):
            // Asked of the host itself (the inventory's status command): the address the server
            // would answer srvr on may already be elsewhere.
            var running: [String] = []
            for ref in servers {
                guard let server = plan.server(ref) else { return GateResult(passed: false, detail: "\(ref) is not in the plan") }
                let driver = try hosts.driver(for: ref.host)
                if let own = driver.ownService() {
                    if try await driver.serviceState(own) == .running { running.append("server \(ref.id) on \(ref.host)") }
                    continue
                }
                guard let status = server.commands.status else {
                    return GateResult(passed: false, detail: "\(ref) has no status command; add one under commands: in the inventory")
                }
                if try await driver.run(status, timeout: .seconds(30)).succeeded { running.append("server \(ref.id) on \(ref.host)") }
            }
            return GateResult(passed: running.isEmpty, detail: running.isEmpty ? "not running" : "\(running.joined(separator: ", ")) still running")
        case .addressReleased(let address, let ref):
            // Asked where the clients ask: through the address, as the platform routes it now.
            switch await srvr(ref) {
            case .success(let status)?:
                return GateResult(
                    passed: false,
                    detail: "\(address) still reaches a serving server (srvr: mode \(status.mode.rawValue), zxid \(status.zxid)): the old server on \(ref.host) still runs or was started again, or the platform points the address at another running server; stop it (and its supervisor's restart) and check what the platform points \(address) at")
            case .failure(let error)?: return GateResult(passed: true, detail: "nothing serves at \(address) (\(error.kind.rawValue))")
            case nil: return GateResult(passed: false, detail: "\(ref) is not in the plan")
            }
        }
    }

    /// Whether what answers at the server's address is the server: always, unless the address is
    /// a stable address that is not on the server's host.
    func reachable(_ ref: ServerRef) async throws -> Bool {
        guard let server = plan.server(ref), let stable = server.stableAddress else { return true }
        // The platform points the address at whichever server runs: what answers there may be the
        // other one, so only the server's own files tell.
        if stable.kind == .follows { return false }
        if stable.kind == .service { return try await hosts.serviceBackend(server.address) == ref.host }
        if stable.kind == .command, let commands = stable.commands {
            let check = AddressCommands.invocation(commands.check, address: server.address, from: ref.host, to: ref.host)
            return try await hosts.driver(for: ref.host).run(check, timeout: .seconds(60)).succeeded
        }
        return try await hosts.driver(for: ref.host).hasAddress(server.address, device: stable.device)
    }

    func withClient<T: Sendable>(_ connectionString: String, _ body: (ZooKeeperClient) async throws -> T) async throws -> T {
        try await ZooKeeperClient.withClient(
            ZooKeeperConfiguration(connectionString, sessionTimeout: .seconds(6)), timeout: .seconds(10), eventLoopGroup: eventLoopGroup, body)
    }
}
