import Foundation
import Testing

@testable import Hosts

@Suite struct SSHHostDriverUnitTests {
    let key = SSHPublicKey(openSSH: TestKeys.ed25519Public)!

    @Test func refusalsShowTheFingerprintAndWhatToDo() throws {
        let configuration = SSHHostConfiguration(host: "zk1", address: "10.0.0.5", port: 2222, identityFile: "/id", knownHostsFile: "/kh")
        let unknown = try #require(SSHKnownHostsValidator.refusal(for: .unknown, key: key, configuration: configuration))
        #expect(unknown.kind == .refused)
        #expect(unknown.message.contains(TestKeys.ed25519Fingerprint))
        #expect(unknown.message.contains("ssh-keyscan -p 2222 -t ssh-ed25519 10.0.0.5 >> /kh"))
        #expect(unknown.message.contains("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"))
        let changed = try #require(
            SSHKnownHostsValidator.refusal(for: .changed(knownTypes: ["ssh-ed25519"], lines: [3]), key: key, configuration: configuration))
        #expect(changed.message.contains("CHANGED"))
        #expect(changed.message.contains(TestKeys.ed25519Fingerprint))
        #expect(changed.message.contains("ssh-keygen -R '[10.0.0.5]:2222' -f /kh"))
        let revoked = try #require(SSHKnownHostsValidator.refusal(for: .revoked(line: 2), key: key, configuration: configuration))
        #expect(revoked.message.contains("@revoked"))
        #expect(SSHKnownHostsValidator.refusal(for: .trusted(line: 1), key: key, configuration: configuration) == nil)
    }

    @Test func commandsReportTheirSessionAndRunUnderShWithATimeoutBackstop() {
        #expect(
            SSHCommandLine.exec("echo 'a b'; exit 3", sudo: false, timeout: .seconds(30))
                == #"printf 'mitosis-ssh-session %s\n' $$ >&2; exec timeout -k 5 32 sh -c 'echo '\''a b'\''; exit 3'"#)
        #expect(SSHCommandLine.exec("id -u", sudo: false, timeout: .milliseconds(500)).hasSuffix("; exec timeout -k 5 2 sh -c 'id -u'"))
        #expect(SSHCommandLine.exec("id -u", sudo: false, timeout: .seconds(3), backstopGrace: .seconds(60)).hasSuffix("; exec timeout -k 5 63 sh -c 'id -u'"))
        #expect(
            SSHCommandLine.kill(session: 4711, sudo: false)
                == "if command -v pkill >/dev/null; then pkill -STOP -s 4711; pkill -KILL -s 4711; pkill -KILL -s 4711; true; else kill -KILL -- -4711; fi")
    }

    @Test func sudoWrapsTheWholeCommand() {
        #expect(SSHCommandLine.exec("cat /etc/shadow", sudo: true, timeout: .seconds(10)).hasSuffix("; exec sudo -n timeout -k 5 12 sh -c 'cat /etc/shadow'"))
        #expect(SSHCommandLine.kill(session: 4711, sudo: true).hasPrefix("sudo -n sh -c 'if command -v pkill >/dev/null; then pkill -STOP -s 4711;"))
    }

    @Test func redactionReplacesEverySecret() {
        #expect(SSHHostDriver.redact("login alice s3cret; echo s3cret", ["s3cret", ""]) == "login alice ‹redacted›; echo ‹redacted›")
    }

    @Test func writeScriptNeverCarriesTheContents() {
        let script = SSHHostDriver.writeScript(path: "/etc/zookeeper/jaas file.conf", mode: 0o600)
        #expect(script.contains("mkdir -p -- /etc/zookeeper\n"))
        #expect(script.contains("mktemp '/etc/zookeeper/.jaas file.conf.mitosis.XXXXXX'"))
        #expect(script.contains("chmod 600 \"$tmp\""))
        #expect(script.contains("mv -f -- \"$tmp\" '/etc/zookeeper/jaas file.conf'"))
    }
}
