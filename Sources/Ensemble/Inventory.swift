public import ZooKeeperProtocol

/// Where something was written in an inventory file.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// What exists and what should exist: ZooKeeper ensembles, the hosts they run on and how to
/// reach them, and the client groups (e.g. Kafka brokers) that depend on them.
///
/// Read it with ``Inventory/parse(yaml:fileName:)``; ``Inventory/example`` shows every key.
public struct Inventory: Sendable, Hashable {
    public var ensembles: [EnsembleSpec]
    public var hosts: [HostSpec]
    public var clientGroups: [ClientGroup]
    /// How to reach the Kubernetes cluster whose Services carry service stable addresses; nil
    /// when the inventory names none (then only the sandbox's services are driven).
    public var kubernetes: KubernetesAccess?
    /// Problems that do not stop the inventory from being used (e.g. an even number of voters).
    public var warnings: [InventoryDiagnostic]

    public init(ensembles: [EnsembleSpec], hosts: [HostSpec], clientGroups: [ClientGroup], warnings: [InventoryDiagnostic] = []) {
        self.ensembles = ensembles
        self.hosts = hosts
        self.clientGroups = clientGroups
        self.warnings = warnings
    }

    public func ensemble(named name: String) -> EnsembleSpec? { ensembles.first { $0.name == name } }

    /// Each host's address, by host name, for the hosts the inventory gives one.
    public var hostAddresses: [String: String] {
        Dictionary(hosts.compactMap { host in host.address.map { (host.name, $0) } }, uniquingKeysWith: { first, _ in first })
    }

    /// Each pod host's StatefulSet (hosts `via: kubernetes`), by host name.
    public var podStatefulSets: [String: String] {
        var pods: [String: String] = [:]
        for host in hosts { if case .kubernetes(let pod) = host.access { pods[host.name] = pod.statefulSet } }
        return pods
    }
    public func host(named name: String) -> HostSpec? { hosts.first { $0.name == name } }
    public func clientGroup(named name: String) -> ClientGroup? { clientGroups.first { $0.name == name } }

    /// The network address of a server (resolved as the inventory is read: see ``ServerSpec/address``).
    @available(*, deprecated, message: "use server.address: it is resolved as the inventory is read")
    public func address(of server: ServerSpec) -> String { server.address }

    /// The `server.N` line an ensemble's configuration should hold for `server`.
    @available(*, deprecated, renamed: "ServerSpec.line(clientPortInLine:)")
    public func quorumServer(for server: ServerSpec, clientPortInLine: Bool) -> QuorumServer {
        server.line(clientPortInLine: clientPortInLine)
    }

    /// The connection string that reaches every server of `ensemble`, with an optional chroot.
    public func connectionString(for ensemble: EnsembleSpec, chroot: String? = nil) -> ConnectionString {
        ConnectionString(
            servers: ensemble.servers.map { ConnectionString.Server(host: $0.address, port: $0.clientPort) },
            chroot: chroot)
    }

    /// The connection string the ensemble's clients use now: a server not yet behind its
    /// service (`stableAddress: {kind: service, hostAddress: …}`) by its host address.
    public func currentConnectionString(for ensemble: EnsembleSpec, chroot: String? = nil) -> ConnectionString {
        ConnectionString(
            servers: ensemble.servers.map { ConnectionString.Server(host: $0.stableAddress?.hostAddress ?? address(of: $0), port: $0.clientPort) },
            chroot: chroot)
    }
}

/// A ZooKeeper ensemble as the inventory describes it.
public struct EnsembleSpec: Sendable, Hashable {
    public var name: String
    public var version: ZooKeeperVersion
    public var servers: [ServerSpec]
    public var location: SourceLocation?

    public init(name: String, version: ZooKeeperVersion, servers: [ServerSpec], location: SourceLocation? = nil) {
        self.name = name
        self.version = version
        self.servers = servers
        self.location = location
    }

