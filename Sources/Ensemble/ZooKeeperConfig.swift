public import ZooKeeperProtocol

/// A `server.N` line as it stands in a file: where it is and whether it parses.
public struct ServerLine: Sendable, Hashable {
    /// The key as written (`server.1`, or `server.01`).
    public var key: String
    /// The id the key names, or nil when `N` is not a number.
    public var id: ServerID?
    /// The 1-based line the entry starts on.
    public var line: Int
    public var rawValue: String
    public var result: Result<QuorumServer, ServerLineError>

    public var server: QuorumServer? { try? result.get() }
}

extension PropertiesDocument {
    /// Every `server.…` entry in file order, duplicates included.
    public var serverLines: [ServerLine] {
        entries.compactMap { entry -> ServerLine? in
            guard entry.key.hasPrefix("server.") else { return nil }
            guard let id = QuorumServer.serverID(fromKey: entry.key) else {
                let error = ServerLineError(
                    id: ServerID(-1), value: entry.value,
                    reason: "the key \(entry.key) does not end in a server id (a non-negative number)")
                return ServerLine(key: entry.key, id: nil, line: entry.line, rawValue: entry.value, result: .failure(error))
            }
            let result: Result<QuorumServer, ServerLineError>
            do throws(ServerLineError) {
                result = .success(try QuorumServer(id: id, parsing: entry.value))
            } catch {
                result = .failure(error)
            }
            return ServerLine(key: entry.key, id: id, line: entry.line, rawValue: entry.value, result: result)
        }
    }

    /// The servers ZooKeeper would use: valid lines, one per id (the last one), in file order.
    public var quorumServers: [QuorumServer] {
        var byID: [ServerID: (position: Int, server: QuorumServer)] = [:]
        for (position, line) in serverLines.enumerated() {
            guard let server = line.server else { continue }
            byID[server.id] = (position, server)
        }
        return byID.values.sorted { $0.position < $1.position }.map(\.server)
    }

    /// Writes `server` into its `server.N` line (keeping the key as spelled, e.g. `server.01`),
    /// or adds the line after the last server line.
    public mutating func setServer(_ server: QuorumServer) {
        let existingKey = serverLines.last { $0.id == server.id }?.key ?? server.key
        setValue(server.value, forKey: existingKey, groupPrefix: "server.")
    }

    /// Makes the server list exactly `servers`: lines of servers not in the list are removed,
    /// existing lines are rewritten only where they differ, new servers are added after the
    /// last server line. The rest of the file is untouched.
    public mutating func setServers(_ servers: [QuorumServer]) {
        let wanted = Set(servers.map(\.id))
        for id in Set(serverLines.compactMap(\.id)) where !wanted.contains(id) {
            removeServer(id)
        }
        for server in servers { setServer(server) }
    }

    /// Removes every line for server `id`. Returns whether there was one.
    @discardableResult
    public mutating func removeServer(_ id: ServerID) -> Bool {
        var removed = false
        for key in Set(serverLines.filter { $0.id == id }.map(\.key)) {
            removed = removeValue(forKey: key) || removed
        }
        return removed
    }
}

/// A ZooKeeper server configuration file (`zoo.cfg`), typed on top of a lossless document.
///
/// Every accessor reads the document and every setter edits it in place, so
/// ``rendered`` differs from the parsed text only in the lines that were set.
public struct ZooKeeperConfig: Sendable, Hashable, CustomStringConvertible {
    /// Keys with a typed accessor. Everything else is in ``otherEntries``.
    public enum Key {
        public static let tickTime = "tickTime"
        public static let initLimit = "initLimit"
        public static let syncLimit = "syncLimit"
        public static let dataDir = "dataDir"
        public static let dataLogDir = "dataLogDir"
        public static let clientPort = "clientPort"
        public static let clientPortAddress = "clientPortAddress"
        public static let fourLetterWordWhitelist = "4lw.commands.whitelist"
        public static let reconfigEnabled = "reconfigEnabled"
        public static let standaloneEnabled = "standaloneEnabled"
        public static let quorumListenOnAllIPs = "quorumListenOnAllIPs"
        public static let dynamicConfigFile = "dynamicConfigFile"
        public static let peerType = "peerType"

        public static let all: [String] = [
            tickTime, initLimit, syncLimit, dataDir, dataLogDir, clientPort, clientPortAddress,
            fourLetterWordWhitelist, reconfigEnabled, standaloneEnabled, quorumListenOnAllIPs,
            dynamicConfigFile, peerType,
        ]
    }

    public var document: PropertiesDocument

    public init(parsing text: String) {
        document = PropertiesDocument(text)
    }

    public init(document: PropertiesDocument) {
        self.document = document
    }

