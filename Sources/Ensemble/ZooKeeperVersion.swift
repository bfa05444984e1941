/// A ZooKeeper release, e.g. `3.4.13` or `3.8.0`.
///
/// Parsing accepts what servers and packages print: `3.5.3-beta`, `3.8.0-1`, Debian's
/// `3.4.13-6+deb11u1`, and the `srvr` banner's `3.8.0-…, built on …`. Only the numeric part takes
/// part in comparisons; the rest is kept in ``suffix``.
public struct ZooKeeperVersion: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    /// Whatever followed the numbers (`-beta`, `-6+deb11u1`), or nil.
    public var suffix: String?

    public init(_ major: Int, _ minor: Int, _ patch: Int, suffix: String? = nil) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.suffix = suffix
    }

    /// Parses a version string, or returns nil when it does not start with `major.minor`.
    public init?(parsing text: String) {
        let trimmed = text.trimmingBlanks()
        var numbers: [Int] = []
        var current = ""
        var index = trimmed.startIndex
        while index < trimmed.endIndex, numbers.count < 3 {
            let character = trimmed[index]
            if character.isASCII, character.isNumber {
                current.append(character)
            } else if character == "." && !current.isEmpty {
                guard let value = Int(current) else { return nil }
                numbers.append(value)
                current = ""
            } else {
                break
            }
            index = trimmed.index(after: index)
        }
        if !current.isEmpty, numbers.count < 3 {
            guard let value = Int(current) else { return nil }
            numbers.append(value)
        } else if !current.isEmpty {
            return nil
        }
        guard numbers.count >= 2 else { return nil }
        self.major = numbers[0]
        self.minor = numbers[1]
        self.patch = numbers.count > 2 ? numbers[2] : 0
        let rest = String(trimmed[index...])
        self.suffix = rest.isEmpty ? nil : rest
    }

    public static func < (lhs: ZooKeeperVersion, rhs: ZooKeeperVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    public static func == (lhs: ZooKeeperVersion, rhs: ZooKeeperVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) == (rhs.major, rhs.minor, rhs.patch)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }

    /// The release line, e.g. `3.5` for `3.5.9`.
    public var line: String { "\(major).\(minor)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let version = ZooKeeperVersion(parsing: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a ZooKeeper version such as 3.8.0")
            )
        }
        self = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

// MARK: - Capabilities

/// Something a ZooKeeper server may or may not understand, with the first release that does.
public enum ZooKeeperFeature: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Membership changes without restarts (`reconfig`), and the `/zookeeper/config` node.
    case dynamicReconfiguration
    /// The `reconfigEnabled` switch: from 3.5.3 reconfig is off unless it is set to true.
    case reconfigEnabledSetting
    /// `dynamicConfigFile` and the `server.N=…;clientPort` suffix.
    case dynamicConfigFile
    case clientPortInServerLine
    /// `standaloneEnabled` (3.5.0).
    case standaloneEnabledSetting
    /// The `create2` request (create returning a Stat) and `getConfig`.
    case create2
    case getConfig
    /// Container nodes (`CreateMode.CONTAINER`).
    case containerNodes
    /// TTL nodes; from 3.5.4 only with `zookeeper.extendedTypesEnabled=true`.
    case ttlNodes
    /// `4lw.commands.whitelist`.
    case fourLetterWordWhitelist
    /// `snapshot.trust.empty`: start on a data directory with transaction logs but no snapshot.
    case snapshotTrustEmpty
    /// The `multiRead` request.
    case multiRead
    /// Several addresses per server (`host1:2888:3888|host2:2888:3888`).
    case multiAddress
    /// The AdminServer (HTTP `/commands/…`).
    case adminServer

    /// The first release that has the feature.
    public var introducedIn: ZooKeeperVersion {
        switch self {
        case .dynamicReconfiguration, .dynamicConfigFile, .clientPortInServerLine, .standaloneEnabledSetting,
            .create2, .getConfig, .adminServer:
            return ZooKeeperVersion(3, 5, 0)
        case .reconfigEnabledSetting, .containerNodes, .ttlNodes:
            return ZooKeeperVersion(3, 5, 3)
        case .fourLetterWordWhitelist:
            return ZooKeeperVersion(3, 4, 10)
        case .snapshotTrustEmpty:
            return ZooKeeperVersion(3, 5, 6)
        case .multiRead, .multiAddress:
            return ZooKeeperVersion(3, 6, 0)
        }
    }

    public var description: String { rawValue }
}

