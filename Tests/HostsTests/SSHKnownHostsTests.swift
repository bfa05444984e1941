import Foundation
import Testing

@testable import Hosts

@Suite struct SSHKnownHostsTests {
    let key = SSHPublicKey(openSSH: TestKeys.ed25519Public)!
    let otherKey = SSHPublicKey(openSSH: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFvIMbN6oSnDz21s60evhOQEsjQPZa7oE44uoD7uVjyh")!
    var keyText: String { key.openSSH }

    @Test func fingerprintIsOpenSSHs() {
        #expect(key.fingerprint == TestKeys.ed25519Fingerprint)
        #expect(key.description == "ssh-ed25519 \(TestKeys.ed25519Fingerprint)")
    }

    @Test func plainNamesAndPorts() {
        let file = SSHKnownHosts(parsing: "zk1.example,10.0.0.5 \(keyText)\n[10.0.0.6]:2222 \(keyText) comment here\n")
        #expect(file.verdict(for: key, host: "10.0.0.5", port: 22) == .trusted(line: 1))
        #expect(file.verdict(for: key, host: "ZK1.example", port: 22) == .trusted(line: 1))
        // Port 22 entries do not vouch for other ports, nor the other way round.
        #expect(file.verdict(for: key, host: "10.0.0.5", port: 2222) == .unknown)
        #expect(file.verdict(for: key, host: "10.0.0.6", port: 2222) == .trusted(line: 2))
        #expect(file.verdict(for: key, host: "10.0.0.6", port: 22) == .unknown)
        #expect(file.verdict(for: key, host: "10.0.0.7", port: 22) == .unknown)
    }

    @Test func changedKeyIsReportedWithItsLines() {
        let file = SSHKnownHosts(parsing: "# comment\n\n10.0.0.5 \(otherKey.openSSH)\n10.0.0.5 ecdsa-sha2-nistp256 AAAAE2VjZHNh\n")
        #expect(file.verdict(for: key, host: "10.0.0.5", port: 22) == .changed(knownTypes: ["ssh-ed25519", "ecdsa-sha2-nistp256"], lines: [3, 4]))
    }

    @Test func anyMatchingLineTrusts() {
        let file = SSHKnownHosts(parsing: "10.0.0.5 \(otherKey.openSSH)\n10.0.0.5 \(keyText)\n")
        #expect(file.verdict(for: key, host: "10.0.0.5", port: 22) == .trusted(line: 2))
    }

    @Test func hashedEntriesWrittenBySSHKeygen() {
        // `ssh-keygen -H` of "10.0.0.5 KEY" and "[zk1.example]:2222 KEY".
        let file = SSHKnownHosts(parsing: """
            |1|A8EezciIP3Yu6QkkX/VIwaUnQfM=|Nmcb4lzt5OWjkXSMIOKdjYr1xkA= \(keyText)
            |1|e5Rvn+fsSKgnI/P7IVUUq5+q0og=|QLhrcrmiF1t/bl1/ucOBIAu8ruU= \(keyText)

            """)
        #expect(file.malformedLines.isEmpty)
        #expect(file.verdict(for: key, host: "10.0.0.5", port: 22) == .trusted(line: 1))
        #expect(file.verdict(for: key, host: "zk1.example", port: 2222) == .trusted(line: 2))
        #expect(file.verdict(for: key, host: "zk1.example", port: 22) == .unknown)
        #expect(file.verdict(for: key, host: "10.0.0.50", port: 22) == .unknown)
        #expect(file.verdict(for: otherKey, host: "10.0.0.5", port: 22) == .changed(knownTypes: ["ssh-ed25519"], lines: [1]))
        #expect(SSHKnownHosts.hashedName("10.0.0.5", salt: Array(Data(base64Encoded: "A8EezciIP3Yu6QkkX/VIwaUnQfM=")!)) == "|1|A8EezciIP3Yu6QkkX/VIwaUnQfM=|Nmcb4lzt5OWjkXSMIOKdjYr1xkA=")
    }

    @Test func wildcardsAndNegations() {
        let file = SSHKnownHosts(parsing: "zk?.example,*.zk.example,!bad.zk.example \(keyText)\n")
        #expect(file.verdict(for: key, host: "zk1.example", port: 22) == .trusted(line: 1))
        #expect(file.verdict(for: key, host: "a.b.zk.example", port: 22) == .trusted(line: 1))
        #expect(file.verdict(for: key, host: "zk10.example", port: 22) == .unknown)
        #expect(file.verdict(for: key, host: "bad.zk.example", port: 22) == .unknown)
    }

    @Test func revokedKeysAreRefusedForEveryHost() {
        let file = SSHKnownHosts(parsing: "10.0.0.5 \(keyText)\n@revoked * \(keyText)\n")
        #expect(file.verdict(for: key, host: "10.0.0.5", port: 22) == .revoked(line: 2))
        #expect(file.verdict(for: otherKey, host: "10.0.0.9", port: 22) == .unknown)
    }

    @Test func certificateAuthoritiesTrustNoPlainKey() {
        let file = SSHKnownHosts(parsing: "@cert-authority *.example \(keyText)\n")
        #expect(file.verdict(for: key, host: "zk1.example", port: 22) == .unknown)
    }

    @Test func malformedLinesAreSkippedAndCounted() {
        let file = SSHKnownHosts(parsing: "onlyone\n10.0.0.5 ssh-ed25519 !!notbase64\n@bogus 10.0.0.5 \(keyText)\n|1|x|y \(keyText)\n10.0.0.5 \(keyText)\n")
        #expect(file.malformedLines == [1, 2, 3, 4])
        #expect(file.verdict(for: key, host: "10.0.0.5", port: 22) == .trusted(line: 5))
    }
}
