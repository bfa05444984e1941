import Foundation
import Logging
import NIOCore
import NIOPosix
import ZooKeeper

#if canImport(Glibc)
import Glibc
import ZooKeeperProtocol
#endif

/// A set of sandboxes that share one network: a bridge in a switch namespace, a control
/// namespace from which Mitosis talks to the servers, and one namespace per host. Every address
/// lives only inside these namespaces. The network's state is a JSON file under ``root`` so any
/// later `mitosis` process can find and drive its sandboxes.
public struct SandboxNetwork: Sendable, Hashable {
    /// Prefix of every namespace of this network, e.g. `mitosis` → `mitosis-src-1`.
    public var id: String
    /// Where state, configurations, data and logs live.
    public var root: String

    public init(id: String, root: String? = nil) {
        self.id = id
        self.root = root ?? "/run/\(id)"
    }

    /// `$MITOSIS_SANDBOX_NETWORK`, or `mitosis`.
    public static func fromEnvironment() -> SandboxNetwork {
        SandboxNetwork(id: ProcessInfo.processInfo.environment["MITOSIS_SANDBOX_NETWORK"] ?? "mitosis")
    }

    /// The first two octets of every address (a /16 that exists only inside the namespaces).
    public static let subnetPrefix = "10.200"
    public static let prefixLength = 16

    public var switchNamespace: String { "\(id)-switch" }
    public var controlNamespace: String { "\(id)-ctl" }
    public var controlAddress: String { "\(Self.subnetPrefix).0.1" }
    var statePath: String { "\(root)/network.json" }
    var lockPath: String { "\(root)/lock" }
    static let bridge = "br0"
}

/// One host of a sandbox: a network namespace with its own address, directory and server.
public struct SandboxHost: Sendable, Hashable, Codable {
    /// E.g. `src-2`.
    public var name: String
    public var namespace: String
    public var address: String
    /// The interface name on the switch side of its link.
    public var link: String
    public var directory: String
    public var serverID: Int
    /// The stable (movable) address its server is known by, if the sandbox has them: made for
    /// this host (which holds it from the start), or, for a host that replaces another, taken
    /// over from that host (it holds it once ``SandboxManager/moveAddress(_:to:)`` or a host
    /// driver moves it here).
    public var stableAddress: String?

    public var configPath: String { "\(directory)/conf/zoo.cfg" }
    public var dataDir: String { "\(directory)/data" }
    public var myidPath: String { "\(directory)/data/myid" }
    public var logPath: String { "\(directory)/zookeeper.log" }
    public var serviceScript: String { "\(directory)/zookeeper.sh" }
    /// The command that runs the service script with `verb` (start, stop, kill, status). Through
    /// `sh`, not by executing the file: a process forked elsewhere in this program while the
    /// script was being written holds it open for writing until it execs, and executing a file
    /// open for writing fails with ETXTBSY ("Text file busy"). Reading it does not.
    public func serviceCommand(_ verb: String) -> String { "/bin/sh \(serviceScript) \(verb)" }
    /// The device inside the namespace that carries its addresses.
    public static let device = "eth0"
}

/// A sandbox: one ZooKeeper ensemble on hosts of its own.
public struct Sandbox: Sendable, Hashable, Codable {
    public var name: String
    public var index: Int
    public var version: String
    public var hosts: [SandboxHost]
    public var clientPort: Int
    public var quorumPort: Int
    public var electionPort: Int
    /// Whether the servers accept `reconfig` (3.5+: `reconfigEnabled=true`, ACL checks skipped).
    public var reconfigEnabled: Bool
    /// Whether its stable addresses are service addresses (bound on no host; DNAT rules in every
    /// namespace send their traffic to the host the service points at), not interface addresses.
    public var serviceAddresses: Bool? = nil
    /// Whether its servers' files name the hosts' own addresses although the sandbox has service
    /// addresses (HubSpot before its phases 1–3: the services point nowhere, nobody uses them yet).
    public var peersOnHostAddresses: Bool? = nil

    public func host(named name: String) -> SandboxHost? { hosts.first { $0.name == name } }

    /// The addresses clients use (the stable ones where the sandbox has them).
    public var connectionString: String {
        hosts.map { "\($0.stableAddress ?? $0.address):\(clientPort)" }.joined(separator: ",")
    }

    /// The hosts' own addresses, whatever stable addresses the sandbox has.
    public var hostConnectionString: String {
        hosts.map { "\($0.address):\(clientPort)" }.joined(separator: ",")
    }

    /// How the sandbox controls its ZooKeeper server on a host (commands run inside the host's namespace).
    public func zookeeperService(on host: SandboxHost) -> ServiceSpec {
        ServiceSpec(
            name: "zookeeper", start: host.serviceCommand("start"), stop: host.serviceCommand("stop"),
            status: host.serviceCommand("status"), timeout: .seconds(60))
    }
}

