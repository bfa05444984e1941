public import Ensemble
public import KafkaPlanning

/// What `mitosis plan … --kubernetes DIR` writes for HubSpot's path into Kubernetes: the
/// manifests an operator applies with `kubectl`, and a runbook that names the `kubectl` command
/// of each step of the plan.
///
/// - Phase 1: per server a ClusterIP Service whose `clusterIP` is the server's stable address (the
///   address in every connection string and server list), without a selector, and an Endpoints
///   object that points it at the host the server runs on now, for ports 2181, 2888 and 3888 (the
///   server's own client, quorum and election ports).
/// - Phase 4, per server: a ConfigMap (zoo.cfg with the same server list over the services' DNS
///   names and `quorumListenOnAllIPs=true`, and the readiness script), the same Service with a
///   selector (pointing it at the pod: the endpoints controller replaces the host's address with
///   the pod's; `publishNotReadyAddresses`, so that peers reach the pod while it syncs), and a
///   single-replica StatefulSet whose pod writes the same myid and is ready only once synced.
///
/// Pure: it reads the plan and the hosts' addresses, and touches nothing.
public enum KubernetesManifests {
    /// Where the manifests go and what the pods run.
    public struct Options: Sendable, Hashable {
        public var namespace: String
        /// The container image; nil: the official `zookeeper:<destination version>`.
        public var image: String?
        /// The size of each pod's data volume.
        public var storage: String
        public var clusterDomain: String

        public init(namespace: String = "default", image: String? = nil, storage: String = "10Gi", clusterDomain: String = "cluster.local") {
            self.namespace = namespace
            self.image = image
            self.storage = storage
            self.clusterDomain = clusterDomain
        }
    }

    /// One file of the set: its path relative to the output directory, and its text.
    public struct File: Sendable, Hashable {
        public var path: String
        public var text: String
    }

    /// Why no manifests could be made; says which server or host, and what to fix.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Where the pod's files are mounted (zoo.cfg and the readiness script) and where its data lives.
    static let configDirectory = "/conf"
    static let dataDirectory = "/data"
    /// The pod label a server's Service selects its pod by; its value is the StatefulSet's name.
    package static let serverLabel = "zookeeper.mitosis/server-id"

