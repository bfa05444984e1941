import Ensemble
import Foundation
import Hosts
import Testing

@testable import Migration
@testable import MigrationPlanning

/// `mitosis plan … --kubernetes DIR`: HubSpot's manifests, checked by an independent Kubernetes
/// library (the kubernetes Python client's typed models, through scripts/check-kubernetes-manifests.py).
@Suite struct KubernetesManifestTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let checker = repository.appendingPathComponent("scripts/check-kubernetes-manifests.py").path
    static let hosts = ["zk-source-1": "10.0.0.1", "zk-source-2": "10.0.0.2", "zk-source-3": "10.0.0.3"]

    static func servicePlan() throws -> Plan { try Fixtures.plan(.replace, 3, 3, staying: true, serviceAddresses: true) }

    static func write(_ files: [KubernetesManifests.File]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-k8s-\(UUID().uuidString)")
        for file in files {
            let url = directory.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.text.utf8).write(to: url)
        }
        return directory
    }

    static func check(_ paths: [String]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(["/usr/bin/python3", checker] + paths)
    }

    /// Every manifest deserializes into the kubernetes client's models and back unchanged; the
    /// same checker refuses a misspelt field and a number written as text (so it can fail).
    @Test func manifestsAreValidKubernetesObjectsAndTheCheckerCatchesAWrongField() async throws {
        let files = try KubernetesManifests.make(try Self.servicePlan(), hostAddresses: Self.hosts)
        let directory = try Self.write(files)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try await Self.check([directory.path])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("15 documents in 10 files"), "\(good.output)")
        #expect(good.output.contains("ConfigMap, Endpoints, Service, StatefulSet"), "\(good.output)")

        let statefulSet = try #require(files.first { $0.path == "phase-4/source-1/3-statefulset.yaml" }).text
        let service = try #require(files.first { $0.path == "phase-1/services.yaml" }).text
        let broken = directory.appendingPathComponent("broken")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Data(statefulSet.replacingOccurrences(of: "readOnly: true", with: "readonly: true").utf8)
            .write(to: broken.appendingPathComponent("misspelt.yaml"))
        try Data(service.replacingOccurrences(of: "port: 2888", with: "port: \"2888\"").utf8)
            .write(to: broken.appendingPathComponent("text-port.yaml"))
        let bad = try await Self.check([broken.path])
        #expect(bad.status == 1)
        #expect(bad.output.contains("spec.template.spec.containers[0].volumeMounts[1].readonly: not a field of the model"), "\(bad.output)")
        #expect(bad.output.contains("spec.ports[1].port: '2888' (str) became 2888 (int)"), "\(bad.output)")
    }

    /// What HubSpot's phases need: the ClusterIP is the stable address, the Endpoints point at the
    /// old host, the pod keeps the myid, lists its peers by service name, listens on every address
    /// and is ready only when synced; the runbook names a kubectl command for every step.
    @Test func manifestsCarryTheIdsAddressesAndReadinessOfEachServer() throws {
        let plan = try Self.servicePlan()
        let files = try KubernetesManifests.make(plan, hostAddresses: Self.hosts, options: .init(namespace: "zk", image: "registry/zk:3.8.0"))
        func text(_ path: String) throws -> String { try #require(files.first { $0.path == path }, "\(path)").text }
        let phase1 = try text("phase-1/services.yaml")
        #expect(phase1.contains("clusterIP: \"10.1.0.2\""))
        #expect(phase1.contains("- ip: \"10.0.0.2\""))
        #expect(!phase1.contains("selector"), "phase 1 Services have no selector: their Endpoints point at the hosts")
        for port in ["2181", "2888", "3888"] { #expect(phase1.contains("port: \(port)")) }

        let config = try text("phase-4/source-2/1-configmap.yaml")
        for expected in [
            "server.1=source-1.zk.svc.cluster.local:2888:3888", "server.2=source-2.zk.svc.cluster.local:2888:3888",
            "quorumListenOnAllIPs=true", "dataDir=/data", "4lw.commands.whitelist=", "srvr",
            "PEERS=\"source-1.zk.svc.cluster.local:2181 source-2.zk.svc.cluster.local:2181 source-3.zk.svc.cluster.local:2181\"",
        ] {
            #expect(config.contains(expected), "\(expected)")
        }
        #expect(config.contains("zoo.cfg: |\n"), "zoo.cfg is a literal block")
        let service = try text("phase-4/source-2/2-service.yaml")
        #expect(service.contains("zookeeper.mitosis/server-id: \"source-2\""))
        #expect(service.contains("publishNotReadyAddresses: true"))
        let statefulSet = try text("phase-4/source-2/3-statefulset.yaml")
        #expect(statefulSet.contains("cp /conf/myid /data/myid && exec zkServer.sh start-foreground /conf/zoo.cfg"))
        #expect(config.contains("myid: |\n    2\n"), "myid is a key of the ConfigMap, which the pod copies into its volume")
        #expect(statefulSet.contains("image: \"registry/zk:3.8.0\""))
        #expect(statefulSet.contains("replicas: 1"))
        #expect(statefulSet.contains("- \"/conf/ready.sh\""))

        let runbook = try text("RUNBOOK.md")
        for step in plan.steps { #expect(runbook.contains("### [\(step.id)]"), "\(step.id)") }
        #expect(runbook.contains("kubectl apply -f phase-1/services.yaml"))
        #expect(runbook.contains("kubectl apply -f phase-4/source-3/2-service.yaml"))
        #expect(runbook.contains("kubectl rollout status statefulset/source-3 -n zk"))
        #expect(!runbook.contains("(no kubectl command"))
    }

    @Test func refusedForOtherPlansAndHostsWithoutAddresses() throws {
        let mitosis = try Fixtures.plan(.mitosisObservers, 3, 3)
        #expect(throws: KubernetesManifests.Refusal.self) { try KubernetesManifests.make(mitosis, hostAddresses: Self.hosts) }
        let interface = try Fixtures.plan(.replace, 3, 3, movableAddresses: true)
        do {
            _ = try KubernetesManifests.make(interface, hostAddresses: Self.hosts)
            Issue.record("a replace with interface addresses has no Services to write")
        } catch {
            #expect(error.message.contains("source server 1 (zk-source-1) has no service address"))
        }
        let plan = try Self.servicePlan()
        do {
            _ = try KubernetesManifests.make(plan, hostAddresses: ["zk-source-1": "10.0.0.1"])
            Issue.record("a host without an address cannot be an Endpoints address")
        } catch {
            #expect(error.message.contains("host zk-source-2 (source server 2) has no IP address in the inventory"))
        }
    }

    @Test func serviceNamesAreDNSLabels() {
        #expect(KubernetesManifests.serviceName(ensemble: "zk-main", id: 3) == "zk-main-3")
        #expect(KubernetesManifests.serviceName(ensemble: "ZK_Main.prod", id: 12) == "zk-main-prod-12")
        #expect(KubernetesManifests.serviceName(ensemble: "1st", id: 1) == "zk-1st-1")
        let long = KubernetesManifests.serviceName(ensemble: String(repeating: "a", count: 80), id: 1)
        #expect(long.count + "-config".count <= 63)
    }

    /// The committed example set is what the tool writes from the example inventory (the command
    /// is in the inventory's header and in the README).
    @Test func exampleSetIsWhatTheToolWrites() throws {
        let example = Self.repository.appendingPathComponent("examples/kubernetes")
        let inventoryText = try String(contentsOf: example.appendingPathComponent("inventory.yaml"), encoding: .utf8)
        let inventory = try Inventory.parse(yaml: inventoryText, fileName: "inventory.yaml")
        let plan = try Planner.plan(.replace, inventory: inventory, source: "zk-main", destination: "zk-k8s")
        #expect(try Prover.check(plan).isSafe)
        let files = try KubernetesManifests.make(
            plan, hostAddresses: inventory.hostAddresses, pods: inventory.podStatefulSets, options: .init(namespace: try #require(inventory.kubernetes?.namespace)))
        #expect(inventory.podStatefulSets == ["zk-pod-1": "zk-main-1", "zk-pod-2": "zk-main-2", "zk-pod-3": "zk-main-3"])
        for file in files {
            let committed = try? String(contentsOf: example.appendingPathComponent("manifests/\(file.path)"), encoding: .utf8)
            #expect(committed == file.text, "examples/kubernetes/manifests/\(file.path) differs from what the tool writes: run the command in examples/kubernetes/inventory.yaml")
        }
    }
}
