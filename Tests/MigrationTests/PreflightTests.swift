import Ensemble
import Testing

@testable import Migration
@testable import MigrationPlanning

/// What a run checks on the hosts before it changes anything.
@Suite struct Preflights {
    @Test func programsOfACommandLineAreReadAsShDoes() {
        #expect(ShellCommandLine.programs("systemctl restart zookeeper") == ["systemctl"])
        #expect(ShellCommandLine.programs("sudo -n -u kafka /opt/kafka/bin/kafka-server-stop.sh") == ["sudo", "/opt/kafka/bin/kafka-server-stop.sh"])
        #expect(ShellCommandLine.programs("echo srvr | nc -q 2 localhost 2181") == ["echo", "nc"])
        #expect(ShellCommandLine.programs("KAFKA_HEAP_OPTS='-Xmx1g' env -u X service kafka restart && curl -sf 'http://x/a;b' || logger 'it failed; see'") == ["service", "curl", "logger"])
        #expect(ShellCommandLine.programs("if test -f /run/k.pid; then kill $(cat /run/k.pid); fi") == ["test", "cat", "kill"])
        #expect(ShellCommandLine.programs("\"$ZK_HOME/bin/zkServer.sh\" start") == [], "known only when it runs")
        #expect(ShellCommandLine.programs("for i in 1 2; do pgrep -f kafka; done") == ["pgrep"])
        #expect(ShellCommandLine.programs("(cd /opt/app && ./restart)") == ["cd", "./restart"])
        // Redirections take their descriptor and target along; the command goes on after `$( … )`.
        #expect(
            ShellCommandLine.programs(
                "if [ -f /run/app.pid ]; then kill $(cat /run/app.pid) 2>/dev/null; fi; setsid /usr/bin/python3 app.py </dev/null >>/var/log/app.log 2>&1 & echo $! > /run/app.pid")
                == ["[", "cat", "kill", "setsid", "echo"])
        #expect(ShellCommandLine.programs("zkServer.sh start 2> err >| out") == ["zkServer.sh"])
    }

    /// A mitosis plan needs each server's service commands on its host, and `iptables` where the
    /// split puts firewall rules.
    @Test func aPlanNeedsItsServersCommandsAndIptables() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let needs = plan.preflightNeeds
        #expect(needs.programs.keys.sorted() == (4...6).map { "zk-destination-\($0)" } + (1...3).map { "zk-source-\($0)" })
        let source = try #require(needs.programs["zk-source-1"])
        #expect(source.keys.sorted() == ["echo", "nc", "systemctl"])
        // The split's firewall rules are on the destination's hosts.
        #expect(needs.programs["zk-destination-4"]?.keys.sorted() == ["echo", "iptables", "nc", "systemctl"])
        #expect(source["systemctl"]?.contains("server 1's start command `systemctl start zookeeper`") == true)
        let script = PreflightNeeds.script(for: ["sudo", "systemctl"])
        #expect(script == "true; sudo -n true >/dev/null 2>&1 || echo sudo; command -v systemctl >/dev/null 2>&1 || echo systemctl")
    }

    /// A server the plan starts, stops or restarts without a start, stop or status command (a
    /// pod modelled as a `local` host, say) fails the preflight, before any file is written; not
    /// at its start step, after the steps before it wrote the new server's files.
    @Test func aServerWithoutItsServiceCommandsFailsThePreflight() throws {
        var plan = try Fixtures.plan(.replace, 3, 3, staying: true)
        #expect(plan.preflightNeeds.missing.isEmpty)
        let index = try #require(plan.destination.servers.firstIndex { $0.id == 2 })
        plan.destination.servers[index].commands = ServiceCommands(stop: "systemctl stop zookeeper")
        let missing = plan.preflightNeeds.missing
        #expect(missing.count == 1, "\(missing)")
        #expect(missing.first?.hasPrefix("zk-destination-2: destination server 2 on zk-destination-2 has no start or status command, and step preflight starts, stops or restarts it") == true, "\(missing)")
    }

    @Test func aReplacePlanNeedsIpWhereAddressesMove() throws {
        let plan = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        let needs = plan.preflightNeeds
        #expect(needs.programs["zk-source-2"]?["ip"] != nil && needs.programs["zk-destination-2"]?["ip"] != nil)
    }

    /// A `format: command` member is moved and checked by the operator's commands: their programs
    /// are looked for before the run changes anything, like a restart command's.
    @Test func aCommandMembersSwitchAndVerifyCommandsAreNeeded() {
        let member = PlanClientMember(
            name: "app", host: "app-host", configPath: "", connectionKey: "", restart: "systemctl restart app", connectionString: "10.1.0.1:2181",
            format: .command, switchCommand: "/usr/local/bin/zk-move --to", verifyCommand: "zk-uses | grep -q ok", address: "10.3.0.1")
        let empty = PlanEnsemble(name: "e", version: .v3_8_0, servers: [], initialData: .empty, initiallyRunning: true)
        let change = ClientSwitch(
            client: ClientRef(group: "apps", member: "app", host: "app-host"), configPath: "", connectionKey: "", from: "10.1.0.1:2181",
            to: "10.2.0.1:2181", restart: member.restart)
        let plan = Plan(
            strategy: .mitosis, source: empty, destination: empty,
            clientGroups: [PlanClientGroup(name: "apps", chroot: nil, moves: true, members: [member])],
            steps: [Step(id: "switch-app", title: "Switch app", why: "test", actions: [.switchClient(change)])], pointOfNoReturn: nil, impactWindows: [])
        let needs = HostClientGroupController(plan: plan, hosts: ClientConfigCheckTests.NoHosts()).preflightNeeds()
        let programs = needs.programs["app-host"] ?? [:]
        #expect(programs.keys.sorted() == ["/usr/local/bin/zk-move", "grep", "systemctl", "zk-uses"], "\(programs)")
        #expect(programs["/usr/local/bin/zk-move"]?.contains("apps/app on app-host's switch command") == true, "\(programs)")
    }
}
