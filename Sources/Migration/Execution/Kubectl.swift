import Foundation
public import Ensemble
public import Hosts
public import KafkaPlanning

/// The inventory's `kubectl` command (`kubernetes: {kubectl: …, namespace: …}`), run on this
/// machine with the namespace before its arguments. Every Kubernetes object Mitosis reads or
/// changes goes through it.
public struct Kubectl: Sendable {
    public let access: KubernetesAccess

    public init(access: KubernetesAccess) {
        self.access = access
    }

    /// The command line for `arguments`, as `sh -c` runs it (and as messages show it).
    func commandLine(_ arguments: [String]) -> String {
        let namespace = access.namespace.map { ["-n", $0] } ?? []
        return ([access.kubectl] + (namespace + arguments).map(shellQuoted)).joined(separator: " ")
    }

    /// Runs kubectl with `arguments`; its exit status, standard output and standard error apart.
    func result(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await Self.withTemporaryDirectory { directory in
            let stdout = directory.appendingPathComponent("out").path
            let result = try await LocalCommand.run(["/bin/sh", "-c", "\(commandLine(arguments)) > \(shellQuoted(stdout))"], timeout: timeout)
            return (result.status, (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "", result.output)
        }
    }

    /// Runs kubectl with `arguments`; its standard output, or an error with its standard error.
    @discardableResult
    func run(_ arguments: [String], operation: String, host: String = "-", timeout: Duration = .seconds(60)) async throws -> String {
        let result = try await result(arguments, timeout: timeout)
        guard result.status == 0 else {
            throw HostError(
                .commandFailed, host: host, operation: operation,
                "`\(commandLine(arguments))` exited \(result.status): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300)); check kubernetes.kubectl in the inventory (its context and credentials)")
        }
        return result.stdout
    }

    /// The JSON kubectl prints for `arguments` (which end in `-o json`); nil when it prints
    /// nothing (`--ignore-not-found` of an object that does not exist).
    func json(_ arguments: [String], operation: String, host: String = "-") async throws -> JSONValue? {
        let text = try await run(arguments, operation: operation, host: host)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        do {
            return try JSONValue(parsing: Data(text.utf8))
        } catch {
            throw HostError(.commandFailed, host: host, operation: operation, "`\(commandLine(arguments))` did not print JSON (\(error)): \(text.prefix(200))")
        }
    }

    /// One object, nil when it does not exist.
    func object(_ kind: String, _ name: String, operation: String, host: String = "-") async throws -> JSONValue? {
        try await json(["get", kind, name, "--ignore-not-found", "-o", "json"], operation: operation, host: host)
    }

    /// `kubectl <verb> -f <file>` of `object` (`apply`, `create` or `replace`).
    func send(_ verb: String, _ object: JSONValue, operation: String, host: String = "-") async throws {
        try await Self.withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("object.json")
            try Data(object.serializedString.utf8).write(to: file)
            try await run([verb, "-f", file.path], operation: operation, host: host)
        }
    }

    /// What keeps a run from driving pods through this kubectl, each as a sentence: it does not
    /// answer, or may not do what the run does to a pod host (`kubectl auth can-i`). Empty when
    /// all is well. The same for every pod host of the inventory: asked once.
    public func accessProblems() async throws -> [String] {
        let needed: [(verb: String, resource: String)] = [
            ("get", "configmaps"), ("create", "configmaps"), ("update", "configmaps"), ("delete", "configmaps"),
            ("get", "statefulsets"), ("create", "statefulsets"), ("patch", "statefulsets"), ("delete", "statefulsets"),
            ("list", "pods"), ("delete", "pods"), ("create", "pods/exec"), ("get", "persistentvolumeclaims"),
        ]
        let probe = ["get", "statefulsets", "-o", "name"]
        let answered = try await result(probe)
        guard answered.status == 0 else {
            return ["`\(commandLine(probe))` exited \(answered.status): \(answered.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300)); check kubernetes.kubectl in the inventory (its context and credentials)"]
        }
        var problems: [String] = []
        for need in needed {
            let reply = try await result(["auth", "can-i", need.verb, need.resource]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if reply != "yes" {
                problems.append(
                    "kubectl may not \(need.verb) \(need.resource)\(access.namespace.map { " in namespace \($0)" } ?? "") (`kubectl auth can-i \(need.verb) \(need.resource)` says \(reply.isEmpty ? "nothing" : reply)), which the pod hosts need")
            }
        }
        return problems
    }

    /// Runs `body` with a new directory of its own, removed afterwards.
    static func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-kubectl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory)
    }
}

extension JSONValue {
    /// The value at a path of object keys, e.g. `["metadata", "name"]`.
    subscript(path: String...) -> JSONValue? {
        var value: JSONValue? = self
        for key in path { value = value?.objectValue?[key] }
        return value
    }
}
