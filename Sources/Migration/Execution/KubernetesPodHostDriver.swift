import Foundation
public import Ensemble
public import Hosts
import KafkaPlanning
public import MigrationPlanning

/// A host that is a Kubernetes pod (`via: kubernetes`): one ZooKeeper server as a single-replica
/// StatefulSet, driven through the inventory's kubectl. What the executor does to a host maps
/// onto the objects that make the pod:
///
/// - **Files.** The config file's directory is the mount of the ConfigMap `<name>-config`: a file
///   there is a key of it (written with `kubectl create` or `replace`, the latter with the
///   resourceVersion read, so a concurrent edit fails instead of being lost), and myid is its key
///   `myid`, which the pod copies into its data directory as it starts. Bytes that are not UTF-8
///   go under `binaryData`. Every write is read back.
/// - **The service.** Starting is `kubectl apply` of the StatefulSet, done once its pod's
///   container runs. Stopping is deleting the StatefulSet and its pod, done once no pod is left
///   (a terminating pod may still serve). Its data volume stays. A restart deletes the pod.
/// - **Everything else** (a command, a data directory) runs in the pod through `kubectl exec`
///   while it runs. While it does not, its data directory is its volume claim: missing when
///   there is none, and an error naming the claim when there is one (nothing can read it).
public struct KubernetesPodHostDriver: HostDriver {
    public let host: String
    public let pod: KubernetesManifests.PodServer
    let kubectl: Kubectl
    /// The readiness script the ConfigMap carries (the StatefulSet's probe runs it).
    let readinessScript: String
    let myidPath: String
    /// How often the pod's state is read while waiting for it.
    var pollInterval: Duration = .milliseconds(500)

    public init(host: String, pod: KubernetesManifests.PodServer, myidPath: String, readinessScript: String, access: KubernetesAccess) {
        self.host = host
        self.pod = pod
        self.myidPath = myidPath
        self.readinessScript = readinessScript
        self.kubectl = Kubectl(access: access)
    }

    /// The driver for `host`, a pod host of `inventory` (checked as the inventory was read: one
    /// server, behind its Service, with its files where a pod keeps them).
    public init(host: String, statefulSet: String, inventory: Inventory, access: KubernetesAccess) throws {
        let found = inventory.ensembles.flatMap { ensemble in ensemble.servers.filter { $0.host == host }.map { (ensemble, $0) } }
        guard found.count == 1, let (ensemble, server) = found.first else {
            throw HostError(.invalidRequest, host: host, operation: "find the pod's server", "pod host \(host) must run exactly one server of the inventory; it runs \(found.count)")
        }
        let version = ensemble.version
        let image = access.image ?? "zookeeper:\(version.major).\(version.minor).\(version.patch)"
        let pod = KubernetesManifests.PodServer(
            statefulSet: statefulSet, id: server.id, ports: KubernetesManifests.ports(of: server), configPath: server.configPath, dataDirectory: server.dataDir,
            image: image, storage: access.storage, namespace: access.namespace)
        let script = KubernetesManifests.readinessScript(local: "127.0.0.1:\(server.clientPort)", peers: ensemble.servers.map { "\($0.address):\($0.clientPort)" })
        self.init(host: host, pod: pod, myidPath: server.myidPath, readinessScript: script, access: access)
    }

    public var ownServiceControl: String? {
        "StatefulSet \(pod.statefulSet)\(kubectl.access.namespace.map { " in namespace \($0)" } ?? "") (kubectl apply, kubectl delete)"
    }

    // MARK: Files: keys of the ConfigMap

    /// The ConfigMap key a path is, nil for a path outside the ConfigMap.
    func key(_ path: String) -> String? {
        if path == myidPath { return "myid" }
        guard parentDirectory(of: path) == pod.configDirectory, let slash = path.lastIndex(of: "/") else { return nil }
        let name = String(path[path.index(after: slash)...])
        return name.isEmpty || name == "ready.sh" ? nil : name
    }

    func configMap(_ operation: String) async throws -> JSONValue? {
        try await kubectl.object("configmap", pod.configMap, operation: operation, host: host)
    }

    /// The bytes of `key` in a ConfigMap object, nil when it has no such key.
    static func bytes(of key: String, in configMap: JSONValue?) -> [UInt8]? {
        if let text = configMap?["data", key]?.stringValue { return Array(text.utf8) }
        if let encoded = configMap?["binaryData", key]?.stringValue, let data = Data(base64Encoded: encoded) { return Array(data) }
        return nil
    }

