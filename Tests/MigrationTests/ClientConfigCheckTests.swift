import Ensemble
import Hosts
import Testing

@testable import Migration
@testable import MigrationPlanning

/// The plan-time check of moving members, with files given as text (the host read is separate).
@Suite struct ClientConfigCheckTests {
    struct NoHosts: HostDirectory {
        func driver(for host: String) throws -> any HostDriver {
            throw HostError(.invalidRequest, host: host, operation: "find host", "no hosts in this test")
        }
    }

    static let member = PlanClientMember(
        name: "pg-1", host: "pg-1", configPath: "/etc/patroni.yml", connectionKey: "zookeeper.hosts", connectionString: "10.1.0.1:2181",
        format: .yaml, address: "10.3.0.1")

    @Test func aFileThatCannotBeSwitchedIsNamedWithHostFileAndKey() {
        #expect(ClientConfigCheck.problem(member: Self.member, text: "zookeeper:\n  hosts: [10.1.0.1:2181]\n", switchingTo: "10.2.0.1:2181") == nil)
        #expect(ClientConfigCheck.problem(member: Self.member, text: nil, switchingTo: "10.2.0.1:2181")
            == "pg-1: /etc/patroni.yml (member pg-1, yaml, key zookeeper.hosts): the file does not exist; check configPath in the inventory")
        #expect(ClientConfigCheck.problem(member: Self.member, text: "zookeeper: {}\n", switchingTo: "10.2.0.1:2181")
            == "pg-1: /etc/patroni.yml (member pg-1, yaml, key zookeeper.hosts): no key path zookeeper.hosts (each dot is one level of mapping)")
    }

    @Test func aMemberWhoseSessionsCannotBeRecognisedIsRefused() async {
        let member = PlanClientMember(
            name: "app", host: "app.example.com", configPath: "", connectionKey: "", connectionString: "10.1.0.1:2181", format: .command,
            switchCommand: "move", verifyCommand: "uses", address: "app.example.com")
        let empty = PlanEnsemble(name: "e", version: .v3_8_0, servers: [], initialData: .empty, initiallyRunning: true)
        let plan = Plan(
            strategy: .mitosis, source: empty, destination: empty, clientGroups: [PlanClientGroup(name: "apps", chroot: nil, moves: true, members: [member])],
            steps: [], pointOfNoReturn: nil, impactWindows: [])
        let problems = await ClientConfigCheck.problems(plan, hosts: NoHosts())
        #expect(problems.count == 1 && problems[0].contains("'app.example.com' is not an IP address"), "\(problems)")
        var matched = plan
        matched.clientGroups[0].members[0].match = [ClientAddressMatch(address: "10.3.0.9")]
        #expect(await ClientConfigCheck.problems(matched, hosts: NoHosts()).isEmpty)
    }
}
