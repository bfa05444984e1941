import Foundation
import Testing

@testable import Hosts

/// Key files written by OpenSSH 9.2's `ssh-keygen` for these tests (they guard nothing).
enum TestKeys {
    static let ed25519 = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
        QyNTUxOQAAACDMT0dL88/jl7TaSsNRO3zdVmmY17fWjYy7SQy3BoTi1gAAAJAaJwL+GicC
        /gAAAAtzc2gtZWQyNTUxOQAAACDMT0dL88/jl7TaSsNRO3zdVmmY17fWjYy7SQy3BoTi1g
        AAAECr83i6WicvGQmmYOUJbMcxoLU8yJn0qiIuJ9wHTIcHucxPR0vzz+OXtNpKw1E7fN1W
        aZjXt9aNjLtJDLcGhOLWAAAADHRlc3RAbWl0b3NpcwE=
        -----END OPENSSH PRIVATE KEY-----

        """
    static let ed25519Public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMxPR0vzz+OXtNpKw1E7fN1WaZjXt9aNjLtJDLcGhOLW test@mitosis"
    /// `ssh-keygen -lf` of the public key.
    static let ed25519Fingerprint = "SHA256:AODLPMFt6ehVWPEYgKsd0mQh/95xzd5BCh2DO+OXanE"

    static let p256 = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS
        1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQSTm//LscOVs1OwCfW0mGBN/VMoqm0z
        tppV3Nu4fNK0wEgEAdcJtCAL84dTjj15AgwDGLXVfLBDlz14M3T5YXUqAAAAqE9YLkBPWC
        5AAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJOb/8uxw5WzU7AJ
        9bSYYE39UyiqbTO2mlXc27h80rTASAQB1wm0IAvzh1OOPXkCDAMYtdV8sEOXPXgzdPlhdS
        oAAAAhAIDVwObeHNuzWiMgKULKUYXRk4d0K/QO/SPZlPFNSiArAAAADHAyNTZAbWl0b3Np
        cwECAw==
        -----END OPENSSH PRIVATE KEY-----

        """
    static let p256Fingerprint = "SHA256:5ust6gQAKHM5w+SESGHJfBslP2BjjeJwDRmTkwnd4Lk"

    /// `ssh-keygen -m PEM -t ecdsa`.
    static let p256PEM = """
        -----BEGIN EC PRIVATE KEY-----
        MHcCAQEEIKzT2rOc85EjEMMMCNw+49x3HpTETcgtwAghS/hpoxZ1oAoGCCqGSM49
        AwEHoUQDQgAEGJTFIDInBFX8yCSla7uwe5JTJFM6I5dT01sDzM1vsc5veE+dbES5
        +tasNpjbCUExBZ+tHv68BpkmYLdFh0zkUg==
        -----END EC PRIVATE KEY-----

        """
    static let p256PEMFingerprint = "SHA256:+PShuBEQMkZ9+g5YB2dhMzRC6LN6KDB+S1k7PPwD3Z4"

    /// Encrypted with the passphrase `passphrase` (aes256-ctr, bcrypt).
    static let encrypted = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABC4drw5VV
        doaoTv2rmVrGmiAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIFvIMbN6oSnDz21s
        60evhOQEsjQPZa7oE44uoD7uVjyhAAAAkA4990MqrqSq8FbAHtGfRmiN3rmVoetkluNheU
        JKp7SizBl6whK0tl/VO0pY8wXV2b1wqDobp/RRTn2xT1knYt4mal9CBARYJ3az8TnZKvwA
        xQ7f9YB75i/EZrFlJfMYR3RjaseXaPjy25oaf3K3QHFlM2ZEF+d5HoXT1Uqbo2RVBsmJX7
        BD3uiAL9acWMvz9w==
        -----END OPENSSH PRIVATE KEY-----

        """

    /// A 1024-bit RSA key in OpenSSH's format.
    static let rsa = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn
        NhAAAAAwEAAQAAAIEArd57eTx1Plsbox8mEeCIp+2kNyKhPjFRZyopy6NmPKcShBL17gOk
        uY55O5gryeyl4BKqSeUIpZlP5G6QrwMkyqYUHs2pv7KotOT1UZZLi/2sJ13KVlBtiIw1Qe
        HNRMlEnfKcxZD0fnCKAscAtJJ83xf2gyfh9TbnbPrTzSTTirUAAAIAEUsoixFLKIsAAAAH
        c3NoLXJzYQAAAIEArd57eTx1Plsbox8mEeCIp+2kNyKhPjFRZyopy6NmPKcShBL17gOkuY
        55O5gryeyl4BKqSeUIpZlP5G6QrwMkyqYUHs2pv7KotOT1UZZLi/2sJ13KVlBtiIw1QeHN
        RMlEnfKcxZD0fnCKAscAtJJ83xf2gyfh9TbnbPrTzSTTirUAAAADAQABAAAAgC62v+Xq4H
        VIdTx2efwDn7O+nYhSvY/AIGbfZStZU3aoTMk/buPsBq30IY5pbBpsgoSZfzcrWg9kCZsO
        OcFLzu5SIAC8upseQCmJeaAy/wLEOJ+OBc1Gc8i3eRedYH9DXyU+Z8Y5gMVEH/u6W83Hp7
        dXIQGex8zLQG0jPlfoYUthAAAAQCdSMEkhg3yxnwGS4qhZaFZYWqgQRDo61bMGzrula+UH
        PkD6qy6/FzyQGs44xVZK2SNQypJ8crRl3EONuizzObkAAABBANXEwxBpOTECyrUGcCQ1Lb
        9DzJzejJ6+oypoMQVoVmkLqP+zC6nM7xEKBznvGhRviNWU9/pRZ/dKV++g3N294+MAAABB
        ANA30mx72JwAwa/x/ydtZq/+dPF2CI5s9bwIKj0pxx915QzG/431crB+AeoCBA1iJGD3OY
        fq341Zf/8NUwtIiocAAAAHcm9vdEB2bQECAwQ=
        -----END OPENSSH PRIVATE KEY-----

        """
}

