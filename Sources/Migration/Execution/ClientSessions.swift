public import Ensemble
import MigrationPlanning
public import NIOCore
public import ZooKeeper
public import ZooKeeperProtocol

/// One client session as a server's `cons` lists it.
public struct ServerSession: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The server that holds the connection (`host:port` as Mitosis reached it).
    public var server: String
    /// The client's address and port as the server sees them.
    public var clientAddress: String
    public var clientPort: Int?
    public var sessionID: String

    public init(server: String, clientAddress: String, clientPort: Int?, sessionID: String) {
        self.server = server
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.sessionID = sessionID
    }

    /// A `cons` line's connection, or nil for one without a session yet (such as the connection
    /// that asked for `cons`).
    public init?(server: String, connection: ClientConnection) {
        guard let sid = connection.sessionID, sid != "0x0", sid != "0" else { return nil }
        let (address, port) = Self.split(connection.address)
        self.init(server: server, clientAddress: address, clientPort: port, sessionID: sid)
    }

    /// `10.0.0.5:41234` → (`10.0.0.5`, 41234); Java writes IPv6 without brackets, so the port is
    /// after the last colon.
    static func split(_ text: String) -> (String, Int?) {
        var text = text
        if text.hasPrefix("/") { text.removeFirst() }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return (text, nil) }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    public var description: String { "\(clientAddress)\(clientPort.map { ":\($0)" } ?? "") (session \(sessionID) on \(server))" }
}

/// The sessions on a set of servers, read with `cons` from each; servers that did not answer are
/// listed with why (a stopped server holds no session).
public struct SessionCensus: Sendable, Hashable {
    public var sessions: [ServerSession]
    public var unanswered: [String: String]
    /// Servers that answered that they are not serving requests: their clients are reconnecting
    /// somewhere, so a census taken now would miss them.
    public var notServing: [String] = []
    /// Servers that answered `cons` (serving or not).
    public var answeredServers: Set<String> = []

    public init(sessions: [ServerSession] = [], unanswered: [String: String] = [:]) {
        self.sessions = sessions
        self.unanswered = unanswered
    }

    public static func read(_ servers: [ConnectionString.Server], timeout: Duration = .seconds(5), group: any EventLoopGroup) async -> SessionCensus {
        var census = SessionCensus()
        for server in servers {
            do {
                let answer = try await FourLetterWords.send("cons", to: server, timeout: timeout, group: group)
                census.answeredServers.insert(server.description)
                // A server that is not serving (electing, or cut off from its quorum) has closed
                // its clients' connections: its empty list says nothing about who uses it.
                if answer.contains("not currently serving requests") {
                    census.notServing.append(server.description)
                    continue
                }
                census.sessions += ClientConnection.parse(answer).compactMap { ServerSession(server: server.description, connection: $0) }
            } catch {
                census.unanswered[server.description] = error.description
            }
        }
        return census
    }

    public func sessions(of member: PlanClientMember) -> [ServerSession] {
        sessions.filter { member.owns($0) }
    }
}

extension PlanClientMember {
    /// The rules that recognise the member's connections: its `match:` rules, else its host's address.
    public var addressRules: [ClientAddressMatch] {
        if let match, !match.isEmpty { return match }
        guard let address, isIPAddressLiteral(address) else { return [] }
        return [ClientAddressMatch(address: address)]
    }

    public func owns(_ session: ServerSession) -> Bool {
        addressRules.contains { $0.matches(address: session.clientAddress, port: session.clientPort) }
    }
}

/// Where a member's sessions are after a switch from one connection string to another.
public struct SwitchEvidence: Sendable, Hashable, CustomStringConvertible {
    public var onTarget: [ServerSession]
    public var onOthers: [ServerSession]
    public var unanswered: [String: String]

    /// Done: seen on the servers it moved to, and on none of those it left.
    public var switched: Bool { !onTarget.isEmpty && onOthers.isEmpty }

