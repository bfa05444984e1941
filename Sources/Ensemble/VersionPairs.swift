// What two ZooKeeper releases allow together: the facts a planner needs to know whether a migration
// from one to the other is possible, each with where it was checked.

/// What a migration strategy asks of the source's and the destination's releases.
public enum VersionPairNeed: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Servers of both releases in one ensemble: they elect a leader and replicate together
    /// (mitosis, mitosis-observers, replace).
    case sharedQuorum
    /// `reconfig` runs on, and is followed by, every server of both releases (strategy reconfig).
    case reconfigOnEveryServer

    public var description: String { rawValue }
}

/// One rule of how two releases work together, with its sources.
public struct VersionPairFact: Sendable, Hashable, Identifiable, CustomStringConvertible {
    /// A short stable name, e.g. `reconfig-from-3.5`.
    public var id: String
    /// What the rule says.
    public var statement: String
    /// Where it was checked: documentation pages, JIRA issues, source files.
    public var sources: [String]

    public var description: String { "\(statement) [\(sources.joined(separator: "; "))]" }
}

/// Whether a migration between two releases can do what a strategy needs.
public struct VersionPairVerdict: Sendable, Hashable {
    /// The rules that forbid it; empty when it is possible.
    public var refusals: [VersionPairFact]
    /// Rules that apply but do not forbid it (things to know, or to leave as they are).
    public var notes: [VersionPairFact]

    public var isPossible: Bool { refusals.isEmpty }
}

extension VersionPairFact {
    /// Dynamic reconfiguration exists from 3.5.0; a 3.4 server can neither run a reconfig nor
    /// follow a leader through one (it does not know the packets that commit and activate a new
    /// configuration).
    public static let reconfigFrom35 = VersionPairFact(
        id: "reconfig-from-3.5",
        statement:
            "reconfig (dynamic reconfiguration) came in 3.5.0: every server of the ensemble must run 3.5 or later, and a 3.4 server cannot follow a leader through a reconfig nor join a 3.5+ leader's dynamic configuration",
        sources: [
            "ZooKeeper Dynamic Reconfiguration guide (zookeeperReconfig.md, 'Overview' and 'Upgrading to 3.5.0')",
            "ZOOKEEPER-107 (reconfig, 3.5.0)",
        ])

    /// 3.5+ servers open election connections with a versioned handshake that only 3.4.6 and later
    /// read (ZOOKEEPER-1633); older 3.4 servers reject it with "Invalid server id: -65536".
    public static let electionHandshakeFrom346 = VersionPairFact(
        id: "election-handshake-3.4.6",
        statement:
            "a 3.4 server shares a quorum with 3.5+ servers only from 3.4.6, which reads their versioned election handshake; older 3.4 servers log 'Invalid server id: -65536' and never join (upgrade the 3.4 servers to 3.4.6+ first)",
        sources: [
            "zookeeperReconfig.md, 'Upgrading to 3.5.0' (rolling upgrades only from 3.4.6)",
            "ZOOKEEPER-1633",
            "QuorumCnxManager.handleConnection (3.4 branch): a negative first long is a protocol version",
        ])

    /// 3.6+ keeps the 3.5 handshake unless `multiAddress.enabled=true` (ZOOKEEPER-3720), so that
    /// a rolling upgrade does not split the servers in two.
    public static let multiAddressHandshake = VersionPairFact(
        id: "multi-address-handshake",
        statement:
            "3.6+ servers speak the old election handshake to older servers unless multiAddress.enabled=true; leave it unset (Mitosis never sets it) while servers older than 3.6 are in the ensemble",
        sources: [
            "ZOOKEEPER-3720",
            "QuorumCnxManager.startConnection (3.6–3.9): PROTOCOL_VERSION_V2 only with multiAddress enabled",
        ])

    /// 3.4 servers do not know container and TTL nodes (3.5 line), so a 3.5+ ensemble's data is not
    /// something a 3.4 server can safely hold.
    public static let noDowngradeTo34 = VersionPairFact(
        id: "no-downgrade-to-3.4",
        statement:
            "a 3.5+ source may hold container and TTL nodes, which 3.4 servers do not know, and ZooKeeper documents rolling upgrades, not downgrades: 3.4 servers may not replicate a 3.5+ ensemble's data",
        sources: [
            "ZOOKEEPER-2163 (container nodes) and ZOOKEEPER-2169 (TTL nodes), both on the 3.5 line",
            "zookeeperReconfig.md, 'Upgrading to 3.5.0'",
        ])

    /// From 3.5.5 a server refuses a data directory with transaction logs but no snapshot, which 3.4
    /// leaves behind; none of Mitosis's strategies starts a newer release on a 3.4 data directory.
    public static let emptySnapshotOnlyInPlace = VersionPairFact(
        id: "snapshot-trust-empty",
        statement:
            "3.5.5+ refuses a 3.4 data directory that has transaction logs but no snapshot (ZOOKEEPER-3056; snapshot.trust.empty=true from 3.5.6 lets it start): this matters to an in-place upgrade only, since every Mitosis strategy starts the destination's servers on empty data directories that sync from the leader",
        sources: ["ZOOKEEPER-3056", "ZOOKEEPER-2325", "Apache ZooKeeper Upgrade FAQ (cwiki)", "Kafka 2.4 upgrade notes"])
}

extension ZooKeeperVersion {
    /// Every rule that decides whether servers of `source` and `destination` can do what `needs`
    /// asks (mixed-release hazards of ``KnownHazard`` are looked up separately, per release).
    public static func pair(
        _ source: ZooKeeperVersion, _ destination: ZooKeeperVersion, needs: Set<VersionPairNeed>
    ) -> VersionPairVerdict {
        var refusals: [VersionPairFact] = []
        var notes: [VersionPairFact] = []
        let older = min(source, destination)
        let newer = max(source, destination)
        if needs.contains(.reconfigOnEveryServer), !older.supports(.dynamicReconfiguration) {
            refusals.append(.reconfigFrom35)
        }
        if needs.contains(.sharedQuorum) {
            if destination.isStaticMembershipOnly, !source.isStaticMembershipOnly {
                refusals.append(.noDowngradeTo34)
            } else if older.isStaticMembershipOnly, !newer.isStaticMembershipOnly, older < ZooKeeperVersion(3, 4, 6) {
                refusals.append(.electionHandshakeFrom346)
            }
            if older < ZooKeeperVersion(3, 6, 0), newer.supports(.multiAddress) {
                notes.append(.multiAddressHandshake)
            }
        }
        if source.isStaticMembershipOnly, destination >= ZooKeeperVersion(3, 5, 5) {
            notes.append(.emptySnapshotOnlyInPlace)
        }
        return VersionPairVerdict(refusals: refusals, notes: notes)
    }
}
