/// A ZooKeeper connection string: `host:port[,host:port...][/chroot]`.
///
/// This is the format every ZooKeeper client and Kafka's `zookeeper.connect` use. A host without a
/// port gets the default client port 2181. IPv6 literals are written in brackets: `[::1]:2181`.
public struct ConnectionString: Sendable, Hashable, CustomStringConvertible {
    public struct Server: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    public static let defaultPort = 2181

    public var servers: [Server]
    /// The chroot path (e.g. `/kafka`), or nil when the client works at the root.
    public var chroot: String?

    public init(servers: [Server], chroot: String? = nil) {
        self.servers = servers
        self.chroot = chroot
    }

    /// Parses a connection string, with an error that says what is wrong and how to write it.
    public init(parsing text: String) throws(ConnectionStringError) {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else {
            throw ConnectionStringError(input: text, reason: "it is empty; write host:port[,host:port...][/chroot], e.g. 10.0.0.1:2181,10.0.0.2:2181/kafka")
        }
        var hostPart = Substring(trimmed)
        var chroot: String? = nil
        // The chroot starts at the first "/" that is not inside an IPv6 bracket.
        var depth = 0
        var slashIndex: Substring.Index? = nil
        for index in hostPart.indices {
            switch hostPart[index] {
            case "[": depth += 1
            case "]": depth -= 1
            case "/" where depth == 0:
                slashIndex = index
            default: break
            }
            if slashIndex != nil { break }
        }
        if let slashIndex {
            let path = String(hostPart[slashIndex...])
            hostPart = hostPart[..<slashIndex]
            if path != "/" {
                if let problem = ZooKeeperPath.problem(with: path) {
                    throw ConnectionStringError(input: text, reason: "the chroot \(path) is not a valid path: \(problem)")
                }
                chroot = path
            }
        }
        var servers: [Server] = []
        for rawEntry in hostPart.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = rawEntry.trimmingWhitespace()
            if entry.isEmpty {
                throw ConnectionStringError(input: text, reason: "it has an empty server entry (two commas in a row, or a leading or trailing comma)")
            }
            servers.append(try Self.parseServer(entry, input: text))
        }
        self.servers = servers
        self.chroot = chroot
    }

    private static func parseServer(_ entry: String, input: String) throws(ConnectionStringError) -> Server {
        var host: String
        var portText: String?
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]") else {
                throw ConnectionStringError(input: input, reason: "the IPv6 address in \(entry) has no closing ]")
            }
            host = String(entry[entry.index(after: entry.startIndex)..<close])
            let rest = entry[entry.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else if rest.hasPrefix(":") {
                portText = String(rest.dropFirst())
            } else {
                throw ConnectionStringError(input: input, reason: "unexpected text after ] in \(entry)")
            }
        } else {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count > 2 {
                throw ConnectionStringError(input: input, reason: "\(entry) has more than one ':'; write IPv6 addresses in brackets, e.g. [::1]:2181")
            }
            host = String(parts[0])
            portText = parts.count == 2 ? String(parts[1]) : nil
        }
        if host.isEmpty {
            throw ConnectionStringError(input: input, reason: "\(entry) has no host name")
        }
        if host.contains(where: { $0 == " " || $0 == "\t" || $0 == "/" }) {
            throw ConnectionStringError(input: input, reason: "the host \(host) contains a space or '/'")
        }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw ConnectionStringError(input: input, reason: "the port '\(portText)' in \(entry) is not a number from 1 to 65535")
            }
            port = value
        }
        return Server(host: host, port: port)
    }

    public var description: String {
        servers.map(\.description).joined(separator: ",") + (chroot ?? "")
    }

    /// Prefixes a client path with the chroot.
    public func serverPath(_ clientPath: String) -> String {
        guard let chroot else { return clientPath }
        return clientPath == "/" ? chroot : chroot + clientPath
    }

    /// Strips the chroot from a server path; paths outside the chroot are returned unchanged.
    public func clientPath(_ serverPath: String) -> String {
        guard let chroot else { return serverPath }
        if serverPath == chroot { return "/" }
        if serverPath.hasPrefix(chroot + "/") { return String(serverPath.dropFirst(chroot.count)) }
        return serverPath
    }
}

public struct ConnectionStringError: Error, Sendable, Hashable, CustomStringConvertible {
    public var input: String
    public var reason: String

    public var description: String { "invalid ZooKeeper connection string '\(input)': \(reason)" }
}

package extension StringProtocol {
    /// The text without leading and trailing white space.
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}

/// Rules for znode paths, as the ZooKeeper server checks them (`PathUtils.validatePath`).
public enum ZooKeeperPath {
    /// Returns why `path` is not a valid znode path, or nil when it is.
    public static func problem(with path: String, sequential: Bool = false) -> String? {
        guard path.hasPrefix("/") else { return "a path must start with /" }
        if path == "/" { return sequential ? "the root cannot be created" : nil }
        // A sequential create may end with "/": the server appends the counter.
        let checked = sequential && path.hasSuffix("/") ? String(path.dropLast()) + "x" : path
        if checked.hasSuffix("/") { return "a path must not end with /" }
        // One pass over the bytes, without an array of segments: this runs for every request.
        var segmentLength = 0
        var segmentIsDots = true
        func segmentProblem() -> String? {
            if segmentLength == 0 { return "a path must not contain an empty segment (//)" }
            if segmentIsDots && segmentLength <= 2 { return "relative segments (. or ..) are not allowed" }
            return nil
        }
        for byte in checked.utf8.dropFirst() {
            if byte == UInt8(ascii: "/") {
                if let problem = segmentProblem() { return problem }
                segmentLength = 0
                segmentIsDots = true
            } else {
                segmentLength += 1
                if byte != UInt8(ascii: ".") { segmentIsDots = false }
            }
        }
        if let problem = segmentProblem() { return problem }
        for scalar in checked.unicodeScalars {
            switch scalar.value {
            case 0: return "a path must not contain the null character"
            case 0x01...0x1F, 0x7F...0x9F:
                return "a path must not contain control characters"
            case 0xD800...0xF8FF, 0xFFF0...0xFFFF:
                return "a path must not contain the character U+\(String(scalar.value, radix: 16, uppercase: true))"
            default: continue
            }
        }
        return nil
    }

    /// The parent of a path ("/" for top-level nodes and for the root).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// Joins a parent path and a child name.
    public static func join(_ parent: String, _ child: String) -> String {
        parent == "/" ? "/" + child : parent + "/" + child
    }
}
