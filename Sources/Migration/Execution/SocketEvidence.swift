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

    public static func judge(ssOutput: String, from: String, to: String) throws -> SocketEvidence {
        let target = try ConnectionString(parsing: to).servers
        let old = try ConnectionString(parsing: from).servers.filter { !target.contains($0) }
        let peers = peers(inSSOutput: ssOutput)
        func names(_ endpoints: [ConnectionString.Server]) -> [String] {
            peers.filter { peer in endpoints.contains { $0.host.lowercased() == peer.host.lowercased() && $0.port == peer.port } }
                .map { "\($0.host):\($0.port)" }
        }
        return SocketEvidence(toTarget: names(target), toOld: names(old))
    }

    /// Reads the sockets on `driver`'s host.
    public static func read(through driver: any HostDriver, from: String, to: String) async throws -> SocketEvidence {
        let output = try await driver.check("ss -Htn state established", timeout: .seconds(30), operation: "list the established connections (ss)")
        return try judge(ssOutput: output, from: from, to: to)
    }
}