    public var voters: [ServerSpec] { servers.filter { $0.role == .participant } }
    public func server(_ id: ServerID) -> ServerSpec? { servers.first { $0.id == id } }
}

/// Shell commands that control one ZooKeeper server or client process, as the inventory gives
/// them and as a plan carries them (`"commands"` of each server in its JSON).
public struct ServiceCommands: Sendable, Hashable, Codable {
    public var start: String?
    public var stop: String?
    public var restart: String?
    public var status: String?

    public init(start: String? = nil, stop: String? = nil, restart: String? = nil, status: String? = nil) {
        self.start = start
        self.stop = stop
        self.restart = restart
        self.status = status
    }

    /// Which of the commands the executor needs to start, stop or restart a server (start, stop,
    /// and status, which tells a stopped server) are absent, by name.
    public var absentForService: [String] {
        [("start", start), ("stop", stop), ("status", status)].filter { $0.1 == nil }.map(\.0)
    }

    /// `restart`, or `stop` then `start` when only those are given.
    public var effectiveRestart: String? {
        if let restart { return restart }
        if let stop, let start { return "\(stop) && \(start)" }
        return nil
    }

    /// These commands, with any missing one taken from `defaults`.
    public func filled(from defaults: ServiceCommands) -> ServiceCommands {
        ServiceCommands(
            start: start ?? defaults.start, stop: stop ?? defaults.stop,
            restart: restart ?? defaults.restart, status: status ?? defaults.status)
    }
}

/// One ZooKeeper server of an ensemble, with everything a plan needs to act on it: the same
/// value in an inventory and in a plan (`"servers"` of each ensemble in its JSON).
///
/// - ``address`` is always resolved. An inventory server written without `address:` gets its
///   host's address (or, when the host has none, the host's name) as the inventory is read, so
///   no later step has to look the host up, and a plan writes the address it used.
/// - ``location`` (where the inventory wrote the server, for errors) is not part of the JSON; a
///   plan's servers carry none (``Planner`` leaves it out), so a plan equals itself read back.
public struct ServerSpec: Sendable, Hashable, Codable {
    public var id: ServerID
    /// The name of the host (in ``Inventory/hosts``) the server runs on.
    public var host: String
    /// The address peers and clients use: the inventory's `address` (e.g. a stable per-server
    /// address that moves between hosts), else the host's address, else the host's name.
    public var address: String
    public var quorumPort: Int
    public var electionPort: Int
    public var clientPort: Int
    public var clientAddress: String?
    public var role: ServerRole
    public var configPath: String
    public var dynamicConfigPath: String?
    public var dataDir: String
    public var dataLogDir: String?
    public var myidPath: String
    public var commands: ServiceCommands
    /// Set when ``address`` is a stable address bound on the server's host that Mitosis moves to
    /// the host of the server that replaces this one (Zalando's movable network interface; see
    /// `AddressMove` in a plan). Nil for an address nothing needs to move or check (the host's
    /// own). An address that follows the server by itself is ``StableAddress/Kind/follows``.
    public var stableAddress: StableAddress?
    /// Where the inventory file describes the server; nil in a plan (not encoded).
    public var location: SourceLocation?

    public init(
        id: ServerID, host: String, address: String, quorumPort: Int = 2888, electionPort: Int = 3888,
        clientPort: Int = 2181, clientAddress: String? = nil, role: ServerRole = .participant,
        configPath: String = "/etc/zookeeper/conf/zoo.cfg", dynamicConfigPath: String? = nil,
        dataDir: String = "/var/lib/zookeeper", dataLogDir: String? = nil, myidPath: String? = nil,
        commands: ServiceCommands = ServiceCommands(), stableAddress: StableAddress? = nil,
        location: SourceLocation? = nil
    ) {
        self.id = id
        self.host = host
        self.address = address
        self.quorumPort = quorumPort
        self.electionPort = electionPort
        self.clientPort = clientPort
        self.clientAddress = clientAddress
        self.role = role
        self.configPath = configPath
        self.dynamicConfigPath = dynamicConfigPath
        self.dataDir = dataDir
        self.dataLogDir = dataLogDir
        self.myidPath = myidPath ?? (dataDir.hasSuffix("/") ? dataDir + "myid" : dataDir + "/myid")
        self.commands = commands
        self.stableAddress = stableAddress
        self.location = location
    }

