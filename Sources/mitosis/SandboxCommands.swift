import ArgumentParser
import Foundation
import Hosts

#if canImport(Glibc)
import Glibc
#endif

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Real ZooKeeper servers on hosts made of Linux network namespaces, on this machine (needs root).",
        discussion: """
            Every sandbox of a network shares one bridge, so a source and a destination sandbox can \
            reach each other. Addresses exist only inside the namespaces: reach them with \
            `mitosis sandbox exec -- COMMAND` (or MITOSIS_NETNS=<network>-ctl mitosis …). \
            MITOSIS_SANDBOX_NETWORK chooses the network (default: mitosis).
            """,
        subcommands: [
            SandboxUp.self, SandboxDown.self, SandboxStatus.self, SandboxExec.self, SandboxServer.self, SandboxMoveAddress.self, SandboxInventoryCommand.self,
        ]
    )
}

struct SandboxUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Create a sandbox ensemble and start its servers.")

    @Option(help: "The sandbox's name (1–12 lowercase letters and digits); its hosts are NAME-1, NAME-2, …") var name: String
    @Option(help: "How many servers (default 3; with --replacing, as many as the sandbox it replaces).") var servers: Int?
    @Option(help: "ZooKeeper version: 3.8.0, 3.9.3 or 3.4.13 (default 3.8.0; with --replacing, the version of the sandbox it replaces).") var zookeeper: String?
    @Flag(help: "Configure the servers but do not start them (an empty destination).") var noStart = false
    @Flag(help: "Give each host a stable address that `move-address` can move to another host.") var stableAddresses = false
    @Flag(help: "Make the stable addresses services, as kube-proxy does: bound on no host, a DNAT rule in every namespace sends their traffic to the host the service points at (`move-address` points it elsewhere).") var serviceAddresses = false
    @Option(help: "The first server id (default: after the other sandboxes' ids).") var firstID: Int?
    @Option(help: "Replace this sandbox's hosts one for one (it needs --stable-addresses): same server ids, same stable addresses, which stay on the old hosts until `move-address`.") var replacing: String?
    @Flag(help: "Allow dynamic reconfiguration (3.5+; ACL checks are skipped so reconfig needs no super user).") var reconfig = false
    @Flag(help: "Print the sandbox as JSON.") var json = false

    func run() async throws {
        let manager = SandboxManager()
        // One for one: by default as many hosts as the replaced sandbox, on its version.
        let replaced = try replacing.map { try manager.sandbox(named: $0) }
        let servers = self.servers ?? replaced?.hosts.count ?? 3
        let distribution = try ZooKeeperDistribution.named(zookeeper ?? replaced?.version ?? "3.8.0")
        Output.note("creating sandbox \(name): \(servers) × ZooKeeper \(distribution.version)\(noStart ? " (not started)" : "")…")
        let sandbox = try await manager.up(
            .init(name: name, servers: servers, version: distribution, start: !noStart, stableAddresses: stableAddresses, serviceAddresses: serviceAddresses, firstServerID: firstID, replacing: replacing, reconfigEnabled: reconfig))
        if json { return try Output.json(sandbox) }
        var table = Table(["host", "namespace", "address", "stable address", "server id"])
        for host in sandbox.hosts { table.add([host.name, host.namespace, host.address, host.stableAddress ?? "-", String(host.serverID)]) }
        Output.line(table.render())
        Output.note("connection string: \(sandbox.connectionString)")
        Output.note("try: ./scripts/mitosis sandbox exec -- ./scripts/mitosis status -s \(sandbox.connectionString)")
    }
}

struct SandboxDown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", abstract: "Stop a sandbox's servers and remove its hosts, links, rules and files.")

    @Option(help: "The sandbox to remove.") var name: String?
    @Flag(help: "Remove every sandbox of the network and anything a crash left behind.") var all = false

    func validate() throws {
        guard (name != nil) != all else { throw ValidationError("give --name NAME or --all") }
    }

    func run() async throws {
        let manager = SandboxManager()
        if all {
            try await manager.downAll()
            Output.note("removed every sandbox of network \(manager.network.id)")
        } else if let name {
            try await manager.down(name: name)
            Output.note("removed sandbox \(name)")
        }
    }
}

