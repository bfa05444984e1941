import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import NIOPosix
import Rehearsal
import Testing
import ZooKeeper
import ZooKeeperProtocol

/// Real clients (kazoo, in their own sandbox hosts, each with its own address) that read their
/// connection string from a YAML, a Hadoop XML and a solr.in.sh file are switched from one real
/// ensemble to another, and each switch is verified through `cons` on the servers; a client no
/// group lists holds the census until it is left behind by name, and is then moved by an
/// operator's own switch command (format command).
extension RealServers {
    @Suite struct ClientFormatSwitches {
        /// The rehearsal's config-file client (kazoo), written where the sandbox hosts can run it.
        static let script: String = {
            let path = NSTemporaryDirectory() + "mitosis-config-client-\(getpid()).py"
            try? ConfigFileClientProgram.python.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }()

        struct Client {
            var host: SandboxHost
            var format: ClientConfigFormat
            var key: String
            var chroot: String?
            var text: (String) -> String
            var name: String { host.name }
            var configPath: String { host.directory + "/client.\(format.rawValue)" }
            var pidPath: String { host.directory + "/client.pid" }
            var logPath: String { host.directory + "/client.log" }
            /// Stops the running client, if any, and starts it again: it reads its file anew.
            var restart: String {
                let start = "setsid /usr/bin/python3 \(shellQuoted(ClientFormatSwitches.script)) \(format.rawValue) \(shellQuoted(configPath)) \(key) \(name) \(shellQuoted(logPath)) </dev/null >>\(shellQuoted(logPath)) 2>&1 & echo $! > \(shellQuoted(pidPath))"
                return "if [ -f \(shellQuoted(pidPath)) ]; then kill $(cat \(shellQuoted(pidPath))) 2>/dev/null; fi; \(start)"
            }
            var stop: String { "if [ -f \(shellQuoted(pidPath)) ]; then kill $(cat \(shellQuoted(pidPath))) 2>/dev/null; rm -f \(shellQuoted(pidPath)); fi" }

            func member(connectionString: String, restart: String? = nil) -> PlanClientMember {
                PlanClientMember(
                    name: name, host: name, configPath: configPath, connectionKey: key, restart: restart ?? self.restart, connectionString: connectionString,
                    format: format, address: host.address)
            }
        }

        @Test func yamlXMLEnvAndCommandClientsAreSwitchedVerifiedAndCounted() async throws {
            try await withSandboxNetwork("fmt") { manager, group in
                let source = try await manager.up(.init(name: "src", servers: 1))
                let destination = try await manager.up(.init(name: "dst", servers: 1))
                let apps = try await manager.up(.init(name: "app", servers: 4, start: false))
                let old = source.connectionString
                let new = destination.connectionString
                for ensemble in [old, new] {
                    try await ZooKeeperClient.withClient(try ZooKeeperConfiguration(ensemble), eventLoopGroup: group) { zk in
                        _ = try await zk.create("/solr")
                        _ = try await zk.create("/acked")
                    }
                }
                let clients = [
                    Client(host: apps.hosts[0], format: .yaml, key: "zookeeper.hosts", chroot: nil) { hosts in
                        "# Patroni\nscope: pg\nzookeeper:\n  # the ensemble\n  hosts:\n" + hosts.split(separator: ",").map { "    - '\($0)'\n" }.joined() + "  retry_timeout: 10\n"
                    },
                    Client(host: apps.hosts[1], format: .xml, key: "hbase.zookeeper.quorum", chroot: nil) { hosts in
                        "<?xml version=\"1.0\"?>\n<configuration>\n  <!-- quorum -->\n  <property>\n    <name>hbase.zookeeper.quorum</name>\n    <value>\(hosts)</value>\n  </property>\n</configuration>\n"
                    },
                    Client(host: apps.hosts[2], format: .env, key: "ZK_HOST", chroot: "/solr") { hosts in
                        "# Solr\nSOLR_HEAP=\"512m\"\nZK_HOST=\"\(hosts)\"   # chroot included\n"
                    },
                ]
                // A client no inventory lists, on the source throughout.
                let stranger = Client(host: apps.hosts[3], format: .properties, key: "zookeeper.connect", chroot: nil) { "zookeeper.connect=\($0)\n" }
                do {
                    try await run(clients, stranger: stranger, old: old, new: new, manager: manager, group: group)
                    for client in clients + [stranger] { _ = try? await manager.hostDriver(for: client.name).run(client.stop, timeout: .seconds(10)) }
                } catch {
                    for client in clients + [stranger] { _ = try? await manager.hostDriver(for: client.name).run(client.stop, timeout: .seconds(10)) }
                    throw error
                }
            }
        }

