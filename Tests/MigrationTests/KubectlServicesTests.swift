import Ensemble
import Foundation
import Hosts
import Testing

@testable import Migration
@testable import MigrationPlanning

/// Service retargeting through the inventory's kubectl command. No Kubernetes cluster can run on
/// this machine, so kubectl is a test double: a script that keeps Services and Endpoints in a JSON
/// file, accepts only the exact commands Mitosis should send (anything else exits 2 naming it),
/// applies the JSON patch it is given, and logs every call.
@Suite struct KubectlServicesTests {
    static let fake = #"""
        import json, os, sys
        state_path, log_path = os.environ["FAKE_KUBECTL_STATE"], os.environ["FAKE_KUBECTL_LOG"]
        args = sys.argv[1:]
        with open(log_path, "a") as log:
            log.write(" ".join(args) + "\n")
        state = json.load(open(state_path))
        def fail(message):
            print("fake kubectl: " + message, file=sys.stderr)
            sys.exit(2)
        if args[:2] != ["-n", state["namespace"]]:
            fail("expected -n %s first, got %r" % (state["namespace"], args))
        args = args[2:]
        if args == ["get", "services", "-o", "json"]:
            print(json.dumps({"kind": "ServiceList", "items": state["services"]}))
        elif len(args) == 5 and args[:2] == ["get", "endpoints"] and args[3:] == ["-o", "json"]:
            if args[2] not in state["endpoints"]:
                fail('endpoints "%s" not found' % args[2])
            print(json.dumps(state["endpoints"][args[2]]))
        elif len(args) == 6 and args[:2] == ["patch", "endpoints"] and args[3] == "--type=json" and args[4] == "-p":
            if args[2] not in state["endpoints"]:
                fail('endpoints "%s" not found' % args[2])
            patch = json.loads(args[5])
            for op in patch:
                if op.get("op") != "replace" or op.get("path") != "/subsets/0/addresses":
                    fail("unexpected patch %r" % op)
                if not all(isinstance(a, dict) and set(a) == {"ip"} for a in op["value"]):
                    fail("addresses must be [{ip: ...}], got %r" % op["value"])
                if not os.environ.get("FAKE_KUBECTL_IGNORE_PATCHES"):
                    state["endpoints"][args[2]]["subsets"][0]["addresses"] = op["value"]
            json.dump(state, open(state_path, "w"))
            print("endpoints/%s patched" % args[2])
        elif len(args) == 3 and args[:2] == ["apply", "-f"]:
            objects = json.load(open(args[2]))
            if objects.get("kind") != "List":
                fail("expected a v1 List, got %r" % objects.get("kind"))
            for item in objects["items"]:
                name = item["metadata"]["name"]
                if item["metadata"].get("namespace", state["namespace"]) != state["namespace"]:
                    fail("object %s names namespace %s" % (name, item["metadata"]["namespace"]))
                if item["kind"] == "Service":
                    if "selector" in item["spec"]:
                        fail("a phase-1 Service has no selector")
                    state["services"] = [s for s in state["services"] if s["metadata"]["name"] != name] + [item]
                elif item["kind"] == "Endpoints":
                    state["endpoints"][name] = item
                else:
                    fail("unexpected kind %r" % item["kind"])
                print("%s/%s created" % (item["kind"].lower(), name))
            json.dump(state, open(state_path, "w"))
        else:
            fail("unexpected arguments %r" % args)
        """#

    struct Fixture {
        var directory: URL
        var inventory: Inventory
        var state: URL { directory.appendingPathComponent("state.json") }
        var log: URL { directory.appendingPathComponent("calls.log") }

        init(ignorePatches: Bool = false) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-kubectl-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let script = directory.appendingPathComponent("kubectl.py")
            try Data(KubectlServicesTests.fake.utf8).write(to: script)
            func service(_ name: String, _ ip: String) -> [String: Any] {
                ["metadata": ["name": name], "spec": ["clusterIP": ip, "ports": [["name": "client", "port": 2181]]]]
            }
            func endpoints(_ ip: String) -> [String: Any] {
                ["subsets": [["addresses": [["ip": ip]], "ports": [["name": "client", "port": 2181]]]]]
            }
            let state: [String: Any] = [
                "namespace": "zk",
                "services": [service("zk-main-1", "10.96.0.11"), service("zk-main-2", "10.96.0.12")],
                "endpoints": ["zk-main-1": endpoints("10.0.0.1"), "zk-main-2": endpoints("10.0.0.2")],
            ]
            try JSONSerialization.data(withJSONObject: state).write(to: directory.appendingPathComponent("state.json"))
            let environment = "FAKE_KUBECTL_STATE=\(directory.path)/state.json FAKE_KUBECTL_LOG=\(directory.path)/calls.log"
                + (ignorePatches ? " FAKE_KUBECTL_IGNORE_PATCHES=1" : "")
            let yaml = """
                kubernetes:
                  kubectl: \(environment) /usr/bin/python3 \(script.path)
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

        func endpointsIP(_ name: String) throws -> String? {
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: self.state)) as? [String: Any]
            let endpoints = (state?["endpoints"] as? [String: Any])?[name] as? [String: Any]
            let subset = (endpoints?["subsets"] as? [[String: Any]])?.first
            return ((subset?["addresses"] as? [[String: Any]])?.first)?["ip"] as? String
        }

        func calls() throws -> [String] {
            try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        }
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
        #expect(calls.filter { $0 == "-n zk get endpoints zk-main-1 -o json" }.count >= 2, "read before and after the patch")

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
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture.state)) as? [String: Any]
        let service = (state?["services"] as? [[String: Any]])?.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "zk-main-3" }
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
