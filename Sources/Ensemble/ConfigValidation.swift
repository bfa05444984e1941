/// A problem found in a configuration: where it is, what is wrong and what to do.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Comparable {
        case warning
        case error

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .warning && rhs == .error }
    }

    /// What kind of problem this is, for programs that react to specific problems.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidValue = Code(rawValue: "invalid-value")
        public static let missingSetting = Code(rawValue: "missing-setting")
        public static let invalidServerLine = Code(rawValue: "invalid-server-line")
        public static let duplicateServerID = Code(rawValue: "duplicate-server-id")
        public static let portConflict = Code(rawValue: "port-conflict")
        public static let missingMyID = Code(rawValue: "missing-myid")
        public static let myIDNotInServerList = Code(rawValue: "myid-not-in-server-list")
        public static let evenVotingSet = Code(rawValue: "even-voting-set")
        public static let noFailureTolerated = Code(rawValue: "no-failure-tolerated")
        public static let observersWithoutQuorum = Code(rawValue: "observers-without-quorum")
        public static let observerPeerTypeMissing = Code(rawValue: "observer-peertype-missing")
        public static let peerTypeMismatch = Code(rawValue: "peertype-mismatch")
        public static let unsupportedSetting = Code(rawValue: "unsupported-setting")
        public static let unsupportedServerLineFormat = Code(rawValue: "unsupported-server-line-format")
        public static let missingElectionPort = Code(rawValue: "missing-election-port")
        public static let missingClientPort = Code(rawValue: "missing-client-port")
        public static let clientPortMismatch = Code(rawValue: "client-port-mismatch")
        public static let serverLinesBesideDynamicFile = Code(rawValue: "server-lines-beside-dynamic-file")
        public static let versionInDynamicFile = Code(rawValue: "version-in-dynamic-file")
        public static let dynamicConfigNotProvided = Code(rawValue: "dynamic-config-not-provided")
        public static let standaloneBlocksReconfig = Code(rawValue: "standalone-blocks-reconfig")
        public static let configWillBeRewritten = Code(rawValue: "config-will-be-rewritten")
        public static let extendedTypesServerID = Code(rawValue: "extended-types-server-id")
    }

    public var severity: Severity
    public var code: Code
    /// The file the problem is in (e.g. `zoo.cfg`), when it is in one.
    public var file: String?
    /// The 1-based line, when the problem is on one line.
    public var line: Int?
    /// The server concerned, when there is one.
    public var serverID: ServerID?
    /// What is wrong and what to do about it.
    public var message: String

    public init(
        _ severity: Severity, _ code: Code, file: String?, line: Int?, server: ServerID? = nil, _ message: String
    ) {
        self.severity = severity
        self.code = code
        self.file = file
        self.line = line
        self.serverID = server
        self.message = message
    }

    /// `zoo.cfg:12: error: …`, the way compilers print it.
    public var description: String {
        var location = file ?? ""
        if let line { location += location.isEmpty ? "line \(line)" : ":\(line)" }
        return (location.isEmpty ? "" : location + ": ") + "\(severity.rawValue): \(message)"
    }
}

extension Array where Element == ConfigDiagnostic {
    public var errors: [ConfigDiagnostic] { filter { $0.severity == .error } }
    public var warnings: [ConfigDiagnostic] { filter { $0.severity == .warning } }
    public var hasErrors: Bool { contains { $0.severity == .error } }
}

/// One listening socket a configuration asks for, for spotting two uses of one port.
struct Endpoint {
    enum Purpose: String {
        case quorum = "quorum port"
        case election = "election port"
        case client = "client port"
    }

    var machine: String
    var port: Int
    var purpose: Purpose
    var server: ServerID
    var line: Int?
    var file: String
}

/// The name of the machine a host or address is on, so that `localhost`, `127.0.0.1` and
/// `::1` count as one machine and host names compare without case.
func machineKey(_ host: String) -> String {
    let lowered = host.lowercased()
    if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" || lowered.hasPrefix("127.") {
        return "loopback"
    }
    return lowered
}

