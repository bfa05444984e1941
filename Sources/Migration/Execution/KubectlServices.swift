import Foundation
public import Ensemble
public import Hosts
import Kafka
public import MigrationPlanning

/// Service stable addresses in a real Kubernetes cluster, driven through the `kubectl` command
/// the inventory names (`kubernetes: {kubectl: …, namespace: …}`). A service is found by its
/// ClusterIP (the address the plan knows), pointed at a host by a JSON patch of its Endpoints,
/// and every change is read back (`kubectl get endpoints … -o json`) before it counts.
public struct KubectlServices: Sendable {
    public let access: KubernetesAccess
    /// Each host's IP address (an Endpoints address is an IP).
    public let hostAddresses: [String: String]

    public init(access: KubernetesAccess, hostAddresses: [String: String]) {
        self.access = access
        self.hostAddresses = hostAddresses
    }

    /// Points the Service whose ClusterIP is `address` at `host`'s IP, and checks that it does.
    public func retarget(_ address: String, to host: String) async throws -> HostChange {
        let operation = "point service \(address) at \(host)"
        guard let ip = hostAddresses[host], isIPAddressLiteral(ip) else {
            throw HostError(
                .invalidRequest, host: host, operation: operation,
                "host \(host) has no IP address in the inventory, and an Endpoints address must be one: add `address: <its IP>` to host \(host)")
        }
        let name = try await serviceName(address, operation: operation)
        let before = try await endpointAddresses(name, operation: operation)
        if before == [ip] { return HostChange(host: host, changed: false, summary: "service \(name) (\(address)) already points at \(ip)") }
        let patch = JSONValue.array([
            .object(JSONObject([
                (key: "op", value: .string("replace")), (key: "path", value: .string("/subsets/0/addresses")),
                (key: "value", value: .array([.object(JSONObject([(key: "ip", value: .string(ip))]))])),
            ]))
        ]).serializedString
        _ = try await kubectl(["patch", "endpoints", name, "--type=json", "-p", patch], operation: operation)
        let after = try await endpointAddresses(name, operation: operation)
        guard after == [ip] else {
            throw HostError(
                .commandFailed, host: host, operation: operation,
                "after the patch, the Endpoints \(name) list \(after.isEmpty ? "no address" : after.joined(separator: ", ")) instead of \(ip) alone; check them with `\(access.kubectl) get endpoints \(name) -o yaml` (a selector on the Service makes Kubernetes manage them)")
        }
        return HostChange(host: host, changed: true, summary: "service \(name) (\(address)) points at \(ip) (was \(before.isEmpty ? "nothing" : before.joined(separator: ", ")))")
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
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-kubectl-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("\(name).json")
            try Data(objects.serializedString.utf8).write(to: file)
            _ = try await kubectl(["apply", "-f", file.path], operation: operation)
            let names = try await serviceNames(server.address, operation: operation)
            let after = names == [name] ? try await endpointAddresses(name, operation: operation) : []
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
    /// no address or one that is no inventory host's.
    public func backend(_ address: String) async throws -> String? {
        let operation = "find the backend of service \(address)"
        let addresses = try await endpointAddresses(try await serviceName(address, operation: operation), operation: operation)
        guard addresses.count == 1 else { return nil }
        return hostAddresses.filter { $0.value == addresses[0] }.map(\.key).sorted().first
    }

    /// The names of the Services whose ClusterIP is `address`.
    func serviceNames(_ address: String, operation: String) async throws -> [String] {
        let list = try await json(["get", "services", "-o", "json"], operation: operation)
        return (list.objectValue?["items"]?.arrayValue ?? []).compactMap { item -> String? in
            guard item.objectValue?["spec"]?.objectValue?["clusterIP"]?.stringValue == address else { return nil }
            return item.objectValue?["metadata"]?.objectValue?["name"]?.stringValue
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

    func endpointAddresses(_ name: String, operation: String) async throws -> [String] {
        let endpoints = try await json(["get", "endpoints", name, "-o", "json"], operation: operation)
        return (endpoints.objectValue?["subsets"]?.arrayValue ?? []).flatMap { subset in
            (subset.objectValue?["addresses"]?.arrayValue ?? []).compactMap { $0.objectValue?["ip"]?.stringValue }
        }
    }

    func json(_ arguments: [String], operation: String) async throws -> JSONValue {
        let text = try await kubectl(arguments, operation: operation)
        do {
            return try JSONValue(parsing: Data(text.utf8))
        } catch {
            throw HostError(.commandFailed, host: "-", operation: operation, "`kubectl \(arguments.joined(separator: " "))` did not print JSON (\(error)): \(text.prefix(200))")
        }
    }

    /// Runs the inventory's kubectl with `arguments` (and the namespace) on this machine; returns
    /// its standard output, or throws with its standard error.
    func kubectl(_ arguments: [String], operation: String) async throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-kubectl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdout = directory.appendingPathComponent("out").path
        let namespace = access.namespace.map { ["-n", $0] } ?? []
        let command = ([access.kubectl] + (namespace + arguments).map(shellQuoted)).joined(separator: " ")
        let result = try await LocalCommand.run(["/bin/sh", "-c", "\(command) > \(shellQuoted(stdout))"], timeout: .seconds(60))
        guard result.succeeded else {
            throw HostError(
                .commandFailed, host: "-", operation: operation,
                "`\(command)` exited \(result.status): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300)); check kubernetes.kubectl in the inventory (its context and credentials)")
        }
        return (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
    }
}
