import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import NIOPosix
import Testing
import ZooKeeperTestSupport

/// A run reaches every host and finds every program before it changes anything: a member whose
/// restart command names a missing program, or a host behind an SSH port nothing listens on, stops
/// the run before the first file is written. Two local members (files on this machine) are
/// switched in turn; the failing one comes second, so a run without the preflight would have
/// rewritten the first member's file and restarted it.
@Suite struct PreflightRuns {
    /// Every file under `directory`, by path.
    static func files(_ directory: String) -> [String: Data] {
        var result: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            result[name] = FileManager.default.contents(atPath: directory + "/" + name)
        }
        return result
    }

    /// `first` (local, healthy) switches in step 1, `second` in step 2.
    static func plan(_ first: LocalClientFixture, second: PlanClientMember, secondRestart: String) -> Plan {
        var plan = first.plan()
        plan.clientGroups[0].members.append(second)
        let change = ClientSwitch(
            client: ClientRef(group: "app", member: second.name, host: second.host), configPath: second.configPath,
            connectionKey: "zookeeper.connect", from: LocalClientFixture.from, to: LocalClientFixture.to, restart: secondRestart)
        plan.steps.append(Step(id: "switch-app-2", title: "Switch app-2", why: "test", actions: [.switchClient(change)]))
        return plan
    }

    func expectRefused(_ plan: Plan, _ fixture: LocalClientFixture, hosts: any HostDirectory, naming expected: [String]) async throws {
        let journal = Journal(path: fixture.directory + "/plan.journal")
        let before = Self.files(fixture.directory)
        let executor = MigrationExecutor(plan: try Prover.prove(plan), hosts: hosts, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, journal: journal)
        let error = await #expect(throws: ExecutionError.self) { try await executor.run() }
        #expect(error?.code == .preflightFailed)
        for text in expected { #expect(error?.message.contains(text) == true, "\(String(describing: error))") }
        #expect(error?.message.contains("nothing was changed on any host") == true)
        #expect(Self.files(fixture.directory) == before, "a file changed before the preflight refused the run")
        #expect(fixture.restarts.isEmpty && fixture.config == LocalClientFixture.original)
        #expect(!FileManager.default.fileExists(atPath: journal.path), "the refused run wrote a journal")
    }

    @Test func aMissingProgramStopsTheRunBeforeAnyFileIsWritten() async throws {
        let fixture = try LocalClientFixture()
        defer { fixture.remove() }
        let secondPath = fixture.directory + "/second.properties"
        let second = PlanClientMember(
            name: "app-2", host: fixture.host, configPath: secondPath, restart: "mitosis-no-such-program --restart",
            healthCheck: "test -f \(shellQuoted(fixture.healthyMarker))", connectionString: LocalClientFixture.from)
        try LocalClientFixture.original.write(toFile: secondPath, atomically: true, encoding: .utf8)
        let plan = Self.plan(fixture, second: second, secondRestart: "sudo -n true; mitosis-no-such-program --restart")
        try await expectRefused(
            plan, fixture, hosts: fixture.hosts,
            naming: ["app-host: `mitosis-no-such-program` is not found", "app/app-2 on app-host's restart command"])

        // With the program there, the same plan runs (the preflight is not a blanket refusal).
        let fine = Self.plan(fixture, second: second, secondRestart: fixture.restartCommand())
        let journal = Journal(path: fixture.directory + "/fine.journal")
        let outcome = try await MigrationExecutor(plan: try Prover.prove(fine), hosts: fixture.hosts, clients: fixture.controller(fine), eventLoopGroup: MultiThreadedEventLoopGroup.singleton, journal: journal).run()
        #expect(outcome == .finished)
        #expect(try journal.load().events.first?.summary.contains("preflight: 1 host reached") == true)
    }

    @Test func anUnreachableSSHHostStopsTheRunBeforeAnyFileIsWritten() async throws {
        let fixture = try LocalClientFixture()
        defer { fixture.remove() }
        // A loopback port nothing listens on: the connection is refused at once.
        let port = try FreePort.allocate()
        let second = PlanClientMember(
            name: "app-2", host: "far-host", configPath: "/etc/app/server.properties", restart: "systemctl restart app",
            connectionString: LocalClientFixture.from)
        let plan = Self.plan(fixture, second: second, secondRestart: "systemctl restart app")
        let inventory = Inventory(
            ensembles: [],
            hosts: [
                HostSpec(name: fixture.host, access: .local),
                HostSpec(name: "far-host", address: "127.0.0.1", access: .ssh(SSHAccess(user: "nobody", port: port, keyPath: fixture.directory + "/no-key", knownHostsPath: fixture.directory + "/no-known-hosts", sudo: false))),
            ],
            clientGroups: [])
        let hosts = InventoryHostDirectory(inventory: inventory)
        try await expectRefused(plan, fixture, hosts: hosts, naming: ["far-host: cannot be reached"])
        await hosts.close()
    }
}
