import Ensemble
import Foundation
import Hosts
import Kafka
import Migration
import MigrationPlanning
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    /// `kafka kraft plan`, `run` and `rollback` on one real ZooKeeper 3.8.0 holding Kafka's layout
    /// (one chroot per scenario). The brokers and the KRaft controller are TEST DOUBLES: small
    /// python3/kazoo scripts run through the local host driver as the members' restart and stop
    /// commands. A broker double reads its own server.properties and registers `/brokers/ids/N`
    /// (ZooKeeper and migration mode; persistent here, where Kafka's is ephemeral) or deregisters
    /// (KRaft mode). The controller double, in migration mode, creates `/migration` (all -1), waits
    /// until every registered and assigned broker is in migration mode, takes over `/controller`
    /// with Kafka's multi-op (CAS `/controller_epoch` + 1, delete, create persistent with
    /// `kraftControllerEpoch`), dual-writes the partition states with its epoch and advances
    /// `/migration` every 0.2 s (KRAFT.md §2). ZooKeeper, the files and the commands are real.
    @Suite struct KRaftMigrationTests {
        static let double = #"""
            import json, os, sys, time
            from kazoo.client import KazooClient
            from kazoo.exceptions import NoNodeError, NodeExistsError

            def props(path):
                out = {}
                for line in open(path):
                    line = line.strip()
                    if not line or line[0] in "#!":
                        continue
                    key, _, value = line.partition("=")
                    out[key.strip()] = value.strip()
                return out

            def compact(value):
                return json.dumps(value, separators=(",", ":")).encode()

            role, config, state = sys.argv[1], sys.argv[2], sys.argv[3]
            p = props(config)
            zk = KazooClient(hosts=p.get("zookeeper.connect") or open(os.path.join(state, "zk")).read().strip())
            zk.start(timeout=10)
            if role == "broker":
                nid = p.get("broker.id") or p.get("node.id")
                mode = "kraft" if "process.roles" in p else ("migration" if p.get("zookeeper.metadata.migration.enable") == "true" else "zk")
                try:
                    zk.delete("/brokers/ids/" + nid)
                except NoNodeError:
                    pass
                if mode != "kraft":
                    registration = {"listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"}, "endpoints": ["PLAINTEXT://kafka-%s:9092" % nid],
                                    "jmx_port": -1, "features": {}, "host": "kafka-" + nid, "timestamp": str(int(time.time() * 1000)), "port": 9092, "version": 5}
                    zk.create("/brokers/ids/" + nid, compact(registration), makepath=True)
                open(os.path.join(state, "broker-%s.mode" % nid), "w").write(mode)
                zk.stop()
                sys.exit(0)

            # The controller: runs until killed.
            nid = int(p["node.id"])
            epoch = int(open(os.path.join(state, "kraft-epoch")).read())
            log = os.path.join(p["metadata.log.dir"], "__cluster_metadata-0")
            os.makedirs(log, exist_ok=True)
            open(os.path.join(log, "00000000000000000000.log"), "a").write("x")
            if p.get("zookeeper.metadata.migration.enable") != "true":
                while True:
                    time.sleep(1)
            empty = {"version": 0, "kraft_controller_id": -1, "kraft_controller_epoch": -1, "kraft_metadata_offset": -1, "kraft_metadata_epoch": -1}
            try:
                zk.create("/migration", compact(empty))
            except NodeExistsError:
                pass
            offset = json.loads(zk.get("/migration")[0])["kraft_metadata_offset"]
            if offset <= 0:
                while True:
                    ids = set(zk.get_children("/brokers/ids"))
                    for topic in zk.get_children("/brokers/topics"):
                        for replicas in json.loads(zk.get("/brokers/topics/" + topic)[0])["partitions"].values():
                            ids |= {str(r) for r in replicas}
                    def mode(i):
                        path = os.path.join(state, "broker-%s.mode" % i)
                        return open(path).read() if os.path.exists(path) else "zk"
                    if ids and all(mode(i) == "migration" and zk.exists("/brokers/ids/" + i) for i in ids):
                        break
                    time.sleep(0.1)
                data, stat = zk.get("/controller_epoch")
                t = zk.transaction()
                t.set_data("/controller_epoch", str(int(data) + 1).encode(), version=stat.version)
                if zk.exists("/controller"):
                    t.delete("/controller")
                t.create("/controller", compact({"version": 2, "brokerid": nid, "timestamp": str(int(time.time() * 1000)), "kraftControllerEpoch": epoch}))
                t.commit()
                for topic in zk.get_children("/brokers/topics"):
                    for partition in zk.get_children("/brokers/topics/%s/partitions" % topic):
                        path = "/brokers/topics/%s/partitions/%s/state" % (topic, partition)
                        state_json = json.loads(zk.get(path)[0])
                        state_json["controller_epoch"] = epoch
                        zk.set(path, compact(state_json))
                offset = 100
            while True:
                offset += 1
                zk.set("/migration", compact({"version": 0, "kraft_controller_id": nid, "kraft_controller_epoch": epoch, "kraft_metadata_offset": offset, "kraft_metadata_epoch": epoch}))
                time.sleep(0.2)
            """#

        /// One scenario's files, doubles and layout under a chroot of the shared ensemble.
        struct Scenario {
            let directory: String
            let chroot: String
            let connect: String
            let brokers = [1, 2, 3]
            var originals: [Int: String] = [:]
            var controllerOriginal = ""

            var controllerPID: String { "\(directory)/controller.pid" }
            func brokerPath(_ id: Int) -> String { "\(directory)/broker-\(id).properties" }
            var controllerPath: String { "\(directory)/controller.properties" }
            var metadataLog: String { "\(directory)/metadata/__cluster_metadata-0" }

            init(ensemble: LocalEnsemble, name: String, kraftEpoch: Int) throws {
                directory = NSTemporaryDirectory() + "kraft-\(name)-\(UUID().uuidString.prefix(8))"
                chroot = "/" + name
                connect = ensemble.connectionString + chroot
                try FileManager.default.createDirectory(atPath: directory + "/metadata", withIntermediateDirectories: true)
                try KRaftMigrationTests.double.write(toFile: "\(directory)/double.py", atomically: true, encoding: .utf8)
                try connect.write(toFile: "\(directory)/zk", atomically: true, encoding: .utf8)
                try String(kraftEpoch).write(toFile: "\(directory)/kraft-epoch", atomically: true, encoding: .utf8)
                for id in brokers {
                    let text = """
                        # broker \(id) (a test double reads this file)
                        broker.id=\(id)
                        listeners=PLAINTEXT://:9092
                        inter.broker.protocol.version=3.9
                        log.dirs=\(directory)/data-\(id)
                        authorizer.class.name=kafka.security.authorizer.AclAuthorizer
                        zookeeper.connect=\(connect)

                        """
                    originals[id] = text
                    try text.write(toFile: brokerPath(id), atomically: true, encoding: .utf8)
                }
                controllerOriginal = """
                    process.roles=controller
                    node.id=3000
                    controller.listener.names=CONTROLLER
                    listeners=CONTROLLER://:9093
                    listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
                    controller.quorum.voters=3000@localhost:9093
                    metadata.log.dir=\(directory)/metadata

                    """
                try controllerOriginal.write(toFile: controllerPath, atomically: true, encoding: .utf8)
            }

            var nodes: [KRaftNodeAccess] {
                let driver = LocalHostDriver(host: "localhost")
                let stop = "if [ -f \(controllerPID) ]; then kill $(cat \(controllerPID)) 2>/dev/null; while kill -0 $(cat \(controllerPID)) 2>/dev/null; do sleep 0.05; done; rm -f \(controllerPID); fi"
                let start = "setsid python3 \(directory)/double.py controller \(controllerPath) \(directory) > \(directory)/controller.log 2>&1 < /dev/null & echo $! > \(controllerPID)"
                return brokers.map { id in
                    KRaftNodeAccess(member: ClientGroupMember(name: "broker-\(id)", host: "localhost", configPath: brokerPath(id),
                                                              restart: "python3 \(directory)/double.py broker \(brokerPath(id)) \(directory)"), driver: driver)
                } + [KRaftNodeAccess(member: ClientGroupMember(name: "controller-3000", host: "localhost", configPath: controllerPath,
                                                               restart: "\(stop); \(start)", stop: stop), driver: driver)]
            }

            /// Kills the controller double if a test left it running (by its recorded pid only).
            func cleanUp() {
                if let pid = try? String(contentsOfFile: controllerPID, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), let number = Int32(pid) {
                    kill(number, SIGTERM)
                }
                try? FileManager.default.removeItem(atPath: directory)
            }

            /// Kafka's layout as a ZooKeeper-mode cluster leaves it; `/controller` ephemeral through `session`.
            func writeLayout(_ zk: ZooKeeperClient, session: ZooKeeperClient, replicas: [[Int]] = [[1, 2, 3], [2, 3, 1]]) async throws {
                try await KafkaLayout.create(zk, "/cluster/id", #"{"version":"1","id":"Y8Lk3YQwQ1q0rZ0eR1vJ1A"}"#)
                for id in brokers { try await KafkaLayout.create(zk, "/brokers/ids/\(id)", KafkaLayout.registration(id)) }
                try await KafkaLayout.create(session, "/controller", #"{"version":2,"brokerid":2,"timestamp":"1700000000000","kraftControllerEpoch":-1}"#, mode: .ephemeral)
                try await KafkaLayout.create(zk, "/controller_epoch", "7")
                let assignment = TopicAssignmentZNode(version: 3, partitions: Dictionary(uniqueKeysWithValues: replicas.enumerated().map { ($0.offset, $0.element.map { BrokerID($0) }) }),
                                                      topicID: "nBsQmVY3Ti6h8KQ5bKmqzQ")
                try await KafkaLayout.create(zk, "/brokers/topics/orders", String(decoding: assignment.data(), as: UTF8.self))
                for (partition, list) in replicas.enumerated() {
                    let state = PartitionStateZNode(leader: BrokerID(list[0]), leaderEpoch: 0, controllerEpoch: 7, isr: list.map { BrokerID($0) })
                    try await KafkaLayout.create(zk, PartitionStateZNode.path(TopicPartition("orders", partition)), String(decoding: state.data(), as: UTF8.self))
                }
            }

            /// `kafka kraft plan` from the files as they are now, proved.
            func plan(_ zk: ZooKeeperClient) async throws -> ProvenKRaftPlan {
                let files = (brokers.map { ("broker-\($0)", brokerPath($0)) } + [("controller-3000", controllerPath)]).map { member, path in
                    KRaftPlanner.NodeFile(member: member, host: "localhost", configPath: path, text: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
                }
                return try KRaftProver.prove(try KRaftPlanner.plan(view: try await KRaftZooKeeperView.read(zk), brokers: Array(files.prefix(3)), controllers: [files[3]],
                                                                   brokerGroup: "brokers", controllerGroup: "controllers", kafkaVersion: KafkaVersion("3.9.0")))
            }

            func file(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
            var journal: Journal { Journal(path: "\(directory)/journal.jsonl") }
        }

        static let fast = KRaftExecutor.Options(healthyPeriod: .zero, pollInterval: .milliseconds(100), gateTimeout: .seconds(60),
                                                dualWriteInterval: .milliseconds(600), restartTimeout: .seconds(30))

        static func scenario(_ ensemble: LocalEnsemble, _ name: String, kraftEpoch: Int = 8,
                             _ body: (Scenario, ZooKeeperClient) async throws -> Void) async throws {
            _ = try await ZooKeeperClient.withClient(ensemble.connectionString) { try await $0.create("/" + name) }
            let scenario = try Scenario(ensemble: ensemble, name: name, kraftEpoch: kraftEpoch)
            defer { scenario.cleanUp() }
            try await ZooKeeperClient.withClient(scenario.connect) { zk in
                try await ZooKeeperClient.withClient(scenario.connect) { session in
                    try await scenario.writeLayout(zk, session: session)
                    try await body(scenario, zk)
                }
            }
        }

        /// What a ZooKeeper-mode controller needs after a rollback, read from ZooKeeper.
        static func expectZooKeeperModeSafe(_ zk: ZooKeeperClient, _ scenario: Scenario) async throws {
            let view = try await KRaftZooKeeperView.read(zk)
            #expect(KRaftRollbackVerdict.problems(view).isEmpty)
            #expect(view.migration == nil, "no /migration")
            #expect(view.controller.map { $0.stat.ephemeralOwner != 0 } ?? true, "no persistent /controller")
            for id in scenario.brokers {
                #expect(scenario.file(scenario.brokerPath(id)) == scenario.originals[id], "broker \(id)'s file restored byte for byte")
                #expect(view.state.brokers[BrokerID(id)] != nil, "broker \(id) registered in ZooKeeper mode")
            }
            #expect(scenario.file(scenario.controllerPath) == scenario.controllerOriginal)
            #expect(!FileManager.default.fileExists(atPath: scenario.metadataLog), "the controller's metadata log is wiped")
        }

        @Test func runsToFinalizationGatedOnZooKeeperAndResumes() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await Self.scenario(ensemble, "full") { scenario, zk in
                    let plan = try await scenario.plan(zk)
                    #expect(KRaftProver.check(plan.plan) == nil && plan.recorded.differencesFromProof.isEmpty)
                    let executor = KRaftExecutor(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: Self.fast)
                    // Default --through: everything but finalization.
                    let first = try await executor.run(resume: false)
                    #expect(first.stoppedBefore == "11-controller-3000-finalize")
                    let status = KRaftStatus(view: try await KRaftZooKeeperView.read(zk))
                    #expect(status.phase == .dualWrite && status.brokersInZooKeeper.isEmpty && status.controller.znode == "persistent")
                    for id in scenario.brokers {
                        #expect(KafkaNodeFile(source: "", role: .broker, text: scenario.file(scenario.brokerPath(id))).mode == .kraft)
                    }
                    // Running again without --resume is refused; a broker back in ZooKeeper refuses finalization.
                    await #expect(throws: KRaftRunError.self) { try await executor.run(resume: false) }
                    try await KafkaLayout.create(zk, "/brokers/ids/3", KafkaLayout.registration(3))
                    var finalize = executor
                    finalize.options.through = .finalize
                    do {
                        try await finalize.run(resume: true)
                        Issue.record("finalization ran with broker 3 registered in ZooKeeper")
                    } catch let error as KRaftRunError {
                        #expect(error.code == .gateFailed && error.step == "11-controller-3000-finalize" && error.message.contains("brokers 3 still register"))
                    }
                    #expect(KafkaNodeFile(source: "", role: .controller, text: scenario.file(scenario.controllerPath)).mode == .migration, "the controller is not finalized")
                    try await zk.delete("/brokers/ids/3")
                    let last = try await finalize.run(resume: true)
                    #expect(last.finished && last.done == ["11-controller-3000-finalize"] && last.alreadyDone.count == 10)
                    #expect(KafkaNodeFile(source: "", role: .controller, text: scenario.file(scenario.controllerPath)).mode == .kraft)
                    // After finalization nothing rolls back.
                    await #expect(throws: KRaftRunError.self) {
                        try await KRaftRollback(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: Self.fast).run()
                    }
                }
            }
        }

        @Test func rollbacksFromEachPhaseLeaveZooKeeperSafeForAZooKeeperController() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                // From dual-write with one broker already in KRaft mode, the KRaft epoch (12) far above
                // /controller_epoch (8 after the takeover): the partitions would go offline (KAFKA-20488).
                try await Self.scenario(ensemble, "from-kraft-broker", kraftEpoch: 12) { scenario, zk in
                    let plan = try await scenario.plan(zk)
                    var options = Self.fast
                    options.stopAfter = "08-broker-1-to-kraft"
                    try await KRaftExecutor(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: options).run(resume: false)
                    let before = KRaftStatus(view: try await KRaftZooKeeperView.read(zk))
                    #expect(before.rollbackEpochUnsafe && before.highestPartitionControllerEpoch == 12 && before.controllerEpoch == 8)
                    let report = try await KRaftRollback(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: Self.fast).run()
                    #expect(report.actions.contains { $0.hasPrefix("raised /controller_epoch from 8 to 12") })
                    #expect(report.actions.contains { $0.hasPrefix("deleted in one multi-op: /controller (persistent") && $0.contains("then /migration") })
                    try await Self.expectZooKeeperModeSafe(zk, scenario)
                    #expect(String(decoding: try await zk.getData("/controller_epoch").data, as: UTF8.self) == "12")
                    // The journal records the rollback; the run cannot be resumed after it.
                    let events = try scenario.journal.load().events
                    #expect(events.contains { $0.kind == .rollbackFinished } && events.contains { $0.summary.contains("raised /controller_epoch") })
                    await #expect(throws: KRaftRunError.self) {
                        try await KRaftExecutor(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: Self.fast).run(resume: true)
                    }
                }
                // Before the load (controllers only; one broker in migration mode): no KRaft /controller yet,
                // the ZooKeeper controller's is left alone.
                for stop in ["02-controller-3000-provision", "03-broker-1-to-migration"] {
                    try await Self.scenario(ensemble, "before-load-\(stop.prefix(2))") { scenario, zk in
                        let plan = try await scenario.plan(zk)
                        var options = Self.fast
                        options.stopAfter = stop
                        try await KRaftExecutor(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: options).run(resume: false)
                        #expect(try await zk.exists("/migration") != nil)
                        try await KRaftRollback(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: Self.fast).run()
                        try await Self.expectZooKeeperModeSafe(zk, scenario)
                        #expect(try await zk.exists("/controller")?.ephemeralOwner != 0, "after \(stop): the ZooKeeper controller's /controller is left alone")
                    }
                }
                // In dual-write with every broker in migration mode: the KRaft /controller and epoch, no broker to bring back from KRaft.
                for stop in ["07-dual-write"] {
                    try await Self.scenario(ensemble, "late-\(stop.prefix(2))", kraftEpoch: 12) { scenario, zk in
                        let plan = try await scenario.plan(zk)
                        var options = Self.fast
                        options.stopAfter = stop
                        try await KRaftExecutor(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: options).run(resume: false)
                        #expect(KRaftStatus(view: try await KRaftZooKeeperView.read(zk)).phase == .dualWrite)
                        // A KRaft controller outside the plan's group still dual-writes (played by this
                        // task): the rollback stops before it touches /controller or /migration ...
                        let outsider = Task {
                            var offset = 5000
                            while !Task.isCancelled {
                                offset += 1
                                let node = MigrationZNode(controllerID: 3001, controllerEpoch: 12, metadataOffset: Int64(offset), metadataEpoch: 12)
                                _ = try? await zk.setData("/migration", data: Array(node.data()))
                                try? await Task.sleep(for: .milliseconds(100))
                            }
                        }
                        var patient = Self.fast
                        patient.dualWriteInterval = .seconds(2)
                        await #expect {
                            try await KRaftRollback(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: patient).run()
                        } throws: { ($0 as? KRaftRunError)?.code == .gateFailed && "\($0)".contains("still advances") }
                        outsider.cancel()
                        _ = await outsider.result
                        #expect(KRaftStatus(view: try await KRaftZooKeeperView.read(zk)).controller.znode == "persistent", "/controller untouched")
                        // ... and, run again once it is stopped, finishes the rollback.
                        let report = try await KRaftRollback(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: Self.fast).run()
                        #expect(report.actions.contains { $0.hasPrefix("raised /controller_epoch from 8 to 12") }, "after \(stop)")
                        try await Self.expectZooKeeperModeSafe(zk, scenario)
                    }
                }
            }
        }

        /// The commands another tool drives (`mitosis kafka kraft plan`, `run`, `rollback`) on an
        /// inventory whose groups are these doubles on `via: local` hosts: plan.json and the runbook
        /// written, a run to the load, then a rollback that leaves ZooKeeper safe.
        @Test func theCommandsPlanRunAndRollBackThroughAnInventory() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await Self.scenario(ensemble, "cli") { scenario, zk in
                    let server = ensemble.servers[0]
                    func member(_ node: KRaftNodeAccess) -> String {
                        "      - {name: \(node.member.name), host: local, configPath: \(node.member.configPath), restart: \(Self.yamlQuoted(node.member.restart!))"
                            + (node.member.stop.map { ", stop: \(Self.yamlQuoted($0))" } ?? "") + "}"
                    }
                    let nodes = scenario.nodes
                    let inventory = """
                        hosts:
                          - {name: local, address: 127.0.0.1, via: local}
                        ensembles:
                          - name: kafka-zk
                            version: 3.8.0
                            servers:
                              - {id: 1, host: local, clientPort: \(server.clientPort), quorumPort: \(server.quorumPort), electionPort: \(server.electionPort), configPath: \(scenario.directory)/zoo.cfg, dataDir: \(scenario.directory)/zk}
                        clientGroups:
                          - name: brokers
                            ensemble: kafka-zk
                            chroot: \(scenario.chroot)
                            members:
                        \(nodes.prefix(3).map(member).joined(separator: "\n"))
                          - name: controllers
                            ensemble: kafka-zk
                            chroot: \(scenario.chroot)
                            members:
                        \(member(nodes[3]))

                        """
                    let path = scenario.directory + "/inv.yaml"
                    try inventory.write(toFile: path, atomically: true, encoding: .utf8)
                    let mitosis = shellQuoted(try mitosisExecutable()), out = scenario.directory + "/out"
                    let planDir = scenario.directory + "/plan"
                    func run(_ arguments: String) async throws -> (Int32, String) {
                        try? FileManager.default.removeItem(atPath: out)
                        let status = try await ChildProcess(["/bin/sh", "-c", "\(mitosis) kafka kraft \(arguments)"], outputPath: out).waitForExit(timeout: .seconds(120))
                        return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
                    }
                    let (planned, planOutput) = try await run("plan --inventory \(path) --group brokers --controller-group controllers -o \(planDir) --kafka-version 3.9.0")
                    #expect(planned == 0, "\(planOutput)")
                    #expect(planOutput.contains("POINT OF NO RETURN") && planOutput.contains("proved: 11 steps"), "\(planOutput)")
                    // plan.json altered by hand (the load and dual-write steps removed): `run`, `run --resume`
                    // and `rollback` refuse it with what changed and the counterexample, before any host or
                    // ZooKeeper is reached; no file changes and no journal is written.
                    var altered = try JSONDecoder().decode(KRaftPlan.self, from: Data(contentsOf: URL(fileURLWithPath: planDir + "/plan.json")))
                    #expect(altered.proof?.digest == altered.canonicalDigest && altered.proof?.proverVersion == KRaftProver.version)
                    altered.steps.removeAll { $0.phase == .load || $0.phase == .dualWrite }
                    let alteredPath = scenario.directory + "/altered.json"
                    try JSONEncoder().encode(altered).write(to: URL(fileURLWithPath: alteredPath))
                    let files = scenario.brokers.map { scenario.file(scenario.brokerPath($0)) } + [scenario.file(scenario.controllerPath)]
                    for command in ["run \(alteredPath)", "run \(alteredPath) --resume", "rollback \(alteredPath) --journal \(scenario.directory)/altered.jsonl"] {
                        let (status, output) = try await run(command + " --inventory \(path)")
                        #expect(status == 1 && output.contains("\(alteredPath) is not the KRaft plan that was proved") && output.contains("steps removed: 06-load, 07-dual-write")
                                && output.contains("kraft-before-load"), "\(command): \(output)")
                    }
                    #expect(scenario.brokers.map { scenario.file(scenario.brokerPath($0)) } + [scenario.file(scenario.controllerPath)] == files)
                    #expect(!FileManager.default.fileExists(atPath: scenario.directory + "/journal.jsonl") && !FileManager.default.fileExists(atPath: scenario.directory + "/altered.jsonl"))
                    let runbook = scenario.file(planDir + "/runbook.md")
                    #expect(runbook.contains("+zookeeper.metadata.migration.enable=true") && runbook.contains("!!! POINT OF NO RETURN"))
                    let (ran, runOutput) = try await run("run \(planDir)/plan.json --inventory \(path) --healthy-period 0 --poll-interval 0.1 --dual-write-interval 0.6 --through load")
                    #expect(ran == 0, "\(runOutput)")
                    #expect(runOutput.contains("stopped before 07-dual-write") && runOutput.contains("gate passed: /migration kraft_metadata_offset > 0"), "\(runOutput)")
                    #expect(KRaftStatus(view: try await KRaftZooKeeperView.read(zk)).phase == .dualWrite)
                    let (again, againOutput) = try await run("run \(planDir)/plan.json --inventory \(path)")
                    #expect(again == 1 && againOutput.contains("already-started"), "\(againOutput)")
                    let (rolledBack, rollbackOutput) = try await run("rollback \(planDir)/plan.json --inventory \(path) --journal \(planDir)/journal.jsonl --healthy-period 0 --poll-interval 0.1 --json")
                    #expect(rolledBack == 0, "\(rollbackOutput)")
                    #expect(rollbackOutput.contains("\"kind\":\"rollback-finished\""), "\(rollbackOutput)")
                    try await Self.expectZooKeeperModeSafe(zk, scenario)
                }
            }
        }

        static func yamlQuoted(_ text: String) -> String {
            "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        }

        @Test func staleMigrationDeadReplicaAndDriftAreRefusedLeavingEveryFileAsItWas() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await Self.scenario(ensemble, "refusals") { scenario, zk in
                    let plan = try await scenario.plan(zk)
                    let executor = KRaftExecutor(plan: plan, zookeeper: zk, nodes: scenario.nodes, journal: scenario.journal, options: Self.fast)
                    // A hand-edited plan that rolls brokers into KRaft without waiting for the load cannot
                    // be proved, and its file (with the proof of the plan it was) is refused as altered.
                    var edited = plan.recorded
                    edited.steps.removeAll { $0.phase == .load || $0.phase == .dualWrite }
                    #expect { try KRaftProver.prove(edited) } throws: { ($0 as? KRaftPlanRefusal)?.code == .unsafe && "\($0)".contains("kraft-before-load") }
                    #expect { try KRaftProver.verify(edited, source: "plan.json") } throws: {
                        ($0 as? KRaftPlanRefusal)?.code == .altered && "\($0)".contains("steps removed: 06-load, 07-dual-write") && "\($0)".contains("kraft-before-load")
                    }
                    // A stale /migration from an earlier attempt (offset > 0 under a ZooKeeper controller).
                    try await KafkaLayout.create(zk, "/migration", #"{"version":0,"kraft_controller_id":3000,"kraft_controller_epoch":5,"kraft_metadata_offset":420,"kraft_metadata_epoch":5}"#)
                    await #expect { try await executor.run(resume: false) } throws: { ($0 as? KRaftRunError)?.code == .notReady && "\($0)".contains("stale /migration") }
                    await #expect(throws: KRaftPlanError.self) { try await scenario.plan(zk) }
                    try await zk.delete("/migration")
                    // A dead replica id.
                    try await zk.setData("/brokers/topics/orders", data: Array(String(decoding: TopicAssignmentZNode(version: 3, partitions: [0: [1, 2, 9]], topicID: "nBsQmVY3Ti6h8KQ5bKmqzQ").data(), as: UTF8.self).utf8))
                    await #expect { try await executor.run(resume: true) } throws: { "\($0)".contains("replicas-registered") }
                    await #expect(throws: KRaftPlanError.self) { try await scenario.plan(zk) }
                    try await zk.setData("/brokers/topics/orders", data: Array(String(decoding: TopicAssignmentZNode(version: 3, partitions: [0: [1, 2, 3], 1: [2, 3, 1]], topicID: "nBsQmVY3Ti6h8KQ5bKmqzQ").data(), as: UTF8.self).utf8))
                    var readinessOnly = executor
                    readinessOnly.options.stopAfter = "01-readiness"
                    #expect(try await readinessOnly.run(resume: true).stoppedBefore == "02-controller-3000-provision")
                    // A stale /migration appearing after the readiness step: refused before the controller starts.
                    try await KafkaLayout.create(zk, "/migration", #"{"version":0,"kraft_controller_id":3000,"kraft_controller_epoch":5,"kraft_metadata_offset":420,"kraft_metadata_epoch":5}"#)
                    await #expect { try await executor.run(resume: true) } throws: {
                        ($0 as? KRaftRunError)?.code == .staleMigration && ($0 as? KRaftRunError)?.step == "02-controller-3000-provision" && "\($0)".contains("KAFKA-17146")
                    }
                    try await zk.delete("/migration")
                    // A metadata log left by an earlier attempt: refused before the controller starts on it.
                    try FileManager.default.createDirectory(atPath: scenario.metadataLog, withIntermediateDirectories: true)
                    try "x".write(toFile: scenario.metadataLog + "/00000000000000000000.log", atomically: true, encoding: .utf8)
                    await #expect { try await executor.run(resume: true) } throws: { ($0 as? KRaftRunError)?.code == .staleMigration && "\($0)".contains("__cluster_metadata-0") }
                    try FileManager.default.removeItem(atPath: scenario.metadataLog)
                    #expect(scenario.file(scenario.controllerPath) == scenario.controllerOriginal)
                    // A file edited since the plan.
                    try (scenario.controllerOriginal + "num.io.threads=4\n").write(toFile: scenario.controllerPath, atomically: true, encoding: .utf8)
                    await #expect { try await executor.run(resume: true) } throws: { ($0 as? KRaftRunError)?.code == .drift && ($0 as? KRaftRunError)?.step == "02-controller-3000-provision" }
                    for id in scenario.brokers { #expect(scenario.file(scenario.brokerPath(id)) == scenario.originals[id]) }
                    #expect(scenario.file(scenario.controllerPath) == scenario.controllerOriginal + "num.io.threads=4\n")
                    #expect(try await zk.exists("/migration") == nil && !FileManager.default.fileExists(atPath: scenario.controllerPID))
                }
            }
        }
    }
}
