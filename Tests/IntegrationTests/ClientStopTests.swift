import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import Testing

/// Block & copy's block window on real processes: a member's stop command runs on its host, and
/// the switch's restart starts it again with the new connection string.
@Suite struct ClientStopTests {
    struct LocalHosts: HostDirectory {
        func driver(for host: String) throws -> any HostDriver { LocalHostDriver(host: host) }
    }

    static func plan(directory: String, stop: String?) -> Plan {
        let empty = PlanEnsemble(name: "dst", version: .v3_8_0, servers: [], initialData: .holdsData, initiallyRunning: true)
        let member = PlanClientMember(
            name: "broker-1", host: "local", configPath: directory + "/server.properties",
            restart: "echo started >> \(directory)/state", stop: stop, connectionString: "10.1.0.1:2181/kafka")
        return Plan(
            strategy: .copy, source: PlanEnsemble(name: "src", version: .v3_8_0, servers: [], initialData: .holdsData, initiallyRunning: true),
            destination: empty, clientGroups: [PlanClientGroup(name: "kafka", chroot: "/kafka", moves: true, members: [member])], steps: [],
            pointOfNoReturn: nil, impactWindows: [])
    }

    @Test func aStoppedMemberRunsItsStopCommandAndTheSwitchStartsIt() async throws {
        let directory = NSTemporaryDirectory() + "mitosis-client-stop-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "broker.id=1\nzookeeper.connect=10.1.0.1:2181/kafka\n".write(toFile: directory + "/server.properties", atomically: true, encoding: .utf8)
        let plan = Self.plan(directory: directory, stop: "echo stopped >> \(directory)/state")
        // No server answers at these addresses (and none may be asked): sessions are not checked.
        let controller = HostClientGroupController(plan: plan, hosts: LocalHosts(), verifiesSessions: false)
        let client = ClientRef(group: "kafka", member: "broker-1", host: "local")

        let stopped = try await controller.stopMember(client)
        #expect(stopped.map(\.summary) == ["stopped broker-1 (echo stopped >> \(directory)/state)"])
        #expect(try String(contentsOfFile: directory + "/state", encoding: .utf8) == "stopped\n")

        let change = ClientSwitch(
            client: client, configPath: directory + "/server.properties", connectionKey: "zookeeper.connect",
            from: "10.1.0.1:2181/kafka", to: "10.2.0.4:2181/kafka", restart: "echo started >> \(directory)/state")
        _ = try await controller.switchMember(change)
        #expect(try String(contentsOfFile: directory + "/state", encoding: .utf8) == "stopped\nstarted\n")
        #expect(try String(contentsOfFile: directory + "/server.properties", encoding: .utf8) == "broker.id=1\nzookeeper.connect=10.2.0.4:2181/kafka\n")
        #expect(try await controller.hasSwitched(change) == false, "with no sessions to see, a file that says switched is not trusted")
    }

    @Test func aMemberWithoutAStopCommandSaysWhatToAdd() async throws {
        let controller = HostClientGroupController(plan: Self.plan(directory: "/nonexistent", stop: nil), hosts: LocalHosts())
        let error = await #expect(throws: HostError.self) {
            try await controller.stopMember(ClientRef(group: "kafka", member: "broker-1", host: "local"))
        }
        #expect(error?.description.contains("add stop: to it in the inventory") == true)
    }

    @Test func aFailingStopCommandFailsTheStop() async throws {
        let controller = HostClientGroupController(plan: Self.plan(directory: "/nonexistent", stop: "exit 3"), hosts: LocalHosts())
        let error = await #expect(throws: HostError.self) {
            try await controller.stopMember(ClientRef(group: "kafka", member: "broker-1", host: "local"))
        }
        #expect(error?.description.contains("exited with status 3") == true)
    }
}
