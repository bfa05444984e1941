import Ensemble
import Foundation
import Hosts
import Testing
import ZooKeeperTestSupport

@testable import Migration
@testable import MigrationPlanning

/// A pod host (`via: kubernetes`) driven through the inventory's kubectl, against the kubectl
/// test double (``FakeKubernetes``, pods as records): its files are keys of its ConfigMap, its
/// service is its StatefulSet, and its Service selects it.
@Suite struct KubernetesPodTests {
    struct Fixture {
        var cluster: FakeKubernetes
        var inventory: Inventory
        var hosts: InventoryHostDirectory
        var pod: KubernetesPodHostDriver
        /// The pod's files in the inventory: its config directory and its data directory.
        var conf: String { cluster.directory.appendingPathComponent("conf").path }
        var data: String { cluster.directory.appendingPathComponent("data").path }
        let service = ServiceSpec(name: "zookeeper", start: "", stop: "", status: "", timeout: .seconds(20))

        init(environment: [String: String] = [:]) throws {
            cluster = try FakeKubernetes(
                namespace: "zk", services: [.init(name: "zk-main-1", clusterIP: "10.96.0.11", endpoint: "10.0.0.1", ports: [("client", 2181), ("quorum", 2888), ("election", 3888)])],
                environment: environment)
            let root = cluster.directory.path
            inventory = try Inventory.parse(
                yaml: """
                    kubernetes: {kubectl: "\(cluster.kubectl.replacingOccurrences(of: "\"", with: "\\\""))", namespace: zk, image: "registry.example/zookeeper:3.8.0", storage: 2Gi}
                    hosts:
                      - {name: old-1, address: 10.0.0.1, via: local}
                      - {name: pod-1, via: kubernetes, statefulSet: zk-main-1}
                    ensembles:
                      - name: zk-main
                        version: 3.8.0
                        commands: {start: "true", stop: "true", status: "false"}
                        servers:
                          - {id: 1, host: old-1, address: 10.96.0.11, stableAddress: {kind: service}, configPath: /etc/zoo.cfg, dataDir: /var/lib/zk}
                      - name: zk-k8s
                        version: 3.8.0
                        servers:
                          - {id: 1, host: pod-1, address: 10.96.0.11, stableAddress: {kind: service}, configPath: \(root)/conf/zoo.cfg, dataDir: \(root)/data}
                    """)
            hosts = InventoryHostDirectory(inventory: inventory)
            pod = try #require(try hosts.driver(for: "pod-1") as? KubernetesPodHostDriver)
        }

        func writePodFiles() async throws {
            _ = try await pod.writeLatin1(conf + "/zoo.cfg", contents: "tickTime=2000\ndataDir=\(data)\nclientPort=2181\nserver.1=10.96.0.11:2888:3888\n")
            _ = try await pod.writeLatin1(data + "/myid", contents: "1\n")
        }
    }

