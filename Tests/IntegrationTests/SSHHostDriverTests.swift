import Foundation
import Hosts
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What only the SSH driver does: trust (host keys, client keys), its one connection, sudo,
/// file modes and keeping secrets out of logs and errors. Against OpenSSH's sshd in a sandbox.
extension RealServers {
    @Suite(.enabled(if: geteuid() == 0, "needs root for network namespaces"))
    struct HostsSSHDriverTests {
        /// `ssh-keygen -lf` of a host's public key: OpenSSH's own fingerprint.
        static func openSSHFingerprint(_ fixture: SSHSandbox, _ host: SandboxHost) async throws -> String {
            let listing = try await LocalCommand.check(["ssh-keygen", "-lf", "\(fixture.directory)/host_\(host.name)_ed25519.pub"])
            return String(listing.split(separator: " ")[1])
        }

        @Test func unknownHostKeyIsRefusedWithItsFingerprint() async throws {
            try await SSHSandbox.with { fixture async throws in
                let fingerprint = try await Self.openSSHFingerprint(fixture, fixture.first)
                for knownHosts in [try fixture.knownHostsFile("empty", ["# nothing"]), "\(fixture.directory)/absent"] {
                    let driver = fixture.sshDriver(fixture.first, knownHosts: knownHosts)
                    let error = await #expect(throws: HostError.self) { try await driver.run("true", timeout: .seconds(10)) }
                    #expect(error?.kind == .refused)
                    #expect(error?.message.contains("ssh-ed25519 \(fingerprint) is unknown") == true, "\(String(describing: error))")
                    #expect(error?.message.contains("ssh-keyscan -t ssh-ed25519 \(fixture.first.address) >> \(knownHosts)") == true)
                    #expect(error?.host == fixture.first.name)
                }
            }
        }

        @Test func changedOrRevokedHostKeyIsRefused() async throws {
            try await SSHSandbox.with { fixture async throws in
                let (first, second) = (fixture.first, fixture.second)
                let fingerprint = try await Self.openSSHFingerprint(fixture, first)
                // The second host's key under the first host's address.
                let changed = try fixture.knownHostsFile("changed", ["\(first.address) \(fixture.hostKeys[second.name]!)"])
                let error = await #expect(throws: HostError.self) { try await fixture.sshDriver(first, knownHosts: changed).connect() }
                #expect(error?.kind == .refused)
                #expect(error?.message.contains("CHANGED") == true)
                #expect(error?.message.contains(fingerprint) == true)
                #expect(error?.message.contains("line 1") == true)
                let revoked = try fixture.knownHostsFile("revoked", ["\(first.address) \(fixture.hostKeys[first.name]!)", "@revoked * \(fixture.hostKeys[first.name]!)"])
                let refusal = await #expect(throws: HostError.self) { try await fixture.sshDriver(first, knownHosts: revoked).connect() }
                #expect(refusal?.kind == .refused)
                #expect(refusal?.message.contains("@revoked") == true)
            }
        }

        @Test func hashedAndPortEntriesAreTrusted() async throws {
            try await SSHSandbox.with { fixture async throws in
                let first = fixture.first
                let key = fixture.hostKeys[first.name]!
                // ssh-keygen -H hashes the names in place.
                let hashed = try fixture.knownHostsFile("hashed", ["\(first.address) \(key)", "[\(first.address)]:2222 \(key)"])
                try await LocalCommand.check(["ssh-keygen", "-H", "-f", hashed])
                #expect(try String(contentsOfFile: hashed, encoding: .utf8).contains(first.address) == false)
                for port in [22, 2222] {
                    let driver = fixture.sshDriver(first, port: port, knownHosts: hashed)
                    #expect(try await driver.check("echo \(port)") == "\(port)\n")
                    await driver.close()
                }
                // An entry for port 22 does not vouch for port 2222.
                let plain = try fixture.knownHostsFile("plain", ["\(first.address) \(key)"])
                let error = await #expect(throws: HostError.self) { try await fixture.sshDriver(first, port: 2222, knownHosts: plain).connect() }
                #expect(error?.message.contains("no entry for [\(first.address)]:2222") == true)
                let bracketed = try fixture.knownHostsFile("bracketed", ["[\(first.address)]:2222 \(key)"])
                let driver = fixture.sshDriver(first, port: 2222, knownHosts: bracketed)
                try await driver.connect()
                await driver.close()
            }
        }