    /// Every key but ``location``.
    private enum CodingKeys: String, CodingKey {
        case id, host, address, quorumPort, electionPort, clientPort, clientAddress, role, configPath, dynamicConfigPath
        case dataDir, dataLogDir, myidPath, commands, stableAddress
    }

    /// The `server.N` line for this server in the given role, with or without the 3.5+ client part.
    public func line(role: ServerRole? = nil, clientPortInLine: Bool) -> QuorumServer {
        QuorumServer(
            id: id, host: address, quorumPort: quorumPort, electionPort: electionPort, role: role ?? self.role,
            clientAddress: clientPortInLine ? clientAddress : nil, clientPort: clientPortInLine ? clientPort : nil)
    }
}

/// How a server's stable address follows it to the host that replaces it.
///
/// - ``Kind/interface``: an address bound on the host (`device`, `prefixLength`), moved with
///   `ip addr del` on the old host and `ip addr add` on the new one (Zalando's movable interface
///   on one L2 segment).
/// - ``Kind/service``: a service address (a Kubernetes ClusterIP, as at HubSpot) bound on no host:
///   the service's endpoint is pointed at the new server's host, and kube-proxy (in the sandbox:
///   DNAT rules in every namespace) sends the traffic there. `device` is empty.
/// - ``Kind/command``: an address moved by the operator's own commands (``commands``: a cloud
///   API call that detaches an elastic network interface or a secondary IP and attaches it to
///   the new instance, as Zalando did). `device` is empty.
/// - ``Kind/follows``: an address the operator's platform points at whichever of the two servers
///   runs, by itself (HubSpot's no-move variant): a DNS name its platform keeps up to date, or a
///   Kubernetes Service whose selector picks the server's pod (the Endpoints controller adds the
///   pod as soon as it exists, with `publishNotReadyAddresses`, and removes it when it ends).
///   Mitosis moves nothing; the plan checks the effect instead (nothing serves at the address once
///   the old server stopped; the new server synced *at the address*; the old one still stopped).
///   `stableAddress: {kind: follows}`; `device` is empty.
public struct StableAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case interface
        case service
        case command
        case follows
    }

    public var kind: Kind
    /// The network device that carries the address, e.g. `eth0` (empty for a service).
    public var device: String
    /// The length of the address's network prefix, e.g. 24 for a /24 (32 for a service).
    public var prefixLength: Int
    /// For ``Kind/command``: how the address moves.
    public var commands: AddressCommands?
    /// For ``Kind/service``, on a source server not yet behind its service (HubSpot before its
    /// phases 2 and 3): the address its peers' zoo.cfg lines and its clients use now, its host's
    /// own. The plan creates the service pointing at the host (phase 1), switches the clients to
    /// the service addresses (phase 2) and the servers' lines with `quorumListenOnAllIPs=true`
    /// (phase 3) before it replaces any server. Nil: already behind the service.
    public var hostAddress: String?

    public init(device: String, prefixLength: Int) {
        self.kind = .interface
        self.device = device
        self.prefixLength = prefixLength
    }

    /// A service address: it is bound on no host, a service points it at one.
    public static let service = StableAddress(kind: .service, device: "", prefixLength: 32)

    /// A service address the server is not behind yet: peers and clients use `hostAddress` now.
    public static func serviceFromHost(_ hostAddress: String) -> StableAddress {
        var address = StableAddress.service
        address.hostAddress = hostAddress
        return address
    }

    /// The same stable address, whatever the server uses before it is behind it (what the old
    /// and the new server of a replace must agree on).
    public var behindIt: StableAddress {
        var copy = self
        copy.hostAddress = nil
        return copy
    }

    /// An address the platform points at whichever server runs; nothing moves it.
    public static let follows = StableAddress(kind: .follows, device: "", prefixLength: 32)

    /// Whether Mitosis moves this address (an interface, a service, the inventory's commands)
    /// rather than only checking that the platform moved it.
    public var isMoved: Bool { kind != .follows }

    /// An address moved by the operator's commands.
    public static func command(_ commands: AddressCommands) -> StableAddress {
        var address = StableAddress(kind: .command, device: "", prefixLength: 32)
        address.commands = commands
        return address
    }

    init(kind: Kind, device: String, prefixLength: Int) {
        self.kind = kind
        self.device = device
        self.prefixLength = prefixLength
    }

    enum CodingKeys: String, CodingKey { case kind, device, prefixLength, commands, hostAddress }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decodeIfPresent(Kind.self, forKey: .kind) ?? .interface
        device = try container.decodeIfPresent(String.self, forKey: .device) ?? ""
        prefixLength = try container.decodeIfPresent(Int.self, forKey: .prefixLength) ?? 32
        commands = try container.decodeIfPresent(AddressCommands.self, forKey: .commands)
        hostAddress = try container.decodeIfPresent(String.self, forKey: .hostAddress)
    }

    public var description: String {
        switch kind {
        case .interface: return "/\(prefixLength) on \(device)"
        case .service: return hostAddress.map { "a service address (not yet used: peers and clients use \($0))" } ?? "a service address"
        case .command: return "an address moved by the inventory's commands"
        case .follows: return "an address that follows its server by itself (the platform points it at whichever server runs)"
        }
    }
}