    public func readBytes(_ path: String) async throws -> [UInt8]? {
        if let key = key(path) { return Self.bytes(of: key, in: try await configMap("read \(path)")) }
        guard try await podRuns() else {
            throw HostError(
                .unreachable, host: host, operation: "read \(path)",
                "\(path) is in pod \(pod.pod), which does not run; only the files of ConfigMap \(pod.configMap) (\(pod.configDirectory)/*, and myid) can be read without it")
        }
        let quoted = shellQuoted(path)
        let output = try await check("if [ -e \(quoted) ]; then echo present; base64 < \(quoted); else echo absent; fi", operation: "read \(path)")
        let lines = output.split(whereSeparator: \.isNewline)
        guard lines.first == "present" else { return nil }
        guard let data = Data(base64Encoded: lines.dropFirst().joined()) else {
            throw HostError(.commandFailed, host: host, operation: "read \(path)", "base64 in pod \(pod.pod) printed something that is not base64")
        }
        return Array(data)
    }

    public func writeBytes(_ path: String, contents: [UInt8]) async throws -> HostChange {
        let operation = "write \(path)"
        guard let key = key(path) else {
            throw HostError(
                .invalidRequest, host: host, operation: operation,
                "pod host \(host) keeps its files in ConfigMap \(pod.configMap), mounted at \(pod.configDirectory), and myid (\(myidPath)); \(path) is neither: fix configPath or myidPath of its server in the inventory")
        }
        return try await update(operation) { data, binary in
            if Self.value(data, binary, key) == contents { return "\(path) (\(pod.configMap) key \(key)) already holds these \(contents.count) bytes" }
            Self.set(&data, &binary, key, contents)
            return nil
        } verify: { configMap in
            Self.bytes(of: key, in: configMap) == contents ? nil : "key \(key) does not hold the \(contents.count) bytes written"
        } done: { "wrote \(path) (\(pod.configMap) key \(key), \(contents.count) bytes)" }
    }

    public func readFile(_ path: String) async throws -> String? {
        try await readBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    public func writeFile(_ path: String, contents: String) async throws -> HostChange {
        try await writeBytes(path, contents: Array(contents.utf8))
    }

    /// Removes the key; the ConfigMap goes too when nothing but the readiness script is left in it
    /// (a rollback of a run that created it leaves the cluster as it found it).
    public func removeFile(_ path: String) async throws -> HostChange {
        let operation = "remove \(path)"
        guard let key = key(path) else {
            throw HostError(.invalidRequest, host: host, operation: operation, "\(path) is not a file of ConfigMap \(pod.configMap) (\(pod.configDirectory)/*, and myid)")
        }
        guard let current = try await configMap(operation), Self.bytes(of: key, in: current) != nil else {
            return HostChange(host: host, changed: false, summary: "\(path) is already gone (\(pod.configMap) has no key \(key))")
        }
        let keys = Set((current["data"]?.objectValue?.keys ?? []) + (current["binaryData"]?.objectValue?.keys ?? []))
        if keys.subtracting([key, "ready.sh"]).isEmpty {
            try await kubectl.run(["delete", "configmap", pod.configMap, "--ignore-not-found"], operation: operation, host: host)
            guard try await configMap(operation) == nil else {
                throw HostError(.commandFailed, host: host, operation: operation, "ConfigMap \(pod.configMap) is still there after `kubectl delete`")
            }
            return HostChange(host: host, changed: true, summary: "removed \(path), the last file of ConfigMap \(pod.configMap), and the ConfigMap")
        }
        return try await update(operation) { data, binary in
            data[key] = nil
            binary[key] = nil
            return nil
        } verify: { configMap in
            Self.bytes(of: key, in: configMap) == nil ? nil : "key \(key) is still there"
        } done: { "removed \(path) (\(pod.configMap) key \(key))" }
    }

    static func value(_ data: JSONObject, _ binary: JSONObject, _ key: String) -> [UInt8]? {
        if let text = data[key]?.stringValue { return Array(text.utf8) }
        return binary[key]?.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init)
    }

