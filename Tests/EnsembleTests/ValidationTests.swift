import Testing

@testable import Ensemble

/// A valid 3-server 3.8 configuration with client ports in the server lines.
private let valid38 = """
    tickTime=2000
    initLimit=10
    syncLimit=5
    dataDir=/var/lib/zookeeper
    server.1=zk1:2888:3888;2181
    server.2=zk2:2888:3888;2181
    server.3=zk3:2888:3888;2181

    """

private func diagnostics(
    _ text: String, version: ZooKeeperVersion = .v3_8_0, myid: ServerID? = 1, dynamic: String? = nil
) -> [ConfigDiagnostic] {
    ZooKeeperConfig(parsing: text).validate(
        version: version, myid: myid, dynamicConfig: dynamic.map(DynamicConfig.init(parsing:)))
}

private func codes(_ diagnostics: [ConfigDiagnostic]) -> [ConfigDiagnostic.Code] { diagnostics.map(\.code) }

@Suite("configuration validation")
struct ValidationTests {
    @Test("the shipped-style configs are clean")
    func clean() {
        #expect(diagnostics(valid38).isEmpty)
        #expect(diagnostics(Fixtures.zooSample34, version: .v3_4_13).isEmpty)
        #expect(diagnostics(Fixtures.static35, myid: 2, dynamic: Fixtures.dynamic35).isEmpty)
    }

    @Test("a duplicate id is an error on the second line")
    func duplicateID() throws {
        let found = diagnostics(valid38 + "server.02=zk4:2888:3888;2181\n")
        let duplicate = try #require(found.first { $0.code == .duplicateServerID })
        #expect(duplicate.severity == .error)
        #expect(duplicate.line == 8)
        #expect(duplicate.serverID == 2)
        #expect(duplicate.description == "zoo.cfg:8: error: server id 2 is listed twice (also on line 6); ZooKeeper keeps only one of them: give each server its own id")
    }

    @Test("two servers asking for one port on one host conflict; localhost and 127.0.0.1 are one host")
    func portConflicts() throws {
        let text = """
            tickTime=2000
            initLimit=10
            syncLimit=5
            dataDir=/d
            server.1=localhost:2888:3888;2181
            server.2=127.0.0.1:2889:3889;2182
            server.3=localhost:2890:2888;2183
            server.4=zk4:3000:3000;2184
            server.5=zk5:2888:3888;2181

            """
        let conflicts = diagnostics(text).filter { $0.code == .portConflict }
        #expect(conflicts.map(\.serverID) == [3, 4])
        #expect(conflicts[0].message.contains("election port 2888 on the loopback host is already the quorum port of server 1"))
        #expect(conflicts[1].message.contains("is already its own quorum port"))
    }

    @Test("the static clientPort counts for this server's conflicts")
    func clientPortConflict() {
        let text = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nclientPort=2888\nserver.1=zk1:2888:3888\nserver.2=zk2:2888:3888\nserver.3=zk3:2888:3888\n"
        let conflict = diagnostics(text, version: .v3_4_13).first { $0.code == .portConflict }
        #expect(conflict?.line == 5)
        #expect(conflict?.message.contains("client port 2888") == true)
    }

    @Test("myid must exist and be listed")
    func myid() {
        let missing = diagnostics(valid38, myid: nil)
        #expect(codes(missing) == [.missingMyID])
        #expect(missing[0].message.contains("/var/lib/zookeeper/myid"))
        let unknown = diagnostics(valid38, myid: 9)
        #expect(codes(unknown) == [.myIDNotInServerList])
        #expect(unknown[0].message.contains("no server.9 line"))
        // A standalone server needs no myid.
        #expect(diagnostics("tickTime=2000\ndataDir=/d\nclientPort=2181\n", myid: nil).isEmpty)
    }

    @Test("voting set sizes: two voters and even sizes are warnings")
    func votingSets() {
        let two = diagnostics("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nserver.1=a:2888:3888;2181\nserver.2=b:2888:3888;2181\n")
        #expect(codes(two) == [.noFailureTolerated])
        #expect(two[0].severity == .warning)
        let four = diagnostics(valid38 + "server.4=zk4:2888:3888;2181\n")
        #expect(codes(four) == [.evenVotingSet])
        #expect(four[0].message.contains("4 voting servers tolerate 1 failure(s)"))
        // An observer does not vote, so 3 voters + 1 observer is fine.
        let observer = diagnostics(valid38 + "server.4=zk4:2888:3888:observer;2181\n")
        #expect(observer.isEmpty)
    }