    /// A new configuration with the given settings, in the conventional order.
    public init(
        tickTime: Int = 2000, initLimit: Int = 10, syncLimit: Int = 5, dataDir: String,
        clientPort: Int? = 2181, servers: [QuorumServer] = []
    ) {
        self.document = PropertiesDocument("")
        self.tickTime = tickTime
        self.initLimit = initLimit
        self.syncLimit = syncLimit
        self.dataDir = dataDir
        self.clientPort = clientPort
        for server in servers { document.setServer(server) }
    }

    public var rendered: String { document.rendered }
    public var description: String { rendered }

    // MARK: Typed settings

    public var tickTime: Int? {
        get { integer(Key.tickTime) }
        set { setInteger(Key.tickTime, newValue) }
    }
    public var initLimit: Int? {
        get { integer(Key.initLimit) }
        set { setInteger(Key.initLimit, newValue) }
    }
    public var syncLimit: Int? {
        get { integer(Key.syncLimit) }
        set { setInteger(Key.syncLimit, newValue) }
    }
    public var dataDir: String? {
        get { string(Key.dataDir) }
        set { setString(Key.dataDir, newValue) }
    }
    public var dataLogDir: String? {
        get { string(Key.dataLogDir) }
        set { setString(Key.dataLogDir, newValue) }
    }
    public var clientPort: Int? {
        get { integer(Key.clientPort) }
        set { setInteger(Key.clientPort, newValue) }
    }
    public var clientPortAddress: String? {
        get { string(Key.clientPortAddress) }
        set { setString(Key.clientPortAddress, newValue) }
    }
    /// The four-letter words the server answers, or nil when the setting is absent (see
    /// ``ZooKeeperVersion/fourLetterWordDefault``). `["*"]` enables all.
    public var fourLetterWordWhitelist: [String]? {
        get {
            string(Key.fourLetterWordWhitelist).map { list in
                list.split(separator: ",").map { $0.trimmingBlanks() }.filter { !$0.isEmpty }
            }
        }
        set { setString(Key.fourLetterWordWhitelist, newValue?.joined(separator: ",")) }
    }
    public var reconfigEnabled: Bool? {
        get { boolean(Key.reconfigEnabled) }
        set { setString(Key.reconfigEnabled, newValue.map { String($0) }) }
    }
    public var standaloneEnabled: Bool? {
        get { boolean(Key.standaloneEnabled) }
        set { setString(Key.standaloneEnabled, newValue.map { String($0) }) }
    }
    public var quorumListenOnAllIPs: Bool? {
        get { boolean(Key.quorumListenOnAllIPs) }
        set { setString(Key.quorumListenOnAllIPs, newValue.map { String($0) }) }
    }
    public var dynamicConfigFile: String? {
        get { string(Key.dynamicConfigFile) }
        set { setString(Key.dynamicConfigFile, newValue) }
    }
    /// `peerType`: what this server believes it is (3.4's observer guide requires
    /// `peerType=observer` on each observer).
    public var peerType: ServerRole? {
        get { string(Key.peerType).flatMap { ServerRole(rawValue: $0.lowercased()) } }
        set { setString(Key.peerType, newValue?.rawValue) }
    }

    /// Whether the four-letter word `command` is enabled on `version`.
    public func allowsFourLetterWord(_ command: String, on version: ZooKeeperVersion) -> Bool {
        if let list = fourLetterWordWhitelist, version.supports(.fourLetterWordWhitelist) {
            return list.contains("*") || list.contains(command)
        }
        switch version.fourLetterWordDefault {
        case .all: return true
        case .allExceptWatchDumps: return command != "wchp" && command != "wchc"
        case .onlySrvr: return command == "srvr"
        }
    }

    // MARK: Servers

    /// The `server.N` lines of this file, valid or not.
    public var serverLines: [ServerLine] { document.serverLines }

    /// The servers listed in this file (see ``PropertiesDocument/quorumServers``).
    public var servers: [QuorumServer] { document.quorumServers }

    public func server(_ id: ServerID) -> QuorumServer? { servers.first { $0.id == id } }

    public mutating func setServer(_ server: QuorumServer) { document.setServer(server) }

    /// Replaces the server list (see ``PropertiesDocument/setServers(_:)``).
    public mutating func setServers(_ servers: [QuorumServer]) { document.setServers(servers) }

    @discardableResult
    public mutating func removeServer(_ id: ServerID) -> Bool { document.removeServer(id) }

    /// Every entry that is neither a typed setting nor a `server.N` line, in file order.
    public var otherEntries: [PropertiesDocument.Entry] {
        document.entries.filter { !Key.all.contains($0.key) && !$0.key.hasPrefix("server.") }
    }

    public func value(forKey key: String) -> String? { document.value(forKey: key) }

    public mutating func setValue(_ value: String?, forKey key: String) { setString(key, value) }

    // MARK: Helpers