    /// Text that is UTF-8 goes under `data`, anything else under `binaryData` (base64).
    static func set(_ data: inout JSONObject, _ binary: inout JSONObject, _ key: String, _ contents: [UInt8]) {
        if let text = String(validating: contents, as: UTF8.self) {
            data[key] = .string(text)
            binary[key] = nil
        } else {
            binary[key] = .string(Data(contents).base64EncodedString())
            data[key] = nil
        }
    }

    /// Reads the ConfigMap, lets `change` edit its data (returning a reason when nothing needs
    /// changing), writes it (created with the readiness script when missing; replaced at the
    /// resourceVersion read, so that an edit in between fails the write), then reads it back.
    func update(
        _ operation: String, _ change: (inout JSONObject, inout JSONObject) -> String?, verify: (JSONValue?) -> String?, done: () -> String
    ) async throws -> HostChange {
        let current = try await configMap(operation)
        var data = current?["data"]?.objectValue ?? JSONObject()
        var binary = current?["binaryData"]?.objectValue ?? JSONObject()
        if current == nil { data["ready.sh"] = .string(readinessScript) }
        if let unchanged = change(&data, &binary) { return HostChange(host: host, changed: false, summary: unchanged) }
        var object = KubernetesManifests.configMap(pod, data: .object(data), binaryData: binary.entries.isEmpty ? nil : .object(binary))
        if let current {
            // Replaced at the resourceVersion read: Kubernetes refuses it if the ConfigMap changed since.
            guard current["metadata", "resourceVersion"]?.stringValue != nil else {
                throw HostError(.commandFailed, host: host, operation: operation, "ConfigMap \(pod.configMap) as kubectl printed it has no resourceVersion")
            }
            // The object as it is, with the new data: labels and annotations others set survive.
            var whole = current.objectValue ?? JSONObject()
            var metadata = current["metadata"]?.objectValue ?? JSONObject()
            metadata["managedFields"] = nil
            whole["metadata"] = .object(metadata)
            whole["data"] = .object(data)
            whole["binaryData"] = binary.entries.isEmpty ? nil : .object(binary)
            object = .object(whole)
        }
        try await kubectl.send(current == nil ? "create" : "replace", object, operation: operation, host: host)
        if let problem = verify(try await configMap(operation)) {
            throw HostError(.commandFailed, host: host, operation: operation, "read back, ConfigMap \(pod.configMap): \(problem)")
        }
        return HostChange(host: host, changed: true, summary: done())
    }

    // MARK: Directories

    public func listDirectory(_ path: String) async throws -> [String]? {
        if path == pod.configDirectory {
            guard let current = try await configMap("list \(path)") else { return nil }
            return ((current["data"]?.objectValue?.keys ?? []) + (current["binaryData"]?.objectValue?.keys ?? [])).filter { $0 != "myid" }.sorted()
        }
        if try await podRuns() {
            return DirectoryListing.names(in: try await check(DirectoryListing.command(path), operation: "list \(path)"))
        }
        guard path == pod.dataDirectory || path.hasPrefix(pod.dataDirectory + "/") else { return nil }
        // Without the pod, its data directory is its volume claim: none, nothing there.
        guard try await kubectl.object("persistentvolumeclaim", pod.volumeClaim, operation: "list \(path)", host: host) == nil else {
            throw HostError(
                .invalidRequest, host: host, operation: "list \(path)",
                "the volume claim \(pod.volumeClaim) of StatefulSet \(pod.statefulSet) exists (from an earlier pod), but no pod runs to read it, so what \(pod.dataDirectory) holds is unknown; if its data is not wanted, delete it (`\(kubectl.access.kubectl) delete pvc \(pod.volumeClaim)`), then run again")
        }
        return nil
    }

    /// A ConfigMap key has no directory to create; the data directory is the pod's volume.
    public func missingDirectories(above paths: [String]) async throws -> [String] {
        for path in paths where key(path) == nil {
            throw HostError(.invalidRequest, host: host, operation: "write \(path)", "\(path) is not a file of ConfigMap \(pod.configMap) (\(pod.configDirectory)/*, and myid)")
        }
        return []
    }

    // MARK: Commands: kubectl exec

    public func run(_ command: String, timeout: Duration) async throws -> CommandResult {
        guard try await podRuns() else {
            throw HostError(.unreachable, host: host, operation: command, "pod \(pod.pod) does not run, so nothing can run in it (StatefulSet \(pod.statefulSet))")
        }
        let result = try await kubectl.result(["exec", pod.pod, "-c", "zookeeper", "--", "sh", "-c", command], timeout: timeout)
        return CommandResult(status: result.status, output: result.stdout + result.stderr)
    }

