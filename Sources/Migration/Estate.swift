import Crypto
public import Ensemble
import Foundation
import ZooKeeperProtocol

/// A file on a host as discovery found it. The text is the file read as ISO-8859-1 (how Java
/// reads zoo.cfg, dynamic files and `.properties`): one character per byte, line endings kept, so
/// writing it back as ISO-8859-1 gives the same bytes.
public struct ObservedFile: Sendable, Hashable, Codable {
    public var path: String
    /// Nil when the file does not exist.
    public var text: String?
    /// SHA-256 of the file's bytes (hex); nil when it does not exist.
    public var sha256: String?

    public init(path: String, bytes: [UInt8]?) {
        self.path = path
        self.text = bytes.map(Latin1.decode)
        self.sha256 = bytes.map { ObservedFile.hex(SHA256.hash(data: $0)) }
    }

    public var exists: Bool { text != nil }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// A data or transaction-log directory as discovery found it.
public struct ObservedDirectory: Sendable, Hashable, Codable {
    public var path: String
    public var exists: Bool
    /// Snapshot and transaction log files under `version-2/` (what makes a server hold data).
    public var dataFiles: [String]
    /// The zxid in the name of the newest snapshot (`snapshot.<hex zxid>`), when there is one.
    public var newestSnapshotZxid: String?

    public init(path: String, exists: Bool, dataFiles: [String]) {
        self.path = path
        self.exists = exists
        self.dataFiles = dataFiles
        let zxids = dataFiles.compactMap { name -> UInt64? in
            guard name.hasPrefix("snapshot.") else { return nil }
            return UInt64(name.dropFirst("snapshot.".count), radix: 16)
        }
        newestSnapshotZxid = zxids.max().map { "0x" + String($0, radix: 16) }
    }

    /// No snapshot and no transaction log: ZooKeeper starts it empty.
    public var isEmpty: Bool { dataFiles.isEmpty }

    /// A snapshot of a transaction (zxid above 0) is there: the server held data once. An ensemble
    /// that only ever ran empty has `snapshot.0` and logs of session transactions, which this
    /// does not count (the run's `destinationEmpty` gate then checks the znodes themselves).
    public var holdsSnapshotOfData: Bool {
        dataFiles.contains { $0.hasPrefix("snapshot.") && (UInt64($0.dropFirst("snapshot.".count), radix: 16) ?? 1) > 0 }
    }
}

/// One ZooKeeper server as discovery found it on its host.
public struct ObservedServer: Sendable, Hashable, Codable {
    public var ensemble: String
    public var id: ServerID
    public var host: String
    public var config: ObservedFile
    /// The dynamic file the inventory names, or the one the zoo.cfg names (3.5+).
    public var dynamicConfig: ObservedFile?
    public var myid: ObservedFile
    public var dataDir: ObservedDirectory?
    public var dataLogDir: ObservedDirectory?
    /// The service's state through its status command; nil when the inventory gives none.
    public var service: ServiceState?
    /// `srvr` and `conf` answers where the server serves.
    public var srvr: String?
    public var conf: String?
    /// Why something could not be read (the host unreachable, a permission); each one stops the plan.
    public var readErrors: [String]

    public init(
        ensemble: String, id: ServerID, host: String, config: ObservedFile, dynamicConfig: ObservedFile? = nil, myid: ObservedFile,
        dataDir: ObservedDirectory? = nil, dataLogDir: ObservedDirectory? = nil, service: ServiceState? = nil, srvr: String? = nil,
        conf: String? = nil, readErrors: [String] = []
    ) {
        self.ensemble = ensemble
        self.id = id
        self.host = host
        self.config = config
        self.dynamicConfig = dynamicConfig
        self.myid = myid
        self.dataDir = dataDir
        self.dataLogDir = dataLogDir
        self.service = service
        self.srvr = srvr
        self.conf = conf
        self.readErrors = readErrors
    }

}

/// A client group member's config file, raw (its format is the group's business).
public struct ObservedClientConfig: Sendable, Hashable, Codable {
    public var group: String
    public var member: String
    public var host: String
    public var file: ObservedFile
    public var readErrors: [String]