    /// zoo.cfg and myid are keys of the ConfigMap, byte for byte (a Latin-1 byte goes under
    /// binaryData), written once, read back, and removed again down to no ConfigMap at all.
    @Test func thePodsFilesAreKeysOfItsConfigMap() async throws {
        let fixture = try Fixture()
        defer { fixture.cluster.remove() }
        let pod = fixture.pod
        #expect(pod.ownServiceControl == "StatefulSet zk-main-1 in namespace zk (kubectl apply, kubectl delete)")
        #expect(try await pod.readLatin1(fixture.conf + "/zoo.cfg") == nil)
        #expect(try await pod.listDirectory(fixture.conf) == nil, "no ConfigMap yet")

        let text = "# café\r\nclientPort=2181\n"
        let written = try await pod.writeLatin1(fixture.conf + "/zoo.cfg", contents: text)
        #expect(written.changed && written.summary.contains("zk-main-1-config key zoo.cfg"), "\(written.summary)")
        #expect(try await pod.readLatin1(fixture.conf + "/zoo.cfg") == text)
        let configMap = try #require(try fixture.cluster.object("configmaps", "zk-main-1-config"))
        #expect((configMap["binaryData"] as? [String: String])?["zoo.cfg"] == Data(try Latin1.encode(text)).base64EncodedString(), "ISO-8859-1 bytes are not UTF-8: binaryData")
        #expect((configMap["data"] as? [String: String])?["ready.sh"]?.contains("10.96.0.11:2181") == true, "the readiness script asks the ensemble's addresses")

        _ = try await pod.writeLatin1(fixture.data + "/myid", contents: "1\n")
        #expect(try await pod.readLatin1(fixture.data + "/myid") == "1\n")
        #expect((try fixture.cluster.object("configmaps", "zk-main-1-config")?["data"] as? [String: String])?["myid"] == "1\n")
        let again = try await pod.writeLatin1(fixture.data + "/myid", contents: "1\n")
        #expect(!again.changed)
        #expect(try await pod.listDirectory(fixture.conf) == ["ready.sh", "zoo.cfg"])
        #expect(try await pod.missingDirectories(above: [fixture.conf + "/zoo.cfg", fixture.data + "/myid"]).isEmpty)

        // Anything else is not the pod's to write, and nothing is written.
        await #expect { try await pod.writeFile("/etc/hosts", contents: "x") } throws: { "\($0)".contains("keeps its files in ConfigMap zk-main-1-config") }
        await #expect { try await pod.readFile(fixture.data + "/version-2/log.1") } throws: { "\($0)".contains("pod zk-main-1-0, which does not run") }

        // A rollback's removal: the keys go, then the ConfigMap with its last file.
        #expect(try await pod.removeFile(fixture.data + "/myid").changed)
        #expect(try await pod.readFile(fixture.data + "/myid") == nil)
        let last = try await pod.removeFile(fixture.conf + "/zoo.cfg")
        #expect(last.changed && last.summary.contains("and the ConfigMap"), "\(last.summary)")
        #expect(try fixture.cluster.object("configmaps", "zk-main-1-config") == nil)
        #expect(try await !pod.removeFile(fixture.conf + "/zoo.cfg").changed)
        await fixture.hosts.close()
    }