    @Test("observers: none without participants, peerType on 3.4 observers")
    func observers() {
        let onlyObservers = diagnostics("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nserver.1=a:2888:3888:observer;2181\nserver.2=b:2888:3888:observer;2181\n")
        #expect(codes(onlyObservers).contains(.observersWithoutQuorum))
        let oneVoter = diagnostics("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nclientPort=2181\nserver.1=a:2888:3888\nserver.2=b:2888:3888:observer\n", version: .v3_4_13)
        #expect(codes(oneVoter).contains(.observersWithoutQuorum))

        let observer34 = Fixtures.zooSample34 + "server.4=zk4.example.internal:2888:3888:observer\n"
        let missingPeerType = diagnostics(observer34, version: .v3_4_13, myid: 4)
        #expect(codes(missingPeerType) == [.observerPeerTypeMissing])
        #expect(missingPeerType[0].line == 32)
        #expect(missingPeerType[0].message.contains("add peerType=observer"))
        #expect(diagnostics(observer34 + "peerType=observer\n", version: .v3_4_13, myid: 4).isEmpty)
        let mismatch = diagnostics(Fixtures.zooSample34 + "peerType=observer\n", version: .v3_4_13, myid: 1)
        #expect(codes(mismatch) == [.peerTypeMismatch])
        #expect(codes(diagnostics(Fixtures.zooSample34 + "peerType=watcher\n", version: .v3_4_13)) == [.invalidValue])
    }

    @Test("3.5+ settings are refused on 3.4, each at its line")
    func versionSettings() {
        let text = Fixtures.zooSample34.replacingFirst("server.1=zk1.example.internal:2888:3888", with: "server.1=zk1.example.internal:2888:3888;2181")
            + "reconfigEnabled=true\nstandaloneEnabled=false\n"
        let found = diagnostics(text, version: .v3_4_13)
        #expect(codes(found) == [.unsupportedServerLineFormat, .unsupportedSetting, .unsupportedSetting])
        #expect(found.map(\.line) == [29, 32, 33])
        #expect(found[0].message.contains("remove the suffix and set clientPort=2181"))
        #expect(found[1].message.contains("3.4 has no dynamic reconfiguration"))

        let dynamicOn34 = diagnostics("tickTime=2000\ndataDir=/d\nclientPort=2181\ndynamicConfigFile=/d/zoo.cfg.dynamic\n", version: .v3_4_13)
        #expect(codes(dynamicOn34) == [.unsupportedSetting])
        #expect(dynamicOn34[0].message.contains("needs 3.5.0 or later"))

        let whitelistOn349 = diagnostics(Fixtures.zooSample34 + "4lw.commands.whitelist=srvr\n", version: ZooKeeperVersion(3, 4, 9))
        #expect(codes(whitelistOn349) == [.unsupportedSetting])
        #expect(diagnostics(Fixtures.zooSample34 + "4lw.commands.whitelist=srvr\n", version: .v3_4_13).isEmpty)

        let reconfigOn350 = diagnostics(valid38 + "reconfigEnabled=false\n", version: ZooKeeperVersion(3, 5, 1))
        // 3.5.0–3.5.2 always have reconfig on, so they also move the server lines out of zoo.cfg.
        #expect(codes(reconfigOn350) == [.configWillBeRewritten, .unsupportedSetting])
        #expect(reconfigOn350[1].severity == .warning)
        #expect(codes(diagnostics(valid38 + "multiAddress.enabled=true\n", version: ZooKeeperVersion(3, 5, 9))) == [.unsupportedSetting])
        #expect(codes(diagnostics(valid38 + "snapshot.trust.empty=true\n", version: ZooKeeperVersion(3, 5, 5))) == [.unsupportedSetting])
    }