    /// The manifests and the kubectl runbook for `plan`, a replace whose stable addresses are
    /// services. `hostAddresses`: each host's IP address (the phase-1 Endpoints point at the
    /// source servers' hosts).
    /// `pods`: the StatefulSet of each pod host (`via: kubernetes`), which names the objects of
    /// the server that runs there; any other server's are named after its Service.
    public static func make(_ plan: Plan, hostAddresses: [String: String], pods: [String: String] = [:], options: Options = Options()) throws(Refusal) -> [File] {
        guard plan.strategy == .replace else {
            throw Refusal(
                message:
                    "--kubernetes writes HubSpot's Services and pods, which replace each server one for one: use --strategy replace (this plan is \(plan.strategy))")
        }
        guard isKubernetesName(options.namespace) else {
            throw Refusal(message: "namespace '\(options.namespace)' is not a Kubernetes name (lower-case letters, digits and '-', at most 63)")
        }
        let servers = plan.source.servers.sorted { $0.id < $1.id }
        var targets: [Target] = []
        for server in servers {
            guard let twin = plan.destination.server(server.id) else { continue }
            if (server.stableAddress ?? twin.stableAddress)?.kind == .follows {
                throw Refusal(
                    message:
                        "source server \(server.id)'s address \(server.address) follows its server by itself (stableAddress kind follows): the platform points it already, and the plan moves nothing, so there is nothing to apply; the manifests are for `stableAddress: {kind: service}`, whose Endpoints the plan points")
            }
            guard (server.stableAddress ?? twin.stableAddress)?.kind == .service else {
                throw Refusal(
                    message:
                        "source server \(server.id) (\(server.host)) has no service address: give it `address: <its Service's ClusterIP>` and `stableAddress: {kind: service}` in the inventory, on both its entries (old and new)")
            }
            guard isIPAddressLiteral(server.address), !server.address.contains(":") else {
                throw Refusal(
                    message:
                        "source server \(server.id)'s address \(server.address) is not an IPv4 address; the phase-1 Service sets it as its clusterIP (the address every connection string holds): give the ClusterIP in the inventory")
            }
            guard let hostIP = hostAddresses[server.host], isIPAddressLiteral(hostIP) else {
                throw Refusal(
                    message:
                        "host \(server.host) (source server \(server.id)) has no IP address in the inventory; the phase-1 Endpoints point the service at it: add `address: <its IP>` to host \(server.host)")
            }
            let name = serviceName(ensemble: plan.source.name, id: server.id)
            targets.append(Target(server: server, twin: twin, hostIP: hostIP, name: name, podName: pods[twin.host] ?? name))
        }
        guard !targets.isEmpty else { throw Refusal(message: "the plan replaces no server") }
        let image = options.image ?? "zookeeper:\(plan.destination.version.major).\(plan.destination.version.minor).\(plan.destination.version.patch)"
        let dns = { (target: Target) in "\(target.name).\(options.namespace).svc.\(options.clusterDomain)" }
        var files: [File] = []
        files.append(
            File(
                path: "phase-1/services.yaml",
                text: yaml(targets.flatMap { [service($0, options: options, selector: false), endpoints($0, options: options)] })))
        for target in targets {
            let zooCfg = podConfig(target, plan: plan, servers: targets.map { ($0.twin, dns($0)) })
            let script = readinessScript(local: "127.0.0.1:\(target.twin.clientPort)", peers: targets.map { "\(dns($0)):\($0.twin.clientPort)" })
            let directory = "phase-4/\(target.name)"
            let pod = PodServer(
                statefulSet: target.podName, id: target.twin.id, ports: ports(target), configPath: "\(configDirectory)/zoo.cfg", dataDirectory: dataDirectory,
                image: image, storage: options.storage, namespace: options.namespace)
            let data = object([("zoo.cfg", .string(zooCfg)), ("myid", .string(myidText(target.twin.id))), ("ready.sh", .string(script))])
            files.append(File(path: "\(directory)/1-configmap.yaml", text: yaml([configMap(pod, data: data)])))
            files.append(File(path: "\(directory)/2-service.yaml", text: yaml([service(target, options: options, selector: true)])))
            files.append(File(path: "\(directory)/3-statefulset.yaml", text: yaml([statefulSet(pod)])))
        }
        let driven = targets.filter { pods[$0.twin.host] != nil }.map(\.twin.host)
        files.append(File(path: "RUNBOOK.md", text: runbook(plan, targets: targets, options: options, podHosts: driven)))
        return files
    }

    /// Phase 1 for one source server, as `kubectl apply -f` takes it: a v1 `List` of its Service
    /// (no selector, `clusterIP` its address) and the Endpoints that point it at `hostIP`, the
    /// objects `phase-1/services.yaml` holds for it. `namespace` nil: the objects name none, and
    /// kubectl's own namespace applies.
    public static func phaseOneObjects(_ server: ServerSpec, ensemble: String, hostIP: String, namespace: String?) -> JSONValue {
        let name = serviceName(ensemble: ensemble, id: server.id)
        let target = Target(server: server, twin: server, hostIP: hostIP, name: name, podName: name)
        let options = Options(namespace: namespace ?? "")
        return object([
            ("apiVersion", .string("v1")), ("kind", .string("List")),
            ("items", .array([service(target, options: options, selector: false), endpoints(target, options: options)])),
        ])
    }

    /// The Service (and Endpoints, StatefulSet, ConfigMap prefix) name of server `id` of `ensemble`:
    /// a DNS label, e.g. `zk-main-1`.
    public static func serviceName(ensemble: String, id: ServerID) -> String {
        // Lower-case letters and digits; any run of other characters becomes one '-'.
        var name = ""
        for character in ensemble.lowercased() {
            if character.isASCII && (character.isLetter || character.isNumber) {
                name.append(character)
            } else if !name.isEmpty && name.last != "-" {
                name.append("-")
            }
        }
        if name.first.map({ !$0.isLetter }) ?? true { name = "zk" + (name.isEmpty ? "" : "-" + name) }
        let suffix = "-\(id.rawValue)"
        var kept = String(name.prefix(63 - suffix.count - "-config".count))
        while kept.last == "-" { kept.removeLast() }
        return kept + suffix
    }

