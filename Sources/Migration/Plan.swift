public import Ensemble
import ZooKeeperProtocol

/// How a plan moves clients from one ensemble to another.
public enum StrategyKind: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Yelp's mitosis: destination servers join the source as voters (some stay dormant),
    /// replicate, take the clients, and are split off with firewall rules.
    case mitosis
    /// Mitosis with the destination servers joined as observers: the source's voters never change.
    case mitosisObservers = "mitosis-observers"
    /// HubSpot / Zalando: each server is replaced one for one behind a stable address, same `myid`.
    case replace
    /// ZooKeeper 3.5+ dynamic reconfiguration: add as observers, promote one at a time, remove.
    case reconfig
    /// Block & copy: copy and follow the data into a destination that already holds data,
    /// stop the clients for a final catch-up, switch them.
    case copy

    public var description: String { rawValue }
}

/// The name of a step, unique within a plan (e.g. `join-4`, `split-firewall`).
public struct StepID: RawRepresentable, Sendable, Hashable, Codable, Comparable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (lhs: StepID, rhs: StepID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A length of time in a plan, written to JSON as seconds.
public struct PlanDuration: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func seconds(_ seconds: Int64) -> PlanDuration { PlanDuration(milliseconds: seconds * 1000) }
    public init(_ duration: Duration) {
        milliseconds = duration.milliseconds
    }

    public var duration: Duration { .milliseconds(milliseconds) }
    public static func < (lhs: PlanDuration, rhs: PlanDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var description: String {
        if milliseconds % 1000 == 0 {
            let seconds = milliseconds / 1000
            if seconds >= 60 && seconds % 60 == 0 { return "\(seconds / 60) min" }
            return "\(seconds) s"
        }
        return "\(milliseconds) ms"
    }

    public init(from decoder: any Decoder) throws {
        let seconds = try decoder.singleValueContainer().decode(Double.self)
        milliseconds = Int64((seconds * 1000).rounded())
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if milliseconds % 1000 == 0 {
            try container.encode(milliseconds / 1000)
        } else {
            try container.encode(Double(milliseconds) / 1000)
        }
    }
}

// MARK: - What the plan is about

/// The plan's copy of the inventory's commands was a type of its own with the same four fields
/// and the same JSON; plans now carry ``ServiceCommands`` itself, and old plan files decode as
/// they are (their digests do not change).
@available(*, deprecated, renamed: "ServiceCommands")
public typealias ServiceCommandSet = ServiceCommands

/// A plan's `server.N` lines were a Codable mirror of ``QuorumServer``, with the same JSON;
/// plans now carry ``QuorumServer`` itself (which encodes the same keys), and old plan files decode
/// as they are (their digests do not change).
@available(*, deprecated, renamed: "QuorumServer")
public typealias ServerLineSpec = QuorumServer

extension QuorumServer {
    /// The line as a plan carries it (the role spelled out only for an observer).
    @available(*, deprecated, message: "a plan's lines are QuorumServer values; use the line itself")
    public init(_ server: QuorumServer) { self = server.spelledAsPlanned }

    @available(*, deprecated, message: "a plan's lines are QuorumServer values; use the line itself")
    public var quorumServer: QuorumServer { self }
}

/// Who votes and who observes, in one server's configuration.
public struct Membership: Sendable, Hashable, Codable, CustomStringConvertible {
    public var voters: [ServerID]
    public var observers: [ServerID]

    public init(voters: [ServerID], observers: [ServerID] = []) {
        self.voters = voters.sorted()
        self.observers = observers.sorted()
    }

    public init(lines: [QuorumServer]) {
        self.init(
            voters: lines.filter { $0.role == .participant }.map(\.id),
            observers: lines.filter { $0.role == .observer }.map(\.id))
    }

    /// The smallest number of voters that is a strict majority.
    public var quorumSize: Int { voters.count / 2 + 1 }

    public var description: String {
        let voterText = voters.map(\.description).joined(separator: ",")
        if observers.isEmpty { return "voters {\(voterText)}" }
        return "voters {\(voterText)} observers {\(observers.map(\.description).joined(separator: ","))}"
    }
}

/// A plan's servers were a type of their own with the inventory's fields (``address`` resolved)
/// and the same JSON; plans now carry ``ServerSpec`` itself, which encodes the same keys (not its
/// inventory ``ServerSpec/location``), and old plan files decode as they are (their digests do
/// not change).
@available(*, deprecated, renamed: "ServerSpec")
public typealias PlanServer = ServerSpec

/// What an ensemble holds before the plan starts.
public enum InitialData: String, Sendable, Hashable, Codable {
    /// Nothing but ZooKeeper's own `/zookeeper` node.
    case empty
    /// Data some client relies on.
    case holdsData = "holds-data"
}

/// An ensemble as the plan found it.
public struct PlanEnsemble: Sendable, Hashable, Codable {
    public var name: String
    public var version: ZooKeeperVersion
    public var servers: [ServerSpec]
    public var initialData: InitialData
    /// Whether its servers are running when the plan starts (as their own ensemble).
    public var initiallyRunning: Bool

    public init(
        name: String, version: ZooKeeperVersion, servers: [ServerSpec], initialData: InitialData,
        initiallyRunning: Bool
    ) {
        self.name = name
        self.version = version
        self.servers = servers
        self.initialData = initialData
        self.initiallyRunning = initiallyRunning
    }

    public func server(_ id: ServerID) -> ServerSpec? { servers.first { $0.id == id } }
    public var voters: [ServerSpec] { servers.filter { $0.role == .participant } }
    public var membership: Membership { Membership(lines: servers.map { $0.line(clientPortInLine: false) }) }
    public func ref(_ server: ServerSpec) -> ServerRef { ServerRef(ensemble: name, id: server.id, host: server.host) }
    public var refs: [ServerRef] { servers.map(ref) }

    /// `host:port,…` over every server's client address.
    public func connectionString(chroot: String?) -> String {
        servers.map { server in
            let host = server.clientAddress.flatMap { isWildcardAddress($0) ? nil : $0 } ?? server.address
            return (host.contains(":") ? "[\(host)]" : host) + ":\(server.clientPort)"
        }.joined(separator: ",") + (chroot ?? "")
    }
}

package func isWildcardAddress(_ address: String) -> Bool {
    address == "0.0.0.0" || address == "::" || address == "0:0:0:0:0:0:0:0"
}

/// One process of a client group.
public struct PlanClientMember: Sendable, Hashable, Codable {
    public var name: String
    public var host: String
    public var configPath: String
    public var connectionKey: String
    /// Restarts the member (and starts it when it is stopped).
    public var restart: String?
    /// Stops the member for block & copy's block window; nil when the inventory gives none.
    public var stop: String?
    public var healthCheck: String?
    /// The connection string the member uses when the plan starts.
    public var connectionString: String
    /// How the config file holds the connection string; nil for a `.properties` file.
    public var format: ClientConfigFormat?
    /// For format command: the operator's switch command (the new connection string is appended).
    public var switchCommand: String?
    /// For format command: exits 0 when the member uses the connection string appended to it.
    public var verifyCommand: String?
    /// How the member's connections are recognised in `cons`; nil: by its host's address.
    public var match: [ClientAddressMatch]?
    /// The member's host's address (what `cons` shows for its connections unless ``match`` says otherwise).
    public var address: String?

    public init(
        name: String, host: String, configPath: String, connectionKey: String = "zookeeper.connect",
        restart: String? = nil, stop: String? = nil, healthCheck: String? = nil, connectionString: String,
        format: ClientConfigFormat = .properties, switchCommand: String? = nil, verifyCommand: String? = nil, match: [ClientAddressMatch] = [],
        address: String? = nil
    ) {
        self.name = name
        self.host = host
        self.configPath = configPath
        self.connectionKey = connectionKey
        self.restart = restart
        self.stop = stop
        self.healthCheck = healthCheck
        self.connectionString = connectionString
        self.format = format == .properties ? nil : format
        self.switchCommand = switchCommand
        self.verifyCommand = verifyCommand
        self.match = match.isEmpty ? nil : match
        self.address = address
    }

    public var configFormat: ClientConfigFormat { format ?? .properties }
}

/// A client group and whether it moves.
public struct PlanClientGroup: Sendable, Hashable, Codable {
    public var name: String
    public var chroot: String?
    /// True for groups the plan moves to the destination; false for groups that stay on the source
    /// (they must keep their quorum throughout).
    public var moves: Bool
    /// Kafka brokers get Kafka's own health checks too; nil for any other group.
    public var kind: ClientGroupKind?
    public var members: [PlanClientMember]

    public init(name: String, chroot: String?, moves: Bool, kind: ClientGroupKind? = nil, members: [PlanClientMember]) {
        self.name = name
        self.chroot = chroot
        self.moves = moves
        self.kind = kind == .generic ? nil : kind
        self.members = members
    }

    public var isKafka: Bool { kind == .kafka }
}

// MARK: - References

/// A server a step acts on: which ensemble's server, and the host it runs on.
public struct ServerRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public var ensemble: String
    public var id: ServerID
    public var host: String

    public init(ensemble: String, id: ServerID, host: String) {
        self.ensemble = ensemble
        self.id = id
        self.host = host
    }

    public var description: String { "\(ensemble) server \(id) on \(host)" }
}

