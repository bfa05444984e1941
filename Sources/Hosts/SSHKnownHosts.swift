import Crypto
import Foundation
import NIOSSH

/// A public key as SSH sends it: its algorithm and its wire encoding (the blob a
/// `known_hosts` line or an `.pub` file carries in base64).
public struct SSHPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// E.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`.
    public var type: String
    public var blob: [UInt8]

    public init(type: String, blob: [UInt8]) {
        self.type = type
        self.blob = blob
    }

    public init(_ key: NIOSSHPublicKey) {
        // "type base64", as OpenSSH writes it.
        let parts = String(openSSHPublicKey: key).split(separator: " ")
        self.type = parts.first.map(String.init) ?? ""
        self.blob = parts.count > 1 ? Array(Data(base64Encoded: String(parts[1])) ?? Data()) : []
    }

    /// Parses `type base64 [comment]` (an `.pub` file, a line of `ssh-keyscan`); nil when malformed.
    public init?(openSSH line: String) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, let data = Data(base64Encoded: String(fields[1])) else { return nil }
        self.init(type: String(fields[0]), blob: Array(data))
    }

    /// `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` shows it.
    public var fingerprint: String {
        let digest = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + digest.replacingOccurrences(of: "=", with: "")
    }

    /// `type base64`, a line for an `authorized_keys` or `known_hosts` file.
    public var openSSH: String { "\(type) \(Data(blob).base64EncodedString())" }

    public var description: String { "\(type) \(fingerprint)" }
}

/// The host keys a `known_hosts` file trusts (sshd(8), “SSH_KNOWN_HOSTS FILE FORMAT”): lines of
/// `[marker] patterns keytype base64-key [comment]`, where the patterns are host names or
/// addresses (`host`, `[host]:port` for ports other than 22, wildcards `*` and `?`, negations
/// `!pattern`) or one hashed name (`|1|salt|HMAC-SHA1(salt, name)`, as `ssh-keygen -H` writes).
/// Markers: `@revoked` keys are refused for every host; `@cert-authority` lines trust
/// certificates, which Mitosis does not use, so they trust nothing here.
public struct SSHKnownHosts: Sendable, Hashable {
    public enum Marker: String, Sendable, Hashable {
        case certAuthority = "@cert-authority"
        case revoked = "@revoked"
    }

    public enum Hosts: Sendable, Hashable {
        /// Comma-separated patterns.
        case patterns([String])
        /// A hashed name: HMAC-SHA1 keyed with `salt`.
        case hashed(salt: [UInt8], hash: [UInt8])
    }

    public struct Entry: Sendable, Hashable {
        public var marker: Marker?
        public var hosts: Hosts
        public var key: SSHPublicKey
        /// 1-based, for messages.
        public var line: Int
    }

    public var entries: [Entry]
    /// Lines that could not be read (their numbers), ignored as OpenSSH ignores them.
    public var malformedLines: [Int]

    public init(entries: [Entry] = [], malformedLines: [Int] = []) {
        self.entries = entries
        self.malformedLines = malformedLines
    }

    /// Reads a `known_hosts` file; a missing file trusts nothing.
    public init(contentsOfFile path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            self.init()
            return
        }
        do {
            self.init(parsing: try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw HostError(.invalidRequest, host: "localhost", operation: "read \(path)", "the known_hosts file cannot be read: \((error as NSError).localizedDescription)")
        }
    }

    public init(parsing text: String) {
        var entries: [Entry] = []
        var malformed: [Int] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var marker: Marker?
            if let first = fields.first, first.hasPrefix("@") {
                guard let known = Marker(rawValue: first) else {
                    malformed.append(index + 1)
                    continue
                }
                marker = known
                fields.removeFirst()
            }
            guard fields.count >= 3, let data = Data(base64Encoded: fields[2]), let hosts = Self.hosts(fields[0]) else {
                malformed.append(index + 1)
                continue
            }
            entries.append(Entry(marker: marker, hosts: hosts, key: SSHPublicKey(type: fields[1], blob: Array(data)), line: index + 1))
        }
        self.init(entries: entries, malformedLines: malformed)
    }

    static func hosts(_ field: String) -> Hosts? {
        guard field.hasPrefix("|") else { return .patterns(field.split(separator: ",").map { $0.lowercased() }) }
        let parts = field.split(separator: "|", omittingEmptySubsequences: false)
        // "", "1", salt, hash
        guard parts.count == 4, parts[1] == "1", let salt = Data(base64Encoded: String(parts[2])),
            let hash = Data(base64Encoded: String(parts[3]))
        else { return nil }
        return .hashed(salt: Array(salt), hash: Array(hash))
    }

    /// The name `known_hosts` files use for a host and port: `host` on port 22, `[host]:port` otherwise.
    public static func name(host: String, port: Int) -> String {
        port == 22 ? host.lowercased() : "[\(host.lowercased())]:\(port)"
    }

    /// A hashed `known_hosts` name for `name` with `salt` (what `ssh-keygen -H` writes).
    public static func hashedName(_ name: String, salt: [UInt8]) -> String {
        let code = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))
        return "|1|\(Data(salt).base64EncodedString())|\(Data(code).base64EncodedString())"
    }

    /// What the file says about the key a server offered.
    public enum Verdict: Sendable, Hashable {
        /// A line for this host holds this key.
        case trusted(line: Int)
        /// No line is for this host.
        case unknown
        /// Lines for this host hold other keys (of these types), none this one.
        case changed(knownTypes: [String], lines: [Int])
        /// The key is marked `@revoked`.
        case revoked(line: Int)
    }

    /// Checks the key `host` (an address or name, as connected to) offered on `port`.
    public func verdict(for key: SSHPublicKey, host: String, port: Int) -> Verdict {
        if let revoked = entries.first(where: { $0.marker == .revoked && $0.key == key }) {
            return .revoked(line: revoked.line)
        }
        let name = Self.name(host: host, port: port)
        let forHost = entries.filter { $0.marker == nil && Self.matches($0.hosts, name: name) }
        if let trusted = forHost.first(where: { $0.key == key }) { return .trusted(line: trusted.line) }
        if forHost.isEmpty { return .unknown }
        var types: [String] = []
        for entry in forHost where !types.contains(entry.key.type) { types.append(entry.key.type) }
        return .changed(knownTypes: types, lines: forHost.map(\.line))
    }

    /// Whether a line's hosts name `name`: a hashed name equal to it, or a pattern list where a
    /// positive pattern matches and no negated one does.
    static func matches(_ hosts: Hosts, name: String) -> Bool {
        switch hosts {
        case .hashed(let salt, let hash):
            let code = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))
            return Array(code) == hash
        case .patterns(let patterns):
            var matched = false
            for pattern in patterns {
                if pattern.hasPrefix("!") {
                    if glob(pattern.dropFirst(), matches: name[...]) { return false }
                } else if glob(pattern[...], matches: name[...]) {
                    matched = true
                }
            }
            return matched
        }
    }

    /// `*` (any run of characters) and `?` (one character), as OpenSSH's match_pattern.
    static func glob(_ pattern: Substring, matches text: Substring) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        switch first {
        case "*":
            let rest = pattern.dropFirst()
            var tail = text
            while true {
                if glob(rest, matches: tail) { return true }
                guard !tail.isEmpty else { return false }
                tail = tail.dropFirst()
            }
        case "?":
            return !text.isEmpty && glob(pattern.dropFirst(), matches: text.dropFirst())
        default:
            return text.first == first && glob(pattern.dropFirst(), matches: text.dropFirst())
        }
    }
}
