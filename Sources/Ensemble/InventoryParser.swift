internal import Yams
import ZooKeeperProtocol

extension Inventory {
    /// The text of an inventory file's bytes: UTF-8 (YAML's encoding; a BOM is allowed), without
    /// NUL bytes or other control characters. Anything else is an error at the line and column
    /// of the first bad byte, which shows the byte's value, never the byte itself.
    public static func text(of bytes: [UInt8], fileName: String) throws(InventoryError) -> String {
        func refuse(at offset: Int, _ what: String) -> InventoryError {
            let before = bytes[..<offset]
            let line = before.count { $0 == UInt8(ascii: "\n") } + 1
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            let column = String(decoding: bytes[lineStart..<offset], as: UTF8.self).count + 1
            return InventoryError(diagnostics: [
                InventoryDiagnostic(
                    severity: .error, location: SourceLocation(file: fileName, line: line, column: column), path: "",
                    message: "\(what) (byte 0x\(String(format: "%02X", Int(bytes[offset])))); an inventory is YAML in UTF-8 text: save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and remove binary content")
            ])
        }
        var offset = 0
        while offset < bytes.count {
            let byte = bytes[offset]
            let length: Int
            switch byte {
            case 0x00: throw refuse(at: offset, "a NUL byte: this is a binary file, not an inventory")
            case 0x09, 0x0A, 0x0D, 0x20..<0x7F: length = 1
            case 0x01..<0x20, 0x7F: throw refuse(at: offset, "a control character that YAML does not allow")
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: throw refuse(at: offset, "a byte that is not UTF-8")
            }
            if length > 1 {
                guard offset + length <= bytes.count, String(validating: bytes[offset..<offset + length], as: UTF8.self) != nil else {
                    throw refuse(at: offset, "a byte sequence that is not UTF-8")
                }
            }
            offset += length
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return text
    }

    /// Reads an inventory from YAML, checking everything before returning: unknown keys (with a
    /// "did you mean"), missing keys, wrong types, references to ensembles or hosts that do not
    /// exist, duplicate names and ids, and ports used twice on one host. Every error found is
    /// reported, each at its line and column.
    public static func parse(yaml: String, fileName: String = "inventory.yaml") throws(InventoryError) -> Inventory {
        var reader = InventoryReader(fileName: fileName)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw InventoryError(diagnostics: [reader.syntaxError(error)])
        } catch {
            throw InventoryError(diagnostics: [
                InventoryDiagnostic(severity: .error, location: nil, path: "", message: "cannot read the YAML: \(error)")
            ])
        }
        guard let root else {
            throw InventoryError(diagnostics: [
                InventoryDiagnostic(
                    severity: .error, location: SourceLocation(file: fileName, line: 1, column: 1), path: "",
                    message: "the inventory is empty; it needs ensembles, hosts and (optionally) clientGroups")
            ])
        }
        let inventory = reader.readInventory(root)
        let errors = reader.diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, var inventory else {
            throw InventoryError(diagnostics: reader.diagnostics.sorted(by: InventoryReader.order))
        }
        inventory.warnings = reader.diagnostics.filter { $0.severity == .warning }.sorted(by: InventoryReader.order)
        return inventory
    }
}

/// Walks the composed YAML tree, collecting diagnostics instead of stopping at the first one.
struct InventoryReader {
    let fileName: String
    var diagnostics: [InventoryDiagnostic] = []

    init(fileName: String) { self.fileName = fileName }

    static func order(_ lhs: InventoryDiagnostic, _ rhs: InventoryDiagnostic) -> Bool {
        let left = (lhs.location?.line ?? Int.max, lhs.location?.column ?? Int.max)
        let right = (rhs.location?.line ?? Int.max, rhs.location?.column ?? Int.max)
        return left < right
    }

    // MARK: Diagnostics

    func location(_ node: Node?) -> SourceLocation? {
        node?.mark.map { SourceLocation(file: fileName, line: $0.line, column: $0.column) }
    }

    mutating func error(_ node: Node?, _ path: String, _ message: String) {
        diagnostics.append(InventoryDiagnostic(severity: .error, location: location(node), path: path, message: message))
    }

    mutating func warning(_ node: Node?, _ path: String, _ message: String) {
        diagnostics.append(InventoryDiagnostic(severity: .warning, location: location(node), path: path, message: message))
    }