/// A member of a client group a step acts on.
public struct ClientRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public var group: String
    public var member: String
    public var host: String

    public init(group: String, member: String, host: String) {
        self.group = group
        self.member = member
        self.host = host
    }

    public var description: String { "\(group)/\(member) on \(host)" }
}

// MARK: - Actions

/// Writing a server's configuration: `zoo.cfg` (and for 3.5+ dynamic configurations, the
/// dynamic file) and its `myid`.
public struct ConfigWrite: Sendable, Hashable, Codable {
    public var server: ServerRef
    public var configPath: String
    /// The server list the file holds afterwards. The executor applies this to the file on the
    /// host (replacing only the `server.N` lines and ``settings``); ``text`` is what the planner
    /// expects the result to be, for the runbook and for checking.
    public var servers: [QuorumServer]
    /// Settings set (non-nil) or removed (nil) besides the server list, e.g. `peerType`.
    public var settings: [String: String?]
    public var text: String
    /// The file as the planner believes it is before this write, for a diff; nil when unknown.
    public var previousText: String?
    public var dynamicConfigPath: String?
    public var dynamicText: String?
    public var previousDynamicText: String?
    public var myidPath: String?
    public var myid: ServerID?
    /// The myid file as discovery found it before this write (nil when it was missing, or when
    /// the plan was not made from discovered files).
    public var previousMyidText: String?
    /// True for a rollback's restore: the executor writes ``text`` (and ``dynamicText``) byte for
    /// byte, as the journal recorded the files, instead of applying servers and settings.
    public var restoresExactly: Bool?
    /// For a rollback's restore: files the run created (they were missing before it), which the
    /// restore removes. When ``configPath`` is one of them, ``text`` is not written.
    public var removes: [String]?
    /// For a rollback's restore: directories the run created (they were missing before it), which
    /// the restore removes after ``removes``, each only when it is then empty.
    public var removesDirectories: [String]?

