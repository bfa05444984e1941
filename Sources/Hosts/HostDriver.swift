public import Ensemble
import Foundation
import ZooKeeperProtocol

/// What running a command on a host gave.
public struct CommandResult: Sendable, Hashable {
    /// The exit status (128 + signal for a command killed by a signal).
    public var status: Int32
    /// Standard output and standard error, interleaved.
    public var output: String

    public init(status: Int32, output: String) {
        self.status = status
        self.output = output
    }

    public var succeeded: Bool { status == 0 }
}

/// What an operation on a host did. Operations are idempotent: doing one twice reports
/// `changed == false` the second time.
public struct HostChange: Sendable, Hashable, Codable, CustomStringConvertible {
    public var host: String
    public var changed: Bool
    /// What was done, or why nothing needed doing.
    public var summary: String

    public init(host: String, changed: Bool, summary: String) {
        self.host = host
        self.changed = changed
        self.summary = summary
    }

    public var description: String { "\(host): \(summary)\(changed ? "" : " (no change)")" }
}

/// An operation on a host that failed, with what to do about it.
public struct HostError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Kind: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A command exited with a non-zero status where success was required.
        public static let commandFailed = Kind(rawValue: "command-failed")
        /// A command did not finish in time (it was killed).
        public static let timeout = Kind(rawValue: "timeout")
        /// The host could not be reached (SSH connection, missing namespace).
        public static let unreachable = Kind(rawValue: "unreachable")
        /// The host refused us: authentication, an unknown or changed host key.
        public static let refused = Kind(rawValue: "refused")
        /// Not allowed on this machine (e.g. not root for the sandbox).
        public static let permissionDenied = Kind(rawValue: "permission-denied")
        /// The request itself is wrong (a bad path, an unknown sandbox or host).
        public static let invalidRequest = Kind(rawValue: "invalid-request")
    }

    public var kind: Kind
    public var host: String
    /// What was being done, e.g. `write /etc/zookeeper/conf/zoo.cfg`.
    public var operation: String
    public var message: String

    public init(_ kind: Kind, host: String, operation: String, _ message: String) {
        self.kind = kind
        self.host = host
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(host): \(operation): \(message)" }
}

/// How a service on a host is controlled: shell commands, as an inventory gives them
/// (`systemctl restart zookeeper`), or as the sandbox writes them.
public struct ServiceSpec: Sendable, Hashable, Codable {
    /// A name for messages, e.g. `zookeeper` or `kafka`.
    public var name: String
    public var start: String
    public var stop: String
    /// Restarts in one command; when nil, a restart is a stop then a start.
    public var restart: String?
    /// Exits 0 while the service runs.
    public var status: String
    /// How long a start or stop may take.
    public var timeout: Duration

    public init(name: String, start: String, stop: String, restart: String? = nil, status: String, timeout: Duration = .seconds(60)) {
        self.name = name
        self.start = start
        self.stop = stop
        self.restart = restart
        self.status = status
        self.timeout = timeout
    }

    private enum CodingKeys: String, CodingKey { case name, start, stop, restart, status, timeoutSeconds }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        start = try container.decode(String.self, forKey: .start)
        stop = try container.decode(String.self, forKey: .stop)
        restart = try container.decodeIfPresent(String.self, forKey: .restart)
        status = try container.decode(String.self, forKey: .status)
        timeout = .seconds(try container.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 60)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(start, forKey: .start)
        try container.encode(stop, forKey: .stop)
        try container.encodeIfPresent(restart, forKey: .restart)
        try container.encode(status, forKey: .status)
        try container.encode(timeout.seconds, forKey: .timeoutSeconds)
    }
}

/// `ls -A` of a directory as a shell command, and its output read back: what every driver that
/// runs commands lists a directory with.
public enum DirectoryListing {
    /// Prints `exists` and the names in the directory, or `missing`.
    public static func command(_ path: String) -> String {
        let quoted = shellQuoted(path)
        return "if [ -d \(quoted) ]; then echo exists; ls -1A -- \(quoted); else echo missing; fi"
    }