/// The persisted state of a network.
struct NetworkState: Codable {
    var sandboxes: [Sandbox] = []
    /// Stable addresses handed out and the host holding each now (for those in
    /// ``detachedAddresses``: the host that held it last).
    var stableAddresses: [String: String] = [:]
    /// Stable addresses detached from their host and not attached anywhere yet (a move half done).
    var detachedAddresses: Set<String>?
    /// Stable addresses that are services: bound nowhere, their holder is the service's backend.
    var services: Set<String>?

    /// Who holds each stable address now.
    var holders: [String: String] {
        let detached = detachedAddresses ?? []
        return stableAddresses.filter { !detached.contains($0.key) }
    }

    /// Records that `host` holds `address` now (attached there), or, with nil, that the host
    /// `from` no longer does.
    mutating func record(_ address: String, heldBy host: String?, from previous: String) {
        var detached = detachedAddresses ?? []
        if let host {
            stableAddresses[address] = host
            detached.remove(address)
        } else if stableAddresses[address] == previous {
            detached.insert(address)
        }
        detachedAddresses = detached.isEmpty ? nil : detached
    }
}

/// One host's state for `mitosis sandbox status`.
public struct SandboxHostStatus: Sendable, Hashable, Codable {
    public var sandbox: String
    public var host: String
    public var address: String
    public var stableAddresses: [String]
    public var serverID: Int
    public var serverRunning: Bool
    /// `srvr`'s mode (leader, follower, observer, standalone) or why there is none.
    public var mode: String
    public var zxid: String?
    public var firewallTags: [String]
}

/// Creates, drives and removes sandboxes. Needs root (network namespaces, iptables).
public struct SandboxManager: Sendable {
    public var network: SandboxNetwork
    private let logger: Logger

    public init(network: SandboxNetwork = .fromEnvironment(), logger: Logger = Logger(label: "mitosis.sandbox")) {
        self.network = network
        self.logger = logger
    }

    /// Throws a clear error unless this process can build namespaces.
    public static func requireRoot() throws {
        guard geteuid() == 0 else {
            throw HostError(
                .permissionDenied, host: "localhost", operation: "sandbox",
                "the sandbox creates network namespaces, links and iptables rules, which needs root: run it with sudo (e.g. `sudo ./scripts/mitosis sandbox up …`)")
        }
    }

    // MARK: State

    func loadState() throws -> NetworkState {
        guard let data = FileManager.default.contents(atPath: network.statePath) else { return NetworkState() }
        do {
            return try JSONDecoder().decode(NetworkState.self, from: data)
        } catch {
            throw HostError(.invalidRequest, host: "localhost", operation: "read \(network.statePath)", "unreadable sandbox state (\(error)); `mitosis sandbox down --all` removes everything of this network")
        }
    }

