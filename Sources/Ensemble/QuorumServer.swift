/// A ZooKeeper server id: the `N` of `server.N` and the content of the server's `myid` file.
public struct ServerID: RawRepresentable, Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public init(integerLiteral value: Int64) { self.rawValue = value }

    public static func < (lhs: ServerID, rhs: ServerID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// Whether a server votes.
public enum ServerRole: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Votes in elections and counts towards quorums.
    case participant
    /// Replicates and serves clients, but does not vote.
    case observer

    public var description: String { rawValue }
}

/// One `server.N=…` line: where a server listens for its peers and, since 3.5, for clients.
///
/// Formats (ZooKeeper administrator's guide and dynamic reconfiguration guide):
/// - 3.4: `host:quorumPort[:electionPort][:observer|:participant]`
/// - 3.5+: `host:quorumPort:electionPort[:role][;[clientAddress:]clientPort]`
///
/// IPv6 hosts are written in brackets: `[2001:db8::1]:2888:3888`.
///
/// The same value is a line of a configuration file and a line of a plan (its JSON: `id`, `host`,
/// `quorumPort`, `electionPort`, `role`, `clientAddress`, `clientPort`, the absent ones left out).
///
/// Equality: ``roleIsExplicit`` is spelling, not meaning, and takes no part in `==` or `hash`.
/// Two lines that ZooKeeper reads as the same server are equal, however the role was written,
/// so a plan is equal to itself read back from its JSON (which does not record the spelling).
/// Nothing compares lines for their spelling: the prover compares memberships (ids and roles),
/// drift compares the files' bytes, and rewriting a file compares rendered values
/// (``PropertiesDocument/setServers(_:)``). To check a spelling, compare ``value``.
public struct QuorumServer: Sendable, Hashable, Codable, CustomStringConvertible {
    public var id: ServerID
    public var host: String
    /// The port followers use to connect to the leader (conventionally 2888).
    public var quorumPort: Int
    /// The port used for leader election (conventionally 3888). Optional only on 3.4.
    public var electionPort: Int?
    public var role: ServerRole
    /// Whether the line spelled the role out (`:participant` is the default and often omitted);
    /// kept so that re-rendering a line changes nothing that was not changed.
    public var roleIsExplicit: Bool
    /// The address the client port binds to (3.5+ `;address:port`); nil means all addresses.
    public var clientAddress: String?
    /// The client port from the `;clientPort` suffix (3.5+); nil when the line has none.
    public var clientPort: Int?

    public init(
        id: ServerID,
        host: String,
        quorumPort: Int,
        electionPort: Int?,
        role: ServerRole = .participant,
        roleIsExplicit: Bool? = nil,
        clientAddress: String? = nil,
        clientPort: Int? = nil
    ) {
        self.id = id
        self.host = host
        self.quorumPort = quorumPort
        self.electionPort = electionPort
        self.role = role
        self.roleIsExplicit = roleIsExplicit ?? (role == .observer)
        self.clientAddress = clientAddress
        self.clientPort = clientPort
    }

    private enum CodingKeys: String, CodingKey {
        case id, host, quorumPort, electionPort, role, clientAddress, clientPort
    }