    /// The names ``command(_:)`` printed; nil for a directory that does not exist.
    public static func names(in output: String) -> [String]? {
        let lines = output.split(separator: "\n").map(String.init)
        guard lines.first == "exists" else { return nil }
        return Array(lines.dropFirst())
    }
}

/// Everything a migration does to a host. Drivers implement running a command and reading and
/// writing files; the rest has default implementations in terms of those (a driver overrides
/// what it can do better). Every operation is idempotent and reports what it changed.
public protocol HostDriver: Sendable {
    /// The host's name, as the inventory gives it.
    var host: String { get }

    /// Runs a shell command (`sh -c`), killed after `timeout`. A non-zero exit is a result, not
    /// an error; only failing to run it (or the timeout) throws.
    func run(_ command: String, timeout: Duration) async throws -> CommandResult

    /// The file's contents, or nil when it does not exist.
    func readFile(_ path: String) async throws -> String?

    /// Replaces the file atomically (a temporary file in the same directory, then a rename),
    /// creating missing directories. Unchanged when the contents are already these.
    func writeFile(_ path: String, contents: String) async throws -> HostChange

    /// The file's exact bytes, or nil when it does not exist. ZooKeeper's files are read through
    /// this (see ``readLatin1(_:)``): Java reads them as ISO-8859-1, so any byte is valid.
    func readBytes(_ path: String) async throws -> [UInt8]?

    /// Replaces the file atomically with exactly these bytes, as ``writeFile(_:contents:)`` does.
    func writeBytes(_ path: String, contents: [UInt8]) async throws -> HostChange

    func serviceState(_ service: ServiceSpec) async throws -> ServiceState
    func startService(_ service: ServiceSpec) async throws -> HostChange
    func stopService(_ service: ServiceSpec) async throws -> HostChange
    /// Always restarts (that is what a restart is for), so it always reports a change.
    func restartService(_ service: ServiceSpec) async throws -> HostChange

    func blockPeers(_ block: PeerBlock) async throws -> HostChange
    /// Removes every rule carrying `tag`.
    func unblockPeers(tag: String) async throws -> HostChange
    /// The tags of the peer blocks in place.
    func peerBlockTags() async throws -> [String]

    /// The names in a directory (`ls -A`), nil when it does not exist.
    func listDirectory(_ path: String) async throws -> [String]?
    /// Of the directories above `paths`, those that do not exist (each path's missing parent, its
    /// missing parent, and so on up to the first that exists), in no order.
    func missingDirectories(above paths: [String]) async throws -> [String]
    /// Removes a file; no change when it does not exist.
    func removeFile(_ path: String) async throws -> HostChange
    /// Set when the driver starts and stops the server itself (a pod's StatefulSet) instead of
    /// through the inventory's service commands, saying how (for messages): the server then needs
    /// no start, stop or status command, and any given is ignored.
    var ownServiceControl: String? { get }

    /// Adds a stable address (`10.0.0.5/24`'s address and prefix length) to a device and announces it.
    func attachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange
    func detachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange
}

extension HostDriver {
    /// A fallback for drivers that hold only text (test doubles): bytes that are not UTF-8 do not
    /// survive it. The local, sandbox and SSH drivers implement both byte-exactly.
    public func readBytes(_ path: String) async throws -> [UInt8]? {
        try await readFile(path).map { Array($0.utf8) }
    }

    /// See ``readBytes(_:)``: text-only drivers store the bytes decoded as UTF-8.
    public func writeBytes(_ path: String, contents: [UInt8]) async throws -> HostChange {
        try await writeFile(path, contents: String(decoding: contents, as: UTF8.self))
    }

    /// A file as Java's `Properties` and ZooKeeper read it: ISO-8859-1, every byte one character
    /// (U+0000–U+00FF), line endings as they are. ``writeLatin1(_:contents:)`` gives back the
    /// same bytes, so a file with a Latin-1 byte or CRLF line endings round-trips exactly.
    public func readLatin1(_ path: String) async throws -> String? {
        try await readBytes(path).map(Latin1.decode)
    }

