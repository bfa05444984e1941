import Foundation
import Logging
import NIOCore

/// How to reach one host over SSH.
public struct SSHHostConfiguration: Sendable, Hashable {
    /// The host's name, as the inventory gives it (used in messages).
    public var host: String
    /// What to connect to: a name or an address.
    public var address: String
    public var port: Int
    public var user: String
    /// An unencrypted private key file (Ed25519 or ECDSA P-256; see ``SSHIdentity``).
    public var identityFile: String
    /// The `known_hosts` file whose entry for `address` (or `[address]:port`) must hold the
    /// server's key. Unknown and changed keys are refused; nothing is ever added to it.
    public var knownHostsFile: String
    /// The name to look up in `known_hosts` instead of `address` (OpenSSH's HostKeyAlias).
    public var hostKeyAlias: String?
    /// Runs every command through `sudo -n` (sudo must not ask for a password).
    public var sudo: Bool
    /// For the TCP connection and then again for the SSH handshake.
    public var connectTimeout: Duration
    /// How long after a command's timeout `timeout` on the host kills it by itself: a backstop for
    /// when the driver cannot reach the host to kill it at once.
    public var backstopGrace: Duration

    public init(
        host: String, address: String? = nil, port: Int = 22, user: String = "root", identityFile: String, knownHostsFile: String,
        hostKeyAlias: String? = nil, sudo: Bool = false, connectTimeout: Duration = .seconds(10), backstopGrace: Duration = .seconds(2)
    ) {
        self.host = host
        self.address = address ?? host
        self.port = port
        self.user = user
        self.identityFile = identityFile
        self.knownHostsFile = knownHostsFile
        self.hostKeyAlias = hostKeyAlias
        self.sudo = sudo
        self.connectTimeout = connectTimeout
        self.backstopGrace = backstopGrace
    }
}

/// Drives a host over SSH (swift-nio-ssh): public-key login, strict host-key checking against a
/// `known_hosts` file, one connection reused by every command (opened when first needed, again
/// after it dropped), one session channel per command. A command that outlives its timeout (or
/// whose task is cancelled) is killed with every process of its session before `run` returns.
/// The user's login shell must be a POSIX shell; the host needs coreutils (`timeout`, `mktemp`,
/// `stat`), `cmp` and `pkill`, as every common Linux distribution has.
///
/// Commands are logged at debug level; pass what a command carries that must stay secret as
/// `redacting`, and it is replaced in logs and errors. File contents travel on standard input and
/// are never logged.
///
/// Works on any event loop group; for a sandbox, a group inside its control namespace
/// (``NetworkNamespace/eventLoopGroup(joining:threads:)``).
public struct SSHHostDriver: HostDriver {
    public let configuration: SSHHostConfiguration
    let connection: SSHConnection
    let logger: Logger

    public init(_ configuration: SSHHostConfiguration, group: any EventLoopGroup, logger: Logger = Logger(label: "mitosis.ssh")) {
        self.configuration = configuration
        self.logger = logger
        self.connection = SSHConnection(configuration: configuration, group: group, logger: logger)
    }

    public var host: String { configuration.host }

    /// Opens the connection now (commands open it when needed): checks the address, the host key
    /// and the login.
    public func connect() async throws {
        _ = try await connection.activeChannel()
    }

    /// Closes the connection. A later command opens a new one.
    public func close() async {
        await connection.close()
    }

    public func run(_ command: String, timeout: Duration) async throws -> CommandResult {
        try await run(command, timeout: timeout, redacting: [])
    }

    /// Runs a command whose text carries secrets (a password, a token): each of `secrets` is
    /// replaced by `‹redacted›` wherever the driver logs the command or names it in an error.
    public func run(_ command: String, timeout: Duration, redacting secrets: [String]) async throws -> CommandResult {
        let shown = Self.redact(command, secrets)
        logger.debug("run", metadata: ["host": "\(host)", "command": "\(shown)", "sudo": "\(configuration.sudo)"])
        let output = try await connection.execute(command, input: nil, timeout: timeout, operation: shown)
        return CommandResult(status: output.status, output: String(decoding: output.combined.readableBytesView, as: UTF8.self))
    }