        /// A full run (mitosis with the destination server as an observer, 3→1: the shortest plan)
        /// with a real YAML client on its own host. The member's restart fails
        /// once, after its file was written: the run stops there (the state a run killed between
        /// the write and the restart leaves). The resumed run does not trust the file: it restarts
        /// the member, sees it on the destination through cons, and goes on to the split. Every
        /// write the client had acknowledged is on the destination at the end.
        @Test func aFailedRestartAfterTheWriteIsResumedAndNoAcknowledgedWriteIsLost() async throws {
            try await withSandboxNetwork("fmtrun") { manager, group in
                let source = try await manager.up(.init(name: "src", servers: 3))
                let destination = try await manager.up(.init(name: "dst", servers: 1, start: false))
                let apps = try await manager.up(.init(name: "app", servers: 1, start: false))
                let client = Client(host: apps.hosts[0], format: .yaml, key: "zookeeper.hosts", chroot: nil) { hosts in
                    "zookeeper:\n  hosts:\n" + hosts.split(separator: ",").map { "    - \($0)\n" }.joined() + "  ttl: 30\n"
                }
                let marker = client.host.directory + "/failed-once"
                let flaky = "if [ ! -f \(shellQuoted(marker)) ]; then touch \(shellQuoted(marker)); exit 1; fi; \(client.restart)"
                let inventory = Inventory(
                    ensembles: [source.ensembleSpec, destination.ensembleSpec], hosts: source.hostSpecs + destination.hostSpecs + apps.hostSpecs,
                    clientGroups: [
                        ClientGroup(name: "patroni", ensemble: "src", members: [
                            ClientGroupMember(name: client.name, host: client.name, configPath: client.configPath, format: .yaml, restart: flaky)
                        ])
                    ])
                let plan = try Planner.plan(
                    .mitosisObservers, inventory: inventory, source: "src", destination: "dst", options: PlanningOptions(rollingRestartPause: .seconds(1)))
                try #require(try Prover.check(plan).isSafe)
                let driver = try manager.hostDriver(for: client.name)
                _ = try await driver.writeFile(client.configPath, contents: client.text(source.connectionString))
                let directory = NSTemporaryDirectory() + "mitosis-fmtrun-\(getpid())"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                do {
                    try await driver.check(client.restart, timeout: .seconds(10))
                    let hosts = InventoryHostDirectory(inventory: inventory, sandbox: manager)
                    let journal = Journal(path: directory + "/plan.journal")
                    let execute = { (options: ExecutionOptions) in
                        try await MigrationExecutor(plan: try Prover.prove(plan), hosts: hosts, eventLoopGroup: group, journal: journal, options: options).run()
                    }
                    let failed = await #expect(throws: (any Error).self) { try await execute(ExecutionOptions()) }
                    #expect("\(String(describing: failed))".contains("exit"), "\(String(describing: failed))")
                    #expect(try await driver.readFile(client.configPath) == client.text(destination.connectionString), "the file was not written before the restart")
                    #expect(try await execute(ExecutionOptions(resume: true)) == .finished)
                    let events = try journal.load().events
                    #expect(!events.contains { $0.kind == .actionSkipped && $0.step?.rawValue.contains("switch") == true }, "the resumed run trusted the file")
                    #expect(events.contains { $0.summary.contains("\(client.name): 1 session(s) on the new servers") }, "no verified switch in the journal")

                    try await driver.check(client.stop, timeout: .seconds(10))
                    let log = try #require(try await driver.readFile(client.logPath))
                    let acked = log.split(separator: "\n").filter { $0.hasPrefix("acked ") }.map { String($0.dropFirst(6)) }
                    #expect(acked.count > 5, "the client barely wrote: \(log.suffix(500))")
                    let onDestination = try await ZooKeeperClient.withClient(try ZooKeeperConfiguration(destination.connectionString), eventLoopGroup: group) { zk in
                        try await zk.getChildren("/acked/\(client.name)")
                    }
                    #expect(Set(acked).isSubset(of: Set(onDestination)), "acknowledged but not on the destination: \(Set(acked).subtracting(onDestination).sorted())")
                } catch {
                    _ = try? await driver.run(client.stop, timeout: .seconds(10))
                    throw error
                }
            }
        }