    /// Writes text as ISO-8859-1 bytes. A character beyond U+00FF cannot be written and is an
    /// error naming its line (nothing is written).
    public func writeLatin1(_ path: String, contents: String) async throws -> HostChange {
        do {
            return try await writeBytes(path, contents: try Latin1.encode(contents))
        } catch let error as Latin1.UnencodableCharacter {
            throw HostError(
                .invalidRequest, host: host, operation: "write \(path)",
                "line \(error.line) holds \(error.scalarDescription), which ISO-8859-1 (how ZooKeeper reads the file) cannot hold; nothing was written: write it as a \\uXXXX escape")
        }
    }

    public func listDirectory(_ path: String) async throws -> [String]? {
        DirectoryListing.names(in: try await check(DirectoryListing.command(path), timeout: .seconds(30), operation: "list \(path)"))
    }

    public func missingDirectories(above paths: [String]) async throws -> [String] {
        guard !paths.isEmpty else { return [] }
        let script = paths.map { path in
            "d=$(dirname -- \(shellQuoted(path))); while [ ! -d \"$d\" ]; do printf '%s\\n' \"$d\"; d=$(dirname -- \"$d\"); done"
        }.joined(separator: "; ")
        let output = try await check(script, timeout: .seconds(60), operation: "list the directories a write would create")
        return Array(Set(output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }))
    }

    public func removeFile(_ path: String) async throws -> HostChange {
        let outcome = try await check("if [ -e \(shellQuoted(path)) ]; then rm -f -- \(shellQuoted(path)) && echo removed; fi", timeout: .seconds(60), operation: "remove \(path)")
        let removed = outcome.trimmingCharacters(in: .whitespacesAndNewlines) == "removed"
        return HostChange(host: host, changed: removed, summary: removed ? "removed \(path)" : "\(path) is already gone")
    }

    public var ownServiceControl: String? { nil }

    /// The service of a driver that starts and stops the server itself (``ownServiceControl``):
    /// its spec names how, for messages; nil for every other driver.
    public func ownService(timeout: Duration = .seconds(600)) -> ServiceSpec? {
        ownServiceControl.map { ServiceSpec(name: "zookeeper", start: $0, stop: $0, status: $0, timeout: timeout) }
    }

    /// Runs a command that must succeed; its output on success.
    @discardableResult
    public func check(_ command: String, timeout: Duration = .seconds(60), operation: String? = nil) async throws -> String {
        let result = try await run(command, timeout: timeout)
        guard result.succeeded else {
            let output = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            throw HostError(
                .commandFailed, host: host, operation: operation ?? command,
                "exited with status \(result.status)\(output.isEmpty ? "" : ": \(output.suffix(2000))")")
        }
        return result.output
    }

    public func serviceState(_ service: ServiceSpec) async throws -> ServiceState {
        try await run(service.status, timeout: .seconds(30)).succeeded ? .running : .stopped
    }

    public func startService(_ service: ServiceSpec) async throws -> HostChange {
        if try await serviceState(service) == .running {
            return HostChange(host: host, changed: false, summary: "\(service.name) already running")
        }
        try await check(service.start, timeout: service.timeout, operation: "start \(service.name)")
        try await waitForState(service, .running)
        return HostChange(host: host, changed: true, summary: "started \(service.name)")
    }

    public func stopService(_ service: ServiceSpec) async throws -> HostChange {
        if try await serviceState(service) == .stopped {
            return HostChange(host: host, changed: false, summary: "\(service.name) already stopped")
        }
        try await check(service.stop, timeout: service.timeout, operation: "stop \(service.name)")
        try await waitForState(service, .stopped)
        return HostChange(host: host, changed: true, summary: "stopped \(service.name)")
    }

    public func restartService(_ service: ServiceSpec) async throws -> HostChange {
        if let restart = service.restart {
            try await check(restart, timeout: service.timeout, operation: "restart \(service.name)")
        } else {
            _ = try await stopService(service)
            try await check(service.start, timeout: service.timeout, operation: "start \(service.name)")
        }
        try await waitForState(service, .running)
        return HostChange(host: host, changed: true, summary: "restarted \(service.name)")
    }

    /// Polls the status command until the service is in `state`, up to the service's timeout.
    func waitForState(_ service: ServiceSpec, _ state: ServiceState) async throws {
        let deadline = ContinuousClock.now + service.timeout
        while try await serviceState(service) != state {
            guard ContinuousClock.now < deadline else {
                throw HostError(
                    .timeout, host: host, operation: "\(state == .running ? "start" : "stop") \(service.name)",
                    "its status command did not report it \(state.rawValue) within \(service.timeout); check the service's log on \(host)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    public func blockPeers(_ block: PeerBlock) async throws -> HostChange {
        var added = 0
        for rule in block.rules {
            let exists = try await run("iptables -w -C \(rule.chain) \(rule.arguments)", timeout: .seconds(30)).succeeded
            if exists { continue }
            try await check("iptables -w -A \(rule.chain) \(rule.arguments)", timeout: .seconds(30), operation: "add firewall rule \(block.tag)")
            added += 1
        }
        let peers = block.peers.joined(separator: ", ")
        if added == 0 { return HostChange(host: host, changed: false, summary: "peer traffic to and from \(peers) already rejected (\(block.tag))") }
        return HostChange(host: host, changed: true, summary: "rejecting peer traffic to and from \(peers) (\(added) rules, \(block.tag))")
    }

    public func unblockPeers(tag: String) async throws -> HostChange {
        var removed = 0
        for chain in ["INPUT", "OUTPUT"] {
            let listing = try await check("iptables -w -S \(chain)", timeout: .seconds(30), operation: "list firewall rules")
            for line in listing.split(separator: "\n") where line.hasPrefix("-A ") && Self.comment(of: line) == tag {
                try await check("iptables -w -D" + line.dropFirst(2), timeout: .seconds(30), operation: "remove firewall rule \(tag)")
                removed += 1
            }
        }
        if removed == 0 { return HostChange(host: host, changed: false, summary: "no firewall rules tagged \(tag)") }
        return HostChange(host: host, changed: true, summary: "removed \(removed) firewall rules tagged \(tag)")
    }

    public func peerBlockTags() async throws -> [String] {
        var tags: [String] = []
        for chain in ["INPUT", "OUTPUT"] {
            let listing = try await check("iptables -w -S \(chain)", timeout: .seconds(30), operation: "list firewall rules")
            for line in listing.split(separator: "\n") where line.hasPrefix("-A ") {
                if let tag = Self.comment(of: line), !tags.contains(tag) { tags.append(tag) }
            }
        }
        return tags
    }

    /// The `--comment` of an `iptables -S` line.
    static func comment(of line: Substring) -> String? {
        guard let range = line.range(of: "--comment ") else { return nil }
        let rest = line[range.upperBound...]
        if rest.hasPrefix("\"") {
            return rest.dropFirst().split(separator: "\"", maxSplits: 1).first.map(String.init)
        }
        return rest.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public func attachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        if try await hasAddress(address, device: device) {
            return HostChange(host: host, changed: false, summary: "\(address) already on \(device)")
        }
        try await check("ip addr add \(address)/\(prefixLength) dev \(device)", timeout: .seconds(30), operation: "attach \(address)")
        // Tell the neighbours at once that the address moved here (gratuitous ARP), where arping exists.
        _ = try await run("command -v arping >/dev/null && arping -U -c 2 -w 2 -I \(device) -s \(address) \(address)", timeout: .seconds(10))
        return HostChange(host: host, changed: true, summary: "attached \(address)/\(prefixLength) to \(device)")
    }

    public func detachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        guard try await hasAddress(address, device: device) else {
            return HostChange(host: host, changed: false, summary: "\(address) not on \(device)")
        }
        try await check("ip addr del \(address)/\(prefixLength) dev \(device)", timeout: .seconds(30), operation: "detach \(address)")
        return HostChange(host: host, changed: true, summary: "detached \(address) from \(device)")
    }

    /// Whether the address is on the device (`ip -o addr show`).
    public func hasAddress(_ address: String, device: String) async throws -> Bool {
        let listing = try await check("ip -o addr show dev \(device)", timeout: .seconds(30), operation: "list addresses of \(device)")
        return listing.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains { $0.hasPrefix(address + "/") }
    }
}