    public func readFile(_ path: String) async throws -> String? {
        guard let bytes = try await readBytes(path) else { return nil }
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw HostError(.commandFailed, host: host, operation: "read \(path)", "it is not UTF-8 text")
        }
        return text
    }

    public func readBytes(_ path: String) async throws -> [UInt8]? {
        let operation = "read \(path)"
        try Self.validate(path, host: host, operation: operation)
        logger.debug("read file", metadata: ["host": "\(host)", "path": "\(path)"])
        let output = try await connection.execute("LC_ALL=C cat -- \(shellQuoted(path))", input: nil, timeout: Self.fileTimeout, operation: operation)
        let errors = String(decoding: output.standardError.readableBytesView, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard output.status == 0 else {
            // ENOENT: the file or one of its directories is missing. Anything else (permissions,
            // a directory, sudo wanting a password) is an error.
            // (sudo may have warned first, e.g. that it cannot resolve the host's name.)
            let missing = errors.split(separator: "\n").contains { $0.hasPrefix("cat: ") && $0.hasSuffix(": No such file or directory") }
            if missing { return nil }
            throw HostError(
                .commandFailed, host: host, operation: operation,
                "cannot read it (exit \(output.status)): \(errors.isEmpty ? "no message" : String(errors.suffix(2000)))\(Self.sudoHint(errors, sudo: configuration.sudo))")
        }
        return Array(output.standardOutput.readableBytesView)
    }

    public func writeFile(_ path: String, contents: String) async throws -> HostChange {
        try await writeFile(path, contents: contents, mode: nil)
    }

    public func writeBytes(_ path: String, contents: [UInt8]) async throws -> HostChange {
        try await writeFile(path, bytes: contents, mode: nil)
    }

    /// Replaces the file atomically: the contents go on standard input into a temporary file in
    /// the same directory, which is compared with the file and renamed over it when they differ.
    /// Missing directories are created. A replaced file keeps its mode and owner; a new one gets
    /// `mode` (default 0644; 0600 for secrets such as JAAS files).
    public func writeFile(_ path: String, contents: String, mode: Int?) async throws -> HostChange {
        try await writeFile(path, bytes: Array(contents.utf8), mode: mode)
    }

    /// ``writeFile(_:contents:mode:)`` with exact bytes.
    public func writeFile(_ path: String, bytes contents: [UInt8], mode: Int?) async throws -> HostChange {
        let operation = "write \(path)"
        try Self.validate(path, host: host, operation: operation)
        logger.debug("write file", metadata: ["host": "\(host)", "path": "\(path)", "bytes": "\(contents.count)"])
        let script = Self.writeScript(path: path, mode: mode ?? 0o644)
        let output = try await connection.execute(script, input: ByteBuffer(bytes: contents), timeout: Self.fileTimeout, operation: operation)
        let text = String(decoding: output.combined.readableBytesView, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard output.status == 0 else {
            throw HostError(
                .commandFailed, host: host, operation: operation,
                "exited with status \(output.status): \(String(text.suffix(2000)))\(Self.sudoHint(text, sudo: configuration.sudo))")
        }
        if text.hasSuffix("unchanged") { return HostChange(host: host, changed: false, summary: "\(path) already up to date") }
        return HostChange(host: host, changed: true, summary: "wrote \(path)")
    }

    // MARK: Scripts

    /// How long reading or writing one file may take.
    static let fileTimeout: Duration = .seconds(60)

    /// The script `writeFile` runs (contents on standard input); prints `changed` or `unchanged`.
    static func writeScript(path: String, mode: Int) -> String {
        let file = shellQuoted(path)
        let directory = shellQuoted((path as NSString).deletingLastPathComponent)
        let name = (path as NSString).lastPathComponent
        let template = shellQuoted(((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(".\(name).mitosis.XXXXXX"))
        return """
            set -e
            mkdir -p -- \(directory)
            umask 077
            tmp=$(mktemp \(template))
            trap 'rm -f -- "$tmp"' EXIT
            cat > "$tmp"
            if [ -f \(file) ] && cmp -s -- "$tmp" \(file); then echo unchanged; exit 0; fi
            if [ -e \(file) ]; then
                chmod "$(stat -c %a -- \(file))" "$tmp"
                chown "$(stat -c %u:%g -- \(file))" "$tmp" 2>/dev/null || true
            else
                chmod \(String(mode, radix: 8)) "$tmp"
            fi
            mv -f -- "$tmp" \(file)
            trap - EXIT
            echo changed
            """
    }

    static func validate(_ path: String, host: String, operation: String) throws {
        guard path.hasPrefix("/"), !path.hasSuffix("/"), !path.contains("\0") else {
            throw HostError(.invalidRequest, host: host, operation: operation, "the path must be an absolute path to a file")
        }
    }

    static func redact(_ text: String, _ secrets: [String]) -> String {
        secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: "‹redacted›") }
    }

    static func sudoHint(_ message: String, sudo: Bool) -> String {
        guard sudo, message.contains("sudo:") else { return "" }
        return "; the driver runs `sudo -n`, which needs a NOPASSWD sudoers rule for this user"
    }
}

/// The command lines the SSH driver sends.
enum SSHCommandLine {
    /// What the exec request carries for `command`. The login shell first reports its process id
    /// on standard error (sshd made it a session leader, so that id names the command's session),
    /// then becomes `timeout`, which runs the command with `sh` and kills it shortly after the
    /// driver gave up on it (a backstop for when the driver cannot reach the host to kill it),
    /// through `sudo -n` when asked. The login shell must be a POSIX shell.
    static func exec(_ command: String, sudo: Bool, timeout: Duration, backstopGrace: Duration = .seconds(2)) -> String {
        let backstop = Int(timeout.components.seconds) + max(Int(backstopGrace.components.seconds), 1)
        let line = "timeout -k 5 \(backstop) sh -c \(shellQuoted(command))"
        return "printf '\(sessionMarker)%s\\n' $$ >&2; exec \(sudo ? "sudo -n " : "")\(line)"
    }

    /// The start of the line on standard error that carries the session id.
    static let sessionMarker = "mitosis-ssh-session "

    /// Kills every process of the command's session (what `timeout` and `sh` started too): stops
    /// them all first, so none can start another between the kill's look at the process table
    /// and its signals, then kills twice. Without pkill, kills the session leader's group.
    static func kill(session: Int, sudo: Bool) -> String {
        let line =
            "if command -v pkill >/dev/null; then pkill -STOP -s \(session); pkill -KILL -s \(session); pkill -KILL -s \(session); true; "
            + "else kill -KILL -- -\(session); fi"
        return sudo ? "sudo -n sh -c \(shellQuoted(line))" : line
    }
}