struct SandboxStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "One row per sandbox host: address, server, mode, zxid, firewall rules.")

    @Option(help: "Only this sandbox.") var name: String?
    @Flag(help: "JSON lines instead of a table.") var json = false

    func run() async throws {
        let manager = SandboxManager()
        let sandboxes = try name.map { [try manager.sandbox(named: $0)] } ?? manager.sandboxes()
        if sandboxes.isEmpty {
            if json { try Output.json([SandboxHostStatus]()) } else { Output.note("no sandboxes in network \(manager.network.id)") }
            return
        }
        var rows: [SandboxHostStatus] = []
        for sandbox in sandboxes { rows += try await manager.status(of: sandbox) }
        if json { return try Output.json(rows) }
        var table = Table(["sandbox", "host", "address", "stable", "id", "server", "mode", "zxid", "firewall"])
        for row in rows {
            table.add([
                row.sandbox, row.host, row.address, row.stableAddresses.joined(separator: ",").ifEmpty("-"), String(row.serverID),
                row.serverRunning ? "running" : "stopped", row.mode, row.zxid ?? "-", row.firewallTags.joined(separator: ",").ifEmpty("-"),
            ])
        }
        Output.line(table.render())
    }
}

struct SandboxServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "server", abstract: "Start, stop, restart or kill (SIGKILL) the ZooKeeper server of a sandbox host.")

    @Argument(help: "start, stop, restart or kill.") var action: String
    @Argument(help: "The host, e.g. src-2.") var host: String

    func validate() throws {
        guard ["start", "stop", "restart", "kill"].contains(action) else { throw ValidationError("the action is start, stop, restart or kill; got '\(action)'") }
    }

    func run() async throws {
        let manager = SandboxManager()
        let driver = try manager.hostDriver(for: host)
        let sandbox = try manager.sandboxes().first { $0.host(named: host) != nil }!
        let service = sandbox.zookeeperService(on: driver.sandboxHost)
        switch action {
        case "start": Output.note(try await driver.startService(service).description)
        case "stop": Output.note(try await driver.stopService(service).description)
        case "restart": Output.note(try await driver.restartService(service).description)
        default:
            try await driver.check(driver.sandboxHost.serviceCommand("kill"), operation: "kill the server")
            Output.note("\(host): killed the ZooKeeper server")
        }
    }
}

struct SandboxMoveAddress: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "move-address", abstract: "Move a stable address to another sandbox host (clients follow without a config change).")

    @Argument(help: "The stable address.") var address: String
    @Argument(help: "The host that takes it.") var host: String

    func run() async throws {
        for change in try await SandboxManager().moveAddress(address, to: host) { Output.note(change.description) }
    }
}

struct SandboxExec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command inside the sandbox network (the control namespace, or a host's).")

    @Option(help: "Run inside this host's namespace instead of the control namespace.") var host: String?
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).") var command: [String] = []

    func run() async throws {
        // The command is captured for passthrough, so help asked of `exec` itself arrives here as
        // the command; after `--` it belongs to the command (`exec -- zkCli.sh --help`).
        if let first = command.first, ["--help", "-h"].contains(first) { throw CleanExit.helpRequest(self) }
        let manager = SandboxManager()
        var arguments = command
        if arguments.first == "--" { arguments.removeFirst() }
        guard !arguments.isEmpty else { throw ValidationError("give a command after --, e.g. `mitosis sandbox exec -- zkCli.sh`") }
        let namespace = try host.map { try manager.hostDriver(for: $0).sandboxHost.namespace } ?? manager.network.controlNamespace
        guard NetworkNamespace.exists(namespace) else {
            throw ValidationError("namespace \(namespace) does not exist: create a sandbox first (`mitosis sandbox up --name src`)")
        }
        setenv("MITOSIS_IN_NETNS", namespace, 1)
        try execIntoNamespace(namespace, arguments)
    }
}

/// Replaces this process with `arguments` run inside `namespace`.
func execIntoNamespace(_ namespace: String, _ arguments: [String]) throws -> Never {
    let argv = ["ip", "netns", "exec", namespace] + arguments
    var cArguments = argv.map { strdup($0) } + [nil]
    execvp("ip", &cArguments)
    throw ValidationError("cannot run ip netns exec: \(String(cString: strerror(errno)))")
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