    public var description: String {
        var parts: [String] = []
        parts.append(onTarget.isEmpty ? "no session on the new servers" : "\(onTarget.count) session(s) on the new servers (\(onTarget.map(\.server).joined(separator: ", ")))")
        if !onOthers.isEmpty { parts.append("still \(onOthers.count) on the old servers: \(onOthers.map(\.description).joined(separator: "; "))") }
        if !unanswered.isEmpty { parts.append("no answer to cons from \(unanswered.keys.sorted().joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }

    /// Reads `cons` from the servers of `to` and of `from` (those not also in `to`).
    public static func read(_ member: PlanClientMember, from: String, to: String, group: any EventLoopGroup) async throws -> SwitchEvidence {
        let target = try ConnectionString(parsing: to).servers
        let left = try ConnectionString(parsing: from).servers.filter { !target.contains($0) }
        let onTarget = await SessionCensus.read(target, group: group)
        let onOthers = await SessionCensus.read(left, group: group)
        return SwitchEvidence(
            onTarget: onTarget.sessions(of: member), onOthers: onOthers.sessions(of: member),
            unanswered: onTarget.unanswered.merging(onOthers.unanswered) { first, _ in first })
    }
}

/// Who a session belongs to: a label (a client group member, Mitosis itself, a client left behind
/// on purpose) and the address rules that recognise its connections.
public struct SessionOwner: Sendable, Hashable {
    public var label: String
    public var rules: [ClientAddressMatch]

    public init(label: String, rules: [ClientAddressMatch]) {
        self.label = label
        self.rules = rules
    }

    /// Every member of the plan's client groups, moving or staying.
    public static func members(of plan: Plan) -> [SessionOwner] {
        plan.clientGroups.flatMap { group in
            group.members.map { SessionOwner(label: "\(group.name)/\($0.name) (\(group.moves ? "moves" : "stays"))", rules: $0.addressRules) }
        }
    }

    /// Every member of the inventory's client groups, by its `match:` rules or its host's address.
    public static func members(of inventory: Inventory) -> [SessionOwner] {
        inventory.clientGroups.flatMap { group in
            group.members.map { member in
                let address = inventory.host(named: member.host)?.address ?? member.host
                let rules = member.match.isEmpty ? (isIPAddressLiteral(address) ? [ClientAddressMatch(address: address)] : []) : member.match
                return SessionOwner(label: "\(group.name)/\(member.name)", rules: rules)
            }
        }
    }
}

/// What the census before the split accepts besides the plan's client groups.
public struct CensusPolicy: Sendable, Hashable {
    /// Addresses Mitosis itself connects from (the executor's and the observer's sessions).
    public var ownAddresses: [String]
    /// Clients the operator accepts leaving on the source (`--leave-behind`).
    public var leaveBehind: [ClientAddressMatch]
    /// `cons` readings per census, and the time between them (a client reconnecting between
    /// servers is seen in one of them).
    public var rounds: Int
    public var interval: Duration
    /// How long after the run last stopped, started or restarted a server (or moved an address),
    /// counted from when that step's gates passed, the census waits before its first reading. A
    /// client that lost its server has no connection, so no server's `cons` lists it, until it
    /// reconnects, and clients reconnect with a backoff: kazoo doubles its delay after each failed
    /// round over the hosts (during an election every round fails), the Java client sleeps up to a
    /// second between attempts. A census taken at once could miss exactly the client it is for.
    public var settle: Duration

    public init(
        ownAddresses: [String] = [], leaveBehind: [ClientAddressMatch] = [], rounds: Int = 3, interval: Duration = .seconds(1),
        settle: Duration = .seconds(5)
    ) {
        self.ownAddresses = ownAddresses
        self.leaveBehind = leaveBehind
        self.rounds = rounds
        self.interval = interval
        self.settle = settle
    }

    public var owners: [SessionOwner] {
        [SessionOwner(label: "mitosis", rules: ownAddresses.map { ClientAddressMatch(address: $0) }),
         SessionOwner(label: "left behind (--leave-behind)", rules: leaveBehind)]
    }
}

extension SessionCensus {
    /// The sessions by owner (the first owner whose rules match), and those nobody accounts for.
    public func classified(by owners: [SessionOwner]) -> (owned: [(owner: String, sessions: [ServerSession])], unknown: [ServerSession]) {
        var owned: [String: [ServerSession]] = [:]
        var unknown: [ServerSession] = []
        for session in sessions {
            if let owner = owners.first(where: { $0.rules.contains { $0.matches(address: session.clientAddress, port: session.clientPort) } }) {
                owned[owner.label, default: []].append(session)
            } else {
                unknown.append(session)
            }
        }
        let order = owners.map(\.label)
        return (owned.sorted { (order.firstIndex(of: $0.key) ?? 0) < (order.firstIndex(of: $1.key) ?? 0) }.map { ($0.key, $0.value) }, unknown)
    }

    /// The unknown sessions' addresses, each with how many sessions on which servers.
    public static func describeUnknown(_ unknown: [ServerSession]) -> String {
        Dictionary(grouping: unknown, by: \.clientAddress).sorted { $0.key < $1.key }.map { address, sessions in
            "\(address) (\(sessions.count) session\(sessions.count == 1 ? "" : "s") on \(Set(sessions.map(\.server)).sorted().joined(separator: ", ")))"
        }.joined(separator: "; ")
    }
}