    struct Target {
        var server: ServerSpec
        var twin: ServerSpec
        var hostIP: String
        /// The Service's name.
        var name: String
        /// The StatefulSet's name (its ConfigMap is `<podName>-config`, its label value `<podName>`).
        var podName: String
    }

    /// One ZooKeeper server as a single-replica StatefulSet: what its pod runs and where its files
    /// are. Its ConfigMap (`<statefulSet>-config`), mounted read-only on the config file's
    /// directory, holds zoo.cfg, myid and the readiness script; the pod copies myid into its data
    /// directory (its volume, `data-<statefulSet>-0`) as it starts.
    public struct PodServer: Sendable {
        public var statefulSet: String
        public var id: ServerID
        public var ports: [(name: String, port: Int)]
        public var configPath: String
        public var dataDirectory: String
        public var image: String
        public var storage: String
        /// nil: the objects name none, and kubectl's own namespace applies.
        public var namespace: String?

        public init(
            statefulSet: String, id: ServerID, ports: [(name: String, port: Int)], configPath: String, dataDirectory: String, image: String, storage: String,
            namespace: String?
        ) {
            self.statefulSet = statefulSet
            self.id = id
            self.ports = ports
            self.configPath = configPath
            self.dataDirectory = dataDirectory
            self.image = image
            self.storage = storage
            self.namespace = namespace
        }

        public var configMap: String { "\(statefulSet)-config" }
        public var pod: String { "\(statefulSet)-0" }
        public var volumeClaim: String { "data-\(statefulSet)-0" }
        public var configDirectory: String { parentDirectory(of: configPath) }
    }

    /// What a myid file holds for `id`.
    package static func myidText(_ id: ServerID) -> String { "\(id.rawValue)\n" }

    // MARK: Objects

    package static func object(_ entries: [(String, JSONValue?)]) -> JSONValue {
        .object(JSONObject(entries.compactMap { key, value in value.map { (key: key, value: $0) } }))
    }

    /// The labels of every object; a pod's also carry ``serverLabel`` with its StatefulSet's name.
    static func labels(pod: String?) -> JSONValue {
        var entries: [(String, JSONValue?)] = [
            ("app.kubernetes.io/name", .string("zookeeper")), ("app.kubernetes.io/managed-by", .string("mitosis")),
        ]
        if let pod { entries.append((serverLabel, .string(pod))) }
        return object(entries)
    }

    static func metadata(_ name: String, namespace: String?) -> JSONValue {
        object([("name", .string(name)), ("namespace", namespace.flatMap { $0.isEmpty ? nil : .string($0) }), ("labels", labels(pod: nil))])
    }

    static func metadata(_ name: String, _ target: Target, options: Options) -> JSONValue {
        metadata(name, namespace: options.namespace)
    }

    static func ports(_ target: Target) -> [(name: String, port: Int)] {
        ports(of: target.server)
    }

    /// A server's client, quorum and election ports, as its Service and pod name them.
    package static func ports(of server: ServerSpec) -> [(name: String, port: Int)] {
        [("client", server.clientPort), ("quorum", server.quorumPort), ("election", server.electionPort)]
    }

    static func service(_ target: Target, options: Options, selector: Bool) -> JSONValue {
        object([
            ("apiVersion", .string("v1")), ("kind", .string("Service")), ("metadata", metadata(target.name, target, options: options)),
            (
                "spec",
                object([
                    ("type", .string("ClusterIP")), ("clusterIP", .string(target.server.address)),
                    ("selector", selector ? object([(serverLabel, .string(target.podName))]) : nil),
                    ("publishNotReadyAddresses", selector ? .bool(true) : nil),
                    (
                        "ports",
                        .array(
                            ports(target).map { port in
                                object([
                                    ("name", .string(port.name)), ("protocol", .string("TCP")), ("port", .int(port.port)),
                                    ("targetPort", .int(port.port)),
                                ])
                            })
                    ),
                ])
            ),
        ])
    }

    static func endpoints(_ target: Target, options: Options) -> JSONValue {
        object([
            ("apiVersion", .string("v1")), ("kind", .string("Endpoints")), ("metadata", metadata(target.name, target, options: options)),
            (
                "subsets",
                .array([
                    object([
                        ("addresses", .array([object([("ip", .string(target.hostIP))])])),
                        (
                            "ports",
                            .array(ports(target).map { object([("name", .string($0.name)), ("protocol", .string("TCP")), ("port", .int($0.port))]) })
                        ),
                    ])
                ])
            ),
        ])
    }