    /// A line read from a plan: the role is spelled out when it is observer (as ``value`` writes
    /// it). Encoding writes the keys of ``CodingKeys``, the absent optionals left out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(ServerID.self, forKey: .id), host: try container.decode(String.self, forKey: .host),
            quorumPort: try container.decode(Int.self, forKey: .quorumPort),
            electionPort: try container.decodeIfPresent(Int.self, forKey: .electionPort),
            role: try container.decode(ServerRole.self, forKey: .role),
            clientAddress: try container.decodeIfPresent(String.self, forKey: .clientAddress),
            clientPort: try container.decodeIfPresent(Int.self, forKey: .clientPort))
    }

    /// Equal when ZooKeeper reads the two lines as the same server (``roleIsExplicit`` aside).
    public static func == (lhs: QuorumServer, rhs: QuorumServer) -> Bool {
        lhs.id == rhs.id && lhs.host == rhs.host && lhs.quorumPort == rhs.quorumPort && lhs.electionPort == rhs.electionPort
            && lhs.role == rhs.role && lhs.clientAddress == rhs.clientAddress && lhs.clientPort == rhs.clientPort
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(host)
        hasher.combine(quorumPort)
        hasher.combine(electionPort)
        hasher.combine(role)
        hasher.combine(clientAddress)
        hasher.combine(clientPort)
    }

    /// The same server in another role (e.g. an observer promoted to participant), its role
    /// spelled as in a new line: written out only for an observer.
    public func with(role: ServerRole) -> QuorumServer {
        var line = self
        line.role = role
        return line.spelledAsPlanned
    }

    /// The line as a plan carries it: the role spelled out only when it is observer, as a line
    /// read back from a plan's JSON has it (the JSON does not record the spelling).
    package var spelledAsPlanned: QuorumServer {
        var line = self
        line.roleIsExplicit = role == .observer
        return line
    }

    /// The key of this server's line: `server.N`.
    public var key: String { "server.\(id)" }

    /// Parses a `server.N` key into its id.
    public static func serverID(fromKey key: String) -> ServerID? {
        guard key.hasPrefix("server.") else { return nil }
        let digits = key.dropFirst("server.".count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int64(digits), value >= 0 else {
            return nil
        }
        return ServerID(value)
    }

    /// Parses the value of a `server.N` line.
    public init(id: ServerID, parsing value: String) throws(ServerLineError) {
        let text = value.trimmingBlanks()
        func fail(_ reason: String) -> ServerLineError {
            ServerLineError(id: id, value: value, reason: reason)
        }
        if text.isEmpty {
            throw fail("it is empty; write host:quorumPort:electionPort, e.g. zk1:2888:3888")
        }
        if text.contains("|") {
            throw fail(
                "it lists several addresses separated by '|' (ZooKeeper 3.6+ multi-address); Mitosis handles one address per server: keep one"
            )
        }
        let halves = text.split(separator: ";", maxSplits: 2, omittingEmptySubsequences: false)
        if halves.count > 2 {
            throw fail("it has more than one ';'; write host:quorumPort:electionPort[:role][;[clientAddress:]clientPort]")
        }
        let (host, rest) = try Self.splitHost(String(halves[0]).trimmingBlanks(), fail: fail)
        if host.isEmpty { throw fail("it has no host name") }
        let parts = rest.map { $0.trimmingBlanks() }
        if parts.isEmpty {
            throw fail("it has no quorum port; write \(host):2888:3888")
        }
        if parts.count > 3 {
            throw fail("it has too many ':' fields; write host:quorumPort:electionPort[:role]")
        }
        func port(_ text: String, _ name: String) throws(ServerLineError) -> Int {
            guard let number = Int(text), (1...65535).contains(number) else {
                throw fail("the \(name) '\(text)' is not a number from 1 to 65535")
            }
            return number
        }
        self.id = id
        self.host = host
        self.quorumPort = try port(parts[0], "quorum port")
        self.electionPort = parts.count >= 2 ? try port(parts[1], "election port") : nil
        if parts.count == 3 {
            guard let role = ServerRole(rawValue: parts[2].lowercased()) else {
                throw fail("the role '\(parts[2])' is neither participant nor observer")
            }
            self.role = role
            self.roleIsExplicit = true
        } else {
            self.role = .participant
            self.roleIsExplicit = false
        }
        self.clientAddress = nil
        self.clientPort = nil
        if halves.count == 2 {
            let client = String(halves[1]).trimmingBlanks()
            if client.isEmpty { throw fail("it has an empty client part after ';'; write ;2181 or ;0.0.0.0:2181") }
            let (address, portText): (String?, String)
            if client.hasPrefix("[") {
                guard let close = client.firstIndex(of: "]") else {
                    throw fail("the IPv6 client address in '\(client)' has no closing ]")
                }
                let after = client[client.index(after: close)...]
                guard after.hasPrefix(":") else { throw fail("the client part '\(client)' has no port after the address") }
                address = String(client[client.index(after: client.startIndex)..<close])
                portText = String(after.dropFirst())
            } else {
                let fields = client.split(separator: ":", omittingEmptySubsequences: false)
                switch fields.count {
                case 1: (address, portText) = (nil, String(fields[0]))
                case 2: (address, portText) = (String(fields[0]), String(fields[1]))
                default: throw fail("the client part '\(client)' has more than one ':'; write IPv6 addresses in brackets")
                }
            }
            if let address, address.isEmpty { throw fail("the client part '\(client)' has an empty address") }
            self.clientAddress = address
            self.clientPort = try port(portText.trimmingBlanks(), "client port")
        }
    }

    /// Splits `host:a:b` or `[v6]:a:b` into the host and the remaining fields.
    private static func splitHost(
        _ text: String,
        fail: (String) -> ServerLineError
    ) throws(ServerLineError) -> (String, [String]) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw fail("the IPv6 address has no closing ]")
            }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw fail("the IPv6 address must be followed by :quorumPort") }
            return (host, rest.dropFirst().split(separator: ":", omittingEmptySubsequences: false).map(String.init))
        }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingBlanks() }
        if fields.count > 4 {
            throw fail("it has too many ':' fields; write IPv6 addresses in brackets, e.g. [2001:db8::1]:2888:3888")
        }
        return (fields[0], Array(fields.dropFirst()))
    }

    /// The value of the `server.N` line, e.g. `zk1:2888:3888:observer;2181`.
    public var value: String {
        var text = Self.bracketed(host) + ":\(quorumPort)"
        if let electionPort { text += ":\(electionPort)" }
        if roleIsExplicit || role == .observer { text += ":\(role.rawValue)" }
        if let clientPort {
            text += ";"
            if let clientAddress { text += Self.bracketed(clientAddress) + ":" }
            text += "\(clientPort)"
        }
        return text
    }

    /// The whole line without terminator: `server.N=value`.
    public var description: String { "\(key)=\(value)" }

    static func bracketed(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }
}

/// A `server.N` line that ZooKeeper would refuse.
public struct ServerLineError: Error, Sendable, Hashable, CustomStringConvertible {
    public var id: ServerID
    public var value: String
    public var reason: String

    public var description: String { "server.\(id)=\(value) is not a valid server line: \(reason)" }
}