extension ZooKeeperConfig {
    /// Checks this configuration as `version` would read it on the server whose `myid` file
    /// holds `myid` (nil when the file is missing).
    ///
    /// - Parameters:
    ///   - dynamicConfig: the file `dynamicConfigFile` names, when the configuration has one.
    ///   - fileName, dynamicFileName: how diagnostics name the two files.
    public func validate(
        version: ZooKeeperVersion,
        myid: ServerID?,
        dynamicConfig: DynamicConfig? = nil,
        fileName: String = "zoo.cfg",
        dynamicFileName: String? = nil
    ) -> [ConfigDiagnostic] {
        var diagnostics: [ConfigDiagnostic] = []
        let dynamicFile = dynamicFileName ?? dynamicConfigFile ?? "the dynamic config file"
        let is34 = version.isStaticMembershipOnly

        func line(_ key: String) -> Int? { document.entry(forKey: key)?.line }
        func add(_ severity: ConfigDiagnostic.Severity, _ code: ConfigDiagnostic.Code, line: Int?,
                 server: ServerID? = nil, file: String? = nil, _ message: String) {
            diagnostics.append(ConfigDiagnostic(severity, code, file: file ?? fileName, line: line, server: server, message))
        }

        // Values that must be numbers, switches that must be true or false.
        for key in [Key.tickTime, Key.initLimit, Key.syncLimit, Key.clientPort] {
            if let text = string(key), Int(text) == nil {
                add(.error, .invalidValue, line: line(key), "\(key)=\(text) is not a number; ZooKeeper will refuse to start")
            }
        }
        if let port = clientPort, !(1...65535).contains(port) {
            add(.error, .invalidValue, line: line(Key.clientPort), "clientPort=\(port) is not a port from 1 to 65535")
        }
        for key in [Key.reconfigEnabled, Key.standaloneEnabled, Key.quorumListenOnAllIPs] {
            if let text = string(key), boolean(key) == nil {
                add(.error, .invalidValue, line: line(key), "\(key)=\(text) must be true or false")
            }
        }
        if let text = string(Key.peerType), peerType == nil {
            add(.error, .invalidValue, line: line(Key.peerType),
                "peerType=\(text) is not a peer type; ZooKeeper accepts observer or participant (\"Unrecognised peertype\")")
        }

        // Required settings.
        if dataDir == nil {
            add(.error, .missingSetting, line: nil, "dataDir is not set; ZooKeeper refuses to start without it: add dataDir=/var/lib/zookeeper")
        }
        if tickTime == nil && string(Key.tickTime) == nil {
            add(.error, .missingSetting, line: nil, "tickTime is not set; ZooKeeper refuses to start without it: add tickTime=2000")
        }

        // Settings this version does not understand.
        func requireFeature(_ feature: ZooKeeperFeature, key: String, consequence: String) {
            guard document.entry(forKey: key) != nil, !version.supports(feature) else { return }
            add(.error, .unsupportedSetting, line: line(key),
                "\(key) is not understood by ZooKeeper \(version) (it needs \(feature.introducedIn) or later): \(consequence)")
        }
        requireFeature(.dynamicConfigFile, key: Key.dynamicConfigFile,
                       consequence: "the servers in the dynamic file would be ignored; list them as server.N lines in this file instead")
        requireFeature(.standaloneEnabledSetting, key: Key.standaloneEnabled,
                       consequence: "remove it; the setting has no effect on this version")
        requireFeature(.fourLetterWordWhitelist, key: Key.fourLetterWordWhitelist,
                       consequence: "it is ignored and every four-letter word stays enabled; remove it or upgrade")
        requireFeature(.snapshotTrustEmpty, key: "snapshot.trust.empty",
                       consequence: "it is ignored; on 3.5.5 use the empty snapshot.0 workaround of ZOOKEEPER-3056 instead")
        if document.entry(forKey: Key.reconfigEnabled) != nil {
            if is34 {
                add(.error, .unsupportedSetting, line: line(Key.reconfigEnabled),
                    "reconfigEnabled is not understood by ZooKeeper \(version): 3.4 has no dynamic reconfiguration, membership changes only by rolling restart; remove the setting")
            } else if !version.reconfigNeedsExplicitEnable {
                add(.warning, .unsupportedSetting, line: line(Key.reconfigEnabled),
                    "reconfigEnabled is not understood by ZooKeeper \(version): reconfig is always enabled before 3.5.3, whatever this says")
            }
        }
        for entry in document.entries where entry.key.hasPrefix("multiAddress.") && !version.supports(.multiAddress) {
            add(.warning, .unsupportedSetting, line: entry.line,
                "\(entry.key) is not understood by ZooKeeper \(version) (multi-address needs 3.6.0 or later); remove it")
        }

        // Where the server list comes from.
        var serverSource = serverLines
        var serverFile = fileName
        let dynamicFileSet = dynamicConfigFile != nil && !is34
        if dynamicFileSet {
            for serverLine in serverLines {
                add(.error, .serverLinesBesideDynamicFile, line: serverLine.line, server: serverLine.id,
                    "\(serverLine.key) must be in the dynamic config file because dynamicConfigFile is set (ZooKeeper: \"must be in a separate dynamic config file\"); move it to \(dynamicFile)")
            }
            if let dynamicConfig {
                serverSource = dynamicConfig.serverLines
                serverFile = dynamicFile
                if let versionLine = dynamicConfig.document.entry(forKey: "version") {
                    add(.error, .versionInDynamicFile, line: versionLine.line, file: dynamicFile,
                        "a dynamic config file must not contain version= (ZooKeeper: \"dynamic file shouldn't have version inside\"); the version belongs in the file name, e.g. zoo.cfg.dynamic.\(versionLine.value)")
                }
            } else {
                add(.warning, .dynamicConfigNotProvided, line: line(Key.dynamicConfigFile),
                    "the server list is in \(dynamicConfigFile ?? "") which was not given; the server checks were skipped")
                return diagnostics.sorted(by: Self.diagnosticOrder)
            }
        }

        // Each server line.
        var firstLineOfID: [ServerID: Int] = [:]
        for serverLine in serverSource {
            switch serverLine.result {
            case .failure(let error):
                add(.error, .invalidServerLine, line: serverLine.line, server: serverLine.id, file: serverFile,
                    "\(serverLine.key)=\(serverLine.rawValue) is not a valid server line: \(error.reason)")
                continue
            case .success(let server):
                if let first = firstLineOfID[server.id] {
                    add(.error, .duplicateServerID, line: serverLine.line, server: server.id, file: serverFile,
                        "server id \(server.id) is listed twice (also on line \(first)); ZooKeeper keeps only one of them: give each server its own id")
                } else {
                    firstLineOfID[server.id] = serverLine.line
                }
                if server.clientPort != nil && is34 {
                    add(.error, .unsupportedServerLineFormat, line: serverLine.line, server: server.id, file: serverFile,
                        "\(serverLine.key) has a ;clientPort suffix, which ZooKeeper \(version) cannot parse (it needs 3.5.0 or later); remove the suffix and set clientPort=\(server.clientPort ?? 2181)")
                }
                if server.electionPort == nil {
                    if is34 {
                        add(.warning, .missingElectionPort, line: serverLine.line, server: server.id, file: serverFile,
                            "\(serverLine.key) has no election port; 3.4 needs one unless electionAlg=0 (deprecated): write \(server.host):\(server.quorumPort):3888")
                    } else {
                        add(.error, .missingElectionPort, line: serverLine.line, server: server.id, file: serverFile,
                            "\(serverLine.key) has no election port, which ZooKeeper \(version) requires: write \(server.host):\(server.quorumPort):3888")
                    }
                }
            }
        }
        let servers = serverSource.compactMap(\.server).reduce(into: [QuorumServer]()) { result, server in
            result.removeAll { $0.id == server.id }
            result.append(server)
        }
        let serverLineNumber = Dictionary(serverSource.compactMap { line in line.server.map { ($0.id, line.line) } },
                                          uniquingKeysWith: { _, last in last })

        let voters = servers.filter { $0.role == .participant }
        let observers = servers.filter { $0.role == .observer }
        let distributed = servers.count > 1 || (!is34 && !servers.isEmpty && standaloneEnabled == false)

        // Quorum arithmetic.
        if !observers.isEmpty && voters.isEmpty {
            add(.error, .observersWithoutQuorum, line: serverLineNumber[observers[0].id], file: serverFile,
                "every listed server is an observer; an ensemble needs participants to vote (ZooKeeper: \"Observers w/o participants is an invalid configuration\")")
        } else if !observers.isEmpty && voters.count == 1 && is34 {
            add(.error, .observersWithoutQuorum, line: serverLineNumber[observers[0].id], file: serverFile,
                "one participant with observers is refused by ZooKeeper 3.4 (\"Observers w/o quorum is an invalid configuration\"); add participants")
        }
        if voters.count == 2 {
            add(.warning, .noFailureTolerated, line: serverLineNumber[voters[1].id], file: serverFile,
                "two voting servers (\(voters.map(\.id.description).joined(separator: ", "))) tolerate no failure: a quorum needs both; use three")
        } else if voters.count >= 4 && voters.count % 2 == 0 {
            add(.warning, .evenVotingSet, line: serverLineNumber[voters.last?.id ?? 0], file: serverFile,
                "\(voters.count) voting servers tolerate \(voters.count / 2 - 1) failure(s), no more than \(voters.count - 1) would; make one an observer or add one")
        }

        // Ports in conflict: the same machine and port asked for twice.
        var endpoints: [Endpoint] = []
        for server in servers {
            let machine = machineKey(server.host)
            let lineNumber = serverLineNumber[server.id]
            endpoints.append(Endpoint(machine: machine, port: server.quorumPort, purpose: .quorum, server: server.id, line: lineNumber, file: serverFile))
            if let election = server.electionPort {
                endpoints.append(Endpoint(machine: machine, port: election, purpose: .election, server: server.id, line: lineNumber, file: serverFile))
            }
            if let clientPort = server.clientPort {
                endpoints.append(Endpoint(machine: machine, port: clientPort, purpose: .client, server: server.id, line: lineNumber, file: serverFile))
            } else if server.id == myid, let clientPort {
                endpoints.append(Endpoint(machine: machine, port: clientPort, purpose: .client, server: server.id, line: line(Key.clientPort), file: fileName))
            }
        }
        var seen: [String: Endpoint] = [:]
        for endpoint in endpoints {
            let key = "\(endpoint.machine)#\(endpoint.port)"
            if let first = seen[key] {
                let firstWhere = first.server == endpoint.server ? "its own \(first.purpose.rawValue)" : "the \(first.purpose.rawValue) of server \(first.server)"
                add(.error, .portConflict, line: endpoint.line, server: endpoint.server, file: endpoint.file,
                    "server \(endpoint.server)'s \(endpoint.purpose.rawValue) \(endpoint.port) on \(endpoint.machine == "loopback" ? "the loopback host" : endpoint.machine) is already \(firstWhere); give each a different port")
            } else {
                seen[key] = endpoint
            }
        }

        // myid.
        if distributed || (!servers.isEmpty && myid != nil) {
            if let myid {
                if !servers.contains(where: { $0.id == myid }) {
                    add(.error, .myIDNotInServerList, line: nil, server: myid, file: serverFile,
                        "myid is \(myid) but there is no server.\(myid) line (ZooKeeper: \"My id \(myid) not in the peer list\"); fix the myid file or add the server line")
                }
            } else if distributed {
                add(.error, .missingMyID, line: nil, file: "myid",
                    "the myid file is missing; ZooKeeper refuses to start a server of an ensemble without it: write this server's id to \(dataDir ?? "<dataDir>")/myid")
            }
        }
        if distributed && initLimit == nil && string(Key.initLimit) == nil {
            add(.error, .missingSetting, line: nil, "initLimit is not set; an ensemble member refuses to start without it: add initLimit=10")
        }
        if distributed && syncLimit == nil && string(Key.syncLimit) == nil {
            add(.error, .missingSetting, line: nil, "syncLimit is not set; an ensemble member refuses to start without it: add syncLimit=5")
        }

        // Client port.
        let me = myid.flatMap { id in servers.first { $0.id == id } }
        if is34 {
            if clientPort == nil && string(Key.clientPort) == nil {
                add(.error, .missingClientPort, line: nil, "clientPort is not set; ZooKeeper \(version) refuses to start without it: add clientPort=2181")
            }
        } else if let me, let lineClientPort = me.clientPort, let clientPort, clientPort != lineClientPort {
            add(.error, .clientPortMismatch, line: line(Key.clientPort), server: me.id,
                "clientPort=\(clientPort) differs from the client port \(lineClientPort) in server.\(me.id); ZooKeeper refuses the difference: remove clientPort or make them equal")
        } else if clientPort == nil && string(Key.clientPort) == nil && (me.map { $0.clientPort == nil } ?? servers.isEmpty) {
            add(.error, .missingClientPort, line: me.flatMap { serverLineNumber[$0.id] }, server: me?.id,
                "no client port: set clientPort=2181 or add ;2181 to this server's line, or clients cannot connect")
        }

        // Observers and peerType.
        if let me {
            if me.role == .observer && peerType != .observer {
                add(.warning, .observerPeerTypeMissing, line: serverLineNumber[me.id], server: me.id, file: serverFile,
                    "server \(me.id) is listed as an observer but this file does not say peerType=observer; the observer guide requires it on every observer (ZooKeeper falls back to the server list with a warning): add peerType=observer")
            } else if me.role == .participant && peerType == .observer {
                add(.warning, .peerTypeMismatch, line: line(Key.peerType), server: me.id,
                    "peerType=observer but server.\(me.id) is listed as a participant; ZooKeeper follows the server list and this server will vote: add :observer to its line or remove peerType")
            }
        }

        // Reconfig and standalone rules (3.5+).
        if !is34 {
            let reconfigOn = version.reconfigNeedsExplicitEnable ? reconfigEnabled == true : true
            if reconfigOn && voters.count == 1 && standaloneEnabled != false {
                add(.warning, .standaloneBlocksReconfig, line: line(Key.standaloneEnabled), server: voters[0].id,
                    "with one participant and standaloneEnabled=true (the default) the server runs standalone and cannot grow by reconfig; set standaloneEnabled=false")
            }
            if reconfigOn && dynamicConfigFile == nil && distributed {
                add(.warning, .configWillBeRewritten, line: serverLineNumber[servers.first?.id ?? 0],
                    "reconfig is enabled and the server list is in \(fileName): on start ZooKeeper \(version) backs the file up and moves the server lines into a dynamic config file; manage \(fileName) and its zoo.cfg.dynamic.* file together")
            }
        }
        if let extended = value(forKey: "extendedTypesEnabled")?.trimmingBlanks().lowercased(), extended == "true" {
            for server in servers where server.id.rawValue >= 255 {
                add(.error, .extendedTypesServerID, line: serverLineNumber[server.id], server: server.id, file: serverFile,
                    "extendedTypesEnabled=true (TTL nodes) requires server ids below 255, and server \(server.id) is not; renumber it or turn TTL nodes off")
            }
        }
        return diagnostics.sorted(by: Self.diagnosticOrder)
    }

    static func diagnosticOrder(_ lhs: ConfigDiagnostic, _ rhs: ConfigDiagnostic) -> Bool {
        if lhs.file != rhs.file { return (lhs.file ?? "") < (rhs.file ?? "") }
        return (lhs.line ?? Int.max) < (rhs.line ?? Int.max)
    }
}