    func syntaxError(_ error: YamlError) -> InventoryDiagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return InventoryDiagnostic(
                severity: .error, location: SourceLocation(file: fileName, line: mark.line, column: mark.column), path: "",
                message: "invalid YAML: \(problem)")
        default:
            return InventoryDiagnostic(severity: .error, location: nil, path: "", message: "invalid YAML: \(error)")
        }
    }

    // MARK: Structure

    /// A mapping's entries by key, after checking for unknown, duplicate and missing keys.
    struct Fields {
        var node: Node
        var path: String
        var values: [String: Node]
        var keyNodes: [String: Node]
    }

    mutating func fields(_ node: Node, _ path: String, what: String, allowed: [String], required: [String]) -> Fields? {
        guard case .mapping(let mapping) = node else {
            error(node, path, "\(what) must be a mapping of keys (\(allowed.joined(separator: ", "))), not \(describe(node))")
            return nil
        }
        var values: [String: Node] = [:]
        var keyNodes: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                error(keyNode, path, "keys must be plain words, not \(describe(keyNode))")
                continue
            }
            let key = scalar.string
            if values[key] != nil {
                error(keyNode, path, "the key '\(key)' appears twice in this \(what); keep one")
                continue
            }
            guard allowed.contains(key) else {
                var message = "unknown key '\(key)' in \(what)"
                if let suggestion = closestMatch(to: key, in: allowed) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += "; allowed keys: \(allowed.joined(separator: ", "))"
                }
                error(keyNode, path.isEmpty ? key : "\(path).\(key)", message)
                continue
            }
            values[key] = value
            keyNodes[key] = keyNode
        }
        for key in required where values[key] == nil {
            error(node, path, "\(what) is missing the required key '\(key)'")
        }
        return Fields(node: node, path: path, values: values, keyNodes: keyNodes)
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return "the value '\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    mutating func sequence(_ fields: Fields, _ key: String, what: String) -> [(Node, String)] {
        guard let node = fields.values[key] else { return [] }
        let path = fields.path.isEmpty ? key : "\(fields.path).\(key)"
        guard case .sequence(let sequence) = node else {
            if case .scalar(let scalar) = node, ["", "~", "null"].contains(scalar.string) { return [] }
            error(node, path, "\(key) must be a list of \(what), not \(describe(node))")
            return []
        }
        return sequence.enumerated().map { ($0.element, "\(path)[\($0.offset)]") }
    }

    mutating func string(_ fields: Fields, _ key: String) -> String? {
        guard let node = fields.values[key] else { return nil }
        guard case .scalar(let scalar) = node else {
            error(node, fieldPath(fields, key), "\(key) must be text, not \(describe(node))")
            return nil
        }
        let text = scalar.string.trimmingBlanks()
        if text.isEmpty {
            error(node, fieldPath(fields, key), "\(key) is empty; give it a value or remove the key")
            return nil
        }
        return text
    }

    mutating func integer(_ fields: Fields, _ key: String, range: ClosedRange<Int>, what: String) -> Int? {
        guard let text = string(fields, key) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            error(fields.values[key], fieldPath(fields, key), "\(key) is '\(text)', which is not \(what) (\(range.lowerBound)–\(range.upperBound))")
            return nil
        }
        return value
    }

    mutating func port(_ fields: Fields, _ key: String) -> Int? {
        integer(fields, key, range: 1...65535, what: "a port")
    }

    mutating func boolean(_ fields: Fields, _ key: String) -> Bool? {
        guard let text = string(fields, key) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(fields.values[key], fieldPath(fields, key), "\(key) is '\(text)'; write true or false")
            return nil
        }
    }

    func fieldPath(_ fields: Fields, _ key: String) -> String {
        fields.path.isEmpty ? key : "\(fields.path).\(key)"
    }

    // MARK: Sections

    mutating func readInventory(_ root: Node) -> Inventory? {
        guard let top = fields(root, "", what: "the inventory", allowed: ["ensembles", "hosts", "clientGroups", "kubernetes"], required: ["ensembles", "hosts"]) else {
            return nil
        }
        var hosts: [HostSpec] = []
        var hostNodes: [String: Node] = [:]
        let hostList = sequence(top, "hosts", what: "hosts")
        // Names of hosts and ensembles that are declared, even where the rest of their entry has
        // errors: references to them are not errors of their own.
        let declaredHosts = declaredNames(hostList)
        for (node, path) in hostList {
            guard let host = readHost(node, path) else { continue }
            if let first = hostNodes[host.name] {
                error(node, path, "a host named '\(host.name)' is already defined at line \(location(first)?.line ?? 0); host names must be unique")
                continue
            }
            hostNodes[host.name] = node
            hosts.append(host)
        }
        let hostNames = declaredHosts
        // A server without an address of its own is reached at its host's (or the host's name).
        let hostAddresses = Dictionary(hosts.compactMap { host in host.address.map { (host.name, $0) } }, uniquingKeysWith: { first, _ in first })

        var ensembles: [EnsembleSpec] = []
        var ensembleNodes: [String: Node] = [:]
        let ensembleList = sequence(top, "ensembles", what: "ensembles")
        let declaredEnsembles = declaredNames(ensembleList)
        for (node, path) in ensembleList {
            guard let ensemble = readEnsemble(node, path, hostNames: hostNames, hostAddresses: hostAddresses) else { continue }
            if let first = ensembleNodes[ensemble.name] {
                error(node, path, "an ensemble named '\(ensemble.name)' is already defined at line \(location(first)?.line ?? 0); ensemble names must be unique")
                continue
            }
            ensembleNodes[ensemble.name] = node
            ensembles.append(ensemble)
        }
        if top.values["ensembles"] != nil && ensembles.isEmpty && !diagnostics.contains(where: { $0.severity == .error }) {
            error(top.values["ensembles"], "ensembles", "the inventory lists no ensemble; describe at least the source ensemble")
        }

        var groups: [ClientGroup] = []
        var groupNodes: [String: Node] = [:]
        for (node, path) in sequence(top, "clientGroups", what: "client groups") {
            guard let group = readClientGroup(node, path, hostNames: hostNames, ensembleNames: declaredEnsembles) else { continue }
            if let first = groupNodes[group.name] {
                error(node, path, "a client group named '\(group.name)' is already defined at line \(location(first)?.line ?? 0); names must be unique")
                continue
            }
            groupNodes[group.name] = node
            groups.append(group)
        }

        checkPortsPerHost(ensembles)
        checkClientConfigFiles(groups)
        var inventory = Inventory(ensembles: ensembles, hosts: hosts, clientGroups: groups)
        if let node = top.values["kubernetes"] { inventory.kubernetes = readKubernetes(node, "kubernetes") }
        checkPodHosts(hosts, ensembles, groups, kubernetes: inventory.kubernetes)
        return inventory
    }

    /// `kubernetes: {kubectl: "kubectl --context prod", namespace: zookeeper}`: how Mitosis points
    /// the Services of service stable addresses at their new backends.
    mutating func readKubernetes(_ node: Node, _ path: String) -> KubernetesAccess? {
        guard let fields = fields(node, path, what: "the kubernetes section", allowed: ["kubectl", "namespace", "image", "storage"], required: ["kubectl"]),
              let kubectl = string(fields, "kubectl")
        else { return nil }
        let namespace = string(fields, "namespace")
        if let namespace, !isKubernetesName(namespace) {
            error(fields.values["namespace"], fieldPath(fields, "namespace"), "namespace '\(namespace)' is not a Kubernetes name (lower-case letters, digits and '-', at most 63)")
        }
        return KubernetesAccess(kubectl: kubectl, namespace: namespace, image: string(fields, "image"), storage: string(fields, "storage") ?? "10Gi")
    }

    /// A pod host (`via: kubernetes`) runs exactly one ZooKeeper server and nothing else, behind
    /// a stable address (its Service's ClusterIP), with its files where the pod mounts them: the
    /// config files in one directory (the ConfigMap's mount) and myid in its data directory (the
    /// pod's volume). Its StatefulSet starts and stops it, so it takes no service commands, and
    /// it needs the inventory's kubectl.
    mutating func checkPodHosts(_ hosts: [HostSpec], _ ensembles: [EnsembleSpec], _ groups: [ClientGroup], kubernetes: KubernetesAccess?) {
        for host in hosts {
            guard case .kubernetes(let pod) = host.access else { continue }
            let path = "hosts[\(host.name)]"
            func fail(_ message: String, at location: SourceLocation? = host.location, path: String = path) {
                diagnostics.append(InventoryDiagnostic(severity: .error, location: location, path: path, message: message))
            }
            if kubernetes == nil {
                fail("host '\(host.name)' is a pod (via: kubernetes), which Mitosis drives through kubectl: add a kubernetes section naming it (kubernetes: {kubectl: kubectl, namespace: …})")
            }
            let servers = ensembles.flatMap { ensemble in ensemble.servers.filter { $0.host == host.name }.map { (ensemble, $0) } }
            for group in groups {
                for member in group.members where member.host == host.name {
                    fail("client member '\(member.name)' of group '\(group.name)' is on host '\(host.name)', a ZooKeeper pod (via: kubernetes); a pod host runs its server and nothing else")
                }
            }
            guard servers.count == 1, let (ensemble, server) = servers.first else {
                fail(
                    servers.isEmpty
                        ? "host '\(host.name)' is a pod (via: kubernetes, StatefulSet \(pod.statefulSet)) but no server runs on it; give it a server, or remove it"
                        : "host '\(host.name)' is one pod (StatefulSet \(pod.statefulSet)) but runs \(servers.count) servers (\(servers.map { "\($0.0.name) \($0.1.id)" }.joined(separator: ", "))); give each server its own pod host")
                continue
            }
            let serverPath = "ensembles[\(ensemble.name)].servers[\(server.id)]"
            func refuse(_ message: String) { fail("server \(server.id) of ensemble '\(ensemble.name)' runs in pod host '\(host.name)': " + message, at: server.location, path: serverPath) }
            let commands = server.commands
            if commands.start != nil || commands.stop != nil || commands.restart != nil || commands.status != nil {
                refuse("its StatefulSet \(pod.statefulSet) starts and stops it (kubectl apply and delete), so its start, stop, restart and status commands would be ignored; remove commands: from the server, or from ensemble '\(ensemble.name)'")
            }
            switch server.stableAddress?.kind {
            case .service?, .follows?:
                break
            default:
                refuse("a pod's IP changes whenever the pod does, so the server must be reached at its Service's ClusterIP: give it `address: <the ClusterIP>` and `stableAddress: {kind: service}`")
            }
            let configDirectory = parentDirectory(of: server.configPath)
            if configDirectory == server.dataDir || configDirectory.hasPrefix(server.dataDir + "/") || server.dataDir.hasPrefix(configDirectory + "/") {
                refuse("its config file \(server.configPath) and its data directory \(server.dataDir) must be apart: the config directory is the ConfigMap's (read-only) mount, the data directory the pod's volume")
            }
            if let dynamic = server.dynamicConfigPath {
                refuse("a dynamic config file (\(dynamic)) is written by ZooKeeper itself, and a ConfigMap's mount is read-only; list the servers in zoo.cfg (reconfigEnabled=false)")
            }
            if let dataLogDir = server.dataLogDir {
                refuse("the pod keeps its transaction logs in its one volume, its data directory: remove dataLogDir (\(dataLogDir))")
            }
            if server.myidPath != server.dataDir + "/myid" {
                refuse("its myid is \(server.myidPath), but the pod writes myid into its data directory (\(server.dataDir)/myid): remove myidPath")
            }
        }
    }

    /// One member config file on one host belongs to one member: listed twice (in two groups, or
    /// twice in one), a switch would rewrite it for one group while the other still counts on it.
    mutating func checkClientConfigFiles(_ groups: [ClientGroup]) {
        var first: [String: (group: String, member: ClientGroupMember)] = [:]
        for group in groups {
            // A `command` member has no file: its own switch command moves it.
            for member in group.members where member.format != .command {
                let key = member.host + "\u{0}" + member.configPath
                guard let earlier = first[key] else {
                    first[key] = (group.name, member)
                    continue
                }
                let place = earlier.member.location.map { " (\($0))" } ?? ""
                diagnostics.append(
                    InventoryDiagnostic(
                        severity: .error, location: member.location, path: "clientGroups.\(group.name).members.\(member.name)",
                        message: "\(member.host):\(member.configPath) is already the config file of member '\(earlier.member.name)' of client group '\(earlier.group)'\(place); "
                            + "each member needs its own file: list the client once, in the group that moves it"))
            }
        }
    }

    /// The `name` values of a list of mappings, without reporting anything.
    func declaredNames(_ list: [(Node, String)]) -> [String] {
        list.compactMap { node, _ in
            guard case .mapping(let mapping) = node else { return nil }
            for (key, value) in mapping {
                if case .scalar(let keyScalar) = key, keyScalar.string == "name", case .scalar(let name) = value {
                    return name.string.trimmingBlanks()
                }
            }
            return nil
        }
    }

    mutating func readHost(_ node: Node, _ path: String) -> HostSpec? {
        guard let f = fields(node, path, what: "a host", allowed: ["name", "address", "via", "ssh", "statefulSet"], required: ["name", "via"]) else {
            return nil
        }
        let name = string(f, "name")
        let address = string(f, "address")
        var access: HostAccess?
        switch string(f, "via") {
        case "sandbox":
            if let ssh = f.values["ssh"] {
                error(ssh, fieldPath(f, "ssh"), "this host is reached via sandbox, so its ssh settings would be ignored; remove them or write via: ssh")
            }
            access = .sandbox
        case "local":
            if let ssh = f.values["ssh"] {
                error(ssh, fieldPath(f, "ssh"), "this host is this machine (via: local), so its ssh settings would be ignored; remove them or write via: ssh")
            }
            access = .local
        case "kubernetes":
            if let ssh = f.values["ssh"] {
                error(ssh, fieldPath(f, "ssh"), "this host is a pod (via: kubernetes), reached through kubectl, so its ssh settings would be ignored; remove them")
            }
            if let addressNode = f.values["address"] {
                error(addressNode, fieldPath(f, "address"), "this host is a pod (via: kubernetes), whose IP changes with every pod; remove address: and reach its server at its Service's ClusterIP (the server's address)")
            }
            guard let statefulSet = string(f, "statefulSet") else {
                error(node, path, "a pod host (via: kubernetes) needs statefulSet: the name of its single-replica StatefulSet, e.g. the name of the Service it sits behind")
                break
            }
            guard isKubernetesName(statefulSet), statefulSet.count <= 63 - "-config".count else {
                error(f.values["statefulSet"], fieldPath(f, "statefulSet"), "statefulSet '\(statefulSet)' is not a Kubernetes name of at most \(63 - "-config".count) characters (lower-case letters, digits and '-'; its ConfigMap is '<name>-config')")
                break
            }
            access = .kubernetes(KubernetesPod(statefulSet: statefulSet))
        case "ssh":
            guard let sshNode = f.values["ssh"] else {
                error(node, path, "a host reached via ssh needs an ssh mapping with at least user")
                break
            }
            guard let s = fields(sshNode, fieldPath(f, "ssh"), what: "ssh settings",
                                 allowed: ["user", "port", "key", "knownHosts", "sudo"], required: ["user"]) else { break }
            let user = string(s, "user")
            let port = s.values["port"] == nil ? 22 : self.port(s, "port")
            let sudo = s.values["sudo"] == nil ? false : boolean(s, "sudo")
            if let user, let port, let sudo {
                access = .ssh(SSHAccess(user: user, port: port, keyPath: string(s, "key"), knownHostsPath: string(s, "knownHosts"), sudo: sudo))
            }
        case let other?:
            let suggestion = closestMatch(to: other, in: ["sandbox", "ssh", "local", "kubernetes"]).map { "; did you mean '\($0)'?" } ?? ""
            error(f.values["via"], fieldPath(f, "via"), "via is '\(other)'; a host is reached via sandbox, ssh, local or kubernetes\(suggestion)")
        case nil:
            break
        }
        if let statefulSet = f.values["statefulSet"], string(f, "via") != "kubernetes" {
            error(statefulSet, fieldPath(f, "statefulSet"), "statefulSet names the pod of a host reached via kubernetes; remove it, or write via: kubernetes")
        }
        guard let name, let access else { return nil }
        return HostSpec(name: name, address: address, access: access, location: location(node))
    }

    mutating func readCommands(_ node: Node?, _ path: String) -> ServiceCommands? {
        guard let node else { return ServiceCommands() }
        guard let f = fields(node, path, what: "commands", allowed: ["start", "stop", "restart", "status"], required: []) else {
            return nil
        }
        return ServiceCommands(start: string(f, "start"), stop: string(f, "stop"), restart: string(f, "restart"), status: string(f, "status"))
    }

    mutating func readEnsemble(_ node: Node, _ path: String, hostNames: [String], hostAddresses: [String: String]) -> EnsembleSpec? {
        guard let f = fields(node, path, what: "an ensemble", allowed: ["name", "version", "servers", "commands"],
                             required: ["name", "version", "servers"]) else { return nil }
        let name = string(f, "name")
        var version: ZooKeeperVersion?
        if let text = string(f, "version") {
            version = ZooKeeperVersion(parsing: text)
            if version == nil {
                error(f.values["version"], fieldPath(f, "version"), "version is '\(text)', which is not a ZooKeeper version such as 3.4.13 or 3.8.0")
            }
        }
        let defaults = readCommands(f.values["commands"], fieldPath(f, "commands")) ?? ServiceCommands()
        var servers: [ServerSpec] = []
        var serverNodes: [ServerID: Node] = [:]
        let serverList = sequence(f, "servers", what: "servers")
        if f.values["servers"] != nil && serverList.isEmpty {
            error(f.values["servers"], fieldPath(f, "servers"), "the ensemble lists no server")
        }
        var everyServerRead = true
        for (serverNode, serverPath) in serverList {
            guard let server = readServer(serverNode, serverPath, hostNames: hostNames, hostAddresses: hostAddresses, defaults: defaults) else {
                everyServerRead = false
                continue
            }
            if let first = serverNodes[server.id] {
                error(serverNode, serverPath, "server id \(server.id) is already used in this ensemble at line \(location(first)?.line ?? 0); give each server its own id")
                everyServerRead = false
                continue
            }
            if server.stableAddress != nil,
                let first = servers.first(where: { $0.stableAddress != nil && $0.address == server.address })
            {
                error(serverNode, serverPath, "servers \(first.id) and \(server.id) both have the stable address \(server.address); each server of an ensemble has its own (the server that replaces one, in another ensemble, has the same)")
                everyServerRead = false
                continue
            }
            serverNodes[server.id] = serverNode
            servers.append(server)
        }
        guard let name, let version else { return nil }
        // Quorum arithmetic only means something once every server is known.
        guard everyServerRead else { return EnsembleSpec(name: name, version: version, servers: servers, location: location(node)) }
        let voters = servers.filter { $0.role == .participant }
        if voters.count == 2 {
            warning(node, path, "ensemble '\(name)' has two voting servers, which tolerate no failure; use three")
        } else if voters.count >= 4 && voters.count % 2 == 0 {
            warning(node, path, "ensemble '\(name)' has \(voters.count) voting servers, which tolerate no more failures than \(voters.count - 1); make one an observer or add one")
        }
        if !servers.isEmpty && voters.isEmpty {
            error(node, path, "ensemble '\(name)' has only observers; it needs participants to vote")
        }
        return EnsembleSpec(name: name, version: version, servers: servers, location: location(node))
    }

    mutating func readServer(
        _ node: Node, _ path: String, hostNames: [String], hostAddresses: [String: String], defaults: ServiceCommands
    ) -> ServerSpec? {
        let allowed = [
            "id", "host", "address", "quorumPort", "electionPort", "clientPort", "clientAddress", "role",
            "configPath", "dynamicConfigPath", "dataDir", "dataLogDir", "myidPath", "commands", "stableAddress",
        ]
        guard let f = fields(node, path, what: "a server", allowed: allowed, required: ["id", "host", "configPath", "dataDir"]) else {
            return nil
        }
        let id = integer(f, "id", range: 0...Int(Int64.max), what: "a server id")
        let host = string(f, "host")
        if let host, !hostNames.contains(host) {
            let suggestion = closestMatch(to: host, in: hostNames).map { "; did you mean '\($0)'?" } ?? ""
            error(f.values["host"], fieldPath(f, "host"), "host '\(host)' is not defined under hosts\(suggestion)")
        }
        let quorumPort = f.values["quorumPort"] == nil ? 2888 : port(f, "quorumPort")
        let electionPort = f.values["electionPort"] == nil ? 3888 : port(f, "electionPort")
        let clientPort = f.values["clientPort"] == nil ? 2181 : port(f, "clientPort")
        var role: ServerRole? = .participant
        if let text = string(f, "role") {
            role = ServerRole(rawValue: text.lowercased())
            if role == nil {
                error(f.values["role"], fieldPath(f, "role"), "role is '\(text)'; a server is a participant or an observer")
            }
        }
        let commands = readCommands(f.values["commands"], fieldPath(f, "commands"))?.filled(from: defaults)
        let address = string(f, "address")
        var stableAddress: StableAddress?
        var stableAddressRead = true
        if let stableNode = f.values["stableAddress"] {
            stableAddress = readStableAddress(stableNode, fieldPath(f, "stableAddress"), server: f, address: address)
            stableAddressRead = stableAddress != nil
        }
        guard let id, let host, hostNames.contains(host), let quorumPort, let electionPort, let clientPort, let role,
            let configPath = string(f, "configPath"), let dataDir = string(f, "dataDir"), let commands, stableAddressRead
        else { return nil }
        return ServerSpec(
            id: ServerID(Int64(id)), host: host, address: address ?? hostAddresses[host] ?? host, quorumPort: quorumPort,
            electionPort: electionPort, clientPort: clientPort, clientAddress: string(f, "clientAddress"), role: role,
            configPath: configPath, dynamicConfigPath: string(f, "dynamicConfigPath"), dataDir: dataDir,
            dataLogDir: string(f, "dataLogDir"), myidPath: string(f, "myidPath"), commands: commands,
            stableAddress: stableAddress, location: location(node))
    }

    /// `stableAddress: {device: eth0, prefixLength: 24}`: the server's `address` is bound on its
    /// host and moves to the host of the server that replaces it. `stableAddress: {kind: service}`:
    /// the address is a service's (a Kubernetes ClusterIP), pointed at the server's host.
    /// `stableAddress: {kind: follows}`: the platform points the address at whichever server runs.
    mutating func readStableAddress(_ node: Node, _ path: String, server: Fields, address: String?) -> StableAddress? {
        if case .mapping(let mapping) = node,
            let kindNode = mapping.first(where: { if case .scalar(let key) = $0.key { return key.string == "kind" } else { return false } })?.value,
            case .scalar(let kindScalar) = kindNode, kindScalar.string != StableAddress.Kind.interface.rawValue
        {
            if kindScalar.string == StableAddress.Kind.command.rawValue {
                let keys = ["kind", "detach", "attach", "check"]
                guard let f = fields(node, path, what: "a stable address moved by commands", allowed: keys, required: keys) else { return nil }
                if server.values["address"] == nil {
                    error(node, path, "a stable address is the server's own address, moved between hosts: give the server an address (the IP address peers and clients use, e.g. address: 10.77.9.1)")
                    return nil
                }
                guard let detach = string(f, "detach"), let attach = string(f, "attach"), let check = string(f, "check") else { return nil }
                return .command(AddressCommands(detach: detach, attach: attach, check: check))
            }
            if kindScalar.string == StableAddress.Kind.follows.rawValue {
                guard fields(node, path, what: "an address that follows its server", allowed: ["kind"], required: ["kind"]) != nil else { return nil }
                if server.values["address"] == nil {
                    error(node, path, "an address that follows its server is the address clients and peers use (a DNS name or a Service's IP the platform points at whichever server runs): give the server an address (e.g. address: zk-1.zookeeper.svc.cluster.local)")
                    return nil
                }
                return .follows
            }
            guard let f = fields(node, path, what: "a service stable address", allowed: ["kind", "hostAddress"], required: ["kind"]) else { return nil }
            guard kindScalar.string == StableAddress.Kind.service.rawValue else {
                let kinds = StableAddress.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                error(kindNode, fieldPath(f, "kind"), "kind is '\(kindScalar.string)', which Mitosis does not know: use \(kinds)")
                return nil
            }
            if server.values["address"] == nil {
                error(node, path, "a service stable address is the address clients and peers use (the service's IP or name): give the server an address (e.g. address: 10.96.0.12)")
                return nil
            }
            if f.values["hostAddress"] != nil {
                // HubSpot's starting point: zoo.cfg and the clients name the host, not the service yet.
                guard let hostAddress = string(f, "hostAddress") else { return nil }
                if hostAddress.lowercased() == address?.lowercased() {
                    error(f.values["hostAddress"], fieldPath(f, "hostAddress"), "hostAddress is the service address \(hostAddress) itself; give the address zoo.cfg and the clients use now (the host's), or drop hostAddress when the server is behind its service already")
                    return nil
                }
                return .serviceFromHost(hostAddress)
            }
            return .service
        }
        guard let f = fields(node, path, what: "a stable address", allowed: ["kind", "device", "prefixLength"], required: ["device", "prefixLength"]) else {
            return nil
        }
        var valid = true
        if server.values["address"] == nil {
            error(node, path, "a stable address is the server's own address, moved between hosts: give the server an address (the IP address peers and clients use, e.g. address: 10.77.9.1)")
            valid = false
        } else if let address, !isIPAddressLiteral(address) {
            error(server.values["address"], fieldPath(server, "address"), "address is '\(address)', but a stable address is moved with `ip addr`, which needs an IP address (e.g. 10.77.9.1), not a host name")
            valid = false
        }
        let maximum = address?.contains(":") == true ? 128 : 32
        let prefixLength = integer(f, "prefixLength", range: 0...maximum, what: "a prefix length for this address")
        let device = string(f, "device")
        if let device, device.count > 15 || !device.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-@".contains($0)) }) {
            error(f.values["device"], fieldPath(f, "device"), "device is '\(device)', which is not a network device name (up to 15 letters, digits and . _ - @, e.g. eth0)")
            valid = false
        }
        guard valid, let device, let prefixLength else { return nil }
        return StableAddress(device: device, prefixLength: prefixLength)
    }

    mutating func readClientGroup(_ node: Node, _ path: String, hostNames: [String], ensembleNames: [String]) -> ClientGroup? {
        guard let f = fields(node, path, what: "a client group", allowed: ["name", "ensemble", "chroot", "kind", "members"],
                             required: ["name", "ensemble", "members"]) else { return nil }
        let name = string(f, "name")
        let ensemble = string(f, "ensemble")
        if let ensemble, !ensembleNames.contains(ensemble) {
            let suggestion = closestMatch(to: ensemble, in: ensembleNames).map { "; did you mean '\($0)'?" } ?? ""
            error(f.values["ensemble"], fieldPath(f, "ensemble"), "ensemble '\(ensemble)' is not defined under ensembles\(suggestion)")
        }
        let chroot = string(f, "chroot")
        if let chroot, let problem = ZooKeeperPath.problem(with: chroot) {
            error(f.values["chroot"], fieldPath(f, "chroot"), "chroot '\(chroot)' is not a valid path: \(problem)")
        }
        var kind = ClientGroupKind.generic
        if let text = string(f, "kind") {
            if let parsed = ClientGroupKind(rawValue: text) {
                kind = parsed
            } else {
                let suggestion = closestMatch(to: text, in: ClientGroupKind.allCases.map(\.rawValue)).map { "; did you mean '\($0)'?" } ?? ""
                error(f.values["kind"], fieldPath(f, "kind"), "kind is '\(text)', which Mitosis does not know: use kafka (brokers, checked through their znodes) or generic (the default)\(suggestion)")
            }
        }
        var members: [ClientGroupMember] = []
        var memberNodes: [String: Node] = [:]
        let memberList = sequence(f, "members", what: "members")
        if f.values["members"] != nil && memberList.isEmpty {
            error(f.values["members"], fieldPath(f, "members"), "the client group lists no member")
        }
        for (memberNode, memberPath) in memberList {
            guard let m = fields(memberNode, memberPath, what: "a client group member",
                                 allowed: ["name", "host", "format", "configPath", "connectionKey", "restart", "stop", "healthCheck", "switch", "verify", "match"],
                                 required: ["host"]) else { continue }
            let format = clientConfigFormat(m)
            let host = string(m, "host")
            if let host, !hostNames.contains(host) {
                let suggestion = closestMatch(to: host, in: hostNames).map { "; did you mean '\($0)'?" } ?? ""
                error(m.values["host"], fieldPath(m, "host"), "host '\(host)' is not defined under hosts\(suggestion)")
            }
            let configPath = string(m, "configPath")
            let switchCommand = string(m, "switch")
            let verifyCommand = string(m, "verify")
            checkFormatKeys(m, format: format, configPath: configPath, switchCommand: switchCommand, verifyCommand: verifyCommand)
            let match = addressMatches(m)
            guard let host, hostNames.contains(host), let format, configPath != nil || format == .command else { continue }
            let memberName = string(m, "name") ?? host
            if let first = memberNodes[memberName] {
                error(memberNode, memberPath, "a member named '\(memberName)' is already in this group at line \(location(first)?.line ?? 0); give each member its own name")
                continue
            }
            memberNodes[memberName] = memberNode
            let restart = string(m, "restart")
            let stop = string(m, "stop")
            if stop != nil && restart == nil {
                // A stopped member comes back only through the switch's restart.
                error(m.values["stop"], fieldPath(m, "stop"), "member '\(memberName)' has a stop command but no restart command; block & copy stops it for the block window and starts it again on the destination with restart:, so add restart: (a command that also starts the member when it is stopped, e.g. systemctl restart kafka)")
            }
            if let stop, let restart, stop == restart {
                error(m.values["stop"], fieldPath(m, "stop"), "member '\(memberName)' has the same command for stop and restart ('\(stop)'); stop: must leave the member stopped until the switch restarts it")
            }
            members.append(ClientGroupMember(
                name: memberName, host: host, configPath: configPath ?? "", format: format, connectionKey: string(m, "connectionKey"),
                restart: restart, stop: stop, healthCheck: string(m, "healthCheck"), switchCommand: switchCommand, verifyCommand: verifyCommand,
                match: match, location: location(memberNode)))
        }
        guard let name, let ensemble, ensembleNames.contains(ensemble) else { return nil }
        return ClientGroup(name: name, ensemble: ensemble, chroot: chroot, kind: kind, members: members, location: location(node))
    }

    /// A member's `format:` (properties when absent); nil after reporting an unknown one.
    mutating func clientConfigFormat(_ m: Fields) -> ClientConfigFormat? {
        guard let text = string(m, "format") else { return .properties }
        if let format = ClientConfigFormat(rawValue: text) { return format }
        let names = ClientConfigFormat.allCases.map(\.rawValue)
        let suggestion = closestMatch(to: text, in: names).map { "; did you mean '\($0)'?" } ?? ""
        error(m.values["format"], fieldPath(m, "format"), "format is '\(text)', which Mitosis cannot edit: use one of \(names.joined(separator: ", "))\(suggestion)")
        return nil
    }

    /// A file format needs configPath; command needs switch and verify, and has no file or key.
    mutating func checkFormatKeys(_ m: Fields, format: ClientConfigFormat?, configPath: String?, switchCommand: String?, verifyCommand: String?) {
        guard let format else { return }
        if format == .command {
            if switchCommand == nil { error(m.node, m.path, "a member with format command needs switch: (a command that points it at the connection string given as its last argument)") }
            if verifyCommand == nil { error(m.node, m.path, "a member with format command needs verify: (a command that exits 0 when it uses the connection string given as its last argument)") }
            for key in ["configPath", "connectionKey"] where m.values[key] != nil {
                error(m.keyNodes[key], fieldPath(m, key), "a member with format command has no file; remove \(key) (the switch command edits whatever it needs)")
            }
            return
        }
        if configPath == nil, m.values["configPath"] == nil { error(m.node, m.path, "a client group member is missing the required key 'configPath'") }
        for key in ["switch", "verify"] where m.values[key] != nil {
            error(m.keyNodes[key], fieldPath(m, key), "\(key): belongs to format command; this member's format is \(format.rawValue), whose file Mitosis edits itself")
        }
    }

    /// `match:` as one address rule or a list of them.
    mutating func addressMatches(_ m: Fields) -> [ClientAddressMatch] {
        guard let node = m.values["match"] else { return [] }
        let items: [(Node, String)]
        if case .sequence(let sequence) = node {
            items = sequence.enumerated().map { ($0.element, "\(fieldPath(m, "match"))[\($0.offset)]") }
        } else {
            items = [(node, fieldPath(m, "match"))]
        }
        var result: [ClientAddressMatch] = []
        for (item, path) in items {
            guard case .scalar(let scalar) = item, let rule = ClientAddressMatch(parsing: scalar.string.trimmingBlanks()) else {
                error(item, path, "match must be an IP address, optionally with a port or a port range (10.0.0.5, 10.0.0.5:4000, 10.0.0.5:40000-40100), not \(describe(item))")
                continue
            }
            result.append(rule)
        }
        return result
    }

    /// Two servers (of any ensembles) on one host asking for the same port cannot both run.
    mutating func checkPortsPerHost(_ ensembles: [EnsembleSpec]) {
        var used: [String: String] = [:]
        for ensemble in ensembles {
            for server in ensemble.servers {
                let machine = machineKey(server.host)
                let ports: [(Int, String)] = [
                    (server.quorumPort, "quorum port"), (server.electionPort, "election port"), (server.clientPort, "client port"),
                ]
                for (port, purpose) in ports {
                    let key = "\(machine)#\(port)"
                    let this = "the \(purpose) of server \(server.id) in ensemble '\(ensemble.name)'"
                    if let first = used[key] {
                        diagnostics.append(InventoryDiagnostic(
                            severity: .error, location: server.location,
                            path: "ensembles[\(ensemble.name)].servers[\(server.id)]",
                            message: "port \(port) on host '\(server.host)' is \(this) and also \(first); give each a different port"))
                    } else {
                        used[key] = this
                    }
                }
            }
        }
    }
}