    public init(
        server: ServerRef, configPath: String, servers: [QuorumServer], settings: [String: String?] = [:],
        text: String, previousText: String?, dynamicConfigPath: String? = nil, dynamicText: String? = nil,
        previousDynamicText: String? = nil, myidPath: String? = nil, myid: ServerID? = nil, previousMyidText: String? = nil,
        restoresExactly: Bool? = nil, removes: [String]? = nil, removesDirectories: [String]? = nil
    ) {
        self.restoresExactly = restoresExactly
        self.removes = removes
        self.removesDirectories = removesDirectories
        self.previousMyidText = previousMyidText
        self.server = server
        self.configPath = configPath
        self.servers = servers
        self.settings = settings
        self.text = text
        self.previousText = previousText
        self.dynamicConfigPath = dynamicConfigPath
        self.dynamicText = dynamicText
        self.previousDynamicText = previousDynamicText
        self.myidPath = myidPath
        self.myid = myid
    }

    public var membership: Membership { Membership(lines: servers) }

    /// What the executor makes of `current` (the file on the host): the server list (none when a
    /// dynamic file holds it) and the settings applied, every other line kept. The planner
    /// computes ``text`` with it too, so runbook and run agree.
    public func applied(to current: String?) -> String {
        if restoresExactly == true { return text }
        return Self.applying(servers: dynamicConfigPath == nil ? servers : [], settings: settings, to: current ?? text)
    }

    /// What the executor makes of the dynamic file that holds `current`: its server list replaced
    /// (or, for a rollback's restore, ``dynamicText`` exactly). Nil when the write has no dynamic file.
    public func appliedDynamic(to current: String?) -> String? {
        guard dynamicConfigPath != nil else { return nil }
        if restoresExactly == true, let exact = dynamicText { return exact }
        var dynamic = DynamicConfig(parsing: current ?? dynamicText ?? "")
        dynamic.setServers(servers)
        return dynamic.rendered
    }

    /// What the myid file holds after the write; nil when the write has none.
    public var myidText: String? { myidPath == nil ? nil : myid.map { "\($0)\n" } }

    /// Each file the write changes: what the plan found in it (nil: missing) and what the write
    /// leaves in it. For drift checks, before the write runs.
    public var files: [(path: String, found: String?, written: String)] {
        var files = [(path: configPath, found: previousText, written: applied(to: previousText))]
        if let path = dynamicConfigPath, let written = appliedDynamic(to: previousDynamicText) {
            files.append((path, previousDynamicText, written))
        }
        if let path = myidPath, let written = myidText { files.append((path, previousMyidText, written)) }
        return files
    }

    static func applying(servers: [QuorumServer], settings: [String: String?], to text: String) -> String {
        var config = ZooKeeperConfig(parsing: text)
        config.setServers(servers)
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { config.setValue(value, forKey: key) }
        return config.rendered
    }
}

/// A peer a firewall rule cuts a server off from.
public struct FirewallPeer: Sendable, Hashable, Codable {
    public var server: ServerRef
    public var address: String
    /// The peer's quorum and election ports (what this host connects to).
    public var ports: [Int]

    public init(server: ServerRef, address: String, ports: [Int]) {
        self.server = server
        self.address = address
        self.ports = ports
    }
}

/// Rules on one host that reject ZooKeeper peer traffic between its server and `peers`, both ways.
public struct FirewallRule: Sendable, Hashable, Codable {
    public var server: ServerRef
    /// This server's own quorum and election ports (what the peers connect to).
    public var localPorts: [Int]
    public var peers: [FirewallPeer]

    public init(server: ServerRef, localPorts: [Int], peers: [FirewallPeer]) {
        self.server = server
        self.localPorts = localPorts
        self.peers = peers
    }

    /// The comment every rule carries, so that rules can be found and removed.
    public var tag: String { "mitosis-split-\(server.ensemble)-\(server.id)" }

