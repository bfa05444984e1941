import Testing

@testable import Ensemble

@Suite("ZooKeeper versions")
struct VersionTests {
    @Test("versions parse from what servers and packages print", arguments: [
        ("3.4.13", ZooKeeperVersion(3, 4, 13), nil as String?),
        ("3.8.0", ZooKeeperVersion(3, 8, 0), nil),
        ("3.5.3-beta", ZooKeeperVersion(3, 5, 3), "-beta"),
        ("3.4.13-6+deb11u1", ZooKeeperVersion(3, 4, 13), "-6+deb11u1"),
        ("3.8.0-11+deb12u2, built on 2023-09-13", ZooKeeperVersion(3, 8, 0), "-11+deb12u2, built on 2023-09-13"),
        ("3.9", ZooKeeperVersion(3, 9, 0), nil),
        (" 3.6.2 ", ZooKeeperVersion(3, 6, 2), nil),
    ])
    func parses(text: String, expected: ZooKeeperVersion, suffix: String?) throws {
        let version = try #require(ZooKeeperVersion(parsing: text))
        #expect(version == expected)
        #expect(version.suffix == suffix)
    }

    @Test("non-versions are refused", arguments: ["", "three", "3", "v3.8.0", "3..1"])
    func refuses(text: String) {
        #expect(ZooKeeperVersion(parsing: text) == nil)
    }

    @Test("versions order numerically")
    func ordering() {
        let sorted = ["3.10.0", "3.5.10", "3.4.13", "3.5.9", "3.4.6"].compactMap(ZooKeeperVersion.init(parsing:)).sorted()
        #expect(sorted.map(\.description) == ["3.4.6", "3.4.13", "3.5.9", "3.5.10", "3.10.0"])
        #expect(ZooKeeperVersion(parsing: "3.5.3-beta") == ZooKeeperVersion(3, 5, 3))
    }

    @Test("capabilities follow the release that introduced them")
    func capabilities() {
        let v3413 = ZooKeeperVersion.v3_4_13
        let v380 = ZooKeeperVersion.v3_8_0
        #expect(!v3413.supports(.dynamicReconfiguration))
        #expect(v380.supports(.dynamicReconfiguration))
        #expect(v3413.supports(.fourLetterWordWhitelist))
        #expect(!ZooKeeperVersion(3, 4, 9).supports(.fourLetterWordWhitelist))
        #expect(!ZooKeeperVersion(3, 5, 2).supports(.fourLetterWordWhitelist))
        #expect(ZooKeeperVersion(3, 5, 3).supports(.fourLetterWordWhitelist))
        #expect(!ZooKeeperVersion(3, 5, 9).supports(.multiRead))
        #expect(ZooKeeperVersion(3, 6, 0).supports(.multiRead))
        #expect(v380.supports(.create2) && !v3413.supports(.getConfig))
        #expect(!ZooKeeperVersion(3, 5, 2).supports(.containerNodes))
        #expect(ZooKeeperVersion(3, 5, 3).supports(.ttlNodes) && !ZooKeeperVersion(3, 5, 3).ttlNodesNeedExtendedTypes)
        #expect(ZooKeeperVersion(3, 5, 4).ttlNodesNeedExtendedTypes)
        #expect(!ZooKeeperVersion(3, 5, 2).reconfigNeedsExplicitEnable)
        #expect(ZooKeeperVersion(3, 5, 3).reconfigNeedsExplicitEnable)
        #expect(v3413.fourLetterWordDefault == .allExceptWatchDumps)
        #expect(v380.fourLetterWordDefault == .onlySrvr)
        #expect(ZooKeeperVersion(3, 5, 5).supports(.snapshotTrustEmpty) == false)
    }

    @Test("ZOOKEEPER-3829 covers 3.5.0–3.5.8 and 3.6.0–3.6.1 only")
    func rollingRestartHazard() {
        func affected(_ text: String) -> Bool {
            ZooKeeperVersion(parsing: text)!.hazards(for: .membershipChangeByRollingRestart).contains { $0.id == "ZOOKEEPER-3829" }
        }
        #expect(!affected("3.4.13"))
        #expect(affected("3.5.0"))
        #expect(affected("3.5.8"))
        #expect(!affected("3.5.9"))
        #expect(affected("3.6.0"))
        #expect(affected("3.6.1"))
        #expect(!affected("3.6.2"))
        #expect(!affected("3.8.0"))
    }

    @Test("each hazard is found exactly for its versions and operations")
    func catalogue() {
        #expect(ZooKeeperVersion(3, 5, 2).hazards(for: .reconfigAddParticipant).map(\.id) == ["ZOOKEEPER-2172"])
        #expect(ZooKeeperVersion(3, 5, 3).hazards(for: .reconfigAddParticipant).isEmpty)
        #expect(ZooKeeperVersion(3, 6, 2).hazards(for: .learnerSnapshotSync).map(\.id) == ["ZOOKEEPER-3642"])
        #expect(ZooKeeperVersion(3, 6, 3).hazards(for: .learnerSnapshotSync).isEmpty)
        #expect(ZooKeeperVersion(3, 5, 10).hazards(for: .learnerSnapshotSync).isEmpty)
        #expect(ZooKeeperVersion(3, 5, 6).hazards(for: .upgradeFrom34DataDirectory).map(\.id) == ["ZOOKEEPER-3056", "ZOOKEEPER-3644"])
        #expect(ZooKeeperVersion(3, 8, 0).hazards(for: .upgradeFrom34DataDirectory).map(\.id) == ["ZOOKEEPER-3056"])
        #expect(ZooKeeperVersion(3, 5, 4).hazards(for: .upgradeFrom34DataDirectory).isEmpty)
        #expect(ZooKeeperVersion(3, 6, 0).hazards(for: .mixedVersionEnsemble).map(\.id) == ["ZOOKEEPER-3758"])
        #expect(ZooKeeperVersion.v3_8_0.knownHazards.map(\.id) == ["ZOOKEEPER-3056"])
        #expect(ZooKeeperVersion.v3_4_13.knownHazards.isEmpty)
        for hazard in KnownHazard.catalogue {
            #expect(!hazard.sources.isEmpty, "\(hazard.id) must say where its versions were checked")
            #expect(hazard.fixedIn.allSatisfy { !hazard.affects($0) }, "\(hazard.id) cannot affect its own fix")
        }
        #expect(KnownHazard.catalogue[3].description.contains("3.5.5 and later; not fixed"))
    }
}