    /// A pod server's ConfigMap with `data` (file name → text) and `binaryData` (file name →
    /// base64, for files that are not UTF-8).
    package static func configMap(_ pod: PodServer, data: JSONValue, binaryData: JSONValue? = nil) -> JSONValue {
        object([
            ("apiVersion", .string("v1")), ("kind", .string("ConfigMap")), ("metadata", metadata(pod.configMap, namespace: pod.namespace)),
            ("data", data), ("binaryData", binaryData),
        ])
    }

    /// A pod server's single-replica StatefulSet: the pod copies myid from its ConfigMap into its
    /// data directory and runs ZooKeeper in the foreground on the ConfigMap's zoo.cfg; it is ready
    /// once synced (`ready.sh`, from the ConfigMap too).
    package static func statefulSet(_ pod: PodServer) -> JSONValue {
        let configDirectory = pod.configDirectory
        let start = "cp \(configDirectory)/myid \(pod.dataDirectory)/myid && exec zkServer.sh start-foreground \(pod.configPath)"
        let container = object([
            ("name", .string("zookeeper")), ("image", .string(pod.image)),
            ("command", .array(["/bin/bash", "-c", start].map(JSONValue.string))),
            (
                "ports",
                .array(pod.ports.map { object([("name", .string($0.name)), ("containerPort", .int($0.port)), ("protocol", .string("TCP"))]) })
            ),
            (
                "readinessProbe",
                object([
                    ("exec", object([("command", .array(["/bin/bash", "\(configDirectory)/ready.sh"].map(JSONValue.string)))])),
                    ("initialDelaySeconds", .int(5)), ("periodSeconds", .int(5)), ("timeoutSeconds", .int(15)), ("failureThreshold", .int(3)),
                ])
            ),
            (
                "volumeMounts",
                .array([
                    object([("name", .string("data")), ("mountPath", .string(pod.dataDirectory))]),
                    object([("name", .string("config")), ("mountPath", .string(configDirectory)), ("readOnly", .bool(true))]),
                ])
            ),
        ])
        return object([
            ("apiVersion", .string("apps/v1")), ("kind", .string("StatefulSet")), ("metadata", metadata(pod.statefulSet, namespace: pod.namespace)),
            (
                "spec",
                object([
                    ("replicas", .int(1)), ("serviceName", .string(pod.statefulSet)),
                    ("selector", object([("matchLabels", object([(serverLabel, .string(pod.statefulSet))]))])),
                    (
                        "template",
                        object([
                            ("metadata", object([("labels", labels(pod: pod.statefulSet))])),
                            (
                                "spec",
                                object([
                                    ("terminationGracePeriodSeconds", .int(30)),
                                    ("containers", .array([container])),
                                    (
                                        "volumes",
                                        .array([object([("name", .string("config")), ("configMap", object([("name", .string(pod.configMap))]))])])
                                    ),
                                ])
                            ),
                        ])
                    ),
                    (
                        "volumeClaimTemplates",
                        .array([
                            object([
                                ("metadata", object([("name", .string("data"))])),
                                (
                                    "spec",
                                    object([
                                        ("accessModes", .array([.string("ReadWriteOnce")])),
                                        ("resources", object([("requests", object([("storage", .string(pod.storage))]))])),
                                    ])
                                ),
                            ])
                        ])
                    ),
                ])
            ),
        ])
    }

