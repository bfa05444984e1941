import Foundation
public import Ensemble
public import Hosts
import Kafka
import MigrationPlanning

/// Service stable addresses in a real Kubernetes cluster, driven through the `kubectl` command
/// the inventory names (`kubernetes: {kubectl: …, namespace: …}`). A service is found by its
/// ClusterIP (the address the plan knows). It points at a host by its Endpoints (no selector, a
/// JSON patch of the address), and at a pod host by a selector on the pod's label, whose
/// Endpoints Kubernetes then keeps. Every change is read back before it counts.
public struct KubectlServices: Sendable {
    public let access: KubernetesAccess
    /// Each host's IP address (an Endpoints address is an IP).
    public let hostAddresses: [String: String]
    /// Each pod host's StatefulSet (its pod is `<name>-0`, its label value `<name>`).
    public let pods: [String: String]
    let kubectl: Kubectl
    /// How long Kubernetes may take to update Endpoints after a selector changes.
    var settle: Duration = .seconds(30)

    public init(access: KubernetesAccess, hostAddresses: [String: String], pods: [String: String] = [:]) {
        self.access = access
        self.hostAddresses = hostAddresses
        self.pods = pods
        self.kubectl = Kubectl(access: access)
    }

    /// Points the Service whose ClusterIP is `address` at `host` (a host's IP, or a pod host's
    /// pod), and checks that it does.
    public func retarget(_ address: String, to host: String) async throws -> HostChange {
        let operation = "point service \(address) at \(host)"
        if let statefulSet = pods[host] { return try await retarget(address, toPod: statefulSet, host: host, operation: operation) }
        guard let ip = hostAddresses[host], isIPAddressLiteral(ip) else {
            throw HostError(
                .invalidRequest, host: host, operation: operation,
                "host \(host) has no IP address in the inventory, and an Endpoints address must be one: add `address: <its IP>` to host \(host)")
        }
        let name = try await serviceName(address, operation: operation)
        let service = try await kubectl.object("service", name, operation: operation)
        let hasSelector = service?["spec", "selector"]?.objectValue.map { !$0.entries.isEmpty } ?? false
        let before = try await endpointAddresses(name, operation: operation)
        // Back from a pod (a rollback): Kubernetes keeps a selector's Endpoints, so the selector
        // goes first, then the Endpoints are written whole; so too when there is no address to patch.
        guard !hasSelector, !before.isEmpty else {
            return try await pointWithoutSelector(name, address: address, at: ip, host: host, service: service, removingSelector: hasSelector, before: before, operation: operation)
        }
        if before.map(\.ip) == [ip] { return HostChange(host: host, changed: false, summary: "service \(name) (\(address)) already points at \(ip)") }
        let patch = JSONValue.array([
            .object(JSONObject([
                (key: "op", value: .string("replace")), (key: "path", value: .string("/subsets/0/addresses")),
                (key: "value", value: .array([.object(JSONObject([(key: "ip", value: .string(ip))]))])),
            ]))
        ]).serializedString
        _ = try await kubectl.run(["patch", "endpoints", name, "--type=json", "-p", patch], operation: operation)
        let after = try await endpointAddresses(name, operation: operation).map(\.ip)
        guard after == [ip] else {
            throw HostError(
                .commandFailed, host: host, operation: operation,
                "after the patch, the Endpoints \(name) list \(after.isEmpty ? "no address" : after.joined(separator: ", ")) instead of \(ip) alone; check them with `\(access.kubectl) get endpoints \(name) -o yaml` (a selector on the Service makes Kubernetes manage them)")
        }
        return HostChange(host: host, changed: true, summary: "service \(name) (\(address)) points at \(ip) (was \(before.isEmpty ? "nothing" : before.map(\.ip).joined(separator: ", ")))")
    }