    /// ZooKeeper trims every value it reads.
    func string(_ key: String) -> String? {
        document.value(forKey: key)?.trimmingBlanks()
    }

    func integer(_ key: String) -> Int? {
        string(key).flatMap { Int($0) }
    }

    /// ZooKeeper 3.5+ accepts exactly `true` or `false` (any case) for its switches.
    func boolean(_ key: String) -> Bool? {
        switch string(key)?.lowercased() {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    mutating func setInteger(_ key: String, _ value: Int?) {
        setString(key, value.map { String($0) })
    }

    mutating func setString(_ key: String, _ value: String?) {
        if let value {
            document.setValue(value, forKey: key)
        } else {
            document.removeValue(forKey: key)
        }
    }
}

/// A dynamic configuration: the file named by `dynamicConfigFile` (3.5+), or the content of the
/// `/zookeeper/config` znode. It holds `server.N` lines (and `group.N`/`weight.N` for
/// hierarchical quorums) and, in the znode only, `version=<hex>`.
public struct DynamicConfig: Sendable, Hashable, CustomStringConvertible {
    public var document: PropertiesDocument

    public init(parsing text: String) {
        document = PropertiesDocument(text)
    }

    public init(servers: [QuorumServer], version: Zxid? = nil) {
        document = PropertiesDocument("")
        for server in servers { document.setServer(server) }
        if let version { self.version = version }
    }

    public var rendered: String { document.rendered }
    public var description: String { rendered }

    public var serverLines: [ServerLine] { document.serverLines }
    public var servers: [QuorumServer] { document.quorumServers }
    public mutating func setServer(_ server: QuorumServer) { document.setServer(server) }
    public mutating func setServers(_ servers: [QuorumServer]) { document.setServers(servers) }
    @discardableResult
    public mutating func removeServer(_ id: ServerID) -> Bool { document.removeServer(id) }

    /// The configuration version, the zxid of the reconfig that made it (`version=100000000`).
    public var version: Zxid? {
        get { document.value(forKey: "version").flatMap { Zxid(parsing: "0x" + $0.trimmingBlanks()) } }
        set {
            if let newValue {
                document.setValue(String(UInt64(bitPattern: newValue.rawValue), radix: 16), forKey: "version")
            } else {
                document.removeValue(forKey: "version")
            }
        }
    }

    /// The version ZooKeeper reads from a dynamic file's name, `zoo.cfg.dynamic.100000000`
    /// (a file on disk must not contain a `version=` line; the name carries it).
    public static func version(fromFileName name: String) -> Zxid? {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        let parts = base.components(separatedBy: ".dynamic.")
        guard parts.count == 2, !parts[1].isEmpty, parts[1].allSatisfy(\.isHexDigit) else { return nil }
        return Zxid(parsing: "0x" + parts[1])
    }

    /// The connection string clients of this configuration would use: each server's client
    /// address (or its host when the client address is a wildcard) and client port.
    public var connectionString: ConnectionString? {
        let endpoints = servers.compactMap { server -> ConnectionString.Server? in
            guard let port = server.clientPort else { return nil }
            let address = server.clientAddress.flatMap { isWildcard($0) ? nil : $0 } ?? server.host
            return ConnectionString.Server(host: address, port: port)
        }
        return endpoints.isEmpty ? nil : ConnectionString(servers: endpoints)
    }
}

func isWildcard(_ address: String) -> Bool {
    address == "0.0.0.0" || address == "::" || address == "0:0:0:0:0:0:0:0"
}

/// Reads and writes a server's `myid` file: the server id on the first line.
public enum MyIDFile {
    /// Parses the content of a `myid` file.
    public static func parse(_ text: String, path: String = "myid") throws(MyIDError) -> ServerID {
        let firstLine = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .first.map(String.init) ?? ""
        let trimmed = firstLine.trimmingBlanks()
        guard !trimmed.isEmpty else {
            throw MyIDError(path: path, content: text, reason: "it is empty; write the server's id, e.g. `echo 1 > \(path)`")
        }
        guard trimmed == firstLine.trimmingCharacters(in: "\r") else {
            throw MyIDError(
                path: path, content: text,
                reason: "the id has blanks around it; ZooKeeper 3.4 parses the line without trimming and refuses to start: write only the number")
        }
        guard trimmed.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(trimmed) else {
            throw MyIDError(path: path, content: text, reason: "'\(trimmed)' is not a server id (a non-negative number)")
        }
        return ServerID(value)
    }

    /// The content to write for `id`.
    public static func render(_ id: ServerID) -> String { "\(id)\n" }
}

public struct MyIDError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var content: String
    public var reason: String

    public var description: String { "\(path) is not a valid myid file: \(reason)" }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var slice = Substring(self)
        while slice.last == set { slice.removeLast() }
        return String(slice)
    }
}