    public init(group: String, member: String, host: String, file: ObservedFile, readErrors: [String] = []) {
        self.group = group
        self.member = member
        self.host = host
        self.file = file
        self.readErrors = readErrors
    }
}

/// Everything discovery read from the hosts before planning: the ground the plan stands on.
public struct ObservedEstate: Sendable, Hashable, Codable {
    public var servers: [ObservedServer]
    public var clientConfigs: [ObservedClientConfig]

    public init(servers: [ObservedServer], clientConfigs: [ObservedClientConfig] = []) {
        self.servers = servers
        self.clientConfigs = clientConfigs
    }

    /// The estate as JSON (sorted keys), e.g. `estate.json` beside a rehearsal's plan.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public func server(ensemble: String, id: ServerID) -> ObservedServer? {
        servers.first { $0.ensemble == ensemble && $0.id == id }
    }

    /// SHA-256 over the files' hashes, the directories' data files and the services' states (not
    /// the `srvr` counters, which change by the second): what a plan was made from.
    public var fingerprint: String {
        var lines: [String] = []
        for server in servers.sorted(by: { ($0.ensemble, $0.id.rawValue) < ($1.ensemble, $1.id.rawValue) }) {
            let prefix = "\(server.ensemble)/\(server.id)@\(server.host)"
            for file in [server.config, server.myid] + (server.dynamicConfig.map { [$0] } ?? []) {
                lines.append("\(prefix) \(file.path) \(file.sha256 ?? "absent")")
            }
            for directory in [server.dataDir, server.dataLogDir].compactMap({ $0 }) {
                lines.append("\(prefix) \(directory.path) \(directory.exists) \(directory.dataFiles.joined(separator: ","))")
            }
            lines.append("\(prefix) service \(server.service?.rawValue ?? "unknown")")
        }
        for client in clientConfigs.sorted(by: { ($0.group, $0.member) < ($1.group, $1.member) }) {
            lines.append("\(client.group)/\(client.member)@\(client.host) \(client.file.path) \(client.file.sha256 ?? "absent")")
        }
        return ObservedFile.hex(SHA256.hash(data: Array(lines.joined(separator: "\n").utf8)))
    }
}

// MARK: - Validation

/// Something in the estate that stops the plan: where, what, and what to fix.
public struct EstateProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    public var host: String
    /// The file or directory concerned, when there is one.
    public var file: String?
    public var line: Int?
    public var message: String

    public init(host: String, file: String?, line: Int? = nil, _ message: String) {
        self.host = host
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        var place = host
        if let file { place += ":" + file }
        if let line { place += ":\(line)" }
        return "\(place): \(message)"
    }
}