    /// The iptables commands that add (`-A`) or delete (`-D`) the rules: exactly what the executor
    /// applies through a host driver (``peerBlock``).
    public func iptablesCommands(adding: Bool) -> [String] {
        peerBlock.iptablesCommands(adding: adding)
    }
}

extension FirewallRule {
    /// The rule as a host driver applies it.
    public var peerBlock: PeerBlock {
        PeerBlock(
            tag: tag, peers: peers.map(\.address), peerPorts: Array(Set(peers.flatMap(\.ports))).sorted(), localPorts: localPorts)
    }
}

/// Pointing one member of a client group at another connection string, and restarting it.
public struct ClientSwitch: Sendable, Hashable, Codable {
    public var client: ClientRef
    public var configPath: String
    public var connectionKey: String
    public var from: String
    public var to: String
    /// How the member is restarted to pick the new string up; nil when the inventory has none.
    public var restart: String?

    public init(client: ClientRef, configPath: String, connectionKey: String, from: String, to: String, restart: String?) {
        self.client = client
        self.configPath = configPath
        self.connectionKey = connectionKey
        self.from = from
        self.to = to
        self.restart = restart
    }
}

/// An incremental `reconfig`: servers to add (or re-add with a new role: promotion) and ids to remove.
public struct Reconfig: Sendable, Hashable, Codable {
    public var ensemble: String
    /// The server the request is sent to.
    public var via: ServerRef
    public var add: [QuorumServer]
    public var remove: [ServerID]

    public init(ensemble: String, via: ServerRef, add: [QuorumServer] = [], remove: [ServerID] = []) {
        self.ensemble = ensemble
        self.via = via
        self.add = add
        self.remove = remove
    }

    /// The `zkCli.sh` command line.
    public var command: String {
        var parts = ["reconfig"]
        if !add.isEmpty { parts.append("-add " + add.map(\.description).joined(separator: ",")) }
        if !remove.isEmpty { parts.append("-remove " + remove.map(\.description).joined(separator: ",")) }
        return parts.joined(separator: " ")
    }
}

/// A phase of block & copy.
public enum CopyPhase: String, Sendable, Hashable, Codable {
    /// The bulk copy, while clients keep writing to the source.
    case initial
    /// Start following the source: changes are applied to the destination as they happen.
    case follow
    /// With the clients stopped: the last changes, then stop following. Its length is the block window.
    case finalCatchUp = "final-catch-up"
}

/// One phase of copying a subtree from the source to the destination.
public struct CopyAction: Sendable, Hashable, Codable {
    public var from: String
    public var to: String
    /// The subtree copied (the client group's chroot, or `/`).
    public var path: String
    public var phase: CopyPhase
    /// The client group whose data this is.
    public var group: String
    /// The host the copy runs from (the one running `mitosis copy`).
    public var host: String

    public init(from: String, to: String, path: String, phase: CopyPhase, group: String, host: String) {
        self.from = from
        self.to = to
        self.path = path
        self.phase = phase
        self.group = group
        self.host = host
    }
}

/// Moving a server's stable address from one host to another. An interface address: `ip addr
/// del` on the host of the server that held it, `ip addr add` on the host of the server that
/// takes it over, and a gratuitous ARP so that neighbours learn the new link-layer address at
/// once (Zalando's movable network interface). A service address: the service's endpoint is
/// pointed at the new server's host (HubSpot's ClusterIP; kube-proxy rewrites the traffic).
/// Peers and clients keep the address, so nothing reconfigures.
public struct AddressMove: Sendable, Hashable, Codable {
    public var address: String
    /// How the address moves (an interface address or a service's endpoint).
    public var kind: StableAddress.Kind
    public var prefixLength: Int
    /// The device that carries the address on both hosts, e.g. `eth0` (empty for a service).
    public var device: String
    /// The server whose host holds the address; it must be stopped first.
    public var from: ServerRef
    /// The server (same id, another host) whose host takes the address.
    public var to: ServerRef
    /// For ``StableAddress/Kind/command``: the inventory's commands that move it.
    public var commands: AddressCommands?

    public init(
        address: String, kind: StableAddress.Kind = .interface, prefixLength: Int, device: String, from: ServerRef, to: ServerRef,
        commands: AddressCommands? = nil
    ) {
        self.commands = commands
        self.address = address
        self.kind = kind
        self.prefixLength = prefixLength
        self.device = device
        self.from = from
        self.to = to
    }

    enum CodingKeys: String, CodingKey { case address, kind, prefixLength, device, from, to, commands }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        address = try container.decode(String.self, forKey: .address)
        kind = try container.decodeIfPresent(StableAddress.Kind.self, forKey: .kind) ?? .interface
        prefixLength = try container.decode(Int.self, forKey: .prefixLength)
        device = try container.decode(String.self, forKey: .device)
        from = try container.decode(ServerRef.self, forKey: .from)
        to = try container.decode(ServerRef.self, forKey: .to)
        commands = try container.decodeIfPresent(AddressCommands.self, forKey: .commands)
    }

    /// `10.77.9.1/24`.
    public var cidr: String { "\(address)/\(prefixLength)" }

    /// The same move the other way (for a rollback).
    public var reversed: AddressMove {
        AddressMove(address: address, kind: kind, prefixLength: prefixLength, device: device, from: to, to: from, commands: commands)
    }
}

