import Ensemble
import Foundation
import Hosts
import Testing
import ZooKeeperTestSupport

@testable import Migration
@testable import MigrationPlanning

/// Service retargeting through the inventory's kubectl command. No Kubernetes cluster can run on
/// this machine, so kubectl is a test double (``FakeKubernetes``): it keeps the objects in a JSON
/// file, accepts only the exact commands Mitosis should send (anything else exits 2 naming it),
/// plays the endpoints controller, and logs every call.
@Suite struct KubectlServicesTests {
    struct Fixture {
        var cluster: FakeKubernetes
        var inventory: Inventory
        var directory: URL { cluster.directory }

        init(ignorePatches: Bool = false) throws {
            cluster = try FakeKubernetes(
                namespace: "zk",
                services: [
                    .init(name: "zk-main-1", clusterIP: "10.96.0.11", endpoint: "10.0.0.1"), .init(name: "zk-main-2", clusterIP: "10.96.0.12", endpoint: "10.0.0.2"),
                ],
                environment: ignorePatches ? ["FAKE_KUBECTL_IGNORE_PATCHES": "1"] : [:])
            let yaml = """
                kubernetes:
                  kubectl: \(cluster.kubectl)
                  namespace: zk
                hosts:
                  - {name: old-1, address: 10.0.0.1, via: local}
                  - {name: new-1, address: 10.0.1.1, via: local}
                  - {name: pod-2, via: local}
                ensembles:
                  - name: zk-main
                    version: 3.8.0
                    servers:
                      - {id: 1, host: old-1, address: 10.96.0.11, stableAddress: {kind: service}, configPath: /etc/zoo.cfg, dataDir: /var/lib/zk}
                """
            inventory = try Inventory.parse(yaml: yaml)
        }

        func endpointsIP(_ name: String) throws -> String? { try cluster.endpointIPs(name).first }
        func calls() throws -> [String] { cluster.calls() }
        var state: URL { cluster.state }
    }

    @Test func retargetPatchesTheEndpointsAndReadsThemBack() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        #expect(fixture.inventory.kubernetes?.namespace == "zk")
        let hosts = InventoryHostDirectory(inventory: fixture.inventory)
        #expect(try await hosts.serviceBackend("10.96.0.11") == "old-1")

        let change = try await hosts.retargetService("10.96.0.11", to: "new-1")
        #expect(change.changed)
        #expect(change.summary == "service zk-main-1 (10.96.0.11) points at 10.0.1.1 (was 10.0.0.1)")
        #expect(try fixture.endpointsIP("zk-main-1") == "10.0.1.1")
        #expect(try fixture.endpointsIP("zk-main-2") == "10.0.0.2", "the other service is left alone")
        #expect(try await hosts.serviceBackend("10.96.0.11") == "new-1")
        let calls = try fixture.calls()
        #expect(calls.contains(#"-n zk patch endpoints zk-main-1 --type=json -p [{"op":"replace","path":"/subsets/0/addresses","value":[{"ip":"10.0.1.1"}]}]"#))
        #expect(calls.filter { $0 == "-n zk get endpoints zk-main-1 --ignore-not-found -o json" }.count >= 2, "read before and after the patch")

        // A resumed run repeats the step: nothing is patched again.
        let again = try await hosts.retargetService("10.96.0.11", to: "new-1")
        #expect(!again.changed)
        #expect(try fixture.calls().filter { $0.contains(" patch ") }.count == 1)
        await hosts.close()
    }

    /// HubSpot's phase 1 through kubectl: a service that does not exist yet is created (the
    /// Service without selector and its Endpoints, the objects of `phase-1/services.yaml`) and
    /// read back; one that exists is only pointed; a repeated step changes nothing.
    @Test func phaseOneCreatesAMissingServiceAndPointsAnExistingOne() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let hosts = InventoryHostDirectory(inventory: fixture.inventory)
        var server = try #require(fixture.inventory.ensembles.first?.servers.first)
        server.address = "10.96.0.13"
        server.id = 3
        let created = try await hosts.createService(for: server, ensemble: "zk-main", at: "old-1")
        #expect(created.changed && created.summary == "created service zk-main-3 (10.96.0.13) and its Endpoints, pointing at 10.0.0.1", "\(created.summary)")
        #expect(try fixture.endpointsIP("zk-main-3") == "10.0.0.1")
        #expect(try await hosts.serviceBackend("10.96.0.13") == "old-1")
        let service = try fixture.cluster.object("services", "zk-main-3")
        let spec = service?["spec"] as? [String: Any]
        #expect(spec?["clusterIP"] as? String == "10.96.0.13")
        #expect((spec?["ports"] as? [[String: Any]])?.compactMap { $0["port"] as? Int } == [server.clientPort, server.quorumPort, server.electionPort])

        let again = try await hosts.createService(for: server, ensemble: "zk-main", at: "old-1")
        #expect(!again.changed)
        // An existing service (applied by hand from phase-1/services.yaml) is pointed, not re-created.
        let existing = try #require(fixture.inventory.ensembles.first?.servers.first)
        let pointed = try await hosts.createService(for: existing, ensemble: "zk-main", at: "new-1")
        #expect(pointed.changed && pointed.summary.hasPrefix("service zk-main-1 (10.96.0.11) points at 10.0.1.1"))
        let calls = try fixture.calls()
        #expect(calls.filter { $0.contains(" apply -f ") }.count == 1, "\(calls)")
        #expect(calls.filter { $0.contains(" patch ") }.count == 1, "\(calls)")
        await #expect { try await hosts.createService(for: server, ensemble: "zk-main", at: "pod-2") } throws: { error in
            "\(error)".contains("host pod-2 has no IP address in the inventory")
        }
        await hosts.close()
    }

    @Test func refusalsNameWhatIsWrong() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let hosts = InventoryHostDirectory(inventory: fixture.inventory)
        await #expect { try await hosts.retargetService("10.96.0.99", to: "new-1") } throws: { error in
            "\(error)".contains("no Service in namespace zk has clusterIP 10.96.0.99")
        }
        await #expect { try await hosts.retargetService("10.96.0.11", to: "pod-2") } throws: { error in
            "\(error)".contains("host pod-2 has no IP address in the inventory")
        }
        #expect(try fixture.endpointsIP("zk-main-1") == "10.0.0.1", "nothing changed")
        await hosts.close()
    }

    @Test func theKubernetesSectionNeedsAKubectlCommand() {
        let yaml = """
            kubernetes: {namespace: zk, kubctl: kubectl}
            hosts: [{name: a, via: local}]
            ensembles: [{name: e, version: 3.8.0, servers: [{id: 1, host: a, configPath: /z.cfg, dataDir: /d}]}]
            """
        #expect { try Inventory.parse(yaml: yaml) } throws: { error in
            let text = "\(error)"
            return text.contains("unknown key 'kubctl' in the kubernetes section; did you mean 'kubectl'?")
                && text.contains("the kubernetes section is missing the required key 'kubectl'")
        }
    }

    /// A patch that kubectl accepts but that does not take (e.g. a selector makes Kubernetes
    /// manage the Endpoints) is caught by reading them back.
    @Test func aPatchThatDoesNotTakeIsCaught() async throws {
        let fixture = try Fixture(ignorePatches: true)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let hosts = InventoryHostDirectory(inventory: fixture.inventory)
        await #expect { try await hosts.retargetService("10.96.0.11", to: "new-1") } throws: { error in
            "\(error)".contains("after the patch, the Endpoints zk-main-1 list 10.0.0.1 instead of 10.0.1.1 alone")
        }
        await hosts.close()
    }
}
