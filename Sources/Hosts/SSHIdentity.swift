import Crypto
import Foundation
import NIOCore
import NIOSSH

/// A private key that signs in to hosts over SSH, read from a key file as `ssh-keygen` writes it:
/// OpenSSH's own format (`-----BEGIN OPENSSH PRIVATE KEY-----`, openssh-key-v1) holding an Ed25519
/// or ECDSA P-256 key, or a PEM P-256 key (SEC 1 or PKCS #8). Only unencrypted keys: Mitosis cannot
/// ask for a passphrase.
///
/// The key material never appears in a description, a debug description, a mirror or an error.
public struct SSHIdentity: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public enum Algorithm: String, Sendable, Hashable {
        case ed25519 = "ssh-ed25519"
        case ecdsaP256 = "ecdsa-sha2-nistp256"
    }

    public let algorithm: Algorithm
    /// The key's comment (often `user@host`), or empty.
    public let comment: String
    let privateKey: NIOSSHPrivateKey

    public var publicKey: SSHPublicKey { SSHPublicKey(privateKey.publicKey) }

    init(algorithm: Algorithm, comment: String, privateKey: NIOSSHPrivateKey) {
        self.algorithm = algorithm
        self.comment = comment
        self.privateKey = privateKey
    }

    public var description: String {
        "\(algorithm.rawValue) key \(publicKey.fingerprint)\(comment.isEmpty ? "" : " (\(comment))")"
    }

    public var debugDescription: String { "SSHIdentity(\(description))" }

    public var customMirror: Mirror {
        Mirror(self, children: ["algorithm": algorithm, "comment": comment, "fingerprint": publicKey.fingerprint], displayStyle: .struct)
    }

    /// Reads the key file at `path`.
    public init(contentsOfFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "it cannot be read as text (\(Self.reason(error)))" : "there is no such file"
            throw SSHKeyError(source: path, reason: reason)
        }
        try self.init(keyFile: text, source: path)
    }

    /// Parses the text of a key file; `source` names it in errors.
    public init(keyFile text: String, source: String = "the private key") throws {
        if let body = try Self.pemBody(of: text, label: "OPENSSH PRIVATE KEY", source: source) {
            self = try Self.parseOpenSSH(body, source: source)
        } else if text.contains("-----BEGIN EC PRIVATE KEY-----") || text.contains("-----BEGIN PRIVATE KEY-----") {
            if text.contains("Proc-Type: 4,ENCRYPTED") { throw SSHKeyError.encrypted(source: source) }
            guard let key = try? P256.Signing.PrivateKey(pemRepresentation: text) else {
                throw SSHKeyError(source: source, reason: "it is a PEM private key but not an ECDSA P-256 one; use an Ed25519 key (`ssh-keygen -t ed25519`)")
            }
            self.init(algorithm: .ecdsaP256, comment: "", privateKey: NIOSSHPrivateKey(p256Key: key))
        } else if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            throw SSHKeyError.encrypted(source: source)
        } else if text.contains("-----BEGIN RSA PRIVATE KEY-----") || text.contains("-----BEGIN DSA PRIVATE KEY-----") {
            throw SSHKeyError(source: source, reason: "RSA and DSA keys are not supported; use an Ed25519 key (`ssh-keygen -t ed25519`)")
        } else {
            throw SSHKeyError(source: source, reason: "it is not a private key file (expected `-----BEGIN OPENSSH PRIVATE KEY-----`, as `ssh-keygen -t ed25519` writes)")
        }
    }

    /// The base64 body between `-----BEGIN label-----` and `-----END label-----`, decoded; nil
    /// when the text has no such block.
    static func pemBody(of text: String, label: String, source: String) throws -> ByteBuffer? {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let start = text.range(of: begin) else { return nil }
        guard let stop = text.range(of: end, range: start.upperBound..<text.endIndex) else {
            throw SSHKeyError(source: source, reason: "the key is cut short (no `\(end)` line)")
        }
        let base64 = text[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(base64)) else {
            throw SSHKeyError(source: source, reason: "the key's body is not valid base64")
        }
        return ByteBuffer(bytes: data)
    }

    static let openSSHMagic = Array("openssh-key-v1".utf8) + [0]

    /// The openssh-key-v1 format (PROTOCOL.key in OpenSSH's sources): magic, cipher name, KDF
    /// name and options, the number of keys, the public keys, then the private section (two equal
    /// check integers, each key with its comment, padding 1, 2, 3, …).
    static func parseOpenSSH(_ body: ByteBuffer, source: String) throws -> SSHIdentity {
        var buffer = body
        let malformed = SSHKeyError(source: source, reason: "the key is malformed (not a valid openssh-key-v1 file)")
        guard buffer.readBytes(length: openSSHMagic.count) == openSSHMagic,
            let cipher = buffer.readSSHString(), let kdf = buffer.readSSHString(), buffer.readSSHBytes() != nil,
            let count = buffer.readInteger(as: UInt32.self)
        else { throw malformed }
        guard cipher == "none", kdf == "none" else { throw SSHKeyError.encrypted(source: source) }
        guard count == 1 else {
            throw SSHKeyError(source: source, reason: "the file holds \(count) keys; Mitosis reads files with exactly one")
        }
        guard buffer.readSSHBytes() != nil, var secret = buffer.readSSHBytes(),
            let check1 = secret.readInteger(as: UInt32.self), let check2 = secret.readInteger(as: UInt32.self)
        else { throw malformed }
        guard check1 == check2 else {
            throw SSHKeyError(source: source, reason: "the key's check integers differ: the file is corrupt")
        }
        guard let type = secret.readSSHString() else { throw malformed }
        let identity: SSHIdentity
        switch type {
        case Algorithm.ed25519.rawValue:
            // The public key (32 bytes), then the private key as seed ‖ public key (64 bytes).
            guard let publicKey = secret.readSSHBytes(), publicKey.readableBytes == 32,
                let privateKey = secret.readSSHBytes(), privateKey.readableBytes == 64,
                let comment = secret.readSSHString()
            else { throw malformed }
            let seed = privateKey.getBytes(at: privateKey.readerIndex, length: 32) ?? []
            let publicHalf = privateKey.getBytes(at: privateKey.readerIndex + 32, length: 32) ?? []
            guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed),
                key.publicKey.rawRepresentation == Data(publicKey.readableBytesView), publicHalf == Array(publicKey.readableBytesView)
            else {
                throw SSHKeyError(source: source, reason: "the Ed25519 private key does not match its public key: the file is corrupt")
            }
            identity = SSHIdentity(algorithm: .ed25519, comment: comment, privateKey: NIOSSHPrivateKey(ed25519Key: key))
        case Algorithm.ecdsaP256.rawValue:
            // The curve name, the public point Q, the private scalar d as an mpint.
            guard secret.readSSHString() == "nistp256", let point = secret.readSSHBytes(), let scalar = secret.readSSHBytes(),
                let comment = secret.readSSHString()
            else { throw malformed }
            var bytes = Array(scalar.readableBytesView.drop { $0 == 0 })
            guard bytes.count <= 32 else { throw malformed }
            bytes = Array(repeating: 0, count: 32 - bytes.count) + bytes
            guard let key = try? P256.Signing.PrivateKey(rawRepresentation: bytes),
                key.publicKey.x963Representation == Data(point.readableBytesView)
            else {
                throw SSHKeyError(source: source, reason: "the ECDSA private key does not match its public key: the file is corrupt")
            }
            identity = SSHIdentity(algorithm: .ecdsaP256, comment: comment, privateKey: NIOSSHPrivateKey(p256Key: key))
        case "ssh-rsa", "ssh-dss":
            throw SSHKeyError(source: source, reason: "RSA and DSA keys are not supported; use an Ed25519 key (`ssh-keygen -t ed25519`)")
        default:
            throw SSHKeyError(source: source, reason: "\(type) keys are not supported; use an Ed25519 key (`ssh-keygen -t ed25519`)")
        }
        // The padding is 1, 2, 3, … up to the cipher's block size.
        for (index, byte) in secret.readableBytesView.enumerated() {
            guard Int(byte) == index + 1 else { throw malformed }
        }
        return identity
    }

    static func reason(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}

/// A key file that cannot be used, and why. Never carries key material.
public struct SSHKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file (or what stood for it).
    public var source: String
    public var reason: String

    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }

    static func encrypted(source: String) -> SSHKeyError {
        SSHKeyError(
            source: source,
            reason: "the key is encrypted with a passphrase, which Mitosis cannot ask for; use a key without one, kept readable only by you "
                + "(a copy decrypted with `ssh-keygen -p -N '' -f COPY`, or a dedicated key from `ssh-keygen -t ed25519 -N ''`)")
    }

    public var description: String { "cannot use the private key \(source): \(reason)" }
}

extension ByteBuffer {
    /// An SSH `string` (uint32 length, then the bytes) as a buffer; nil when cut short.
    mutating func readSSHBytes() -> ByteBuffer? {
        let start = readerIndex
        guard let length = readInteger(as: UInt32.self), let bytes = readSlice(length: Int(length)) else {
            moveReaderIndex(to: start)
            return nil
        }
        return bytes
    }

    /// An SSH `string` as UTF-8 text; nil when cut short or not UTF-8.
    mutating func readSSHString() -> String? {
        guard let bytes = readSSHBytes() else { return nil }
        return String(bytes: bytes.readableBytesView, encoding: .utf8)
    }
}