/// Time to let pass, and why.
public struct Pause: Sendable, Hashable, Codable {
    public var length: PlanDuration
    public var reason: String

    public init(_ length: PlanDuration, reason: String) {
        self.length = length
        self.reason = reason
    }
}

/// Something a step does to one host. Actions in one step may run in any order, or together.
public enum Action: Sendable, Hashable, Codable {
    case writeConfig(ConfigWrite)
    case startServer(ServerRef)
    case stopServer(ServerRef)
    /// Stop, then start: the server is down in between.
    case restartServer(ServerRef)
    case addFirewallRule(FirewallRule)
    case removeFirewallRule(FirewallRule)
    case switchClient(ClientSwitch)
    /// Stop one member of a client group (block & copy's block window).
    case stopClient(ClientRef)
    case reconfig(Reconfig)
    case copy(CopyAction)
    /// Move a stable address to the host of the server that replaces its holder.
    case moveAddress(AddressMove)
    /// Let time pass (e.g. between restarts of a rolling restart).
    case wait(Pause)

    /// The host the action runs on.
    public var host: String {
        switch self {
        case .writeConfig(let write): return write.server.host
        case .startServer(let server), .stopServer(let server), .restartServer(let server): return server.host
        case .addFirewallRule(let rule), .removeFirewallRule(let rule): return rule.server.host
        case .switchClient(let change): return change.client.host
        case .stopClient(let client): return client.host
        case .reconfig(let change): return change.via.host
        case .copy(let copy): return copy.host
        case .moveAddress(let move): return move.from.host
        case .wait: return "-"
        }
    }

    /// The servers the action touches (the server it runs on first).
    public var servers: [ServerRef] {
        switch self {
        case .writeConfig(let write): return [write.server]
        case .startServer(let server), .stopServer(let server), .restartServer(let server): return [server]
        case .addFirewallRule(let rule), .removeFirewallRule(let rule): return [rule.server] + rule.peers.map(\.server)
        case .switchClient, .stopClient, .copy, .wait: return []
        case .reconfig(let change): return [change.via]
        case .moveAddress(let move): return [move.from, move.to]
        }
    }

    /// A one-line summary.
    public var summary: String {
        switch self {
        case .writeConfig(let write):
            let myid = write.myid.map { ", myid \($0)" } ?? ""
            return "write \(write.server)'s config: \(write.membership)\(myid)"
        case .startServer(let server): return "start \(server)"
        case .stopServer(let server): return "stop \(server)"
        case .restartServer(let server): return "restart \(server)"
        case .addFirewallRule(let rule):
            return "on \(rule.server.host): reject peer traffic between \(rule.server) and \(Self.list(rule.peers.map(\.server)))"
        case .removeFirewallRule(let rule):
            return "on \(rule.server.host): remove the rules between \(rule.server) and \(Self.list(rule.peers.map(\.server)))"
        case .switchClient(let change): return "point \(change.client) at \(change.to) and restart it"
        case .stopClient(let client): return "stop \(client)"
        case .reconfig(let change): return "\(change.command) (via \(change.via))"
        case .copy(let copy):
            switch copy.phase {
            case .initial: return "copy \(copy.path) from \(copy.from) to \(copy.to)"
            case .follow: return "follow \(copy.path) from \(copy.from) into \(copy.to)"
            case .finalCatchUp: return "final catch-up of \(copy.path) into \(copy.to), then stop following"
            }
        case .moveAddress(let move) where move.kind == .service && move.from == move.to:
            return "point service \(move.address) at \(move.to.host), where server \(move.to.id) runs now (its stable address, not used yet)"
        case .moveAddress(let move) where move.kind == .service:
            return "point service \(move.address) at \(move.to.host) instead of \(move.from.host) (server \(move.to.id)'s stable address)"
        case .moveAddress(let move) where move.kind == .command:
            return "move \(move.address) from \(move.from.host) to \(move.to.host) with the inventory's commands (server \(move.to.id)'s stable address)"
        case .moveAddress(let move): return "move \(move.cidr) from \(move.from.host) to \(move.to.host) (server \(move.to.id)'s stable address)"
        case .wait(let pause): return "wait \(pause.length): \(pause.reason)"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case writeConfig, startServer, stopServer, restartServer, addFirewallRule, removeFirewallRule
        case switchClient, stopClient, reconfig, copy, moveAddress, wait
    }

    /// JSON: an object with one key, the kind of action, holding its details.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "an action is an object with exactly one key, e.g. {\"startServer\": {…}}"))
        }
        switch key {
        case .writeConfig: self = .writeConfig(try container.decode(ConfigWrite.self, forKey: key))
        case .startServer: self = .startServer(try container.decode(ServerRef.self, forKey: key))
        case .stopServer: self = .stopServer(try container.decode(ServerRef.self, forKey: key))
        case .restartServer: self = .restartServer(try container.decode(ServerRef.self, forKey: key))
        case .addFirewallRule: self = .addFirewallRule(try container.decode(FirewallRule.self, forKey: key))
        case .removeFirewallRule: self = .removeFirewallRule(try container.decode(FirewallRule.self, forKey: key))
        case .switchClient: self = .switchClient(try container.decode(ClientSwitch.self, forKey: key))
        case .stopClient: self = .stopClient(try container.decode(ClientRef.self, forKey: key))
        case .reconfig: self = .reconfig(try container.decode(Reconfig.self, forKey: key))
        case .copy: self = .copy(try container.decode(CopyAction.self, forKey: key))
        case .moveAddress: self = .moveAddress(try container.decode(AddressMove.self, forKey: key))
        case .wait: self = .wait(try container.decode(Pause.self, forKey: key))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .writeConfig(let value): try container.encode(value, forKey: .writeConfig)
        case .startServer(let value): try container.encode(value, forKey: .startServer)
        case .stopServer(let value): try container.encode(value, forKey: .stopServer)
        case .restartServer(let value): try container.encode(value, forKey: .restartServer)
        case .addFirewallRule(let value): try container.encode(value, forKey: .addFirewallRule)
        case .removeFirewallRule(let value): try container.encode(value, forKey: .removeFirewallRule)
        case .switchClient(let value): try container.encode(value, forKey: .switchClient)
        case .stopClient(let value): try container.encode(value, forKey: .stopClient)
        case .reconfig(let value): try container.encode(value, forKey: .reconfig)
        case .copy(let value): try container.encode(value, forKey: .copy)
        case .moveAddress(let value): try container.encode(value, forKey: .moveAddress)
        case .wait(let value): try container.encode(value, forKey: .wait)
        }
    }

    static func list(_ servers: [ServerRef]) -> String {
        let ensembles = Set(servers.map(\.ensemble))
        if ensembles.count == 1, let name = ensembles.first {
            return "\(name) servers " + servers.map(\.id.description).joined(separator: ",")
        }
        return servers.map { "\($0.ensemble) \($0.id)" }.joined(separator: ", ")
    }
}