@Suite struct SSHIdentityTests {
    @Test func readsAnEd25519KeyAndMatchesOpenSSHsFingerprint() throws {
        let identity = try SSHIdentity(keyFile: TestKeys.ed25519)
        #expect(identity.algorithm == .ed25519)
        #expect(identity.comment == "test@mitosis")
        #expect(identity.publicKey == SSHPublicKey(openSSH: TestKeys.ed25519Public))
        #expect(identity.publicKey.fingerprint == TestKeys.ed25519Fingerprint)
    }

    @Test func readsP256KeysInOpenSSHAndPEMFormats() throws {
        let openSSH = try SSHIdentity(keyFile: TestKeys.p256)
        #expect(openSSH.algorithm == .ecdsaP256)
        #expect(openSSH.comment == "p256@mitosis")
        #expect(openSSH.publicKey.type == "ecdsa-sha2-nistp256")
        #expect(openSSH.publicKey.fingerprint == TestKeys.p256Fingerprint)
        let pem = try SSHIdentity(keyFile: TestKeys.p256PEM)
        #expect(pem.algorithm == .ecdsaP256)
        #expect(pem.publicKey.fingerprint == TestKeys.p256PEMFingerprint)
    }

    @Test func neverShowsKeyMaterial() throws {
        let identity = try SSHIdentity(keyFile: TestKeys.ed25519)
        // The seed: the 32 bytes after the private key's length (64).
        let lines = TestKeys.ed25519.split(separator: "\n")
        let bytes = Array(Data(base64Encoded: lines[1..<(lines.count - 1)].joined())!)
        let start = try #require((0..<(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == [0, 0, 0, 64] }) + 4
        let seed = Array(bytes[start..<(start + 32)])
        let forms: [String] = [Data(seed).base64EncodedString(), seed.map { String(format: "%02x", $0) }.joined(), String("\(seed.prefix(4))".dropLast())]
        let renderings = [
            identity.description, identity.debugDescription, String(reflecting: identity), String(describing: identity),
            "\(Mirror(reflecting: identity).children.map { "\($0.value)" })",
        ]
        for rendering in renderings {
            for form in forms { #expect(!rendering.contains(form)) }
            #expect(rendering.contains(TestKeys.ed25519Fingerprint))
        }
    }

    @Test func refusesEncryptedKeysSayingWhatToDo() {
        let error = #expect(throws: SSHKeyError.self) { try SSHIdentity(keyFile: TestKeys.encrypted, source: "/keys/id") }
        #expect(error?.description.contains("/keys/id") == true)
        #expect(error?.reason.contains("encrypted with a passphrase") == true)
        #expect(error?.reason.contains("ssh-keygen") == true)
    }

    @Test func refusesRSAAndGarbage() {
        let rsa = #expect(throws: SSHKeyError.self) { try SSHIdentity(keyFile: TestKeys.rsa) }
        #expect(rsa?.reason.contains("ssh-keygen -t ed25519") == true)
        let pub = #expect(throws: SSHKeyError.self) { try SSHIdentity(keyFile: TestKeys.ed25519Public) }
        #expect(pub?.reason.contains("not a private key file") == true)
        let cut = #expect(throws: SSHKeyError.self) { try SSHIdentity(keyFile: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n") }
        #expect(cut?.reason.contains("cut short") == true)
    }

    @Test func refusesACorruptKey() throws {
        // Flip one byte of the private half: the check integers still agree, the key no longer
        // matches its public half.
        var lines = TestKeys.ed25519.split(separator: "\n").map(String.init)
        let body = lines[1..<(lines.count - 1)].joined()
        var bytes = Array(Data(base64Encoded: body)!)
        bytes[bytes.count - 30] ^= 0xFF
        let encoded = Data(bytes).base64EncodedString()
        lines = [lines[0], encoded, lines[lines.count - 1]]
        let error = #expect(throws: SSHKeyError.self) { try SSHIdentity(keyFile: lines.joined(separator: "\n")) }
        #expect(error != nil)
    }

    @Test func missingFileSaysSo() {
        let error = #expect(throws: SSHKeyError.self) { try SSHIdentity(contentsOfFile: "/nonexistent/id_ed25519") }
        #expect(error?.description == "cannot use the private key /nonexistent/id_ed25519: there is no such file")
    }
}