        @Test func unknownClientKeyIsRefused() async throws {
            try await SSHSandbox.with { fixture async throws in
                let stranger = try SSHIdentity(contentsOfFile: fixture.strangerKey)
                let error = await #expect(throws: HostError.self) { try await fixture.sshDriver(fixture.first, identity: fixture.strangerKey).connect() }
                #expect(error?.kind == .refused)
                #expect(error?.message.contains("refused the key \(stranger.publicKey.fingerprint)") == true, "\(String(describing: error))")
                #expect(error?.message.contains("authorized_keys") == true)
            }
        }

        @Test func closedPortIsUnreachable() async throws {
            try await SSHSandbox.with { fixture async throws in
                let error = await #expect(throws: HostError.self) { try await fixture.sshDriver(fixture.first, port: 2223).connect() }
                #expect(error?.kind == .unreachable)
                #expect(error?.message.contains("sshd listening on port 2223") == true)
            }
        }

        /// The connections from the control namespace to the host's sshd, as the host sees them.
        static func sshConnections(_ fixture: SSHSandbox, _ host: SandboxHost) async throws -> Int {
            let listing = try await fixture.sandboxDriver(host).check("ss -Htn state established '( sport = :22 )'")
            return listing.split(separator: "\n").filter { $0.contains(fixture.manager.network.controlAddress + ":") }.count
        }

        @Test func oneConnectionServesConcurrentCommandsAndIsReopenedWhenItDrops() async throws {
            try await SSHSandbox.with { fixture async throws in
                let first = fixture.first
                let driver = fixture.sshDriver(first)
                let outputs = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<8 { group.addTask { try await driver.check("sleep 0.2; echo \(index)") } }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(Set(outputs) == Set((0..<8).map { "\($0)\n" }))
                #expect(try await Self.sshConnections(fixture, first) == 1)
                // Kill the server's side of the connection (only this namespace's sshd sessions).
                let killed = try await LocalCommand.check([
                    "sh", "-c",
                    "n=0; for pid in $(ip netns pids \(first.namespace)); do if tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -q '^sshd: root'; then kill -9 $pid && n=$((n+1)); fi; done; echo $n",
                ])
                #expect(Int(killed.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0)
                #expect(try await driver.check("echo back") == "back\n")
                #expect(try await Self.sshConnections(fixture, first) == 1)
                await driver.close()
                #expect(try await driver.check("echo reopened") == "reopened\n")
                await driver.close()
            }
        }