    /// Drops the Service's selector (`removingSelector`) and writes its Endpoints whole: `ip`, on
    /// the ports of the Service's targets. Read back. `before`: the addresses they held.
    func pointWithoutSelector(
        _ name: String, address: String, at ip: String, host: String, service: JSONValue?, removingSelector hadSelector: Bool, before: [EndpointAddress],
        operation: String
    ) async throws -> HostChange {
        if hadSelector {
            _ = try await kubectl.run(["patch", "service", name, "--type=json", "-p", #"[{"op":"remove","path":"/spec/selector"}]"#], operation: operation)
            // The Endpoints the controller made carry its labels (endpoints.kubernetes.io/managed-by,
            // and others), which `kubectl apply` would keep: an object that claims to be the
            // controller's, on a Service it no longer manages. They go, and new ones are made
            // with only Mitosis's labels, as phase 1 makes them.
            _ = try await kubectl.run(["delete", "endpoints", name, "--ignore-not-found"], operation: operation)
        }
        let ports: [JSONValue] = (service?["spec", "ports"]?.arrayValue ?? []).map { port in
            let target = port["targetPort"]?.intValue ?? port["port"]?.intValue ?? 0
            return KubernetesManifests.object([
                ("name", port["name"]), ("protocol", port["protocol"] ?? .string("TCP")), ("port", .int(target)),
            ])
        }
        let endpoints = KubernetesManifests.object([
            ("apiVersion", .string("v1")), ("kind", .string("Endpoints")),
            ("metadata", KubernetesManifests.object([("name", .string(name)), ("namespace", access.namespace.map(JSONValue.string))])),
            ("subsets", .array([KubernetesManifests.object([("addresses", .array([KubernetesManifests.object([("ip", .string(ip))])])), ("ports", .array(ports))])])),
        ])
        try await kubectl.send("apply", endpoints, operation: operation)
        let after = try await endpointAddresses(name, operation: operation).map(\.ip)
        guard after == [ip] else {
            throw HostError(
                .commandFailed, host: host, operation: operation,
                "after removing the selector and applying the Endpoints, \(name) lists \(after.isEmpty ? "no address" : after.joined(separator: ", ")) instead of \(ip) alone; check with `\(access.kubectl) get service,endpoints \(name) -o yaml`")
        }
        return HostChange(
            host: host, changed: true,
            summary: "service \(name) (\(address)) points at \(ip)\(hadSelector ? ", its selector removed" : "") (was \(before.isEmpty ? "nothing" : before.map(\.ip).joined(separator: ", ")))")
    }

    /// Puts a selector for the pod of `statefulSet` on the Service (and `publishNotReadyAddresses`,
    /// so that peers reach the pod while it syncs), then waits until Kubernetes has dropped every
    /// address that is not that pod's from its Endpoints (the old host's first of all).
    func retarget(_ address: String, toPod statefulSet: String, host: String, operation: String) async throws -> HostChange {
        let name = try await serviceName(address, operation: operation)
        let service = try await kubectl.object("service", name, operation: operation)
        let wanted = JSONValue.object(JSONObject([(key: KubernetesManifests.serverLabel, value: .string(statefulSet))]))
        let changed = service?["spec", "selector"] != wanted || service?["spec", "publishNotReadyAddresses"] != .bool(true)
        let before = try await endpointAddresses(name, operation: operation)
        if changed {
            let patch = JSONValue.array([
                KubernetesManifests.object([("op", .string("add")), ("path", .string("/spec/selector")), ("value", wanted)]),
                KubernetesManifests.object([("op", .string("add")), ("path", .string("/spec/publishNotReadyAddresses")), ("value", .bool(true))]),
            ]).serializedString
            _ = try await kubectl.run(["patch", "service", name, "--type=json", "-p", patch], operation: operation)
        }
        let pod = "\(statefulSet)-0"
        let deadline = ContinuousClock.now + settle
        var others = try await endpointAddresses(name, operation: operation).filter { $0.pod != pod }
        while !others.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw HostError(
                    .commandFailed, host: host, operation: operation,
                    "\(settle) after the selector \(KubernetesManifests.serverLabel)=\(statefulSet) was set, the Endpoints \(name) still list \(others.map(\.description).joined(separator: ", ")), which is not pod \(pod); check `\(access.kubectl) get endpoints \(name) -o yaml` (does the endpoints controller run?)")
            }
            try await Task.sleep(for: .milliseconds(500))
            others = try await endpointAddresses(name, operation: operation).filter { $0.pod != pod }
        }
        guard changed else { return HostChange(host: host, changed: false, summary: "service \(name) (\(address)) already selects pod \(pod)") }
        return HostChange(
            host: host, changed: true,
            summary: "service \(name) (\(address)) selects pod \(pod) (\(KubernetesManifests.serverLabel)=\(statefulSet)); was \(before.isEmpty ? "nothing" : before.map(\.description).joined(separator: ", "))")
    }