// MARK: - Gates

/// A condition the executor checks before or after a step; the step does not start (or is not
/// done) until it holds. The prover assumes a gate, once passed, held.
public enum Gate: Sendable, Hashable, Codable {
    /// The listed servers are running and serve together in one quorum (`srvr` shows one leader
    /// and the others following or observing it).
    case quorumHealthy(ensemble: String, servers: [ServerRef])
    /// Each server follows or observes a leader and its zxid has caught up with the leader's.
    case followersSynced(servers: [ServerRef])
    /// The servers hold no znodes besides `/zookeeper`.
    case destinationEmpty(servers: [ServerRef])
    /// The copy in `to` has applied every transaction `from` had when the check began.
    case zxidCaughtUp(from: String, to: String, path: String)
    /// Every member of the group is running, connected and healthy (its own health check).
    case clientGroupHealthy(group: String)
    /// The ensemble's configuration (`/zookeeper/config`) is the given membership.
    case reconfigCommitted(ensemble: String, membership: Membership)
    /// One write through the new configuration succeeded after a reconfig, so that every server
    /// of the new configuration has activated it (before removed servers are stopped).
    case writeAfterReconfig(ensemble: String, via: ServerRef)
    /// `reconfigEnabled=true` on these servers (and the caller may reconfig).
    case reconfigEnabled(servers: [ServerRef])
    /// The servers are not running (their status command says so): e.g. before their stable
    /// address moves to another host.
    case serversStopped(servers: [ServerRef])
    /// The census before the point of no return: every session on these servers (`cons`) belongs
    /// to a member of a client group (moving or staying), to Mitosis itself, or to a client the
    /// operator leaves behind on purpose (`mitosis run --leave-behind`).
    case sessionsAccountedFor(ensemble: String, servers: [ServerRef])
    /// Each server observes a leader (`srvr` mode observer: it joined without a vote) and its
    /// zxid has caught up with the leader's.
    case observersSynced(servers: [ServerRef])
    /// Nothing serving answers `srvr` at `address` (`host:port`), the client address of `server`
    /// (an address that follows the server by itself, ``StableAddress/Kind/follows``): the
    /// platform dropped the stopped server, or nothing listens behind the address any more.
    case addressReleased(address: String, server: ServerRef)
    /// For each id, whichever server of that id runs (the old one or the one replacing it, which
    /// share its address) serves, all in one quorum: the gate of steps that run in any order
    /// (replace's units), which cannot name which of the two servers each id has by then.
    case idsHealthy(ensemble: String, ids: [ServerID])

