import Crypto
import Foundation
import ZooKeeperProtocol

/// ZooKeeper's `digest` scheme: the ACL id for user U with password P is `U:base64(sha1("U:P"))`,
/// and a session authenticates with the clear text `U:P` (`DigestAuthenticationProvider`).
public enum DigestAuth {
    /// The ACL identity for a user and password, as `DigestAuthenticationProvider.generateDigest` makes it.
    public static func identity(user: String, password: String) -> ACLIdentity {
        let digest = SHA1.hash(Array("\(user):\(password)".utf8))
        return ACLIdentity(scheme: "digest", id: "\(user):\(base64(digest))")
    }

    /// The bytes `addAuth("digest", …)` sends.
    public static func credentials(user: String, password: String) -> [UInt8] {
        Array("\(user):\(password)".utf8)
    }

    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}

/// SHA-1, for ZooKeeper's digest ids and content digests; not for anything that needs security.
/// swift-crypto computes it (`Insecure.SHA1`); the digests are the same bytes as before, so plan
/// hashes in existing journals still match.
package enum SHA1 {
    package static func hash(_ message: [UInt8]) -> [UInt8] {
        Array(Insecure.SHA1.hash(data: message))
    }
}
