public import Ensemble
public import Hosts
public import ZooKeeperProtocol

/// What a client member's own host shows of its connections: the peers of its established TCP
/// sockets (`ss -Htn state established`). HubSpot's phase 2 moves clients from the servers' host
/// addresses to their service addresses, which lead to the same servers: `cons` on a server shows
/// only the client's address either way. On the client's host the socket's peer is the address
/// it connected to (a kube-proxy or sandbox DNAT is undone for the socket), so the switch is seen
/// there: connections to the service addresses, none left to the host addresses.
public struct SocketEvidence: Sendable, Hashable, CustomStringConvertible {
    /// Established connections to an endpoint of the new connection string.
    public var toTarget: [String]
    /// Established connections to an endpoint of the old one.
    public var toOld: [String]

    public var switched: Bool { !toTarget.isEmpty && toOld.isEmpty }

    public var description: String {
        var parts = [toTarget.isEmpty ? "no connection to the new addresses" : "connected to \(toTarget.joined(separator: ", "))"]
        if !toOld.isEmpty { parts.append("still connected to \(toOld.joined(separator: ", "))") }
        return parts.joined(separator: "; ") + " (ss on the client's host)"
    }

    /// The `host:port` peers of the established sockets `ss -Htn state established` lists.
    public static func peers(inSSOutput output: String) -> [ConnectionString.Server] {
        output.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(whereSeparator: \.isWhitespace)
            // Recv-Q Send-Q Local:Port Peer:Port [Process]
            guard fields.count >= 4 else { return nil }
            let peer = String(fields[3])
            guard let colon = peer.lastIndex(of: ":"), let port = Int(peer[peer.index(after: colon)...]) else { return nil }
            var host = String(peer[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            if host.hasPrefix("::ffff:") { host = String(host.dropFirst(7)) }
            return ConnectionString.Server(host: host, port: port)
        }
    }

    /// Judges the sockets against the old and the new connection string. `resolved` gives the
    /// addresses each host name of either string resolves to on the client's host (what the client
    /// connected to when its string names hosts); a literal address stands for itself. An endpoint
    /// of both strings (by address and port) counts for the new one: the sockets cannot tell them apart.
    public static func judge(ssOutput: String, from: String, to: String, resolved: [String: [String]] = [:]) throws -> SocketEvidence {
        func endpoints(_ connectionString: String) throws -> Set<String> {
            Set(
                try ConnectionString(parsing: connectionString).servers.flatMap { server in
                    (resolved[server.host] ?? [server.host]).map { "\($0.lowercased()):\(server.port)" }
                })
        }
        let target = try endpoints(to)
        let old = try endpoints(from).subtracting(target)
        let peers = peers(inSSOutput: ssOutput).map { "\($0.host.lowercased()):\($0.port)" }
        return SocketEvidence(toTarget: peers.filter(target.contains), toOld: peers.filter(old.contains))
    }

    /// Reads the sockets on `driver`'s host, and resolves there (`getent ahosts`) every host name
    /// either connection string gives, as the client on that host did.
    public static func read(through driver: any HostDriver, from: String, to: String) async throws -> SocketEvidence {
        let output = try await driver.check("ss -Htn state established", timeout: .seconds(30), operation: "list the established connections (ss)")
        let names = Set(try (ConnectionString(parsing: from).servers + ConnectionString(parsing: to).servers).map(\.host).filter { !isIPAddressLiteral($0) })
        var resolved: [String: [String]] = [:]
        for name in names.sorted() {
            // A name that does not resolve there reaches nothing from there: no socket can match it.
            let answer = try await driver.check(
                "getent ahosts \(shellQuoted(name)) || true", timeout: .seconds(30), operation: "resolve \(name) on the client's host (getent)")
            resolved[name] = addresses(inGetentOutput: answer)
        }
        return try judge(ssOutput: output, from: from, to: to, resolved: resolved)
    }

    /// The addresses `getent ahosts NAME` lists (first column), IPv4-mapped IPv6 ones as IPv4.
    public static func addresses(inGetentOutput output: String) -> [String] {
        var seen: [String] = []
        for line in output.split(whereSeparator: \.isNewline) {
            guard var address = line.split(whereSeparator: \.isWhitespace).first.map(String.init), isIPAddressLiteral(address) else { continue }
            if address.hasPrefix("::ffff:") { address = String(address.dropFirst(7)) }
            if !seen.contains(address) { seen.append(address) }
        }
        return seen
    }
}