/// Which four-letter words a server answers when `4lw.commands.whitelist` is not set.
public enum FourLetterWordDefault: Sendable, Hashable {
    /// Every command (before 3.4.10 there is no whitelist).
    case all
    /// Every command except `wchp` and `wchc` (3.4.10 and later 3.4 releases, ZOOKEEPER-2693).
    case allExceptWatchDumps
    /// Only `srvr` (3.5.3 and later, ZOOKEEPER-2693).
    case onlySrvr
}

extension ZooKeeperVersion {
    public static let v3_4_13 = ZooKeeperVersion(3, 4, 13)
    public static let v3_8_0 = ZooKeeperVersion(3, 8, 0)
    public static let v3_9_3 = ZooKeeperVersion(3, 9, 3)
    /// Above every release: the open upper end of a hazard that later releases still have.
    public static let unreleased = ZooKeeperVersion(Int.max, 0, 0)

    public var isStaticMembershipOnly: Bool { self < ZooKeeperVersion(3, 5, 0) }

    public func supports(_ feature: ZooKeeperFeature) -> Bool {
        switch feature {
        case .fourLetterWordWhitelist:
            // 3.4.10+ on the 3.4 line, and 3.5.3+ on later lines (3.5.0–3.5.2 have no whitelist).
            if self < ZooKeeperVersion(3, 5, 0) { return self >= ZooKeeperVersion(3, 4, 10) }
            return self >= ZooKeeperVersion(3, 5, 3)
        default:
            return self >= feature.introducedIn
        }
    }

    /// What the server answers without a `4lw.commands.whitelist` setting (ZOOKEEPER-2693).
    public var fourLetterWordDefault: FourLetterWordDefault {
        if self >= ZooKeeperVersion(3, 5, 3) { return .onlySrvr }
        if self >= ZooKeeperVersion(3, 5, 0) { return .all }
        if self >= ZooKeeperVersion(3, 4, 10) { return .allExceptWatchDumps }
        return .all
    }

    /// Whether `reconfig` works without setting anything (3.5.0–3.5.2), needs
    /// `reconfigEnabled=true` (3.5.3+), or does not exist (3.4).
    public var reconfigNeedsExplicitEnable: Bool { self >= ZooKeeperVersion(3, 5, 3) }

    /// Whether TTL nodes need `zookeeper.extendedTypesEnabled=true` (3.5.4+, ZOOKEEPER-2901).
    public var ttlNodesNeedExtendedTypes: Bool { self >= ZooKeeperVersion(3, 5, 4) }

    /// Known bugs of this release that matter to a migration.
    public var knownHazards: [KnownHazard] {
        KnownHazard.catalogue.filter { $0.affects(self) }
    }

    /// Known hazards of this release for one kind of operation.
    public func hazards(for operation: MigrationOperation) -> [KnownHazard] {
        knownHazards.filter { $0.operations.contains(operation) }
    }
}

// MARK: - Known hazards

/// A kind of operation a migration plan performs, for looking up the hazards that apply.
public enum MigrationOperation: String, Sendable, Hashable, CaseIterable {
    /// Changing the server list in static config files and restarting servers one by one.
    case membershipChangeByRollingRestart
    /// Adding a participant with `reconfig`.
    case reconfigAddParticipant
    /// A server catching up from a leader by a full snapshot (every empty joiner does).
    case learnerSnapshotSync
    /// Starting a newer release on a data directory written by 3.4.
    case upgradeFrom34DataDirectory
    /// Running servers of different releases in one ensemble.
    case mixedVersionEnsemble
}

/// A known ZooKeeper bug that a migration must plan around, with the releases it affects.
public struct KnownHazard: Sendable, Hashable, Identifiable, CustomStringConvertible {
    /// The JIRA issue, e.g. `ZOOKEEPER-3829`.
    public var id: String
    public var title: String
    /// Inclusive ranges of affected releases.
    public var affected: [ClosedRange<ZooKeeperVersion>]
    /// The releases that fixed it, one per release line.
    public var fixedIn: [ZooKeeperVersion]
    public var operations: Set<MigrationOperation>
    /// What happens, and what to do instead.
    public var advice: String
    /// Where the affected and fixed versions were checked.
    public var sources: [String]

    public func affects(_ version: ZooKeeperVersion) -> Bool {
        affected.contains { $0.contains(version) }
    }

    public var description: String {
        let ranges = affected.map { range in
            range.upperBound == .unreleased ? "\(range.lowerBound) and later" : "\(range.lowerBound)–\(range.upperBound)"
        }.joined(separator: ", ")
        let fixes = fixedIn.isEmpty ? "not fixed" : "fixed in " + fixedIn.map(\.description).joined(separator: ", ")
        return "\(id) (\(title); affects \(ranges); \(fixes)): \(advice)"
    }