        @Test func cancellingKillsTheCommand() async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = fixture.sshDriver(fixture.first)
                try await driver.connect()
                let task = Task { try await driver.run("sleep 28.5", timeout: .seconds(60)) }
                try await Task.sleep(for: .milliseconds(500))
                task.cancel()
                await #expect(throws: CancellationError.self) { try await task.value }
                let left = try await fixture.leftovers("sleep 28.5", on: fixture.first, within: .seconds(15))
                #expect(left == nil, "still running:\n\(left ?? "")")
                #expect(try await driver.check("echo after") == "after\n")
                await driver.close()
            }
        }

        /// A command whose time is up before it even reported its session (a slow login) is
        /// still found and killed.
        @Test func slowLoginIsStillKilled() async throws {
            try await SSHSandbox.with { fixture async throws in
                let first = fixture.first
                let knownHosts = try fixture.knownHostsFile("slow", ["[\(first.address)]:2224 \(fixture.hostKeys[first.name]!)"])
                let driver = fixture.sshDriver(first, port: 2224, knownHosts: knownHosts)
                #expect(try await driver.check("echo slow") == "slow\n")
                let error = await #expect(throws: HostError.self) { try await driver.run("sleep 27.5", timeout: .milliseconds(500)) }
                #expect(error?.message.contains("killed (SIGKILL to every process of its session)") == true, "\(String(describing: error))")
                let left = try await fixture.leftovers("sleep 27.5", on: first, within: .seconds(15))
                #expect(left == nil, "still running after \(String(describing: error)):\n\(left ?? "")")
                await driver.close()
            }
        }

        @Test func writeFileKeepsModeAndOwnerAndSetsNewFilesMode() async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = fixture.sshDriver(fixture.first)
                let path = "\(fixture.first.directory)/conf/jaas.conf"
                #expect(try await driver.writeFile(path, contents: "one\n", mode: 0o600).changed)
                #expect(try await driver.check("stat -c %a:%u:%g \(path)") == "600:0:0\n")
                _ = try await driver.check("chmod 640 \(path) && chown 1:2 \(path)")
                #expect(try await driver.writeFile(path, contents: "two\n").changed)
                #expect(try await driver.check("stat -c %a:%u:%g \(path)") == "640:1:2\n")
                let plain = "\(fixture.first.directory)/conf/plain.cfg"
                _ = try await driver.writeFile(plain, contents: "x")
                #expect(try await driver.check("stat -c %a \(plain)") == "644\n")
                await driver.close()
            }
        }

        @Test func secretsStayOutOfLogsAndErrors() async throws {
            try await SSHSandbox.with { fixture async throws in
                let capture = LogCapture()
                let driver = fixture.sshDriver(fixture.first, logger: capture.logger)
                let secret = "s3cret-token-4711"
                #expect(try await driver.run("echo \(secret) > /dev/null", timeout: .seconds(10), redacting: [secret]).succeeded)
                let error = await #expect(throws: HostError.self) {
                    try await driver.run("sleep 5 # \(secret)", timeout: .milliseconds(300), redacting: [secret])
                }
                #expect(error?.kind == .timeout)
                #expect(error?.description.contains(secret) == false)
                #expect(error?.description.contains("‹redacted›") == true)
                let password = "hunter2-jaas-password"
                let jaas = "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_super=\"\(password)\"; };\n"
                #expect(try await driver.writeFile("\(fixture.first.directory)/conf/jaas.conf", contents: jaas, mode: 0o600).changed)
                #expect(try await driver.readFile("\(fixture.first.directory)/conf/jaas.conf") == jaas)
                await driver.close()
                let logs = capture.text
                #expect(logs.contains("‹redacted›"))
                #expect(logs.contains("jaas.conf"))
                #expect(!logs.contains(secret))
                #expect(!logs.contains(password))
                // The key is named by its fingerprint, never shown.
                let identity = try SSHIdentity(contentsOfFile: fixture.clientKey)
                #expect(logs.contains(identity.publicKey.fingerprint))
                let keyFile = try String(contentsOfFile: fixture.clientKey, encoding: .utf8).split(separator: "\n")
                for line in keyFile.dropFirst().dropLast() { #expect(!logs.contains(line)) }
            }
        }

        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sudo"), "sudo is not installed; SSHHostDriverUnitTests check the sudo command lines"))
        func sudoRunsEverything() async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = fixture.sshDriver(fixture.first, sudo: true)
                #expect(try await driver.check("id -u") == "0\n")
                let path = "\(fixture.first.directory)/conf/sudo.cfg"
                #expect(try await driver.writeFile(path, contents: "via sudo\n").changed)
                #expect(try await driver.writeFile(path, contents: "via sudo\n").changed == false)
                #expect(try await driver.readFile(path) == "via sudo\n")
                #expect(try await driver.readFile(path + ".missing") == nil)
                // A timeout kills what sudo runs too.
                await #expect(throws: HostError.self) { try await driver.run("sleep 20.5", timeout: .milliseconds(500)) }
                let left = try await fixture.leftovers("sleep 20.5", on: fixture.first, within: .seconds(15))
                #expect(left == nil, "still running:\n\(left ?? "")")
                await driver.close()
            }
        }
    }
}