    /// A ConfigMap edited by someone else between the read and the write is not overwritten.
    @Test func aConfigMapChangedUnderTheWriteIsNotOverwritten() async throws {
        let fixture = try Fixture(environment: ["FAKE_KUBECTL_BUMP_CONFIGMAPS_ON_GET": "1"])
        defer { fixture.cluster.remove() }
        _ = try await fixture.pod.writeLatin1(fixture.conf + "/zoo.cfg", contents: "clientPort=2181\n")
        await #expect { try await fixture.pod.writeLatin1(fixture.conf + "/zoo.cfg", contents: "clientPort=2182\n") } throws: { error in
            "\(error)".contains("the object has been modified (Conflict)")
        }
        #expect(try await fixture.pod.readLatin1(fixture.conf + "/zoo.cfg") == "clientPort=2181\n")
        await fixture.hosts.close()
    }

    /// Starting is applying the StatefulSet (only once its ConfigMap holds zoo.cfg and myid),
    /// done when the pod runs; stopping is deleting it, done when no pod is left; the volume claim
    /// stays, and while no pod runs the data directory cannot be read through it.
    @Test func thePodsServiceIsItsStatefulSet() async throws {
        let fixture = try Fixture()
        defer { fixture.cluster.remove() }
        let pod = fixture.pod
        #expect(try await pod.serviceState(fixture.service) == .stopped)
        #expect(try await pod.listDirectory(fixture.data) == nil, "no pod and no volume claim: nothing there")
        await #expect { try await pod.startService(fixture.service) } throws: { "\($0)".contains("ConfigMap zk-main-1-config does not exist: the plan's prepare step writes it") }
        #expect(try fixture.cluster.object("statefulsets", "zk-main-1") == nil, "nothing applied")

        try await fixture.writePodFiles()
        // A ConfigMap without the readiness script (made by hand) gets it before the pod starts.
        try fixture.cluster.edit { state in
            var configMaps = state["configmaps"] as? [String: Any] ?? [:]
            var configMap = configMaps["zk-main-1-config"] as? [String: Any] ?? [:]
            var data = configMap["data"] as? [String: Any] ?? [:]
            data["ready.sh"] = nil
            configMap["data"] = data
            configMaps["zk-main-1-config"] = configMap
            state["configmaps"] = configMaps
        }
        let started = try await pod.startService(fixture.service)
        #expect((try fixture.cluster.object("configmaps", "zk-main-1-config")?["data"] as? [String: String])?["ready.sh"]?.hasPrefix("#!/bin/bash") == true)
        #expect(started.changed && started.summary.hasPrefix("started pod zk-main-1-0 (StatefulSet zk-main-1, registry.example/zookeeper:3.8.0)"), "\(started.summary)")
        let statefulSet = try #require(try fixture.cluster.object("statefulsets", "zk-main-1"))
        let spec = try #require(statefulSet["spec"] as? [String: Any])
        let template = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((template["containers"] as? [[String: Any]])?.first)
        #expect(container["command"] as? [String] == ["/bin/bash", "-c", "cp \(fixture.conf)/myid \(fixture.data)/myid && exec zkServer.sh start-foreground \(fixture.conf)/zoo.cfg"])
        #expect((container["volumeMounts"] as? [[String: Any]])?.compactMap { $0["mountPath"] as? String } == [fixture.data, fixture.conf])
        #expect(try await pod.serviceState(fixture.service) == .running)
        #expect(try await !pod.startService(fixture.service).changed)

        // While it runs, its directories are read in the pod (kubectl exec).
        try FileManager.default.createDirectory(atPath: fixture.data + "/version-2", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: fixture.data + "/version-2/log.100000001", contents: Data())
        #expect(try await pod.listDirectory(fixture.data + "/version-2") == ["log.100000001"])
        #expect(try await pod.run("echo in the pod", timeout: .seconds(10)).output == "in the pod\n")

        let uid = try #require(((try fixture.cluster.object("pods", "zk-main-1-0"))?["metadata"] as? [String: Any])?["uid"] as? String)
        #expect(try await pod.restartService(fixture.service).changed)
        let newUID = ((try fixture.cluster.object("pods", "zk-main-1-0"))?["metadata"] as? [String: Any])?["uid"] as? String
        #expect(newUID != nil && newUID != uid, "a restart is a new pod")

        let stopped = try await pod.stopService(fixture.service)
        #expect(stopped.changed && stopped.summary.contains("its volume data-zk-main-1-0 stays"), "\(stopped.summary)")
        #expect(try await pod.serviceState(fixture.service) == .stopped)
        #expect(try fixture.cluster.object("statefulsets", "zk-main-1") == nil && fixture.cluster.object("pods", "zk-main-1-0") == nil)
        #expect(try fixture.cluster.object("pvcs", "data-zk-main-1-0") != nil)
        #expect(try await !pod.stopService(fixture.service).changed)
        await #expect { try await pod.listDirectory(fixture.data + "/version-2") } throws: { error in
            "\(error)".contains("the volume claim data-zk-main-1-0 of StatefulSet zk-main-1 exists") && "\(error)".contains("delete pvc data-zk-main-1-0")
        }
        await #expect { try await pod.run("true", timeout: .seconds(10)) } throws: { "\($0)".contains("pod zk-main-1-0 does not run") }
        await fixture.hosts.close()
    }

    @Test func aPodThatCannotStartFailsAtOnceSayingWhy() async throws {
        let fixture = try Fixture(environment: ["FAKE_KUBECTL_POD_PROBLEM": "ImagePullBackOff"])
        defer { fixture.cluster.remove() }
        try await fixture.writePodFiles()
        await #expect { try await fixture.pod.startService(fixture.service) } throws: { error in
            "\(error)".contains("pod zk-main-1-0 cannot run: ImagePullBackOff") && "\(error)".contains("describe pod zk-main-1-0")
        }
        await fixture.hosts.close()
    }

    /// Phase 4's retarget to a pod host puts a selector on the Service; Kubernetes then keeps
    /// the Endpoints (nothing until the pod exists, then the pod). The way back (a rollback)
    /// drops the selector and writes the host's IP.
    @Test func theServiceSelectsThePodAndComesBack() async throws {
        let fixture = try Fixture()
        defer { fixture.cluster.remove() }
        let hosts = fixture.hosts
        #expect(try await hosts.serviceBackend("10.96.0.11") == "old-1")
        let selected = try await hosts.retargetService("10.96.0.11", to: "pod-1")
        #expect(selected.changed && selected.summary.hasPrefix("service zk-main-1 (10.96.0.11) selects pod zk-main-1-0"), "\(selected.summary)")
        let spec = try #require(try fixture.cluster.object("services", "zk-main-1")?["spec"] as? [String: Any])
        #expect(spec["selector"] as? [String: String] == ["zookeeper.mitosis/server-id": "zk-main-1"])
        #expect(spec["publishNotReadyAddresses"] as? Bool == true)
        #expect(try fixture.cluster.endpointIPs("zk-main-1").isEmpty, "the old host is gone, and no pod exists yet")
        #expect(try await hosts.serviceBackend("10.96.0.11") == nil)
        #expect(try await !hosts.retargetService("10.96.0.11", to: "pod-1").changed)

        try await fixture.writePodFiles()
        _ = try await fixture.pod.startService(fixture.service)
        #expect(try await hosts.serviceBackend("10.96.0.11") == "pod-1")

        let back = try await hosts.retargetService("10.96.0.11", to: "old-1")
        #expect(back.changed && back.summary.contains("points at 10.0.0.1, its selector removed"), "\(back.summary)")
        #expect(try fixture.cluster.object("services", "zk-main-1")?["spec"].flatMap { ($0 as? [String: Any])?["selector"] } == nil)
        #expect(try fixture.cluster.endpointIPs("zk-main-1") == ["10.0.0.1"])
        #expect(try await hosts.serviceBackend("10.96.0.11") == "old-1")
        await hosts.close()
    }

    @Test func accessProblemsNameWhatKubectlMayNotDo() async throws {
        let allowed = try Fixture()
        defer { allowed.cluster.remove() }
        #expect(try await allowed.pod.kubectl.accessProblems().isEmpty)
        let denied = try Fixture(environment: ["FAKE_KUBECTL_DENY": "create:statefulsets create:pods/exec"])
        defer { denied.cluster.remove() }
        let problems = try await denied.pod.kubectl.accessProblems()
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.first?.hasPrefix("kubectl may not create statefulsets in namespace zk") == true, "\(problems)")
        await allowed.hosts.close()
        await denied.hosts.close()
    }

    /// The inventory says what is wrong with a pod host before anything runs.
    @Test func podHostsAreCheckedAsTheInventoryIsRead() {
        func errors(_ hosts: String, _ servers: String, kubernetes: Bool = true) -> String {
            let yaml = (kubernetes ? "kubernetes: {kubectl: kubectl, namespace: zk}\n" : "") + """
                hosts:
                \(hosts)
                ensembles:
                  - name: e
                    version: 3.8.0
                    servers:
                \(servers)
                """
            do {
                _ = try Inventory.parse(yaml: yaml)
                return ""
            } catch {
                return "\(error)"
            }
        }
        let pod = "  - {name: p, via: kubernetes, statefulSet: zk-e-1}"
        let good = "      - {id: 1, host: p, address: 10.96.0.1, stableAddress: {kind: service}, configPath: /conf/zoo.cfg, dataDir: /data}"
        #expect(errors(pod, good) == "")
        #expect(errors(pod, good, kubernetes: false).contains("which Mitosis drives through kubectl: add a kubernetes section"))
        #expect(errors("  - {name: p, via: kubernetes}", good).contains("needs statefulSet"))
        #expect(errors("  - {name: p, via: kubernetes, statefulSet: Zk_1}", good).contains("is not a Kubernetes name"))
        #expect(errors("  - {name: p, via: kubernetes, statefulSet: zk-e-1, address: 10.0.0.1}", good).contains("whose IP changes with every pod"))
        #expect(errors("  - {name: p, via: local, statefulSet: zk-e-1}", good).contains("statefulSet names the pod of a host reached via kubernetes"))
        #expect(errors(pod, good.replacingOccurrences(of: "}", with: ", commands: {start: x}}")).contains("its StatefulSet zk-e-1 starts and stops it"))
        #expect(errors(pod, "      - {id: 1, host: p, configPath: /conf/zoo.cfg, dataDir: /data}").contains("must be reached at its Service's ClusterIP"))
        #expect(errors(pod, good.replacingOccurrences(of: "dataDir: /data", with: "dataDir: /conf")).contains("must be apart"))
        #expect(errors(pod, good.replacingOccurrences(of: "}", with: ", dataLogDir: /log}")).contains("remove dataLogDir"))
        #expect(errors(pod, good + "\n" + good.replacingOccurrences(of: "id: 1", with: "id: 2").replacingOccurrences(of: ".1,", with: ".2,")).contains("runs 2 servers"))
    }
}