    @Test("dynamic config rules")
    func dynamicRules() {
        let both = diagnostics(Fixtures.static35 + "server.9=zk9:2888:3888;2181\n", myid: 1, dynamic: Fixtures.dynamic35)
        #expect(codes(both) == [.serverLinesBesideDynamicFile])
        #expect(both[0].line == 9)
        let versioned = diagnostics(Fixtures.static35, myid: 1, dynamic: Fixtures.configZnode)
        #expect(codes(versioned) == [.versionInDynamicFile])
        #expect(versioned[0].file == "/etc/zookeeper/conf/zoo.cfg.dynamic.100000000")
        #expect(versioned[0].line == 4)
        let notGiven = diagnostics(Fixtures.static35, myid: 1)
        #expect(codes(notGiven) == [.dynamicConfigNotProvided])
        // Problems inside the dynamic file are reported against it.
        let badDynamic = diagnostics(Fixtures.static35, myid: 1, dynamic: "server.1=a:2888:3888;2181\nserver.2=b:2888;2181\nserver.3=c:2888:3888;2181\n")
        #expect(codes(badDynamic) == [.missingElectionPort])
        #expect(badDynamic[0].file == "/etc/zookeeper/conf/zoo.cfg.dynamic.100000000")
    }

    @Test("client ports: required on 3.4, agreeing on 3.5+")
    func clientPorts() {
        let noPort34 = diagnostics(Fixtures.zooSample34.replacingFirst("clientPort=2181\n", with: ""), version: .v3_4_13)
        #expect(codes(noPort34) == [.missingClientPort])
        let noPort38 = diagnostics(valid38.replacingFirst("server.1=zk1:2888:3888;2181", with: "server.1=zk1:2888:3888"))
        #expect(codes(noPort38) == [.missingClientPort])
        #expect(noPort38[0].line == 5)
        let mismatch = diagnostics(valid38 + "clientPort=2182\n")
        #expect(codes(mismatch) == [.clientPortMismatch])
        #expect(mismatch[0].line == 8)
        #expect(diagnostics(valid38 + "clientPort=2181\n").isEmpty)
    }

    @Test("reconfig and standalone rules")
    func reconfigRules() {
        let single = diagnostics("tickTime=2000\ndataDir=/d\nreconfigEnabled=true\nserver.1=a:2888:3888;2181\n")
        #expect(codes(single) == [.standaloneBlocksReconfig])
        let distributedSingle = diagnostics("tickTime=2000\ndataDir=/d\nreconfigEnabled=true\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2\nserver.1=a:2888:3888;2181\n")
        #expect(codes(distributedSingle) == [.configWillBeRewritten])
        let rewritten = diagnostics(valid38 + "reconfigEnabled=true\n")
        #expect(codes(rewritten) == [.configWillBeRewritten])
        #expect(rewritten[0].severity == .warning)
    }

    @Test("malformed values and lines are errors that name the line")
    func malformed() {
        let found = diagnostics("tickTime=2s\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nreconfigEnabled=yes\nserver.1=zk1:2888:3888;2181\nserver.2=zk2:2888:3888:leader;2181\nserver.x=zk3:2888:3888\nserver.3=zk3:2888:3888;2181\n")
        // The two valid servers left also make a two-voter ensemble.
        #expect(codes(found) == [.invalidValue, .invalidValue, .invalidServerLine, .invalidServerLine, .noFailureTolerated])
        #expect(found.map(\.line) == [1, 5, 7, 8, 9])
        #expect(found[2].message.contains("the role 'leader' is neither participant nor observer"))
        #expect(found[3].message.contains("does not end in a server id"))
    }

    @Test("required settings")
    func required() {
        let found = diagnostics("server.1=zk1:2888:3888;2181\nserver.2=zk2:2888:3888;2181\nserver.3=zk3:2888:3888;2181\n")
        #expect(Set(codes(found)) == [.missingSetting])
        #expect(found.map(\.message).joined().contains("add dataDir="))
        #expect(found.map(\.message).joined().contains("add tickTime=2000"))
        #expect(found.map(\.message).joined().contains("add initLimit=10"))
        #expect(found.map(\.message).joined().contains("add syncLimit=5"))
    }

    @Test("TTL nodes need server ids below 255")
    func extendedTypes() {
        let found = diagnostics(valid38 + "server.300=zk300:2888:3888;2181\nserver.4=zk4:2888:3888;2181\nextendedTypesEnabled=true\n")
        #expect(codes(found).contains(.extendedTypesServerID))
    }
}