/// The operator's commands that move a stable address (`stableAddress: {kind: command, …}`).
/// Each runs through `sh -c` with `ADDRESS`, `FROM_HOST` and `TO_HOST` set: `detach` on the old
/// server's host, then `attach` and `check` on the new one. `check` exits 0 only when the address
/// is on the host it runs on; both `detach` and `attach` must succeed when run again.
public struct AddressCommands: Sendable, Hashable, Codable {
    public var detach: String
    public var attach: String
    public var check: String

    public init(detach: String, attach: String, check: String) {
        self.detach = detach
        self.attach = attach
        self.check = check
    }

    /// `ADDRESS=… FROM_HOST=… TO_HOST=… sh -c '<command>'`.
    public static func invocation(_ command: String, address: String, from: String, to: String) -> String {
        "ADDRESS=\(quotedForShell(address)) FROM_HOST=\(quotedForShell(from)) TO_HOST=\(quotedForShell(to)) sh -c \(quotedForShell(command))"
    }

    static func quotedForShell(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// Whether `text` is a literal IPv4 address (dotted quad) or IPv6 address, as `ip addr` takes it.
public func isIPAddressLiteral(_ text: String) -> Bool {
    if text.contains(":") {
        // IPv6: hex groups of at most four digits, at most one `::`, optionally an IPv4 tail.
        let doubleColons = text.components(separatedBy: "::").count - 1
        guard doubleColons <= 1, !text.contains(":::"), !text.hasPrefix(":") || text.hasPrefix("::"), !text.hasSuffix(":") || text.hasSuffix("::") else {
            return false
        }
        var groups = text.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        var count = 0
        if let last = groups.last, last.contains(".") {
            guard isIPAddressLiteral(last) else { return false }
            groups.removeLast()
            count += 2
        }
        for group in groups {
            guard (1...4).contains(group.count), group.allSatisfy(\.isHexDigit) else { return false }
            count += 1
        }
        return doubleColons == 1 ? count < 8 : count == 8
    }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return false }
    return parts.allSatisfy { part in
        guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber), let value = Int(part) else { return false }
        return value <= 255 && (part.count == 1 || part.first != "0")
    }
}

/// A machine and how Mitosis reaches it.
public struct HostSpec: Sendable, Hashable {
    public var name: String
    /// Its network address; the name is used when absent.
    public var address: String?
    public var access: HostAccess
    public var location: SourceLocation?