    /// The pod's zoo.cfg: the file the plan writes for the new server, with the data in the pod's
    /// volume, the server list over the services' DNS names, `quorumListenOnAllIPs=true` (a
    /// service address is on no interface of the pod) and `srvr` allowed (the readiness script).
    static func podConfig(_ target: Target, plan: Plan, servers: [(ServerSpec, String)]) -> String {
        let prepared = plan.steps.first { $0.id == StepID("replace-\(target.server.id)-prepare") }?.actions.compactMap { action -> String? in
            if case .writeConfig(let write) = action { return write.text }
            return nil
        }.first
        var config = ZooKeeperConfig(parsing: prepared ?? "")
        if prepared == nil {
            config = ZooKeeperConfig(dataDir: dataDirectory, clientPort: target.twin.clientPort)
        }
        config.dataDir = dataDirectory
        config.dataLogDir = nil
        config.dynamicConfigFile = nil
        config.clientPort = target.twin.clientPort
        config.quorumListenOnAllIPs = true
        let words = config.fourLetterWordWhitelist ?? []
        if !words.contains("*") {
            config.fourLetterWordWhitelist = words + ["srvr", "mntr", "conf", "ruok", "isro", "stat", "cons"].filter { !words.contains($0) }
        }
        config.setServers(
            servers.map { server, name in
                QuorumServer(id: server.id, host: name, quorumPort: server.quorumPort, electionPort: server.electionPort, role: server.role)
            })
        return config.rendered
    }

    /// A readiness check that means "synced", not "port open": ready when `srvr` on this server
    /// says leader, follower or observer (a server outside a quorum answers no mode), and its
    /// zxid has reached the zxid of the leader, read just before (as the plan's `followersSynced`
    /// gate judges it). `local` and `peers` are `host:port` of the client ports.
    public static func readinessScript(local: String, peers: [String]) -> String {
        """
        #!/bin/bash
        # Written by mitosis: ready only when this ZooKeeper server has synced with the leader.
        # srvr on this server must say leader, follower or observer (a server that is not in a
        # quorum answers without a mode), and a follower's zxid must have reached the zxid the
        # leader reported just before. Exit 0: ready; 1: not yet (the reason on stdout).
        set -u
        LOCAL=\(local)
        PEERS="\(peers.joined(separator: " "))"

        srvr() {
            timeout 5 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" && printf srvr >&3 && cat <&3' srvr "$1" 2>/dev/null
        }
        field() { sed -n "s/^$1: //p"; }

        leader=""
        for peer in $PEERS; do
            answer=$(srvr "$peer") || continue
            if [ "$(printf '%s\\n' "$answer" | field Mode)" = leader ]; then
                leader=$(printf '%s\\n' "$answer" | field Zxid)
                break
            fi
        done
        answer=$(srvr "$LOCAL") || { echo "not ready: no answer to srvr on $LOCAL"; exit 1; }
        mode=$(printf '%s\\n' "$answer" | field Mode)
        zxid=$(printf '%s\\n' "$answer" | field Zxid)
        case "$mode" in
            leader) echo "ready: leader at $zxid"; exit 0 ;;
            follower|observer) ;;
            *) echo "not ready: ${answer:-no answer}" | head -1; exit 1 ;;
        esac
        [ -n "$leader" ] || { echo "not ready: none of $PEERS leads"; exit 1; }
        # A newly elected leader reports its new epoch with counter 0 until its first transaction.
        if (( (leader & 0xffffffff) != 0 && zxid < leader )); then
            echo "not ready: $mode at $zxid, the leader at $leader"
            exit 1
        fi
        echo "ready: $mode at $zxid, the leader at $leader"

        """
    }

    // MARK: The kubectl runbook