    /// HubSpot's phase 1 for `server`: points the Service whose ClusterIP is the server's address
    /// at `host`, where the server runs now. When no Service has that ClusterIP yet, it is created
    /// first (`kubectl apply -f` of the Service without selector and its Endpoints, the objects
    /// `phase-1/services.yaml` holds), then read back like any retarget.
    public func create(_ server: ServerSpec, ensemble: String, at host: String) async throws -> HostChange {
        let operation = "create the service of server \(server.id) (\(server.address)) pointing at \(host)"
        guard !(try await serviceNames(server.address, operation: operation)).isEmpty else {
            guard let ip = hostAddresses[host], isIPAddressLiteral(ip) else {
                throw HostError(
                    .invalidRequest, host: host, operation: operation,
                    "host \(host) has no IP address in the inventory, and an Endpoints address must be one: add `address: <its IP>` to host \(host)")
            }
            let objects = KubernetesManifests.phaseOneObjects(server, ensemble: ensemble, hostIP: ip, namespace: access.namespace)
            let name = KubernetesManifests.serviceName(ensemble: ensemble, id: server.id)
            try await kubectl.send("apply", objects, operation: operation)
            let names = try await serviceNames(server.address, operation: operation)
            let after = names == [name] ? try await endpointAddresses(name, operation: operation).map(\.ip) : []
            guard after == [ip] else {
                throw HostError(
                    .commandFailed, host: host, operation: operation,
                    "after `kubectl apply`, \(names == [name] ? "the Endpoints \(name) list \(after.isEmpty ? "no address" : after.joined(separator: ", ")) instead of \(ip) alone" : "the Services with clusterIP \(server.address) are \(names.isEmpty ? "none" : names.joined(separator: ", ")), not \(name)"); check them with `\(access.kubectl) get services,endpoints -o wide`")
            }
            return HostChange(host: host, changed: true, summary: "created service \(name) (\(server.address)) and its Endpoints, pointing at \(ip)")
        }
        return try await retarget(server.address, to: host)
    }

    /// The host the Service whose ClusterIP is `address` points at; nil when its Endpoints hold
    /// no address, more than one, or one that is no inventory host's (an IP) or pod host's (a pod).
    public func backend(_ address: String) async throws -> String? {
        let operation = "find the backend of service \(address)"
        let addresses = try await endpointAddresses(try await serviceName(address, operation: operation), operation: operation)
        guard addresses.count == 1 else { return nil }
        if let pod = addresses[0].pod {
            return pods.filter { "\($0.value)-0" == pod }.map(\.key).sorted().first
        }
        return hostAddresses.filter { $0.value == addresses[0].ip }.map(\.key).sorted().first
    }

    /// The names of the Services whose ClusterIP is `address`.
    func serviceNames(_ address: String, operation: String) async throws -> [String] {
        let list = try await kubectl.json(["get", "services", "-o", "json"], operation: operation)
        return (list?["items"]?.arrayValue ?? []).compactMap { item -> String? in
            guard item["spec", "clusterIP"]?.stringValue == address else { return nil }
            return item["metadata", "name"]?.stringValue
        }
    }

    func serviceName(_ address: String, operation: String) async throws -> String {
        let names = try await serviceNames(address, operation: operation)
        guard names.count == 1 else {
            throw HostError(
                .invalidRequest, host: "-", operation: operation,
                names.isEmpty
                    ? "no Service\(access.namespace.map { " in namespace \($0)" } ?? "") has clusterIP \(address); the plan's phase-1 step creates it (or apply phase-1/services.yaml of `mitosis plan … --kubernetes DIR`), or fix kubernetes.namespace in the inventory"
                    : "Services \(names.joined(separator: ", ")) all have clusterIP \(address)")
        }
        return names[0]
    }

    /// An address of an Endpoints object: its IP, and the pod it is when Kubernetes made it.
    struct EndpointAddress: CustomStringConvertible {
        var ip: String
        var pod: String?
        var description: String { pod.map { "\(ip) (pod \($0))" } ?? ip }
    }

    /// Every address of the Endpoints `name`, ready or not (a selector's Endpoints list a pod
    /// that is not ready under notReadyAddresses unless publishNotReadyAddresses is set).
    func endpointAddresses(_ name: String, operation: String) async throws -> [EndpointAddress] {
        let endpoints = try await kubectl.object("endpoints", name, operation: operation)
        return (endpoints?["subsets"]?.arrayValue ?? []).flatMap { subset in
            ((subset["addresses"]?.arrayValue ?? []) + (subset["notReadyAddresses"]?.arrayValue ?? [])).compactMap { address -> EndpointAddress? in
                guard let ip = address["ip"]?.stringValue else { return nil }
                let pod = address["targetRef", "kind"]?.stringValue == "Pod" ? address["targetRef", "name"]?.stringValue : nil
                return EndpointAddress(ip: ip, pod: pod)
            }
        }
    }
}