    public init(name: String, address: String? = nil, access: HostAccess, location: SourceLocation? = nil) {
        self.name = name
        self.address = address
        self.access = access
        self.location = location
    }
}

public enum HostAccess: Sendable, Hashable {
    /// A host in a network-namespace sandbox on this machine.
    case sandbox
    case ssh(SSHAccess)
    /// The machine Mitosis runs on (commands run here, files are local).
    case local
    /// A ZooKeeper server as a Kubernetes pod: a single-replica StatefulSet, driven through the
    /// inventory's kubectl (``Inventory/kubernetes``). Its files are keys of its ConfigMap, and
    /// starting and stopping it is creating and deleting the StatefulSet.
    case kubernetes(KubernetesPod)
}

/// A host that is a Kubernetes pod: the StatefulSet (one replica) that runs it. The same name
/// names its ConfigMap (`<name>-config`), its pod (`<name>-0`), its data volume
/// (`data-<name>-0`) and the label its Service selects it by.
public struct KubernetesPod: Sendable, Hashable {
    public var statefulSet: String

    public init(statefulSet: String) {
        self.statefulSet = statefulSet
    }
}

public struct SSHAccess: Sendable, Hashable {
    public var user: String
    public var port: Int
    public var keyPath: String?
    public var knownHostsPath: String?
    /// Whether commands run through `sudo`.
    public var sudo: Bool

    public init(user: String, port: Int = 22, keyPath: String? = nil, knownHostsPath: String? = nil, sudo: Bool = false) {
        self.user = user
        self.port = port
        self.keyPath = keyPath
        self.knownHostsPath = knownHostsPath
        self.sudo = sudo
    }
}

/// The `kubectl` command (with its context, kubeconfig and any other option) and the namespace of
/// the Services behind service stable addresses.
public struct KubernetesAccess: Sendable, Hashable {
    /// Run through `sh -c` with the kubectl arguments appended, e.g. `kubectl --context prod`.
    public var kubectl: String
    /// The Services' namespace; nil: the command's own default.
    public var namespace: String?
    /// The pods' ZooKeeper image; nil: the official `zookeeper:<the server's version>`.
    public var image: String?
    /// The size of each pod's data volume.
    public var storage: String

    public init(kubectl: String, namespace: String? = nil, image: String? = nil, storage: String = "10Gi") {
        self.kubectl = kubectl
        self.namespace = namespace
        self.image = image
        self.storage = storage
    }
}

/// What a client group is, for the checks Mitosis can make beyond each member's health check.
public enum ClientGroupKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Any process: healthy when its health check passes.
    case generic
    /// Kafka brokers (`zookeeper.connect` in `server.properties`): also healthy only when each
    /// restarted broker is registered again and no partition is under-replicated or offline, read
    /// from Kafka's own znodes.
    case kafka
}

/// Processes that use one ensemble through a connection string in their config files, e.g. the
/// brokers of a Kafka cluster.
public struct ClientGroup: Sendable, Hashable {
    public var name: String
    /// The ensemble the group uses now.
    public var ensemble: String
    /// The chroot the group works under (Kafka's `zookeeper.connect=…/kafka`).
    public var chroot: String?
    public var kind: ClientGroupKind
    public var members: [ClientGroupMember]
    public var location: SourceLocation?

    public init(
        name: String, ensemble: String, chroot: String? = nil, kind: ClientGroupKind = .generic, members: [ClientGroupMember],
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.ensemble = ensemble
        self.chroot = chroot
        self.kind = kind
        self.members = members
        self.location = location
    }
}

public struct ClientGroupMember: Sendable, Hashable {
    public static let defaultConnectionKey = "zookeeper.connect"