    static func runbook(_ plan: Plan, targets: [Target], options: Options, podHosts: [String] = []) -> String {
        let ns = "-n \(options.namespace)"
        var out: [String] = []
        out.append("# Kubernetes runbook: \(plan.source.name) → \(plan.destination.name) (HubSpot's four phases)")
        out.append("")
        out.append("Written by `mitosis plan --kubernetes`. Run from this directory, with kubectl pointed at the cluster.")
        out.append("Each server keeps its id and its address (the Service's ClusterIP); no client and no peer changes its configuration.")
        out.append("")
        out.append("## Phase 1: a Service and Endpoints per server, pointing at the server where it runs now")
        out.append("```")
        out.append("kubectl apply -f phase-1/services.yaml")
        for target in targets {
            out.append("kubectl get endpoints \(target.name) \(ns) -o jsonpath='{.subsets[0].addresses[0].ip}'   # \(target.hostIP) (\(target.server.host))")
        }
        out.append("```")
        out.append("Every host that runs a client or a server must reach the ClusterIPs (kube-proxy on it, pod IPs routable).")
        let clients = targets.map { "\($0.server.address):\($0.server.clientPort)" }.joined(separator: ",")
        out.append("Check from such a host: `echo srvr | nc \(targets[0].server.address) \(targets[0].server.clientPort)` answers as server \(targets[0].server.id).")
        out.append("")
        // A plan from host addresses has phases 1–3 as steps of its own (`mitosis run` drives them).
        let early = { (step: Step) in ["service-", "switch-", "services-"].contains { step.id.rawValue.hasPrefix($0) } }
        let fromHosts = plan.source.startsOnHostAddresses
        func list(_ prefixes: [String]) {
            out.append("The plan's steps (`mitosis run` runs them; by hand, the runbook of `mitosis plan` shows each command):")
            for step in plan.steps where prefixes.contains(where: { step.id.rawValue.hasPrefix($0) }) { out.append("- [\(step.id)] \(step.title)") }
        }
        if fromHosts {
            list(["service-"])
            out.append("")
        }
        out.append("## Phase 2: clients use the service addresses")
        out.append("Every client's connection string becomes `\(clients)` (the inventory's addresses). Roll out the change and restart the clients;")
        out.append("old and new connection strings both work until phase 4.")
        if fromHosts {
            out.append("`cons` on a server shows the client's own address either way: check on each client's host that its connections go to")
            out.append("the ClusterIPs and none to the hosts' addresses (`ss -Htn state established`).")
            list(["switch-"])
        }
        out.append("")
        out.append("## Phase 3: servers peer through the service addresses")
        out.append("Every server's zoo.cfg lists `server.N=<ClusterIP>:quorum:election` and sets `quorumListenOnAllIPs=true`")
        out.append("(the ClusterIP is on no interface: without it the server cannot bind and does not start). One rolling restart.")
        if fromHosts {
            out.append("Each restarted server must follow the leader with a caught-up zxid before the next restarts; the leader restarts last.")
            list(["services-"])
        } else {
            out.append("Unless given --no-discovery, `mitosis plan` reads every source server's zoo.cfg and refuses the plan when its server lines")
            out.append("are not these ClusterIPs.")
        }
        out.append("")
        out.append("## Phase 4: one server at a time, the plan's steps")
        if plan.steps.contains(where: { $0.restartUnit != nil }) {
            out.append("")
            out.append("Each server's steps (prepare, stop, service, start) go together, one server after another, in any order; `mitosis run`")
            out.append("replaces the server that leads last (its stop costs the one election). By hand, do the same: before each server, ask")
            out.append("`echo srvr | nc <ClusterIP> 2181` of the ones left, and leave the one that says `Mode: leader` for last.")
        }
        if !podHosts.isEmpty {
            out.append("")
            out.append("The inventory's pod hosts (\(podHosts.joined(separator: ", ")): `via: kubernetes`) are driven by `mitosis run` through its kubectl: the")
            out.append("prepare step writes zoo.cfg and myid into the ConfigMap (the plan's zoo.cfg, whose server lines are the ClusterIPs; the")
            out.append("1-configmap.yaml below names the Services' DNS names instead), the service step sets the Service's selector, the start")
            out.append("step applies the StatefulSet and waits for its pod, and a rollback deletes the StatefulSet and restores the ConfigMap.")
            out.append("Its volume claim (data-<StatefulSet>-0) stays: delete it by hand once the migration is done with it. The commands")
            out.append("below are for the same steps by hand.")
        }
        for step in plan.steps where !early(step) {
            out.append("")
            out.append("### [\(step.id)] \(step.title)")
            out.append(contentsOf: kubectl(for: step, targets: targets, ns: ns, plan: plan))
        }
        out.append("")
        return out.joined(separator: "\n")
    }

