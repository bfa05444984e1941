import Foundation

// Plain values about hosts that plans and runbooks name as well as the host drivers: the
// encoding of ZooKeeper's and Kafka's files, a service's state, peer firewall rules and shell
// quoting. Here, not in Hosts, so that planning needs no host I/O.

/// Rules on one host that cut its ZooKeeper server off from some peers, both ways: nothing
/// leaves for the peers' quorum and election ports, nothing from the peers reaches this host's.
/// Connections are reset (not silently dropped), so both sides notice at once.
public struct PeerBlock: Sendable, Hashable, Codable {
    /// Carried by every rule as an iptables comment, so the rules can be found and removed.
    public var tag: String
    /// The peers' addresses.
    public var peers: [String]
    /// The peers' quorum and election ports (what this host connects to).
    public var peerPorts: [Int]
    /// This host's quorum and election ports (what the peers connect to).
    public var localPorts: [Int]

    public init(tag: String, peers: [String], peerPorts: [Int] = [2888, 3888], localPorts: [Int] = [2888, 3888]) {
        self.tag = tag
        self.peers = peers
        self.peerPorts = peerPorts
        self.localPorts = localPorts
    }

    /// The rule specifications (without the `-A`/`-C`/`-D chain` verb): chain and arguments.
    public var rules: [(chain: String, arguments: String)] {
        var rules: [(String, String)] = []
        let ports = { (ports: [Int]) in ports.map(String.init).joined(separator: ",") }
        for peer in peers {
            rules.append(("OUTPUT", "-p tcp -d \(peer) -m multiport --dports \(ports(peerPorts)) -m comment --comment \(tag) -j REJECT --reject-with tcp-reset"))
            rules.append(("INPUT", "-p tcp -s \(peer) -m multiport --dports \(ports(localPorts)) -m comment --comment \(tag) -j REJECT --reject-with tcp-reset"))
        }
        return rules
    }

    /// The iptables commands that add (`-A`) or delete (`-D`) the rules, for a runbook.
    public func iptablesCommands(adding: Bool) -> [String] {
        rules.map { "iptables \(adding ? "-A" : "-D") \($0.chain) \($0.arguments)" }
    }
}

/// A service's state as its status command reports it.
public enum ServiceState: String, Sendable, Hashable, Codable {
    case running
    case stopped
}

/// ISO-8859-1, the encoding Java's `Properties.load(InputStream)` (zoo.cfg, dynamic files,
/// `server.properties`) reads: bytes and characters U+0000–U+00FF are one to one.
public enum Latin1 {
    public static func decode(_ bytes: [UInt8]) -> String {
        var text = String.UnicodeScalarView()
        text.reserveCapacity(bytes.count)
        for byte in bytes { text.append(Unicode.Scalar(byte)) }
        return String(text)
    }

    public struct UnencodableCharacter: Error, Sendable, Hashable {
        public var scalar: UInt32
        /// The 1-based line it is on.
        public var line: Int
        public var scalarDescription: String { String(format: "U+%04X", scalar) }
    }

    public static func encode(_ text: String) throws(UnencodableCharacter) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.unicodeScalars.count)
        var line = 1
        for scalar in text.unicodeScalars {
            guard scalar.value <= 0xFF else { throw UnencodableCharacter(scalar: scalar.value, line: line) }
            if scalar == "\n" { line += 1 }
            bytes.append(UInt8(scalar.value))
        }
        return bytes
    }
}

/// Whether `text` is a Kubernetes object name that is also a DNS label (RFC 1123): lower-case
/// letters, digits and '-', starting with a letter and ending with a letter or digit, at most 63.
/// What a namespace, a Service and a StatefulSet must be named.
public func isKubernetesName(_ text: String) -> Bool {
    !text.isEmpty && text.count <= 63 && text.first!.isLetter && text.last.map { $0.isLetter || $0.isNumber } == true
        && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
}

/// The directory a path is in: `/etc/zk` for `/etc/zk/zoo.cfg`, `/` for `/zoo.cfg`, `.` for a
/// name without a directory.
public func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// Quotes a string for `sh`.
public func shellQuoted(_ text: String) -> String {
    if !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-=:,@%+".contains($0) }) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