    public var summary: String {
        switch self {
        case .quorumHealthy(let ensemble, let servers):
            return "\(ensemble) quorum healthy: servers \(servers.map(\.id.description).joined(separator: ",")) serve under one leader"
        case .followersSynced(let servers):
            return "synced: \(Action.list(servers)) follow the leader with a caught-up zxid"
        case .destinationEmpty(let servers): return "empty: \(Action.list(servers)) hold no znodes besides /zookeeper"
        case .zxidCaughtUp(let from, let to, let path): return "\(to) has caught up with \(from) under \(path)"
        case .clientGroupHealthy(let group): return "client group \(group) healthy: every member connected and its health check passing"
        case .reconfigCommitted(let ensemble, let membership): return "\(ensemble) configuration is \(membership)"
        case .writeAfterReconfig(let ensemble, let via): return "one write to \(ensemble) through server \(via.id) succeeded after the reconfig"
        case .reconfigEnabled(let servers): return "reconfigEnabled=true on \(Action.list(servers))"
        case .serversStopped(let servers): return "stopped: \(Action.list(servers)) not running"
        case .sessionsAccountedFor(_, let servers):
            return "census: every session on \(Action.list(servers)) belongs to a known client (a client group, Mitosis, or --leave-behind)"
        case .observersSynced(let servers): return "observing: \(Action.list(servers)) observe the leader (srvr mode observer) with a caught-up zxid"
        case .addressReleased(let address, let server): return "released: \(address) (\(server.ensemble) server \(server.id)'s address) reaches no serving server"
        case .idsHealthy(let ensemble, let ids):
            return "\(ensemble) quorum healthy: servers \(ids.map(\.description).joined(separator: ",")) (old or new, whichever runs) serve under one leader"
        }
    }
}

// MARK: - Steps and plans

/// How a step affects clients.
public enum ClientImpact: Sendable, Hashable, Codable {
    case none
    /// The step is part of a declared window (see ``Plan/impactWindows``).
    case window(id: String)
}

/// A time in which some client groups may find no serving quorum, declared with its expected length.
public struct ImpactWindow: Sendable, Hashable, Codable {
    public var id: String
    public var clientGroups: [String]
    public var expectedLength: PlanDuration
    public var reason: String
    /// Whether the prover exempts the groups from reaching a serving quorum during the window's
    /// steps. False for a window of connections dropped and an election (a server stopped or
    /// restarted while a quorum of servers stays up): clients feel it, but the quorum the prover
    /// checks must hold throughout, so the window hides no mistake in the plan.
    public var exemptsQuorum: Bool

    public init(id: String, clientGroups: [String], expectedLength: PlanDuration, reason: String, exemptsQuorum: Bool = true) {
        self.id = id
        self.clientGroups = clientGroups
        self.expectedLength = expectedLength
        self.reason = reason
        self.exemptsQuorum = exemptsQuorum
    }

    enum CodingKeys: String, CodingKey { case id, clientGroups, expectedLength, reason, exemptsQuorum }

    /// Plans written before `exemptsQuorum` existed exempt their windows' groups, as they did then.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        clientGroups = try container.decode([String].self, forKey: .clientGroups)
        expectedLength = try container.decode(PlanDuration.self, forKey: .expectedLength)
        reason = try container.decode(String.self, forKey: .reason)
        exemptsQuorum = try container.decodeIfPresent(Bool.self, forKey: .exemptsQuorum) ?? true
    }
}

/// One step: gates before, actions that may run in any order, gates after.
public struct Step: Sendable, Hashable, Codable {
    public var id: StepID
    public var title: String
    /// Why the step exists and why it is safe, for the person reading the runbook.
    public var why: String
    public var gatesBefore: [Gate]
    public var actions: [Action]
    public var gatesAfter: [Gate]
    public var impact: ClientImpact
    /// Steps that share this name each restart one server of one rolling restart, and may run in
    /// any order among themselves, in the places the plan gives them (``RollingRestarts``; the
    /// prover explores every such order, the steps between them stay in place): the executor
    /// restarts the current leader last, which spares an election per round and, when the servers
    /// restart into a larger server list, keeps the ones not yet restarted able to follow the leader.
    public var rollingRestart: String?
    /// Steps of one rolling restart that share this name are one unit (e.g. replace's prepare,
    /// stop, move and start of one server): they run one after another, and the executor orders
    /// whole units. Nil: the step is a unit of its own. Plans written without it read as before.
    public var restartUnit: String?

    public init(
        id: StepID, title: String, why: String, gatesBefore: [Gate] = [], actions: [Action], gatesAfter: [Gate] = [],
        impact: ClientImpact = .none, rollingRestart: String? = nil, restartUnit: String? = nil
    ) {
        self.id = id
        self.title = title
        self.why = why
        self.gatesBefore = gatesBefore
        self.actions = actions
        self.gatesAfter = gatesAfter
        self.impact = impact
        self.rollingRestart = rollingRestart
        self.restartUnit = restartUnit
    }
}

