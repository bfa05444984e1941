import Foundation
import Hosts
import Logging
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two sandbox hosts (no ZooKeeper running), each with an OpenSSH server of its own on port 22
/// (and 2222 on the first), for driver tests. Everything lives in a network of this test process
/// (`mthd<pid>`) and under its root directory, and `downAll` removes it all, sshd included (it runs
/// inside the hosts' namespaces).
struct SSHSandbox {
    let manager: SandboxManager
    let sandbox: Sandbox
    /// Keys, sshd configurations and known_hosts files (under the network's root).
    let directory: String
    /// An event loop group inside the control namespace, from which the SSH driver connects.
    let group: MultiThreadedEventLoopGroup
    /// The host keys' public halves, by host name (`type base64`).
    let hostKeys: [String: String]

    var first: SandboxHost { sandbox.hosts[0] }
    var second: SandboxHost { sandbox.hosts[1] }

    /// The client key root's authorized_keys lists.
    var clientKey: String { "\(directory)/client_ed25519" }
    /// A valid key the servers do not know.
    var strangerKey: String { "\(directory)/stranger_ed25519" }
    /// A known_hosts file with both hosts' keys.
    var knownHosts: String { "\(directory)/known_hosts" }

    static let network = SandboxNetwork(id: "mthd\(getpid())")

    /// Runs `body` with a fresh sandbox and removes it afterwards, also when `body` throws.
    static func with<T>(_ body: (SSHSandbox) async throws -> T) async throws -> T {
        let manager = SandboxManager(network: network)
        try? await manager.downAll()
        let fixture: SSHSandbox
        do {
            fixture = try await make(manager)
        } catch {
            try? await manager.downAll()
            throw error
        }
        do {
            let result = try await body(fixture)
            await fixture.tearDown()
            return result
        } catch {
            await fixture.tearDown()
            throw error
        }
    }

    private func tearDown() async {
        try? await group.shutdownGracefully()
        try? await manager.downAll()
    }