    func check(_ command: String, operation: String) async throws -> String {
        let result = try await kubectl.result(["exec", pod.pod, "-c", "zookeeper", "--", "sh", "-c", command])
        guard result.status == 0 else {
            throw HostError(.commandFailed, host: host, operation: operation, "`kubectl exec \(pod.pod)` exited \(result.status): \(result.stderr.prefix(300))")
        }
        return result.stdout
    }

    // MARK: The service: the StatefulSet and its pod

    /// The pod as Kubernetes reports it.
    struct PodState {
        var uid: String
        var terminating: Bool
        var phase: String
        /// The container runs.
        var running: Bool
        var restarts: Int
        /// Why the container waits or last ended, or why the pod is not scheduled, with
        /// Kubernetes' message.
        var problem: String?
        /// Its container runs and it is not being deleted.
        var serving: Bool { running && !terminating }
    }

    func pods(_ operation: String) async throws -> [PodState] {
        let list = try await kubectl.json(["get", "pods", "-l", "\(KubernetesManifests.serverLabel)=\(pod.statefulSet)", "-o", "json"], operation: operation, host: host)
        return (list?["items"]?.arrayValue ?? []).map { item in
            let status = item["status"]
            let container = (status?["containerStatuses"]?.arrayValue ?? []).first { $0["name"]?.stringValue == "zookeeper" }
            let waiting = container?["state", "waiting"]
            let terminated = container?["state", "terminated"] ?? container?["lastState", "terminated"]
            // Not scheduled yet (no node fits, its volume is not bound): said at the timeout, since
            // it may pass (an autoscaler adds a node).
            let unscheduled = (status?["conditions"]?.arrayValue ?? []).first { $0["type"]?.stringValue == "PodScheduled" && $0["status"]?.stringValue == "False" }
            let problem = waiting.map { "\($0["reason"]?.stringValue ?? "waiting")\($0["message"]?.stringValue.map { ": \($0)" } ?? "")" }
                ?? terminated.map { "exited \($0["exitCode"]?.intValue ?? -1) (\($0["reason"]?.stringValue ?? "terminated"))" }
                ?? unscheduled.map { "not scheduled: \($0["reason"]?.stringValue ?? "")\($0["message"]?.stringValue.map { ": \($0)" } ?? "")" }
            return PodState(
                uid: item["metadata", "uid"]?.stringValue ?? "", terminating: item["metadata", "deletionTimestamp"].map { !$0.isNull } ?? false,
                phase: status?["phase"]?.stringValue ?? "Unknown", running: container?["state", "running"] != nil,
                restarts: container?["restartCount"]?.intValue ?? 0, problem: problem)
        }
    }

    /// Whether the pod's container runs now (not terminating).
    func podRuns() async throws -> Bool {
        try await pods("read the state of pod \(pod.pod)").contains(where: \.serving)
    }

    /// Stopped only when no pod is left: a pending pod may start, a terminating one may still serve.
    public func serviceState(_ service: ServiceSpec) async throws -> ServiceState {
        try await pods("read the state of pod \(pod.pod)").isEmpty ? .stopped : .running
    }

    public func startService(_ service: ServiceSpec) async throws -> HostChange {
        let operation = "start ZooKeeper server \(pod.id) (StatefulSet \(pod.statefulSet))"
        if try await podRuns() { return HostChange(host: host, changed: false, summary: "pod \(pod.pod) already runs") }
        // The pod mounts the ConfigMap: without zoo.cfg and myid it could not start as this server.
        let configMap = try await configMap(operation)
        let configName = String(pod.configPath.split(separator: "/").last ?? "zoo.cfg")
        let missing = [configName, "myid"].filter { Self.bytes(of: $0, in: configMap) == nil }
        guard missing.isEmpty else {
            throw HostError(
                .invalidRequest, host: host, operation: operation,
                configMap == nil
                    ? "ConfigMap \(pod.configMap) does not exist: the plan's prepare step writes it (zoo.cfg and myid) before the pod starts"
                    : "ConfigMap \(pod.configMap) has no \(missing.joined(separator: ", ")): the plan's prepare step writes them before the pod starts")
        }
        // The readiness probe runs ready.sh: a ConfigMap made by hand may lack it.
        if configMap != nil, Self.bytes(of: "ready.sh", in: configMap) == nil {
            _ = try await update(operation) { data, _ in
                data["ready.sh"] = .string(readinessScript)
                return nil
            } verify: { Self.bytes(of: "ready.sh", in: $0) == nil ? "key ready.sh is missing" : nil } done: { "added ready.sh to \(pod.configMap)" }
        }
        try await kubectl.send("apply", KubernetesManifests.statefulSet(pod), operation: operation, host: host)
        let started = try await waitForPod(operation, timeout: service.timeout) { pods in pods.contains(where: \.serving) }
        return HostChange(host: host, changed: true, summary: "started pod \(pod.pod) (StatefulSet \(pod.statefulSet), \(pod.image))\(started)")
    }

