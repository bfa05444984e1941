import Foundation

/// A Kubernetes namespace for tests, behind a kubectl test double (`fake_kubectl.py`, next to
/// this file): no cluster can run on this machine. The double keeps Services, Endpoints,
/// ConfigMaps, StatefulSets, pods and volume claims in a JSON file, accepts only the commands
/// Mitosis sends, and plays the StatefulSet, endpoints and (with `processes`) kubelet
/// controllers: a pod is then a real process running its container's command. See the script.
public struct FakeKubernetes: Sendable {
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fake_kubectl.py").path

    public let directory: URL
    public let namespace: String
    /// The environment the double runs with (FAKE_KUBECTL_*), besides its state and log.
    public let environment: [String: String]

    public var state: URL { directory.appendingPathComponent("state.json") }
    public var log: URL { directory.appendingPathComponent("calls.log") }

    /// A Service of the namespace as it starts: its ClusterIP, and the IP its Endpoints point at
    /// (nil: a Service that does not exist yet).
    public struct Service: Sendable {
        public var name: String
        public var clusterIP: String
        public var endpoint: String
        public var ports: [(name: String, port: Int)]

        public init(name: String, clusterIP: String, endpoint: String, ports: [(name: String, port: Int)] = [("client", 2181)]) {
            self.name = name
            self.clusterIP = clusterIP
            self.endpoint = endpoint
            self.ports = ports
        }
    }

    public init(namespace: String = "zk", services: [Service] = [], environment: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-fake-kubernetes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.namespace = namespace
        self.environment = environment
        var serviceObjects: [String: Any] = [:]
        var endpointObjects: [String: Any] = [:]
        for service in services {
            let ports = service.ports.map { ["name": $0.name, "port": $0.port, "targetPort": $0.port, "protocol": "TCP"] as [String: Any] }
            serviceObjects[service.name] = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": service.name, "resourceVersion": "1"], "spec": ["clusterIP": service.clusterIP, "ports": ports]]
            endpointObjects[service.name] = [
                "apiVersion": "v1", "kind": "Endpoints", "metadata": ["name": service.name, "resourceVersion": "1"],
                "subsets": [["addresses": [["ip": service.endpoint]], "ports": service.ports.map { ["name": $0.name, "port": $0.port] as [String: Any] }]],
            ]
        }
        let state: [String: Any] = ["namespace": namespace, "services": serviceObjects, "endpoints": endpointObjects]
        try JSONSerialization.data(withJSONObject: state).write(to: directory.appendingPathComponent("state.json"))
    }

    /// The inventory's `kubectl` command line that reaches this namespace (`python3 -S`: without
    /// the site packages, which the double does not use, each call starts a fifth faster).
    public var kubectl: String {
        let variables = ["FAKE_KUBECTL_STATE": state.path, "FAKE_KUBECTL_LOG": log.path].merging(environment) { first, _ in first }
        return (variables.sorted { $0.key < $1.key }.map { "\($0.key)='\($0.value)'" } + ["/usr/bin/python3", "-S", Self.script]).joined(separator: " ")
    }

    /// The namespace's objects now, by table (`services`, `endpoints`, `configmaps`,
    /// `statefulsets`, `pods`, `pvcs`), as the double keeps them.
    public func objects() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any] ?? [:]
    }

    public func object(_ table: String, _ name: String) throws -> [String: Any]? {
        (try objects()[table] as? [String: Any])?[name] as? [String: Any]
    }

    /// Changes the namespace's objects by hand, as someone else would (`body` gets the tables).
    public func edit(_ body: (inout [String: Any]) -> Void) throws {
        var state = try objects()
        body(&state)
        try JSONSerialization.data(withJSONObject: state).write(to: self.state)
    }

    /// The IPs the Endpoints `name` list.
    public func endpointIPs(_ name: String) throws -> [String] {
        let subsets = try object("endpoints", name)?["subsets"] as? [[String: Any]] ?? []
        return subsets.flatMap { ($0["addresses"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String } }
    }

    /// Every kubectl call so far, its arguments joined by spaces.
    public func calls() -> [String] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Kills every pod process the double started, and removes its directory.
    public func remove() {
        let pods = ((try? objects())?["pods"] as? [String: Any]) ?? [:]
        for case let pod as [String: Any] in pods.values {
            let annotations = (pod["metadata"] as? [String: Any])?["annotations"] as? [String: String]
            if let pid = annotations?["fake/pid"].flatMap(Int32.init), pid > 0 { kill(-pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