    public var name: String
    public var host: String
    /// The file that holds the connection string; empty for ``ClientConfigFormat/command``.
    public var configPath: String
    /// How the file holds the connection string.
    public var format: ClientConfigFormat
    /// The key in the config file that holds the connection string (for YAML a dotted key path,
    /// for XML a property name, for an env file a variable name).
    public var connectionKey: String
    /// Restarts the member so that it reads its config file again; for a stopped member (see
    /// ``stop``) it must start it.
    public var restart: String?
    /// Stops the member (block & copy's block window) until `restart` starts it again.
    public var stop: String?
    /// A command that exits 0 when the member is healthy (e.g. no under-replicated partitions).
    public var healthCheck: String?
    /// For ``ClientConfigFormat/command``: the operator's command that points the member at the
    /// connection string given as its last argument.
    public var switchCommand: String?
    /// For ``ClientConfigFormat/command``: exits 0 when the member uses the connection string
    /// given as its last argument.
    public var verifyCommand: String?
    /// How the member's connections are recognised in `cons`; empty: by its host's address.
    public var match: [ClientAddressMatch]
    public var location: SourceLocation?

    public init(
        name: String, host: String, configPath: String, format: ClientConfigFormat = .properties, connectionKey: String? = nil,
        restart: String? = nil, stop: String? = nil, healthCheck: String? = nil, switchCommand: String? = nil, verifyCommand: String? = nil,
        match: [ClientAddressMatch] = [], location: SourceLocation? = nil
    ) {
        self.name = name
        self.host = host
        self.configPath = configPath
        self.format = format
        self.connectionKey = connectionKey ?? format.defaultKey ?? ""
        self.restart = restart
        self.stop = stop
        self.healthCheck = healthCheck
        self.switchCommand = switchCommand
        self.verifyCommand = verifyCommand
        self.match = match
        self.location = location
    }
}

/// Which client connections (as `cons` lists them) belong to a member: an address, optionally
/// with one port or a range of ports (`10.0.0.5`, `10.0.0.5:4000`, `10.0.0.5:40000-40100`,
/// `[fd00::5]:4000`).
public struct ClientAddressMatch: Sendable, Hashable, Codable, CustomStringConvertible {
    public var address: String
    public var ports: ClosedRange<Int>?

    public init(address: String, ports: ClosedRange<Int>? = nil) {
        self.address = address
        self.ports = ports
    }

    /// Reads `ADDR`, `ADDR:PORT` or `ADDR:LOW-HIGH` (an IPv6 address in brackets when a port follows).
    public init?(parsing text: String) {
        var host = text
        var portText: String?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = String(rest.dropFirst())
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard isIPAddressLiteral(host) else { return nil }
        address = host
        guard let portText else { return }
        let bounds = portText.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil,
              (1...65535).contains(low), (low...65535).contains(high) else { return nil }
        ports = low...high
    }

    /// Whether a connection from `address`:`port` is one of these.
    public func matches(address: String, port: Int?) -> Bool {
        guard address == self.address else { return false }
        guard let ports else { return true }
        return port.map(ports.contains) ?? false
    }

    public var description: String {
        let host = address.contains(":") && ports != nil ? "[\(address)]" : address
        guard let ports else { return host }
        return ports.count == 1 ? "\(host):\(ports.lowerBound)" : "\(host):\(ports.lowerBound)-\(ports.upperBound)"
    }
}

/// A problem in an inventory file, pointing at the line and column.
public struct InventoryDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var severity: ConfigDiagnostic.Severity
    public var location: SourceLocation?
    /// Where in the document, e.g. `ensembles[0].servers[1].host`.
    public var path: String
    public var message: String

    public init(severity: ConfigDiagnostic.Severity, location: SourceLocation?, path: String, message: String) {
        self.severity = severity
        self.location = location
        self.path = path
        self.message = message
    }

    public var description: String {
        let place = location.map { "\($0): " } ?? ""
        let pathText = path.isEmpty ? "" : "\(path): "
        return "\(place)\(severity.rawValue): \(pathText)\(message)"
    }
}

/// Why an inventory cannot be used: every error found, each at its line.
public struct InventoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var diagnostics: [InventoryDiagnostic]

    public var errors: [InventoryDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
