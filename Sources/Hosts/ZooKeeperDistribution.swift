import Foundation

/// A ZooKeeper server installation this machine can run: its version and classpath.
/// `scripts/setup.sh` installs both.
public struct ZooKeeperDistribution: Sendable, Hashable, CustomStringConvertible {
    public let version: String

    public static let v3_8_0 = ZooKeeperDistribution(version: "3.8.0")
    public static let v3_4_13 = ZooKeeperDistribution(version: "3.4.13")
    /// Debian 13's libzookeeper-java, unpacked into `vendor-zookeeper/3.9.3` by `scripts/setup.sh`.
    public static let v3_9_3 = ZooKeeperDistribution(version: "3.9.3")
    /// Every version this machine can run, oldest first.
    public static let installable: [ZooKeeperDistribution] = [.v3_4_13, .v3_8_0, .v3_9_3]
    /// The versions the test suite runs against.
    public static let testedVersions: [ZooKeeperDistribution] = [.v3_4_13, .v3_8_0]

    public var description: String { "ZooKeeper \(version)" }

    public static func named(_ version: String) throws -> ZooKeeperDistribution {
        switch version {
        case "3.8.0", "3.8": return .v3_8_0
        case "3.4.13", "3.4": return .v3_4_13
        case "3.9.3", "3.9": return .v3_9_3
        default:
            let known = installable.map(\.version).joined(separator: ", ")
            throw ZooKeeperDistributionError("unknown ZooKeeper version \(version); this machine runs \(known)")
        }
    }

    /// Container and TTL nodes, create2, getConfig and reconfig (3.5+).
    public var supportsExtendedNodeTypes: Bool { !version.hasPrefix("3.4") }
    public var supportsReconfig: Bool { !version.hasPrefix("3.4") }
    /// `multiRead` (3.6+).
    public var supportsMultiRead: Bool { !version.hasPrefix("3.4") && !version.hasPrefix("3.5") }

    /// The jars to run this version's `QuorumPeerMain`.
    public func classpath() throws -> String {
        let shared = "/usr/share/java"
        // What the 3.8 server needs besides its own jars, all from Debian 12's packages.
        let libraries = ["netty-all.jar", "log4j-1.2.jar", "slf4j-api.jar", "slf4j-log4j12.jar", "metrics-core.jar", "snappy-java.jar", "commons-io.jar", "commons-cli.jar"]
        let jars: [String]
        switch version {
        case "3.8.0":
            jars = (["zookeeper.jar", "zookeeper-jute.jar"] + libraries).map { "\(shared)/\($0)" }
        case "3.9.3":
            // Debian 13's jute and server jars, then Debian 12's libraries. The jute jar comes
            // first: the server jar's manifest Class-Path names /usr/share/java/zookeeper-jute.jar
            // (Debian 12's 3.8.0), which the JVM searches right after the jar that names it, and
            // whose ConnectRequest lacks 3.9's readOnly field (NoSuchMethodError on every client
            // connection). Debian 12's zookeeper.jar is never on the path.
            let vendor = try installedVendorDirectory()
            jars = ["\(vendor)/zookeeper-jute-\(version).jar", "\(vendor)/zookeeper-\(version).jar"] + libraries.map { "\(shared)/\($0)" }
        default:
            let vendor = try installedVendorDirectory()
            jars = ["\(vendor)/zookeeper-\(version).jar"] + ["log4j-1.2.jar", "slf4j-api.jar", "slf4j-log4j12.jar"].map { "\(shared)/\($0)" }
        }
        for jar in jars where !FileManager.default.fileExists(atPath: jar) {
            throw ZooKeeperDistributionError("\(jar) is missing: run scripts/setup.sh to install ZooKeeper \(version)")
        }
        return jars.joined(separator: ":")
    }

    private func installedVendorDirectory() throws -> String {
        guard let vendor = Self.vendorDirectory(for: version) else {
            throw ZooKeeperDistributionError("ZooKeeper \(version) is not installed: run scripts/setup.sh (it unpacks it into vendor-zookeeper/\(version)), or set MITOSIS_VENDOR_DIR")
        }
        return vendor
    }

    /// `vendor-zookeeper/VERSION`, found from $MITOSIS_VENDOR_DIR, the working directory or this
    /// source file's checkout.
    static func vendorDirectory(for version: String) -> String? {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["MITOSIS_VENDOR_DIR"] { candidates.append(explicit) }
        var directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("vendor-zookeeper").path)
            directory.deleteLastPathComponent()
        }
        var source = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { source.deleteLastPathComponent() }
        candidates.append(source.appendingPathComponent("vendor-zookeeper").path)
        for candidate in candidates {
            let path = "\(candidate)/\(version)"
            if FileManager.default.fileExists(atPath: "\(path)/zookeeper-\(version).jar") { return path }
        }
        return nil
    }
}

/// A ZooKeeper version this machine does not know or has not installed, and what to do about it.
public struct ZooKeeperDistributionError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
