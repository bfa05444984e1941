import Foundation
import Hosts
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a migration relies on from a host driver, checked against the sandbox driver and the SSH
/// driver on the same sandbox host. Needs root (namespaces, iptables) and OpenSSH's sshd.
extension RealServers {
    @Suite(.enabled(if: geteuid() == 0, "needs root for network namespaces"))
    struct HostsDriverTests {
        @Test(arguments: DriverKind.allCases)
        func runReportsExitStatusAndOutput(kind: DriverKind) async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = kind.driver(for: fixture.first, in: fixture)
                let result = try await driver.run("echo out; echo err >&2; exit 3", timeout: .seconds(10))
                #expect(result.status == 3)
                #expect(result.output.split(separator: "\n").sorted() == ["err", "out"], "\(result.output)")
                #expect(try await driver.run("true", timeout: .seconds(10)) == CommandResult(status: 0, output: ""))
                // Commands run inside the host: its address is theirs.
                #expect(try await driver.check("ip -o addr show dev eth0").contains(fixture.first.address + "/"))
                let failure = await #expect(throws: HostError.self) { try await driver.check("exit 7", operation: "seven") }
                #expect(failure?.kind == .commandFailed)
                #expect(failure?.description.contains("seven: exited with status 7") == true)
                await (driver as? SSHHostDriver)?.close()
            }
        }

        @Test(arguments: DriverKind.allCases)
        func timeoutKillsTheCommand(kind: DriverKind) async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = kind.driver(for: fixture.first, in: fixture)
                let started = ContinuousClock.now
                let error = await #expect(throws: HostError.self) { try await driver.run("sleep 29.5; echo late", timeout: .seconds(1)) }
                #expect(error?.kind == .timeout)
                if kind == .ssh { #expect(error?.message.contains("killed (SIGKILL to every process of its session)") == true) }
                #expect(ContinuousClock.now - started < .seconds(20), "the command would have run 29.5 s")
                // Nothing is left of it on the host soon after the error arrives (the SSH driver's
                // backstop, `timeout` on the host, is set to act only a minute later).
                let left = try await fixture.leftovers("sleep 29.5", on: fixture.first, within: .seconds(15))
                #expect(left == nil, "still running:\n\(left ?? "")")
                // The driver still works afterwards.
                #expect(try await driver.check("echo again") == "again\n")
                await (driver as? SSHHostDriver)?.close()
            }
        }

        @Test(arguments: DriverKind.allCases)
        func filesAreReadAndWrittenAtomicallyOnce(kind: DriverKind) async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = kind.driver(for: fixture.first, in: fixture)
                let directory = "\(fixture.first.directory)/conf-\(kind)/sub dir"
                let path = "\(directory)/zoo.cfg"
                #expect(try await driver.readFile(path) == nil)
                #expect(try await driver.readFile("\(fixture.first.directory)/missing") == nil)
                let contents = "tickTime=2000\n# ünïcödé, 'quotes' and $dollars\nlast line without newline"
                let written = try await driver.writeFile(path, contents: contents)
                #expect(written.changed)
                #expect(try await driver.readFile(path) == contents)
                let again = try await driver.writeFile(path, contents: contents)
                #expect(!again.changed)
                #expect(try await driver.writeFile(path, contents: contents + "\n").changed)
                #expect(try await driver.readFile(path) == contents + "\n")
                #expect(try await driver.writeFile(path, contents: "").changed)
                #expect(try await driver.readFile(path) == "")
                // No temporary file is left next to it.
                let listing = try FileManager.default.contentsOfDirectory(atPath: directory)
                #expect(listing == ["zoo.cfg"])
                // Large files pass whole (SSH flow control, several channel windows).
                let large = String(repeating: "0123456789abcdef\n", count: 200_000)
                let largePath = "\(fixture.first.directory)/large-\(kind).txt"
                #expect(try await driver.writeFile(largePath, contents: large).changed)
                #expect(try await driver.readFile(largePath) == large)
                // A directory is not a missing file.
                await #expect(throws: HostError.self) { try await driver.readFile(directory) }
                // Bytes pass exactly: a Latin-1 ü (0xFC, not UTF-8), CRLF, a NUL; read as
                // ISO-8859-1 and written back, they are the same bytes.
                let latin1: [UInt8] = Array("# f".utf8) + [0xFC] + Array("r Kafka\r\ntickTime=2000\r\n".utf8) + [0x00, 0xFF]
                #expect(try await driver.writeBytes(path, contents: latin1).changed)
                #expect(try await driver.readBytes(path) == latin1)
                let text = try #require(try await driver.readLatin1(path))
                #expect(text.hasPrefix("# f\u{FC}r Kafka\r\n"))
                #expect(!(try await driver.writeLatin1(path, contents: text).changed), "the same text is the same bytes")
                await #expect(throws: HostError.self) { try await driver.writeLatin1(path, contents: "\u{20AC}") }
                #expect(try await driver.readBytes(path) == latin1, "a character beyond ISO-8859-1 writes nothing")
                await (driver as? SSHHostDriver)?.close()
            }
        }

        @Test(arguments: DriverKind.allCases)
        func servicesStartStopAndRestartOnce(kind: DriverKind) async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = kind.driver(for: fixture.first, in: fixture)
                let script = "\(fixture.first.directory)/sleeper.sh"
                _ = try await fixture.sandboxDriver(fixture.first).writeFile(script, contents: Self.sleeperScript(directory: fixture.first.directory))
                _ = try await driver.check("chmod 755 \(script)")
                let service = ServiceSpec(name: "sleeper", start: "\(script) start", stop: "\(script) stop", status: "\(script) status", timeout: .seconds(10))
                #expect(try await driver.serviceState(service) == .stopped)
                #expect(try await driver.stopService(service).changed == false)
                #expect(try await driver.startService(service).changed)
                #expect(try await driver.serviceState(service) == .running)
                #expect(try await driver.startService(service).changed == false)
                let pid = try await driver.check("cat \(fixture.first.directory)/sleeper.pid")
                #expect(try await driver.restartService(service).changed)
                #expect(try await driver.serviceState(service) == .running)
                #expect(try await driver.check("cat \(fixture.first.directory)/sleeper.pid") != pid)
                #expect(try await driver.stopService(service).changed)
                #expect(try await driver.serviceState(service) == .stopped)
                #expect(try await driver.stopService(service).changed == false)
                await (driver as? SSHHostDriver)?.close()
            }
        }

        /// A daemon: `sleep` in a session of its own, with a pidfile.
        static func sleeperScript(directory: String) -> String {
            """
            #!/bin/sh
            pidfile='\(directory)/sleeper.pid'
            running() {
                [ -f "$pidfile" ] || return 1
                pid=$(cat "$pidfile")
                # A killed child nobody reaped is a zombie with an empty command line.
                [ -n "$pid" ] && [ -n "$(tr -d '\\0' < /proc/"$pid"/cmdline 2>/dev/null)" ]
            }
            case "$1" in
            start) running && exit 0; setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo $! > "$pidfile" ;;
            stop) running || exit 0; kill "$pid" ;;
            status) running ;;
            *) exit 2 ;;
            esac

            """
        }

        @Test(arguments: DriverKind.allCases)
        func blockedPeersCannotConnectEitherWay(kind: DriverKind) async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = kind.driver(for: fixture.first, in: fixture)
                let (first, second) = (fixture.first, fixture.second)
                #expect(try await fixture.canConnect(from: second, to: first.address, port: 22))
                #expect(try await fixture.canConnect(from: first, to: second.address, port: 22))
                let block = PeerBlock(tag: "mitosis-test-\(kind)", peers: [second.address], peerPorts: [22], localPorts: [22])
                #expect(try await driver.blockPeers(block).changed)
                #expect(try await driver.blockPeers(block).changed == false)
                #expect(try await driver.peerBlockTags() == [block.tag])
                #expect(try await fixture.canConnect(from: second, to: first.address, port: 22) == false)
                #expect(try await fixture.canConnect(from: first, to: second.address, port: 22) == false)
                // Only the peer is cut off: the control namespace still reaches the host.
                #expect(try await driver.check("echo still") == "still\n")
                #expect(try await driver.unblockPeers(tag: block.tag).changed)
                #expect(try await driver.unblockPeers(tag: block.tag).changed == false)
                #expect(try await driver.peerBlockTags() == [])
                #expect(try await fixture.canConnect(from: second, to: first.address, port: 22))
                #expect(try await fixture.canConnect(from: first, to: second.address, port: 22))
                await (driver as? SSHHostDriver)?.close()
            }
        }

        @Test(arguments: DriverKind.allCases)
        func addressesAttachAndDetachOnce(kind: DriverKind) async throws {
            try await SSHSandbox.with { fixture async throws in
                let driver = kind.driver(for: fixture.first, in: fixture)
                let address = "\(SandboxNetwork.subnetPrefix).\(fixture.sandbox.index).200"
                #expect(try await driver.attachAddress(address, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device).changed)
                #expect(try await driver.attachAddress(address, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device).changed == false)
                #expect(try await driver.check("ip -o addr show dev eth0").contains(address + "/16"))
                // The other host reaches the new address: a closed port there answers with a reset.
                let probe = try await fixture.sandboxDriver(fixture.second).run("timeout 5 bash -c 'exec 3<>/dev/tcp/\(address)/9'", timeout: .seconds(10))
                #expect(probe.output.contains("Connection refused"), "\(probe.output)")
                #expect(try await driver.detachAddress(address, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device).changed)
                #expect(try await driver.detachAddress(address, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device).changed == false)
                #expect(try await driver.check("ip -o addr show dev eth0").contains(address + "/") == false)
                await (driver as? SSHHostDriver)?.close()
            }
        }
    }
}