    func saveState(_ state: NetworkState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: URL(fileURLWithPath: network.statePath), options: .atomic)
    }

    /// Runs `body` holding the network's lock (an flock other `mitosis` processes respect).
    func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try FileManager.default.createDirectory(atPath: network.root, withIntermediateDirectories: true)
        let descriptor = open(network.lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw HostError(.permissionDenied, host: "localhost", operation: "lock \(network.lockPath)", String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let deadline = ContinuousClock.now + .seconds(120)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard ContinuousClock.now < deadline else {
                throw HostError(.timeout, host: "localhost", operation: "lock \(network.lockPath)", "another mitosis process has held the sandbox lock for 2 minutes")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }

    /// Every sandbox of the network.
    public func sandboxes() throws -> [Sandbox] { try loadState().sandboxes }

    public func sandbox(named name: String) throws -> Sandbox {
        let all = try sandboxes()
        guard let sandbox = all.first(where: { $0.name == name }) else {
            let known = all.isEmpty ? "there are none; create one with `mitosis sandbox up --name \(name)`" : "there are \(all.map(\.name).joined(separator: ", "))"
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox \(name)", "no sandbox named '\(name)' in network \(network.id): \(known)")
        }
        return sandbox
    }

    /// The driver for a sandbox host (by host name, e.g. `src-2`).
    public func hostDriver(for hostName: String) throws -> SandboxHostDriver {
        let state = try loadState()
        for sandbox in state.sandboxes {
            if let host = sandbox.host(named: hostName) { return SandboxHostDriver(host: host, network: network) }
        }
        throw HostError(.invalidRequest, host: hostName, operation: "find host", "no sandbox host named '\(hostName)' in network \(network.id)")
    }

    // MARK: Up

    /// What `up` makes.
    public struct Request: Sendable, Hashable {
        public var name: String
        public var servers: Int
        public var version: ZooKeeperDistribution
        /// Start the servers (false: configured, not started).
        public var start: Bool
        /// Give each host a stable address that can move to another host (clients and peers use it).
        public var stableAddresses: Bool
        /// Make the stable addresses services, as kube-proxy does (implies stable addresses): no
        /// host binds them; a DNAT rule in every namespace of the network sends the traffic for
        /// the address and the sandbox's ports to the host the service points at.
        public var serviceAddresses: Bool
        /// With service addresses: the servers' files name the hosts' own addresses and the services
        /// point nowhere yet (HubSpot before its phase 1: a plan creates them, then moves the
        /// clients and the peers onto them).
        public var peersOnHostAddresses: Bool = false
        /// The first server id; nil: one more than the highest id of the other sandboxes.
        public var firstServerID: Int?
        /// A sandbox (made with stable addresses) whose hosts these replace one for one, as
        /// HubSpot and Zalando replace servers: host N gets the server id and the stable address
        /// of that sandbox's host N, and its configuration lists the stable addresses. The
        /// addresses stay where they are until moved (``SandboxManager/moveAddress(_:to:)``).
        public var replacing: String?
        public var reconfigEnabled: Bool
        public var tickTime: Int

        public init(
            name: String, servers: Int = 3, version: ZooKeeperDistribution = .v3_8_0, start: Bool = true,
            stableAddresses: Bool = false, serviceAddresses: Bool = false, firstServerID: Int? = nil, replacing: String? = nil,
            reconfigEnabled: Bool = false, tickTime: Int = 1000
        ) {
            self.serviceAddresses = serviceAddresses
            self.name = name
            self.servers = servers
            self.version = version
            self.start = start
            self.stableAddresses = stableAddresses
            self.firstServerID = firstServerID
            self.replacing = replacing
            self.reconfigEnabled = reconfigEnabled
            self.tickTime = tickTime
        }
    }

    /// Creates a sandbox: its hosts, addresses, configurations; starts the servers unless asked not
    /// to and waits until they serve. On failure, removes what it made.
    @discardableResult
    public func up(_ request: Request) async throws -> Sandbox {
        try Self.requireRoot()
        try validate(request)
        _ = try request.version.classpath()
        let sandbox: Sandbox = try await withLock {
            var state = try loadState()
            if state.sandboxes.contains(where: { $0.name == request.name }) {
                throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "a sandbox named '\(request.name)' exists already; `mitosis sandbox down --name \(request.name)` removes it")
            }
            let index = (1...249).first { candidate in !state.sandboxes.contains { $0.index == candidate } } ?? 0
            guard index > 0 else { throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "the network holds 249 sandboxes already") }
            let replaced = try request.replacing.map { name in try replacedSandbox(name, for: request, state: state) }
            let highestID: Int = state.sandboxes.flatMap { $0.hosts.map(\.serverID) }.max() ?? 0
            let firstID: Int = replaced?.hosts[0].serverID ?? request.firstServerID ?? (highestID + 1)
            // The sandbox a new one replaces shares its ids: that is what replacing means.
            let usedIDs = Set(state.sandboxes.filter { $0.name != request.replacing }.flatMap { $0.hosts.map(\.serverID) })
            let ids = replaced?.hosts.map(\.serverID) ?? Array(firstID..<(firstID + request.servers))
            if let clash = ids.first(where: usedIDs.contains) {
                let holder = state.sandboxes.first { $0.name != request.replacing && $0.hosts.contains { $0.serverID == clash } }?.name ?? "another sandbox"
                let message =
                    request.replacing.map { replaced in
                        "server id \(clash) of sandbox \(replaced) is held by sandbox \(holder) too; replacing \(replaced) needs its ids, so take \(holder) down first (`mitosis sandbox down --name \(holder)`)"
                    } ?? "server id \(clash) is taken by sandbox \(holder); choose another --first-id, or take \(holder) down (`mitosis sandbox down --name \(holder)`)"
                throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", message)
            }
            var hosts: [SandboxHost] = []
            for offset in 0..<request.servers {
                let name = "\(request.name)-\(offset + 1)"
                var stable: String?
                if let replaced {
                    stable = replaced.hosts[offset].stableAddress
                } else if request.stableAddresses || request.serviceAddresses {
                    let used = Set(state.stableAddresses.keys)
                    stable = (1...250).lazy.map { "\(SandboxNetwork.subnetPrefix).250.\($0)" }.first { !used.contains($0) }
                    if let stable {
                        state.stableAddresses[stable] = name
                        if request.serviceAddresses { state.services = (state.services ?? []).union([stable]) }
                        // Not used yet: the service points nowhere until a plan creates it (HubSpot's phase 1).
                        if request.serviceAddresses && request.peersOnHostAddresses { state.record(stable, heldBy: nil, from: name) }
                    }
                }
                hosts.append(
                    SandboxHost(
                        name: name, namespace: "\(network.id)-\(name)", address: "\(SandboxNetwork.subnetPrefix).\(index).\(offset + 11)",
                        link: "v\(index)x\(offset + 1)", directory: "\(network.root)/\(request.name)/\(name)", serverID: ids[offset],
                        stableAddress: stable))
            }
            let sandbox = Sandbox(
                name: request.name, index: index, version: request.version.version, hosts: hosts, clientPort: 2181, quorumPort: 2888,
                electionPort: 3888, reconfigEnabled: request.reconfigEnabled,
                serviceAddresses: (replaced?.serviceAddresses ?? request.serviceAddresses) ? true : nil,
                peersOnHostAddresses: request.peersOnHostAddresses && request.serviceAddresses ? true : nil)
            // Recorded before anything is made, so `down` finds whatever a crash leaves behind.
            state.sandboxes.append(sandbox)
            try saveState(state)
            do {
                try await ensureNetwork()
                for host in hosts { try await makeHost(host, of: sandbox, request: request) }
                // The new namespaces send to every service too (and this sandbox's services start).
                try await syncServiceRules(state)
            } catch {
                logger.error("sandbox \(request.name) failed while being made: \(error); removing it")
                try? await removeSandbox(named: request.name)
                throw error
            }
            return sandbox
        }
        if request.start {
            do {
                try await start(sandbox)
            } catch {
                try? await down(name: sandbox.name)
                throw error
            }
        }
        return sandbox
    }

    /// The sandbox `name` that a new one replaces, checked: it has stable addresses on every
    /// host and as many hosts as the request.
    func replacedSandbox(_ name: String, for request: Request, state: NetworkState) throws -> Sandbox {
        guard let replaced = state.sandboxes.first(where: { $0.name == name }) else {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "no sandbox named '\(name)' to replace in network \(network.id)")
        }
        guard replaced.hosts.allSatisfy({ $0.stableAddress != nil }) else {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "sandbox \(name) has no stable addresses, so its hosts cannot be replaced one for one behind them; make it with --stable-addresses")
        }
        guard replaced.hosts.count == request.servers else {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "sandbox \(name) has \(replaced.hosts.count) hosts; a sandbox replacing it one for one needs as many, not \(request.servers)")
        }
        if let first = request.firstServerID, first != replaced.hosts[0].serverID {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "a sandbox replacing \(name) takes its server ids (from \(replaced.hosts[0].serverID)); drop --first-id \(first)")
        }
        return replaced
    }

    func validate(_ request: Request) throws {
        let name = request.name
        guard !name.isEmpty, name.count <= 12, name.allSatisfy({ ($0.isLowercase && $0.isASCII) || ($0.isNumber && $0.isASCII) }),
            name.first!.isLetter
        else {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "sandbox names are 1–12 lowercase letters and digits starting with a letter (they name namespaces and hosts); got '\(name)'")
        }
        guard (1...9).contains(request.servers) else {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "a sandbox has 1 to 9 servers; got \(request.servers)")
        }
        if request.reconfigEnabled && !request.version.supportsReconfig {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox up", "ZooKeeper \(request.version.version) has no reconfig; use 3.8.0 or 3.9.3, or drop --reconfig")
        }
    }

    /// The switch (a bridge in its own namespace) and the control namespace, if missing.
    func ensureNetwork() async throws {
        let sw = network.switchNamespace
        if !NetworkNamespace.exists(sw) {
            try await ip(["netns", "add", sw])
            try await ip(["-n", sw, "link", "add", SandboxNetwork.bridge, "type", "bridge"])
            try await ip(["-n", sw, "link", "set", SandboxNetwork.bridge, "up"])
            try await ip(["-n", sw, "link", "set", "lo", "up"])
        }
        let control = network.controlNamespace
        if !NetworkNamespace.exists(control) {
            try await ip(["netns", "add", control])
            try await connect(namespace: control, link: "vctl", address: network.controlAddress)
        }
    }

    /// A link from the switch to `namespace` (its end named eth0 there) with `address`.
    func connect(namespace: String, link: String, address: String) async throws {
        let sw = network.switchNamespace
        try await ip(["-n", sw, "link", "add", link, "type", "veth", "peer", "name", SandboxHost.device, "netns", namespace])
        try await ip(["-n", sw, "link", "set", link, "master", SandboxNetwork.bridge])
        try await ip(["-n", sw, "link", "set", link, "up"])
        try await ip(["-n", namespace, "addr", "add", "\(address)/\(SandboxNetwork.prefixLength)", "dev", SandboxHost.device])
        try await ip(["-n", namespace, "link", "set", SandboxHost.device, "up"])
        try await ip(["-n", namespace, "link", "set", "lo", "up"])
    }

    func makeHost(_ host: SandboxHost, of sandbox: Sandbox, request: Request) async throws {
        try await ip(["netns", "add", host.namespace])
        try await connect(namespace: host.namespace, link: host.link, address: host.address)
        // A replacing host's address is still on the host it replaces.
        if let stable = host.stableAddress, request.replacing == nil, sandbox.serviceAddresses != true {
            try await ip(["-n", host.namespace, "addr", "add", "\(stable)/\(SandboxNetwork.prefixLength)", "dev", SandboxHost.device])
        }
        let files = FileManager.default
        try files.createDirectory(atPath: "\(host.directory)/conf", withIntermediateDirectories: true)
        try files.createDirectory(atPath: host.dataDir, withIntermediateDirectories: true)
        try "\(host.serverID)\n".write(toFile: host.myidPath, atomically: true, encoding: .utf8)
        try zooConfig(for: host, of: sandbox, tickTime: request.tickTime).write(toFile: host.configPath, atomically: true, encoding: .utf8)
        try Self.log4j.write(toFile: "\(host.directory)/conf/log4j.properties", atomically: true, encoding: .utf8)
        try serviceScript(for: host, of: sandbox, distribution: request.version).write(toFile: host.serviceScript, atomically: true, encoding: .utf8)
        chmod(host.serviceScript, 0o755)
    }

    /// The host's `zoo.cfg`: its own sandbox's servers, by stable address where it has them.
    public func zooConfig(for host: SandboxHost, of sandbox: Sandbox, tickTime: Int = 1000) -> String {
        var lines = [
            "# Written by `mitosis sandbox up` for \(host.name) (sandbox \(sandbox.name), network \(network.id)).",
            "tickTime=\(tickTime)",
            "initLimit=10",
            "syncLimit=5",
            "dataDir=\(host.dataDir)",
            "clientPort=\(sandbox.clientPort)",
            "maxClientCnxns=0",
            "4lw.commands.whitelist=*",
            "quorumListenOnAllIPs=true",
        ]
        if sandbox.version.hasPrefix("3.4") {
            // 3.4 has neither the admin server nor reconfig.
        } else {
            lines.append("admin.enableServer=false")
            lines.append("reconfigEnabled=\(sandbox.reconfigEnabled)")
            if sandbox.reconfigEnabled { lines.append("standaloneEnabled=false") }
        }
        for server in sandbox.hosts {
            let address = sandbox.peersOnHostAddresses == true ? server.address : server.stableAddress ?? server.address
            lines.append("server.\(server.serverID)=\(address):\(sandbox.quorumPort):\(sandbox.electionPort)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let log4j = """
        log4j.rootLogger=INFO, CONSOLE
        log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
        log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
        log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n

        """

    /// `zookeeper.sh start|stop|kill|status`, run inside the host's namespace. The JVM is started
    /// in its own session so it outlives the `mitosis` process that started it.
    func serviceScript(for host: SandboxHost, of sandbox: Sandbox, distribution: ZooKeeperDistribution) throws -> String {
        let java = ProcessInfo.processInfo.environment["JAVA"] ?? "java"
        var jvm = [
            java, "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.net.preferIPv4Stack=true",
            "-Dmitosis.sandbox=\(network.id)/\(sandbox.name)/\(host.name)",
            "-Dlog4j.configuration=file:\(host.directory)/conf/log4j.properties",
            "-Dzookeeper.admin.enableServer=false",
        ]
        if let run = ProcessInfo.processInfo.environment["MITOSIS_RUN_ID"] { jvm.append("-Dmitosis.run=\(run)") }
        if distribution.supportsExtendedNodeTypes { jvm.append("-Dzookeeper.extendedTypesEnabled=true") }
        if sandbox.reconfigEnabled { jvm.append("-Dzookeeper.skipACL=yes") }
        jvm += ["-cp", try distribution.classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain", host.configPath]
        let marker = "mitosis.sandbox=\(network.id)/\(sandbox.name)/\(host.name)"
        return """
            #!/bin/sh
            # Controls the ZooKeeper server of sandbox host \(host.name); run inside namespace \(host.namespace).
            pidfile=\(shellQuoted(host.directory))/zookeeper.pid
            running() {
                [ -f "$pidfile" ] || return 1
                pid=$(cat "$pidfile")
                [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\\0' ' ' < /proc/"$pid"/cmdline | grep -q -- \(shellQuoted(marker))
            }
            case "$1" in
            start)
                running && exit 0
                setsid \(jvm.map(shellQuoted).joined(separator: " ")) >>\(shellQuoted(host.logPath)) 2>&1 </dev/null &
                echo $! > "$pidfile"
                ;;
            stop)
                running || exit 0
                kill "$pid"
                for i in $(seq 200); do running || exit 0; sleep 0.1; done
                kill -9 "$pid"
                ;;
            kill)
                running && kill -9 "$pid"
                for i in $(seq 50); do running || exit 0; sleep 0.1; done
                exit 1
                ;;
            status)
                running
                ;;
            *)
                echo "usage: $0 start|stop|kill|status" >&2
                exit 2
                ;;
            esac

            """
    }

    // MARK: Servers

    /// Starts every server of the sandbox and waits until they serve under one leader.
    public func start(_ sandbox: Sandbox, timeout: Duration = .seconds(90)) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for host in sandbox.hosts {
                group.addTask {
                    let driver = SandboxHostDriver(host: host, network: network)
                    _ = try await driver.startService(sandbox.zookeeperService(on: host))
                }
            }
            try await group.waitForAll()
        }
        try await waitUntilServing(sandbox, hosts: sandbox.hosts, timeout: timeout)
    }

    /// Waits until every listed host's server serves (`srvr` answers with a serving mode) and
    /// exactly one of the sandbox's servers leads.
    public func waitUntilServing(_ sandbox: Sandbox, hosts: [SandboxHost], timeout: Duration = .seconds(90)) async throws {
        try await withControlGroup { group in try await waitUntilServing(sandbox, hosts: hosts, timeout: timeout, group: group) }
    }

    /// Runs `body` with an event loop group inside the control namespace (made if missing), shut
    /// down afterwards.
    public func withControlGroup<T>(_ body: (MultiThreadedEventLoopGroup) async throws -> T) async throws -> T {
        if !NetworkNamespace.exists(network.controlNamespace) {
            try Self.requireRoot()
            try await withLock { try await ensureNetwork() }
        }
        let group = try await NetworkNamespace.eventLoopGroup(joining: network.controlNamespace)
        do {
            let result = try await body(group)
            try? await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    func waitUntilServing(_ sandbox: Sandbox, hosts: [SandboxHost], timeout: Duration, group: any EventLoopGroup) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: [String: String] = [:]
        while true {
            var serving = true
            var leaders = 0
            for host in sandbox.hosts {
                let server = ConnectionString.Server(
                    host: sandbox.peersOnHostAddresses == true ? host.address : host.stableAddress ?? host.address, port: sandbox.clientPort)
                if let status = try? await FourLetterWords.srvr(server, timeout: .seconds(1), group: group) {
                    last[host.name] = status.mode.rawValue
                    if status.mode == .leader { leaders += 1 }
                    if hosts.contains(host) && !status.isServing { serving = false }
                } else {
                    last[host.name] = "not answering"
                    if hosts.contains(host) { serving = false }
                }
            }
            if serving && (sandbox.hosts.count == 1 || leaders == 1) { return }
            guard ContinuousClock.now < deadline else {
                let states = last.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                throw HostError(.timeout, host: sandbox.name, operation: "wait for the servers to serve", "not serving within \(timeout) (\(states)); see the logs under \(network.root)/\(sandbox.name)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    // MARK: Status

    public func status(of sandbox: Sandbox) async throws -> [SandboxHostStatus] {
        try await withControlGroup { group in try await status(of: sandbox, group: group) }
    }

    func status(of sandbox: Sandbox, group: any EventLoopGroup) async throws -> [SandboxHostStatus] {
        let state = try loadState()
        var rows: [SandboxHostStatus] = []
        for host in sandbox.hosts {
            let driver = SandboxHostDriver(host: host, network: network)
            let running = (try? await driver.serviceState(sandbox.zookeeperService(on: host))) == .running
            var mode = running ? "not answering" : "stopped"
            var zxid: String?
            let stable = state.holders.filter { $0.value == host.name }.map(\.key).sorted()
            let address = stable.first ?? host.address
            if running, let status = try? await FourLetterWords.srvr(ConnectionString.Server(host: address, port: sandbox.clientPort), timeout: .seconds(2), group: group) {
                mode = status.mode.rawValue
                zxid = status.zxid.description
            }
            let tags = (try? await driver.peerBlockTags()) ?? []
            rows.append(
                SandboxHostStatus(
                    sandbox: sandbox.name, host: host.name, address: host.address, stableAddresses: stable, serverID: host.serverID,
                    serverRunning: running, mode: mode, zxid: zxid, firewallTags: tags))
        }
        return rows
    }

    // MARK: Stable addresses

    /// Moves a stable address to another host of the network: detached from its holder, attached
    /// to `hostName`, and every namespace of the network forgets the old link-layer address, so
    /// clients and peers reconnect to the new holder without any configuration change.
    @discardableResult
    public func moveAddress(_ address: String, to hostName: String) async throws -> [HostChange] {
        try Self.requireRoot()
        return try await withLock {
            var state = try loadState()
            guard let lastHolder = state.stableAddresses[address] else {
                let known = state.stableAddresses.keys.sorted().joined(separator: ", ")
                throw HostError(.invalidRequest, host: hostName, operation: "move \(address)", "\(address) is not a stable address of network \(network.id) (known: \(known.isEmpty ? "none; create a sandbox with --stable-addresses" : known))")
            }
            if state.services?.contains(address) == true {
                return [try await pointServiceLocked(address, at: hostName, state: &state)]
            }
            let target = try hostDriver(for: hostName)
            var changes: [HostChange] = []
            // Under the lock already: the drivers' own recording (which takes it) is bypassed.
            if let holder = state.holders[address], holder != hostName {
                let current = try hostDriver(for: holder)
                changes.append(try await current.detach(address, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device))
                state.record(address, heldBy: nil, from: holder)
                try saveState(state)
            }
            changes.append(try await target.attach(address, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device))
            state.record(address, heldBy: hostName, from: lastHolder)
            try saveState(state)
            return changes
        }
    }

    // MARK: Services

    /// The chain of every namespace's nat table that holds the services' DNAT rules.
    static let serviceChain = "MITOSIS-SVC"
    /// The chain of every namespace's filter table that rejects the traffic of services that point nowhere.
    static let serviceRejectChain = "MITOSIS-SVC-REJECT"

    /// Points the service at `address` at `hostName`: every namespace of the network (hosts and
    /// control) sends the service's traffic to that host's own address from now on, as kube-proxy
    /// does when a Service's endpoint changes. Connections open to the old backend stay with it.
    @discardableResult
    public func pointService(_ address: String, at hostName: String) async throws -> HostChange {
        try Self.requireRoot()
        return try await withLock {
            var state = try loadState()
            return try await pointServiceLocked(address, at: hostName, state: &state)
        }
    }

    func pointServiceLocked(_ address: String, at hostName: String, state: inout NetworkState) async throws -> HostChange {
        guard state.services?.contains(address) == true else {
            let known = (state.services ?? []).sorted().joined(separator: ", ")
            throw HostError(.invalidRequest, host: hostName, operation: "point service \(address)", "\(address) is not a service of network \(network.id) (services: \(known.isEmpty ? "none; create a sandbox with service addresses" : known))")
        }
        guard state.sandboxes.contains(where: { $0.host(named: hostName) != nil }) else {
            throw HostError(.invalidRequest, host: hostName, operation: "point service \(address)", "no sandbox host named '\(hostName)' in network \(network.id)")
        }
        let previous = state.holders[address]
        if previous == hostName {
            return HostChange(host: hostName, changed: false, summary: "service \(address) points at \(hostName) already")
        }
        state.record(address, heldBy: hostName, from: previous ?? hostName)
        try saveState(state)
        try await syncServiceRules(state)
        return HostChange(host: hostName, changed: true, summary: "service \(address) points at \(hostName) (was \(previous ?? "nowhere")): DNAT rules rewritten in every namespace")
    }

    /// Points the service at `address` at no host, as kube-proxy does for a Service without
    /// endpoints: every namespace rejects its traffic (a TCP reset) instead of sending it to a host.
    @discardableResult
    public func pointServiceNowhere(_ address: String) async throws -> HostChange {
        try Self.requireRoot()
        return try await withLock {
            var state = try loadState()
            guard state.services?.contains(address) == true else {
                throw HostError(.invalidRequest, host: "localhost", operation: "point service \(address) nowhere", "\(address) is not a service of network \(network.id)")
            }
            guard let previous = state.holders[address] else {
                return HostChange(host: "localhost", changed: false, summary: "service \(address) points nowhere already")
            }
            state.record(address, heldBy: nil, from: previous)
            try saveState(state)
            try await syncServiceRules(state)
            return HostChange(host: previous, changed: true, summary: "service \(address) points nowhere (was \(previous)): its traffic is rejected in every namespace")
        }
    }

    /// The host each service points at.
    public func serviceBackends() throws -> [String: String] {
        let state = try loadState()
        return state.holders.filter { state.services?.contains($0.key) == true }
    }

    /// Rewrites, in the control namespace and every host's, the DNAT rules of every service (one
    /// chain replaced at once with `iptables-restore`, so no connection sees it half written).
    func syncServiceRules(_ state: NetworkState) async throws {
        let services = (state.services ?? []).sorted()
        guard !services.isEmpty else { return }
        var addresses: [String: String] = [:]
        var ports: Set<Int> = []
        for sandbox in state.sandboxes {
            ports.formUnion([sandbox.clientPort, sandbox.quorumPort, sandbox.electionPort])
            for host in sandbox.hosts { addresses[host.name] = host.address }
        }
        let chain = Self.serviceChain
        var restore = ["*nat", ":\(chain) - [0:0]"]
        for service in services {
            guard let backend = state.holders[service], let target = addresses[backend] else { continue }
            restore.append(
                "-A \(chain) -d \(service)/32 -p tcp -m multiport --dports \(ports.sorted().map(String.init).joined(separator: ",")) -m comment --comment mitosis-service-\(backend) -j DNAT --to-destination \(target)")
        }
        restore.append("COMMIT")
        // A service that points nowhere rejects its traffic, as kube-proxy does for a Service
        // without endpoints (in the filter table: nat cannot reject).
        let rejectChain = Self.serviceRejectChain
        restore += ["*filter", ":\(rejectChain) - [0:0]"]
        for service in services where state.holders[service] == nil {
            restore.append(
                "-A \(rejectChain) -d \(service)/32 -p tcp -m multiport --dports \(ports.sorted().map(String.init).joined(separator: ",")) -m comment --comment mitosis-service-no-endpoints -j REJECT --reject-with tcp-reset")
        }
        restore.append("COMMIT")
        let script = """
            iptables -w -t nat -N \(chain) 2>/dev/null
            for hook in OUTPUT PREROUTING; do
                iptables -w -t nat -C $hook -j \(chain) 2>/dev/null || iptables -w -t nat -A $hook -j \(chain) || exit 1
            done
            iptables -w -t filter -N \(rejectChain) 2>/dev/null
            for hook in OUTPUT FORWARD; do
                iptables -w -t filter -C $hook -j \(rejectChain) 2>/dev/null || iptables -w -t filter -A $hook -j \(rejectChain) || exit 1
            done
            printf '%s\\n' \(restore.map(shellQuoted).joined(separator: " ")) | iptables-restore -w --noflush
            """
        let namespaces = [network.controlNamespace] + state.sandboxes.flatMap { $0.hosts.map(\.namespace) }
        for namespace in namespaces where NetworkNamespace.exists(namespace) {
            try await LocalCommand.check(["ip", "netns", "exec", namespace, "sh", "-c", script], timeout: .seconds(30), what: "the service rules of namespace \(namespace)")
        }
    }

    /// Who holds each stable address (addresses detached and not yet attached elsewhere are left out).
    public func stableAddresses() throws -> [String: String] { try loadState().holders }

    /// Records who holds a stable address after a host driver attached (`host`) or detached (nil)
    /// it, so that the state stays right whoever moves addresses (the executor moves them
    /// through host drivers).
    func record(_ address: String, heldBy host: String?, from previous: String) async throws {
        try await withLock {
            var state = try loadState()
            state.record(address, heldBy: host, from: previous)
            try saveState(state)
        }
    }

    // MARK: Down

    /// Stops the sandbox's servers and removes its hosts, links, rules and files. Removing the last
    /// sandbox removes the network too.
    public func down(name: String) async throws {
        try Self.requireRoot()
        try await withLock {
            try await removeSandbox(named: name)
            if try loadState().sandboxes.isEmpty { try await removeNetwork() }
        }
    }

    /// Removes everything of this network, including what a crash left behind and the state
    /// does not know: every namespace with the network's prefix and every process inside one.
    public func downAll() async throws {
        try Self.requireRoot()
        try await withLock {
            for sandbox in try loadState().sandboxes { try? await removeSandbox(named: sandbox.name) }
            try await removeNetwork()
        }
        // Nothing of the network is left but the lock file; a process waiting for it would make
        // the directory again.
        try? FileManager.default.removeItem(atPath: network.lockPath)
        try? FileManager.default.removeItem(atPath: network.root)
    }

    func removeSandbox(named name: String) async throws {
        var state = try loadState()
        guard let sandbox = state.sandboxes.first(where: { $0.name == name }) else {
            throw HostError(.invalidRequest, host: "localhost", operation: "sandbox down", "no sandbox named '\(name)' in network \(network.id)")
        }
        for host in sandbox.hosts {
            try await killProcesses(in: host.namespace)
            try await deleteNamespace(host.namespace)
            // The switch-side end goes with its peer; remove it if a half-made host left it.
            if NetworkNamespace.exists(network.switchNamespace) {
                _ = try? await LocalCommand.run(["ip", "-n", network.switchNamespace, "link", "del", host.link], timeout: .seconds(10))
            }
        }
        try? FileManager.default.removeItem(atPath: "\(network.root)/\(name)")
        state.sandboxes.removeAll { $0.name == name }
        let hostNames = Set(sandbox.hosts.map(\.name))
        state.stableAddresses = state.stableAddresses.filter { !hostNames.contains($0.value) }
        if let services = state.services?.filter({ state.stableAddresses[$0] != nil }) {
            state.services = services.isEmpty ? nil : services
        }
        if let detached = state.detachedAddresses?.filter({ state.stableAddresses[$0] != nil }) {
            state.detachedAddresses = detached.isEmpty ? nil : detached
        }
        try saveState(state)
    }

    func removeNetwork() async throws {
        for namespace in NetworkNamespace.all() where namespace.hasPrefix(network.id + "-") {
            try await killProcesses(in: namespace)
            try await deleteNamespace(namespace)
        }
        // Servers whose namespace is gone already (killed by marker).
        _ = try? await LocalCommand.run(["pkill", "-9", "-f", "--", "-Dmitosis.sandbox=\(network.id)/"], timeout: .seconds(10))
        try? FileManager.default.removeItem(atPath: network.statePath)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: network.root)) ?? [] where entry != "lock" {
            try? FileManager.default.removeItem(atPath: "\(network.root)/\(entry)")
        }
    }

    func killProcesses(in namespace: String) async throws {
        guard NetworkNamespace.exists(namespace) else { return }
        var living: [Int32] = []
        for _ in 0..<150 {
            let pids = try await LocalCommand.run(["ip", "netns", "pids", namespace], timeout: .seconds(10)).output
                .split(whereSeparator: \.isNewline).compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
            living = pids
            if pids.isEmpty { return }
            for pid in living { _ = Glibc.kill(pid, SIGKILL) }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Name them (pid, state, parent, command line), so the cause can be found.
        let survivors = living.map { pid -> String in
            let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? "?"
            let fields = Self.statFields(pid)
            return "\(pid) (state \(fields.first ?? "?"), parent \(fields.dropFirst().first ?? "?")): \(command.prefix(120))"
        }
        throw HostError(.timeout, host: namespace, operation: "sandbox down", "processes in namespace \(namespace) survived SIGKILL for 15 s: \(survivors.joined(separator: "; "))")
    }

    /// `/proc/PID/stat`'s fields after the command name: state, then the parent's pid.
    static func statFields(_ pid: Int32) -> [Substring] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return [] }
        return text[text.index(after: close)...].split(separator: " ")
    }

    func deleteNamespace(_ namespace: String) async throws {
        guard NetworkNamespace.exists(namespace) else { return }
        try await ip(["netns", "del", namespace])
    }

    @discardableResult
    func ip(_ arguments: [String]) async throws -> String {
        try await LocalCommand.check(["ip"] + arguments, timeout: .seconds(30))
    }
}