        func run(_ clients: [Client], stranger: Client, old: String, new: String, manager: SandboxManager, group: MultiThreadedEventLoopGroup) async throws {
            let groups = clients.map { client in
                PlanClientGroup(name: client.name, chroot: client.chroot, moves: true, members: [client.member(connectionString: old + (client.chroot ?? ""))])
            }
            let empty = { (name: String) in PlanEnsemble(name: name, version: .v3_8_0, servers: [], initialData: .holdsData, initiallyRunning: true) }
            var plan = Plan(strategy: .mitosis, source: empty("src"), destination: empty("dst"), clientGroups: groups, steps: [], pointOfNoReturn: nil, impactWindows: [])
            let destinationServer = try ConnectionString(parsing: new).servers[0]
            plan.destination.servers = [ServerSpec(id: 9, host: "dst-9", address: destinationServer.host, clientPort: destinationServer.port)]
            let sourceServer = try ConnectionString(parsing: old).servers[0]
            plan.source.servers = [ServerSpec(id: 1, host: "src-1", address: sourceServer.host, clientPort: sourceServer.port)]
            let controller = HostClientGroupController(plan: plan, hosts: manager, healthTimeout: .seconds(30), eventLoopGroup: group)

            // Each client starts on the source, from its own file.
            for client in clients {
                let driver = try manager.hostDriver(for: client.name)
                _ = try await driver.writeFile(client.configPath, contents: client.text(client.format.storedValue(for: old + (client.chroot ?? ""))))
                try await driver.check(client.restart, timeout: .seconds(10))
            }
            let changes = clients.map { client in
                ClientSwitch(
                    client: ClientRef(group: client.name, member: client.name, host: client.name), configPath: client.configPath,
                    connectionKey: client.key, from: old + (client.chroot ?? ""), to: new + (client.chroot ?? ""), restart: client.restart)
            }
            for (client, change) in zip(clients, changes) {
                let member = try #require(plan.clientGroup(client.name)?.members.first)
                let onSource = try await eventually(timeout: .seconds(30)) {
                    try await SwitchEvidence.read(member, from: change.to, to: change.from, group: group).switched
                }
                try #require(onSource, "\(client.name) never connected to the source")
            }
            // The plan-time check reads every file through its host and accepts them.
            #expect(await ClientConfigCheck.problems(plan, hosts: manager) == [])

            // yaml: a run killed after the file was written, before the restart. The file says
            // "switched", the old process is still on the source: not switched. Resuming restarts it.
            let yaml = clients[0]
            let written = try ClientConfigFile.replacingValue(
                in: try #require(try await manager.hostDriver(for: yaml.name).readFile(yaml.configPath)), format: .yaml, key: yaml.key, with: new)
            _ = try await manager.hostDriver(for: yaml.name).writeFile(yaml.configPath, contents: written)
            #expect(try await controller.hasSwitched(changes[0]) == false, "the file alone was taken for a switch")
            let resumed = try await controller.switchMember(changes[0])
            #expect(resumed.map(\.summary).contains { $0.contains("session(s) on the new servers") }, "\(resumed)")
            #expect(try await controller.hasSwitched(changes[0]))
            #expect(try await manager.hostDriver(for: yaml.name).readFile(yaml.configPath) == yaml.text(new))

            // xml: switched in one go; the file differs from the original only in the value.
            _ = try await controller.switchMember(changes[1])
            #expect(try await controller.hasSwitched(changes[1]))
            #expect(try await manager.hostDriver(for: clients[1].name).readFile(clients[1].configPath) == clients[1].text(new))

            // env: a restart that fails once. The switch fails, the member is not switched, and the
            // retry (what --resume does) finishes it.
            let env = clients[2]
            let marker = env.host.directory + "/failed-once"
            let flaky = "if [ ! -f \(shellQuoted(marker)) ]; then touch \(shellQuoted(marker)); exit 1; fi; \(env.restart)"
            var flakyChange = changes[2]
            flakyChange.restart = flaky
            await #expect(throws: HostError.self) { try await controller.switchMember(flakyChange) }
            #expect(try await controller.hasSwitched(flakyChange) == false, "a member whose restart failed counts as switched")
            _ = try await controller.switchMember(flakyChange)
            #expect(try await controller.hasSwitched(flakyChange))
            #expect(try await manager.hostDriver(for: env.name).readFile(env.configPath) == env.text(new + "/solr"))

            // Every client now writes to the destination: its acknowledged writes since it
            // connected there are all on the destination.
            for client in clients {
                let log = try #require(try await manager.hostDriver(for: client.name).readFile(client.logPath))
                let since = log.components(separatedBy: "connected \(client.format.storedValue(for: new + (client.chroot ?? "")))").last ?? ""
                let acked = since.split(separator: "\n").filter { $0.hasPrefix("acked ") }.map { String($0.dropFirst(6)) }
                let onDestination = try await ZooKeeperClient.withClient(try ZooKeeperConfiguration(new + (client.chroot ?? "")), eventLoopGroup: group) { zk in
                    try await zk.getChildren("/acked/\(client.name)")
                }
                #expect(Set(acked).isSubset(of: Set(onDestination)), "\(client.name): acknowledged but missing on the destination: \(Set(acked).subtracting(onDestination))")
            }

            // The census before the split: the stranger on the source holds it until it is named
            // with --leave-behind; as a member of a group that stays, it is accounted for.
            let strangerDriver = try manager.hostDriver(for: stranger.name)
            _ = try await strangerDriver.writeFile(stranger.configPath, contents: stranger.text(old))
            try await strangerDriver.check(stranger.restart, timeout: .seconds(10))
            let census = Gate.sessionsAccountedFor(ensemble: "src", servers: plan.source.refs)
            var gates = GateChecker(plan: plan, hosts: manager, clients: controller, eventLoopGroup: group)
            let strangerMember = stranger.member(connectionString: old)
            let seen = try await eventually(timeout: .seconds(30)) {
                !(await SessionCensus.read([sourceServer], group: group).sessions(of: strangerMember).isEmpty)
            }
            try #require(seen, "the stranger never connected to the source")
            let held = await gates.evaluate(census)
            #expect(!held.passed)
            #expect(held.detail.contains("from clients the plan does not know: \(stranger.host.address) (1 session on \(sourceServer))"), "\(held.detail)")
            #expect(held.detail.contains("--leave-behind \(stranger.host.address)"), "\(held.detail)")
            gates.census = CensusPolicy(leaveBehind: [ClientAddressMatch(address: stranger.host.address)])
            let accepted = await gates.evaluate(census)
            #expect(accepted.passed && accepted.detail.contains("left behind (--leave-behind): 1"), "\(accepted.detail)")
            var staying = plan
            staying.clientGroups.append(PlanClientGroup(name: "legacy", chroot: nil, moves: false, members: [strangerMember]))
            let known = await GateChecker(plan: staying, hosts: manager, clients: controller, eventLoopGroup: group).evaluate(census)
            #expect(known.passed && known.detail.contains("legacy/\(stranger.name) (stays): 1"), "\(known.detail)")

            // format command: the operator's own switch and verify commands, given the new
            // connection string as their last argument; the switch is verified through cons too.
            let switchScript = stranger.host.directory + "/zk-switch", verifyScript = stranger.host.directory + "/zk-uses"
            _ = try await strangerDriver.writeFile(switchScript, contents: "sed -i \"s|^zookeeper.connect=.*|zookeeper.connect=$1|\" \(shellQuoted(stranger.configPath)) && { \(stranger.restart); }\n")
            _ = try await strangerDriver.writeFile(verifyScript, contents: "grep -qx \"zookeeper.connect=$1\" \(shellQuoted(stranger.configPath))\n")
            let operated = PlanClientMember(
                name: stranger.name, host: stranger.name, configPath: "", connectionKey: "", connectionString: old, format: .command,
                switchCommand: "sh \(shellQuoted(switchScript))", verifyCommand: "sh \(shellQuoted(verifyScript))", address: stranger.host.address)
            var commandPlan = plan
            commandPlan.clientGroups = [PlanClientGroup(name: "legacy", chroot: nil, moves: true, members: [operated])]
            let commandController = HostClientGroupController(plan: commandPlan, hosts: manager, healthTimeout: .seconds(30), eventLoopGroup: group)
            let commandSwitch = ClientSwitch(
                client: ClientRef(group: "legacy", member: stranger.name, host: stranger.name), configPath: "", connectionKey: "", from: old, to: new, restart: nil)
            #expect(try await commandController.hasSwitched(commandSwitch) == false)
            let operatedChanges = try await commandController.switchMember(commandSwitch)
            #expect(operatedChanges.first?.summary.hasPrefix("ran sh \(switchScript) \(new)") == true, "\(operatedChanges)")
            #expect(try await commandController.hasSwitched(commandSwitch))

            // A file the plan-time check refuses names host, file and key.
            _ = try await manager.hostDriver(for: yaml.name).writeFile(yaml.configPath, contents: "zookeeper:\n  hosts: [unclosed\n")
            let problems = await ClientConfigCheck.problems(plan, hosts: manager)
            #expect(problems.count == 1 && problems[0].hasPrefix("\(yaml.name): \(yaml.configPath) (member \(yaml.name), yaml, key zookeeper.hosts): line"), "\(problems)")
        }
    }
}