    private static func make(_ manager: SandboxManager) async throws -> SSHSandbox {
        let sandbox = try await manager.up(.init(name: "h", servers: 2, start: false))
        let directory = "\(manager.network.root)/ssh"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // sshd's privilege separation directory.
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        for name in ["client_ed25519", "stranger_ed25519"] {
            try await LocalCommand.check(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", "\(directory)/\(name)"])
        }
        try FileManager.default.copyItem(atPath: "\(directory)/client_ed25519.pub", toPath: "\(directory)/authorized_keys")
        var hostKeys: [String: String] = [:]
        var knownHosts = ""
        for (index, host) in sandbox.hosts.enumerated() {
            let key = "\(directory)/host_\(host.name)_ed25519"
            try await LocalCommand.check(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", key])
            let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            hostKeys[host.name] = publicKey
            knownHosts += "\(host.address) \(publicKey)\n"
            let config = """
                ListenAddress \(host.address):22
                \(index == 0 ? "ListenAddress \(host.address):2222\nListenAddress \(host.address):2224" : "")
                HostKey \(key)
                PidFile \(directory)/sshd_\(host.name).pid
                AuthorizedKeysFile \(directory)/authorized_keys
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                PrintMotd no
                MaxStartups 50
                # Port 2224 logs in slowly: every command starts 1.5 s late.
                Match LocalPort 2224
                    ForceCommand sleep 1.5; eval "$SSH_ORIGINAL_COMMAND"

                """
            try config.write(toFile: "\(directory)/sshd_\(host.name).conf", atomically: true, encoding: .utf8)
            // Without -D sshd detaches once it listens; it lives in the host's namespace until `down`.
            try await LocalCommand.check(
                ["ip", "netns", "exec", host.namespace, "/usr/sbin/sshd", "-f", "\(directory)/sshd_\(host.name).conf", "-E", "\(directory)/sshd_\(host.name).log"])
        }
        try knownHosts.write(toFile: "\(directory)/known_hosts", atomically: true, encoding: .utf8)
        for host in sandbox.hosts { try await waitForPort(host.address, 22, namespace: manager.network.controlNamespace) }
        let group = try await NetworkNamespace.eventLoopGroup(joining: manager.network.controlNamespace)
        return SSHSandbox(manager: manager, sandbox: sandbox, directory: directory, group: group, hostKeys: hostKeys)
    }

    static func waitForPort(_ address: String, _ port: Int, namespace: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let probe = try await LocalCommand.run(["ip", "netns", "exec", namespace, "bash", "-c", "exec 3<>/dev/tcp/\(address)/\(port)"], timeout: .seconds(5))
            if probe.succeeded { return }
            guard ContinuousClock.now < deadline else {
                throw HostError(.timeout, host: address, operation: "wait for sshd", "port \(port) did not open within 10 s: \(probe.output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func sandboxDriver(_ host: SandboxHost) -> SandboxHostDriver {
        SandboxHostDriver(host: host, network: manager.network)
    }

    func sshConfiguration(_ host: SandboxHost, port: Int = 22, identity: String? = nil, knownHosts: String? = nil, sudo: Bool = false) -> SSHHostConfiguration {
        SSHHostConfiguration(
            host: host.name, address: host.address, port: port, user: "root", identityFile: identity ?? clientKey,
            knownHostsFile: knownHosts ?? self.knownHosts, sudo: sudo, connectTimeout: .seconds(5),
            // Far beyond how long the tests wait for a killed command to be gone, so only the
            // driver's own kill can explain that it is.
            backstopGrace: .seconds(60))
    }

    func sshDriver(_ host: SandboxHost, port: Int = 22, identity: String? = nil, knownHosts: String? = nil, sudo: Bool = false, logger: Logger? = nil) -> SSHHostDriver {
        let configuration = sshConfiguration(host, port: port, identity: identity, knownHosts: knownHosts, sudo: sudo)
        return logger.map { SSHHostDriver(configuration, group: group, logger: $0) } ?? SSHHostDriver(configuration, group: group)
    }

    /// Writes a known_hosts file of these lines and returns its path.
    func knownHostsFile(_ name: String, _ lines: [String]) throws -> String {
        let path = "\(directory)/\(name)"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Waits until no process of the machine has a command line starting with `command`. Nil
    /// when none is left; else, after `within`, what is left (for the failure message).
    func leftovers(_ command: String, on host: SandboxHost, within: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + within
        let count = #"for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c "^$0" || true"#
        while true {
            let left = try await sandboxDriver(host).run("sh -c \(shellQuoted(count)) \(shellQuoted(command))", timeout: .seconds(10)).output
            if left.hasPrefix("0") { return nil }
            guard ContinuousClock.now < deadline else {
                return try await sandboxDriver(host).run(
                    "ps -eo pid,ppid,pgid,sid,stat,etimes,cmd | grep -e \(shellQuoted(command)) -e timeout -e 'sshd: root' | grep -v grep", timeout: .seconds(10)
                ).output
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Whether `from` can open a TCP connection to `address:port` (a reset or refusal is false).
    func canConnect(from host: SandboxHost, to address: String, port: Int) async throws -> Bool {
        try await sandboxDriver(host).run("timeout 3 bash -c 'exec 3<>/dev/tcp/\(address)/\(port)'", timeout: .seconds(10)).succeeded
    }
}

/// The two drivers every driver test runs against, for the same host.
enum DriverKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sandbox
    case ssh

    var testDescription: String { rawValue }

    func driver(for host: SandboxHost, in fixture: SSHSandbox) -> any HostDriver {
        switch self {
        case .sandbox: fixture.sandboxDriver(host)
        case .ssh: fixture.sshDriver(host)
        }
    }
}

/// Collects log messages, to show what the driver logs.
final class LogCapture: @unchecked Sendable {
    // @unchecked: every access to `lines` holds `lock`.
    private let lock = NSLock()
    private var lines: [String] = []

    var text: String { lock.withLock { lines.joined(separator: "\n") } }

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    var logger: Logger {
        var logger = Logger(label: "mitosis.ssh.test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
        }
    }
}