/// A migration as data: what exists, what it does step by step, and what clients will notice.
public struct Plan: Sendable, Hashable, Codable {
    /// The JSON layout version.
    public var format: Int
    public var strategy: StrategyKind
    public var source: PlanEnsemble
    public var destination: PlanEnsemble
    public var clientGroups: [PlanClientGroup]
    public var steps: [Step]
    /// The first step after which `mitosis rollback` can no longer return to the start; nil when
    /// every step can be undone.
    public var pointOfNoReturn: StepID?
    public var impactWindows: [ImpactWindow]
    /// Things the planner wants a person to know (version hazards that apply but are planned around).
    public var notes: [String]
    /// What the prover found when `mitosis plan` wrote this plan, with the digest of what it
    /// proved (see ``ProvenPlan``); nil until the plan is proved. Not part of the digest.
    public var proof: PlanProof?
    /// The SHA-256 fingerprint of the estate discovery read (``ObservedEstate/fingerprint``): the
    /// plan's config diffs are against those files. Nil for a plan made without discovery.
    public var estateFingerprint: String?

    public init(
        strategy: StrategyKind, source: PlanEnsemble, destination: PlanEnsemble, clientGroups: [PlanClientGroup],
        steps: [Step], pointOfNoReturn: StepID?, impactWindows: [ImpactWindow], notes: [String] = []
    ) {
        self.format = 1
        self.strategy = strategy
        self.source = source
        self.destination = destination
        self.clientGroups = clientGroups
        self.steps = steps
        self.pointOfNoReturn = pointOfNoReturn
        self.impactWindows = impactWindows
        self.notes = notes
    }

    public func step(_ id: StepID) -> Step? { steps.first { $0.id == id } }
    public func index(of id: StepID) -> Int? { steps.firstIndex { $0.id == id } }
    public func window(_ id: String) -> ImpactWindow? { impactWindows.first { $0.id == id } }
    public func clientGroup(_ name: String) -> PlanClientGroup? { clientGroups.first { $0.name == name } }

    /// The ensemble a reference names.
    public func ensemble(named name: String) -> PlanEnsemble? {
        if source.name == name { return source }
        if destination.name == name { return destination }
        return nil
    }

    public func server(_ ref: ServerRef) -> ServerSpec? { ensemble(named: ref.ensemble)?.server(ref.id) }
}

/// A plan's rolling restarts as the executor runs them (``Step/rollingRestart``).
///
/// The steps of a rolling restart hold fixed places in the plan (their positions); the steps of
/// other kinds (pauses, checks) stay where they are. The executor fills those places unit by unit,
/// in an order it chooses while it runs (the current leader's unit last): a unit's steps run in
/// their own order, one after another, in the next free places. Steps that share a
/// ``Step/restartUnit`` are one unit (they must follow one another among the group's steps); any
/// other step is a unit of its own.
/// The prover explores every such order; the executor makes only orders of this kind.
public struct RollingRestarts: Sendable, Hashable {
    public struct Group: Sendable, Hashable {
        public var name: String
        /// The places of the group's steps in the plan, in order.
        public var positions: [Int]
        /// The group's units, in plan order: each the plan indices of its steps, in order.
        public var units: [[Int]]
    }

    public var groups: [Group]

    public init(groups: [Group]) { self.groups = groups }

    /// The rolling restarts of `steps`, or why they cannot be ordered: two rolling restarts whose
    /// places interleave.
    public static func of(_ steps: [Step]) -> Result<RollingRestarts, RollingRestartError> {
        var groups: [Group] = []
        for (index, step) in steps.enumerated() {
            guard let name = step.rollingRestart else { continue }
            if let known = groups.firstIndex(where: { $0.name == name }) {
                guard known == groups.count - 1 else {
                    return .failure(
                        RollingRestartError(
                            message: "step \(step.id) of rolling restart \(name) comes after steps of rolling restart \(groups[groups.count - 1].name), which began after \(name)'s first step: the steps of two rolling restarts must not interleave; put each rolling restart's steps together"))
                }
                let last = groups[known].units[groups[known].units.count - 1]
                if let unit = step.restartUnit, steps[last[0]].restartUnit == unit {
                    groups[known].units[groups[known].units.count - 1].append(index)
                } else if let unit = step.restartUnit, groups[known].units.contains(where: { steps[$0[0]].restartUnit == unit }) {
                    return .failure(
                        RollingRestartError(
                            message: "step \(step.id) of unit \(unit) (rolling restart \(name)) does not follow the unit's other steps: a unit's steps must come one after another"))
                } else {
                    groups[known].units.append([index])
                }
                groups[known].positions.append(index)
            } else {
                groups.append(Group(name: name, positions: [index], units: [[index]]))
            }
        }
        return .success(RollingRestarts(groups: groups))
    }

    /// The plan with the units of each rolling restart laid into its places in `orders[group]`
    /// (unit indices of ``Group/units``; groups not named keep the plan's order).
    public func steps(_ steps: [Step], orders: [String: [Int]]) -> [Step] {
        var result = steps
        for group in groups {
            guard let order = orders[group.name] else { continue }
            for (position, source) in zip(group.positions, order.flatMap { group.units[$0] }) { result[position] = steps[source] }
        }
        return result
    }
}

/// A plan whose rolling restarts cannot be ordered (see ``RollingRestarts``).
public struct RollingRestartError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