/// Why the estate cannot be planned on: every problem found. Nothing was changed on any host.
public struct EstateError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [EstateProblem]

    public init(problems: [EstateProblem]) { self.problems = problems }

    public var description: String {
        "the hosts are not as a plan needs them (\(problems.count) problem\(problems.count == 1 ? "" : "s")); nothing was changed on any host:\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Checks what discovery found against the inventory (in plan form). Pure.
public enum EstateValidation {
    /// Every problem that stops a plan of `strategy` from `source` to `destination` on `estate`.
    ///
    /// - Parameter destinationHoldsData: the operator says the destination holds data (block &
    ///   copy into a running ensemble); otherwise its data directories must be empty.
    /// - Parameter strategy: `replace` lets a destination server share its source twin's address
    ///   (the stable address moves between them); nil for no strategy in particular.
    public static func problems(
        source: PlanEnsemble, destination: PlanEnsemble, estate: ObservedEstate, destinationHoldsData: Bool, strategy: StrategyKind? = nil
    ) -> [EstateProblem] {
        var problems: [EstateProblem] = []
        problems += addressClashes(source, destination, twinsShare: strategy == .replace)
        for (ensemble, isSource) in [(source, true), (destination, false)] {
            for server in ensemble.servers {
                guard let observed = estate.server(ensemble: ensemble.name, id: server.id) else {
                    problems.append(EstateProblem(host: server.host, file: nil, "\(ensemble.name) server \(server.id) was not read; discover every server before planning"))
                    continue
                }
                problems += observed.readErrors.map { EstateProblem(host: server.host, file: nil, "\(ensemble.name) server \(server.id): \($0)") }
                problems += check(server, of: ensemble, observed: observed, isSource: isSource, destinationHoldsData: destinationHoldsData)
            }
        }
        if !destinationHoldsData {
            problems += destinationDirectoryClashes(source: source, destination: destination, estate: estate, twinsShare: strategy == .replace)
        }
        for client in estate.clientConfigs {
            problems += client.readErrors.map { EstateProblem(host: client.host, file: client.file.path, "client \(client.group)/\(client.member): \($0)") }
        }
        return problems
    }

    /// Two servers listening on one address and port, or two inventory hosts with one address.
    static func addressClashes(_ source: PlanEnsemble, _ destination: PlanEnsemble, twinsShare: Bool) -> [EstateProblem] {
        var problems: [EstateProblem] = []
        var seen: [String: (PlanEnsemble, ServerSpec, String)] = [:]
        // Replace: a destination server takes over its twin's address once the twin has stopped.
        func twins(_ server: ServerSpec, _ other: ServerSpec) -> Bool {
            twinsShare && server.id == other.id && server.address.lowercased() == other.address.lowercased()
        }
        for ensemble in [source, destination] {
            for server in ensemble.servers {
                let machine = server.address.lowercased()
                let ports = [("quorum port", server.quorumPort), ("election port", server.electionPort), ("client port", server.clientPort)]
                for (purpose, port) in ports {
                    let key = "\(machine)#\(port)"
                    if case let (otherEnsemble, other, otherPurpose)? = seen[key] {
                        if otherEnsemble.name != ensemble.name && twins(server, other) { continue }
                        problems.append(
                            EstateProblem(
                                host: server.host, file: nil,
                                "\(ensemble.name) server \(server.id)'s \(purpose) \(server.address):\(port) is also \(otherEnsemble.name) server \(other.id)'s \(otherPurpose) (on host \(other.host)); two servers cannot listen on one address and port, and firewall rules by address would cut both: give each server its own address or port in the inventory"))
                    } else {
                        seen[key] = (ensemble, server, purpose)
                    }
                }
            }
        }
        // Two different hosts with one address (a copy-paste in the inventory): a split by
        // address would firewall both.
        var hostOfAddress: [String: (host: String, server: ServerSpec)] = [:]
        for server in source.servers + destination.servers where server.stableAddress == nil {
            let address = server.address.lowercased()
            if case let (other, otherServer)? = hostOfAddress[address], other != server.host, !twins(server, otherServer) {
                problems.append(
                    EstateProblem(
                        host: server.host, file: nil,
                        "hosts \(other) and \(server.host) share the address \(server.address); the split's firewall rules are by address and would cut servers of one ensemble off from each other: fix the address of one of them in the inventory"))
            } else if hostOfAddress[address] == nil {
                hostOfAddress[address] = (server.host, server)
            }
        }
        return problems
    }

    /// A destination server's zoo.cfg pointing at a source server's dataDir (on one host) or
    /// client port (on one address).
    /// - Parameter twinsShare: replace: a destination server takes over its source twin's address
    ///   (and client port) once the twin has stopped, so the two never listen at once.
    static func destinationDirectoryClashes(source: PlanEnsemble, destination: PlanEnsemble, estate: ObservedEstate, twinsShare: Bool) -> [EstateProblem] {
        var problems: [EstateProblem] = []
        for server in destination.servers {
            guard let observed = estate.server(ensemble: destination.name, id: server.id), let text = observed.config.text else { continue }
            let config = ZooKeeperConfig(parsing: text)
            for other in source.servers where other.host == server.host || other.address == server.address {
                if twinsShare && other.id == server.id && other.host != server.host { continue }
                for (key, mine, theirs) in [
                    (ZooKeeperConfig.Key.dataDir, config.dataDir, other.dataDir),
                    (ZooKeeperConfig.Key.dataLogDir, config.dataLogDir, other.dataLogDir),
                ] where other.host == server.host {
                    if let mine, let theirs, normalized(mine) == normalized(theirs) {
                        problems.append(
                            EstateProblem(
                                host: server.host, file: server.configPath, line: config.document.entry(forKey: key)?.line,
                                "\(key)=\(mine) is \(source.name) server \(other.id)'s \(key) on this host: \(destination.name) server \(server.id) would start on its data; set \(key)=\(server.dataDir) as the inventory says"))
                    }
                }
                if other.address == server.address || other.host == server.host, let port = config.clientPort, port == other.clientPort {
                    problems.append(
                        EstateProblem(
                            host: server.host, file: server.configPath, line: config.document.entry(forKey: ZooKeeperConfig.Key.clientPort)?.line,
                            "clientPort=\(port) is \(source.name) server \(other.id)'s client port on this \(other.host == server.host ? "host" : "address (\(server.address))"): the two servers cannot both listen on it; \(server.clientPort == port ? "give \(destination.name) server \(server.id) another clientPort in the inventory and the file" : "set clientPort=\(server.clientPort) in this file, as the inventory says")"))
                }
            }
        }
        return problems
    }

    static func normalized(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    static func check(
        _ server: ServerSpec, of ensemble: PlanEnsemble, observed: ObservedServer, isSource: Bool, destinationHoldsData: Bool
    ) -> [EstateProblem] {
        var problems: [EstateProblem] = []
        func problem(_ file: String?, line: Int? = nil, _ message: String) {
            problems.append(EstateProblem(host: server.host, file: file, line: line, message))
        }
        let name = "\(ensemble.name) server \(server.id)"

        // myid.
        var myid: ServerID?
        if let text = observed.myid.text {
            do {
                myid = try MyIDFile.parse(text, path: server.myidPath)
                if myid != server.id {
                    problem(server.myidPath, line: 1, "myid says \(myid.map(String.init(describing:)) ?? "?") but the inventory says this is \(name); fix the myid file (`echo \(server.id) > \(server.myidPath)`) or the inventory")
                }
            } catch {
                problem(server.myidPath, line: 1, "\(error.reason)")
            }
        } else if isSource {
            problem(server.myidPath, "the myid file of \(name) is missing; ZooKeeper cannot start it as an ensemble member: write `echo \(server.id) > \(server.myidPath)`")
        }

        // The source must be serving: every plan starts from it, and its gates would wait forever.
        if isSource, observed.service == .stopped, let status = server.commands.status {
            problem(nil, "\(name) is not running (its status command `\(status)` exits non-zero); start it, or fix the status command in the inventory")
        }

        // Data.
        if !isSource && !destinationHoldsData {
            for directory in [observed.dataDir, observed.dataLogDir].compactMap({ $0 }) where directory.holdsSnapshotOfData {
                problem(
                    directory.path,
                    "\(name)'s \(directory.path) holds data (\(directory.dataFiles.prefix(3).joined(separator: ", "))\(directory.dataFiles.count > 3 ? ", …" : "")); this strategy joins an empty destination: empty it, or use --strategy copy --destination-holds-data")
            }
        }

        // zoo.cfg.
        guard let text = observed.config.text else {
            if isSource {
                problem(server.configPath, "\(name) has no config file here; it is the source and must be running from it: fix configPath in the inventory")
            }
            return problems
        }
        let config = ZooKeeperConfig(parsing: text)
        let dynamic = observed.dynamicConfig?.text.map(DynamicConfig.init(parsing:))
        let dynamicFile = observed.dynamicConfig?.path
        let diagnostics = config.validate(
            version: ensemble.version, myid: myid ?? server.id, dynamicConfig: dynamic, fileName: server.configPath,
            dynamicFileName: dynamicFile)
        // The plan rewrites a destination's server list, client port and myid, and adds missing
        // basics; everything else in the file stays and must work.
        let rewritten: Set<ConfigDiagnostic.Code> = [
            .myIDNotInServerList, .missingMyID, .clientPortMismatch, .missingClientPort, .serverLinesBesideDynamicFile, .missingSetting,
            .observersWithoutQuorum, .dynamicConfigNotProvided,
        ]
        for diagnostic in diagnostics.errors where isSource || !rewritten.contains(diagnostic.code) {
            problem(diagnostic.file ?? server.configPath, line: diagnostic.line, diagnostic.message)
        }
        if ensemble.version.isStaticMembershipOnly, let dynamicText = observed.dynamicConfig?.text, let dynamicFile {
            let lines = DynamicConfig(parsing: dynamicText).serverLines
            let withClientPort = lines.first { $0.server?.clientPort != nil }
            problem(
                dynamicFile, line: withClientPort?.line ?? lines.first?.line,
                "a dynamic config file (3.5+\(withClientPort == nil ? "" : ", server lines with ;clientPort")) is given to \(ensemble.name), which runs ZooKeeper \(ensemble.version): 3.4 ignores it and would lose the client port; list the servers in \(server.configPath) as server.N=host:2888:3888 with clientPort=\(server.clientPort), and drop dynamicConfigPath from the inventory")
        }
        let effectiveServers = (config.dynamicConfigFile != nil && !ensemble.version.isStaticMembershipOnly) ? (dynamic?.servers ?? []) : config.servers
        let own = effectiveServers.first { $0.id == server.id }
        let role = own?.role ?? server.role
        if isSource || destinationHoldsData, role == .observer || server.role == .observer, config.peerType != .observer {
            problem(
                server.configPath, line: config.document.entry(forKey: ZooKeeperConfig.Key.peerType)?.line,
                "\(name) is an observer but its own file does not say peerType=observer: ZooKeeper would start it as a participant and change the quorum; add peerType=observer")
        }
        if let dataDir = config.dataDir, normalized(dataDir) != normalized(server.dataDir), isSource {
            problem(
                server.configPath, line: config.document.entry(forKey: ZooKeeperConfig.Key.dataDir)?.line,
                "dataDir=\(dataDir) but the inventory says \(server.dataDir); fix dataDir in the inventory (the server runs from the file)")
        }
        if isSource {
            // The source runs from these lines: the inventory must describe them.
            for line in effectiveServers {
                guard let listed = ensemble.server(line.id) else {
                    problem(dynamicFile ?? server.configPath, line: lineNumber(line.id, config, dynamic),
                            "server.\(line.id) is in the file but not in the inventory's \(ensemble.name); add it to the inventory or remove it from every server's file")
                    continue
                }
                // A server not yet behind its service is named by its host address (phases 2–3 change that).
                if let hostAddress = listed.hostAddress, line.host.lowercased() == listed.address.lowercased() {
                    problem(dynamicFile ?? server.configPath, line: lineNumber(line.id, config, dynamic),
                            "server.\(line.id) names the service address \(listed.address) already, but the inventory says peers use its host address \(hostAddress) until the plan switches them; if every server is behind its service, drop hostAddress from stableAddress in the inventory")
                } else if line.host.lowercased() != listed.currentAddress.lowercased() || line.quorumPort != listed.quorumPort || (line.electionPort ?? listed.electionPort) != listed.electionPort {
                    problem(dynamicFile ?? server.configPath, line: lineNumber(line.id, config, dynamic),
                            "server.\(line.id)=\(line.description.split(separator: "=", maxSplits: 1).last ?? "") differs from the inventory (\(listed.currentAddress):\(listed.quorumPort):\(listed.electionPort)\(listed.hostAddress == nil ? "" : ", its host address until the plan puts it behind its service \(listed.address)")); make them agree")
                }
            }
        }
        return problems
    }

    static func lineNumber(_ id: ServerID, _ config: ZooKeeperConfig, _ dynamic: DynamicConfig?) -> Int? {
        (dynamic?.serverLines ?? []).last { $0.id == id }?.line ?? config.serverLines.last { $0.id == id }?.line
    }
}