    private static func v(_ major: Int, _ minor: Int, _ patch: Int) -> ZooKeeperVersion {
        ZooKeeperVersion(major, minor, patch)
    }

    /// Every hazard Mitosis knows, each checked against ZooKeeper's release notes.
    public static let catalogue: [KnownHazard] = [
        KnownHazard(
            id: "ZOOKEEPER-3829",
            title: "membership change by rolling restart leaves a leader that cannot commit",
            affected: [v(3, 5, 0)...v(3, 5, 8), v(3, 6, 0)...v(3, 6, 1)],
            fixedIn: [v(3, 5, 9), v(3, 6, 2)],
            operations: [.membershipChangeByRollingRestart],
            advice:
                "with reconfig disabled, growing the server list by rolling restarts can elect the new server as a leader that refuses every write (also ZOOKEEPER-3830, ZOOKEEPER-3842); upgrade to 3.5.9+/3.6.2+ first, or change membership with reconfig",
            sources: ["ZooKeeper 3.6.2 release notes", "apache/zookeeper pull requests #1356 and #1370 (branch-3.5)"]
        ),
        KnownHazard(
            id: "ZOOKEEPER-2172",
            title: "cluster crashes when reconfig adds a new node as a participant",
            affected: [v(3, 5, 0)...v(3, 5, 2)],
            fixedIn: [v(3, 5, 3)],
            operations: [.reconfigAddParticipant],
            advice: "do not add participants with reconfig on 3.5.0–3.5.2; upgrade to 3.5.3 or later first",
            sources: ["ZooKeeper 3.5.3 release notes"]
        ),
        KnownHazard(
            id: "ZOOKEEPER-3642",
            title: "data inconsistency when the leader crashes right after sending a SNAP sync",
            affected: [v(3, 5, 0)...v(3, 5, 9), v(3, 6, 0)...v(3, 6, 2)],
            fixedIn: [v(3, 5, 10), v(3, 6, 3)],
            operations: [.learnerSnapshotSync],
            advice:
                "a learner that took a snapshot from a leader which then crashed keeps it only in memory and silently loses that data on its next restart; after a joiner syncs, make it write a snapshot (or restart only once a later leader has snapshotted it), or upgrade to 3.5.10+/3.6.3+",
            sources: ["ZooKeeper 3.5.10 release notes", "ZooKeeper 3.6.3 release notes (ZOOKEEPER-4225 backport)"]
        ),
        KnownHazard(
            id: "ZOOKEEPER-3056",
            title: "a 3.4 data directory without a snapshot fails to start on 3.5.5+",
            affected: [v(3, 5, 5)...ZooKeeperVersion.unreleased],
            fixedIn: [],
            operations: [.upgradeFrom34DataDirectory],
            advice:
                "since 3.5.5 (ZOOKEEPER-2325) a server refuses a data directory that has transaction logs but no snapshot (\"No snapshot found, but there are log entries\"), which 3.4 leaves behind until it takes its first snapshot; on 3.5.5 put ZOOKEEPER-3056's empty snapshot.0 into version-2, from 3.5.6 set snapshot.trust.empty=true for the first start and remove it afterwards",
            sources: ["Apache ZooKeeper Upgrade FAQ (cwiki)", "Kafka 2.4 upgrade notes"]
        ),
        KnownHazard(
            id: "ZOOKEEPER-3644",
            title: "data loss upgrading a standalone 3.4.14 server to 3.5.6 with snapshot.trust.empty=true",
            affected: [v(3, 5, 6)...v(3, 5, 6)],
            fixedIn: [v(3, 5, 7)],
            operations: [.upgradeFrom34DataDirectory],
            advice: "do not use snapshot.trust.empty on 3.5.6; upgrade a 3.4 data directory with 3.5.7 or later",
            sources: ["apache/kafka pull request #8125 (ZooKeeper 3.5.7 critical fixes)"]
        ),
        KnownHazard(
            id: "ZOOKEEPER-3758",
            title: "3.6.0 servers cannot join an ensemble of 3.5 servers",
            affected: [v(3, 6, 0)...v(3, 6, 0)],
            fixedIn: [v(3, 6, 1)],
            operations: [.mixedVersionEnsemble],
            advice:
                "a rolling upgrade from 3.5 to 3.6.0 does not form a quorum (also ZOOKEEPER-3778, multiAddress.reachabilityCheckEnabled); use 3.6.1 or later when mixing 3.5 and 3.6 servers",
            sources: ["ZooKeeper 3.6.1 release notes"]
        ),
    ]
}