    static func kubectl(for step: Step, targets: [Target], ns: String, plan: Plan) -> [String] {
        let id = step.id.rawValue
        guard let target = targets.first(where: { id.hasPrefix("replace-\($0.server.id)-") }) else {
            if id == "preflight" {
                return [
                    "Nothing of the new servers runs yet: no pod of these StatefulSets exists.",
                    "```", "kubectl get statefulsets,pods \(ns) -l app.kubernetes.io/managed-by=mitosis   # none", "```",
                ]
            }
            return ["(no kubectl command: follow the runbook of `mitosis plan`)"]
        }
        let directory = "phase-4/\(target.name)"
        switch id {
        case "replace-\(target.server.id)-prepare":
            return ["```", "kubectl apply -f \(directory)/1-configmap.yaml", "```"]
        case "replace-\(target.server.id)-stop-old":
            let stop = target.server.commands.stop ?? "(stop ZooKeeper server \(target.server.id): the inventory has no stop command)"
            return [
                "On \(target.server.host), with the rest of the ensemble serving:",
                "```", "\(stop)", "```",
            ]
        case "replace-\(target.server.id)-retarget-service":
            return [
                "Only once the old server is stopped. The selector makes Kubernetes manage the Endpoints: \(target.hostIP) leaves them,",
                "and the pod's IP enters them as soon as the pod exists (publishNotReadyAddresses: peers reach it while it syncs).",
                "```",
                "kubectl apply -f \(directory)/2-service.yaml",
                "kubectl get endpoints \(target.name) \(ns) -o json   # no address \(target.hostIP) any more",
                "```",
            ]
        case "replace-\(target.server.id)-start-new":
            return [
                "The pod copies myid \(target.server.id) from its ConfigMap into its volume and starts with the same server list; it is ready only once synced (ready.sh).",
                "```",
                "kubectl apply -f \(directory)/3-statefulset.yaml",
                "kubectl rollout status statefulset/\(target.podName) \(ns) --timeout=10m",
                "kubectl wait pod/\(target.podName)-0 \(ns) --for=condition=Ready --timeout=10m",
                "kubectl exec \(target.podName)-0 \(ns) -- /bin/bash /conf/ready.sh   # ready: follower at …, the leader at …",
                "```",
            ]
        default:
            return ["(no kubectl command: follow the runbook of `mitosis plan`)"]
        }
    }

    // MARK: YAML

    /// `documents` as a YAML stream. Strings are double-quoted (JSON escapes are YAML's), except
    /// multi-line text, which is a literal block so that zoo.cfg and the script read as files.
    public static func yaml(_ documents: [JSONValue]) -> String {
        documents.map { "---\n" + block($0, indent: 0) }.joined()
    }

    static func block(_ value: JSONValue, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .object(let object) where object.count > 0:
            return object.entries.map { entry in
                let key = yamlKey(entry.key)
                switch entry.value {
                case .object(let inner) where inner.count > 0: return "\(pad)\(key):\n" + block(entry.value, indent: indent + 2)
                case .array(let items) where !items.isEmpty: return "\(pad)\(key):\n" + block(entry.value, indent: indent)
                default: return "\(pad)\(key): \(scalar(entry.value, indent: indent + 2))\n"
                }
            }.joined()
        case .array(let items) where !items.isEmpty:
            return items.map { item in
                switch item {
                case .object(let inner) where inner.count > 0:
                    // The first key on the dash's line, the others under it.
                    let body = block(item, indent: indent + 2)
                    return pad + "- " + body.dropFirst(indent + 2)
                case .array(let inner) where !inner.isEmpty: return "\(pad)-\n" + block(item, indent: indent + 2)
                default: return "\(pad)- \(scalar(item, indent: indent + 2))\n"
                }
            }.joined()
        default:
            return pad + scalar(value, indent: indent) + "\n"
        }
    }

    static func scalar(_ value: JSONValue, indent: Int) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let text): return text
        case .object: return "{}"
        case .array: return "[]"
        case .string(let text):
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let literal =
                text.contains("\n") && !text.hasPrefix(" ") && !text.hasPrefix("\n")
                && text.unicodeScalars.allSatisfy { $0 == "\n" || ($0.value >= 0x20 && $0.value != 0x7F) }
                && lines.allSatisfy { !$0.hasSuffix(" ") }
            guard literal else { return JSONValue.string(text).serializedString }
            let pad = String(repeating: " ", count: indent)
            // `|` keeps one final newline, `|-` none, `|+` all of them.
            let body = text.hasSuffix("\n") ? Array(lines.dropLast()) : Array(lines)
            let chomp = !text.hasSuffix("\n") ? "-" : text.hasSuffix("\n\n") ? "+" : ""
            return "|\(chomp)\n" + body.map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
        }
    }

    static func yamlKey(_ key: String) -> String {
        let plain = key.first.map { $0.isLetter } == true
            && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._/-".contains($0)) }
            && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(key.lowercased())
        return plain ? key : JSONValue.string(key).serializedString
    }
}