    public func stopService(_ service: ServiceSpec) async throws -> HostChange {
        let operation = "stop ZooKeeper server \(pod.id) (StatefulSet \(pod.statefulSet))"
        let statefulSet = try await kubectl.object("statefulset", pod.statefulSet, operation: operation, host: host)
        if statefulSet == nil, try await pods(operation).isEmpty {
            return HostChange(host: host, changed: false, summary: "no StatefulSet \(pod.statefulSet) and no pod: ZooKeeper server \(pod.id) is not running")
        }
        try await kubectl.run(["delete", "statefulset", pod.statefulSet, "--ignore-not-found", "--wait=false"], operation: operation, host: host)
        try await kubectl.run(
            ["delete", "pods", "-l", "\(KubernetesManifests.serverLabel)=\(pod.statefulSet)", "--ignore-not-found", "--wait=false"], operation: operation, host: host)
        _ = try await waitForPod(operation, timeout: service.timeout) { $0.isEmpty }
        return HostChange(host: host, changed: true, summary: "deleted StatefulSet \(pod.statefulSet) and pod \(pod.pod); its volume \(pod.volumeClaim) stays")
    }

    public func restartService(_ service: ServiceSpec) async throws -> HostChange {
        let operation = "restart ZooKeeper server \(pod.id) (pod \(pod.pod))"
        let before = Set(try await pods(operation).map(\.uid))
        guard try await kubectl.object("statefulset", pod.statefulSet, operation: operation, host: host) != nil else {
            return try await startService(service)
        }
        try await kubectl.run(["delete", "pod", pod.pod, "--ignore-not-found", "--wait=false"], operation: operation, host: host)
        _ = try await waitForPod(operation, timeout: service.timeout) { pods in pods.contains { $0.serving && !before.contains($0.uid) } }
        return HostChange(host: host, changed: true, summary: "restarted pod \(pod.pod) (deleted; StatefulSet \(pod.statefulSet) made it again)")
    }

    /// Polls the pods until `done`; fails at once on a container that cannot start (an image
    /// that cannot be pulled, a config that cannot be mounted, a server that keeps exiting), and
    /// at the timeout. Returns a note on how long it took.
    func waitForPod(_ operation: String, timeout: Duration, _ done: ([PodState]) -> Bool) async throws -> String {
        let started = ContinuousClock.now
        let fatal: Set<String> = ["ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff"]
        while true {
            let pods = try await pods(operation)
            if done(pods) { return " in \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s" }
            if let failing = pods.first(where: { state in !state.terminating && state.problem.map { problem in fatal.contains { problem.hasPrefix($0) } } == true }) {
                throw HostError(
                    .commandFailed, host: host, operation: operation,
                    "pod \(pod.pod) cannot run: \(failing.problem ?? "")\(failing.restarts > 0 ? " (restarted \(failing.restarts) times)" : ""); see `\(kubectl.access.kubectl) describe pod \(pod.pod)` and `\(kubectl.access.kubectl) logs \(pod.pod) --previous`")
            }
            guard ContinuousClock.now - started < timeout else {
                let now = pods.map { "\($0.phase)\($0.terminating ? ", terminating" : "")\($0.problem.map { ", \($0)" } ?? "")" }
                throw HostError(
                    .timeout, host: host, operation: operation,
                    "not done after \(timeout): \(now.isEmpty ? "no pod" : "pod " + now.joined(separator: "; ")); see `\(kubectl.access.kubectl) describe pod \(pod.pod)`")
            }
            try await Task.sleep(for: pollInterval)
        }
    }
}
