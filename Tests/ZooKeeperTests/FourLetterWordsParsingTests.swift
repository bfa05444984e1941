import Testing
@testable import ZooKeeper
import ZooKeeperProtocol

/// The four-letter-word parsers against answers captured from real servers: ZooKeeper 3.4.13
/// (Debian 11 package) and 3.8.0 (Debian 12 package), 3-server ensembles on loopback on Java 17,
/// after a kazoo client wrote a node, an ephemeral and a watch. The texts are verbatim except
/// that 3.8.0's `mntr` (about 430 lines) is cut down to the lines these tests read.
@Suite struct FourLetterWordsParsingTests {
    // MARK: srvr / stat

    @Test func srvrOfA3_4Leader() throws {
        let status = try ServerStatus(parsing: Captured.srvr34Leader)
        #expect(status.version == "3.4.13-6--1")
        #expect(status.releaseVersion == "3.4.13")
        #expect(status.latencyMinimum == 2)
        #expect(status.latencyAverage == 10)
        #expect(status.latencyMaximum == 19)
        #expect(status.received == 6)
        #expect(status.sent == 5)
        #expect(status.connections == 2)
        #expect(status.outstanding == 0)
        #expect(status.zxid == Zxid(epoch: 1, counter: 3))
        #expect(status.mode == .leader)
        #expect(status.isServing)
        #expect(status.nodeCount == 6)
        #expect(status.clients.isEmpty)
    }

    @Test func srvrOf3_8ServersWithAFractionalAverageLatency() throws {
        let leader = try ServerStatus(parsing: Captured.srvr38Leader)
        #expect(leader.version == "3.8.0-${mvngit.commit.id}")
        #expect(leader.releaseVersion == "3.8.0")
        #expect(leader.latencyAverage == 7.2857)
        #expect(leader.zxid == Zxid(0x1_0000_0004))
        #expect(leader.mode == .leader)
        #expect(leader.nodeCount == 7)

        let follower = try ServerStatus(parsing: Captured.srvr38Follower)
        #expect(follower.mode == .follower)
        #expect(follower.zxid == Zxid(epoch: 1, counter: 8))
        #expect(follower.latencyAverage == 7.0)
    }

    @Test func statListsTheClients() throws {
        for (text, mode, zxid) in [
            (Captured.stat34Follower, ServerStatus.Mode.follower, Zxid(0x1_0000_0009)),
            (Captured.stat38Leader, .leader, Zxid(0x1_0000_0004)),
        ] {
            let status = try ServerStatus(parsing: text)
            #expect(status.mode == mode)
            #expect(status.zxid == zxid)
            #expect(status.clients.count == 2)
            let connections = status.clientConnections
            #expect(connections.count == 2)
            #expect(connections.allSatisfy { $0.address.hasPrefix("127.0.0.1:") })
            #expect(connections.first?.details["queued"] == "0")
        }
    }

    @Test func everyModeIsRecognised() throws {
        for mode in ["leader", "follower", "observer", "standalone", "read-only"] {
            let text = Captured.srvr38Follower.replacingMode(with: mode)
            let status = try ServerStatus(parsing: text)
            #expect(status.mode.rawValue == mode)
            #expect(status.isServing == (mode != "read-only"))
        }
    }

    @Test func anAnswerThatIsNotSrvrIsAnError() {
        #expect(throws: ServerStatus.ParseError.self) { try ServerStatus(parsing: "imok") }
        #expect(throws: ServerStatus.ParseError.self) {
            try ServerStatus(parsing: Captured.srvr38Follower.replacingMode(with: "looking"))
        }
    }

    // MARK: mntr

    @Test func mntrOfA3_4Leader() {
        let monitoring = MonitoringData(parsing: Captured.mntr34Leader)
        #expect(monitoring.version == "3.4.13-6--1")
        #expect(monitoring.serverState == "leader")
        #expect(monitoring.znodeCount == 6)
        #expect(monitoring.ephemeralsCount == 1)
        #expect(monitoring.watchCount == 1)
        #expect(monitoring.outstandingRequests == 0)
        #expect(monitoring.averageLatency == 10)
        #expect(monitoring.maximumLatency == 19)
        #expect(monitoring.aliveConnections == 2)
        #expect(monitoring.followers == 2, "3.4 says zk_followers")
        #expect(monitoring.syncedFollowers == 2)
        #expect(monitoring.pendingSyncs == 0)
        #expect(monitoring.approximateDataSize == 50)
        #expect(monitoring["zk_max_file_descriptor_count"] == "20000")
    }

    @Test func mntrOfA3_8Leader() {
        let monitoring = MonitoringData(parsing: Captured.mntr38Leader)
        #expect(monitoring.version == "3.8.0-${mvngit.commit.id}")
        #expect(monitoring.serverState == "leader")
        #expect(monitoring["zk_peer_state"] == "leading - broadcast")
        #expect(monitoring.followers == 2, "3.6+ says zk_learners")
        #expect(monitoring.syncedFollowers == 2)
        #expect(monitoring.averageLatency == 7.2857)
        #expect(monitoring.znodeCount == 7)
        #expect(monitoring.ephemeralsCount == 1)
    }

    // MARK: conf

    @Test func confOf3_4HasNoMembership() {
        let configuration = ServerConfiguration(parsing: Captured.conf34)
        #expect(configuration.serverID == 3)
        #expect(configuration.clientPort == 23103)
        #expect(configuration.tickTime == 500)
        #expect(configuration.dataDirectory == "/tmp/bz/e34/d3/version-2")
        #expect(configuration["electionPort"] == "23123")
        #expect(configuration.membership.isEmpty)
        #expect(configuration.membershipVersion == nil)
    }

    @Test func confOf3_8ExposesTheMembership() {
        let configuration = ServerConfiguration(parsing: Captured.conf38)
        #expect(configuration.serverID == 1)
        #expect(configuration.clientPort == 23201)
        #expect(configuration.membership == [
            1: "127.0.0.1:23211:23221:participant",
            2: "127.0.0.1:23212:23222:participant",
            3: "127.0.0.1:23213:23223:participant",
        ])
        #expect(configuration.membershipVersion == "0")
        #expect(configuration["membership"] == nil, "the 'membership:' header is not a key")
        #expect(configuration["server.1"] == nil, "membership lines are not plain keys")
    }

    // MARK: cons, envi

    @Test func consOfBothVersions() {
        for text in [Captured.cons34, Captured.cons38] {
            let connections = ClientConnection.parse(text)
            #expect(connections.count == 2, "the session and the connection asking")
            let session = connections.first { $0.sessionID != nil }
            #expect(session?.details["lop"] == "GETD")
            #expect(session?.details["to"] == "10000")
            #expect(connections.allSatisfy { $0.address.hasPrefix("127.0.0.1:") })
        }
        #expect(ClientConnection.parse(Captured.cons34).first?.address == "127.0.0.1:53266")
        #expect(ClientConnection.parse(Captured.cons34).first?.sessionID == "0x300006c3f970000")
    }

    @Test func enviOfBothVersions() {
        for text in [Captured.envi34, Captured.envi38] {
            let environment = KeyValueText.parse(text, separator: "=")
            #expect(environment["java.version"] == "17.0.15")
            #expect(environment["zookeeper.version"] != nil)
            #expect(environment["Environment:"] == nil)
        }
    }

    // MARK: refusals

    @Test func theWhitelistRefusalOf3_8IsATypedError() throws {
        // Verbatim from a 3.8.0 server with 4lw.commands.whitelist=srvr, ruok.
        let refusal = "mntr is not executed because it is not in the whitelist.\n"
        do {
            _ = try FourLetterWords.checkedAnswer(refusal, word: "mntr", server: "127.0.0.1:23301")
            Issue.record("a refusal is not an answer")
        } catch {
            #expect(error.kind == .notWhitelisted)
            #expect(error.description.contains("127.0.0.1:23301"))
            #expect(error.description.contains("'mntr'"))
            #expect(error.description.contains("4lw.commands.whitelist"))
        }
    }

    @Test func aConnectionClosedWithoutAnAnswerIsATypedError() throws {
        // Both versions close the connection on an unknown word.
        do {
            _ = try FourLetterWords.checkedAnswer("", word: "xyzw", server: "127.0.0.1:2181")
            Issue.record("nothing is not an answer")
        } catch {
            #expect(error.kind == .noAnswer)
            #expect(error.description.contains("xyzw"))
        }
        #expect(try FourLetterWords.checkedAnswer("imok", word: "ruok", server: "127.0.0.1:2181") == "imok")
    }
}

extension String {
    fileprivate func replacingMode(with mode: String) -> String {
        split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("Mode: ") ? "Mode: \(mode)" : String($0) }
            .joined(separator: "\n")
    }
}

/// Answers captured from real servers (see the suite's comment).
enum Captured {
    /// Real `srvr` output (captured from a local ensemble).
    static let srvr34Leader = """
        Zookeeper version: 3.4.13-6--1, built on Sat, 28 Oct 2023 23:16:44 +0200
        Latency min/avg/max: 2/10/19
        Received: 6
        Sent: 5
        Connections: 2
        Outstanding: 0
        Zxid: 0x100000003
        Mode: leader
        Node count: 6
        Proposal sizes last/min/max: 82/36/85

        """

    /// Real `stat` output (captured from a local ensemble).
    static let stat34Follower = """
        Zookeeper version: 3.4.13-6--1, built on Sat, 28 Oct 2023 23:16:44 +0200
        Clients:
         /127.0.0.1:34996[1](queued=0,recved=5,sent=5)
         /127.0.0.1:35014[0](queued=0,recved=1,sent=0)

        Latency min/avg/max: 2/5/13
        Received: 10
        Sent: 9
        Connections: 2
        Outstanding: 0
        Zxid: 0x100000009
        Mode: follower
        Node count: 6

        """

    /// Real `mntr` output (captured from a local ensemble).
    static let mntr34Leader = """
        zk_version\t3.4.13-6--1, built on Sat, 28 Oct 2023 23:16:44 +0200
        zk_avg_latency\t10
        zk_max_latency\t19
        zk_min_latency\t2
        zk_packets_received\t8
        zk_packets_sent\t7
        zk_num_alive_connections\t2
        zk_outstanding_requests\t0
        zk_server_state\tleader
        zk_znode_count\t6
        zk_watch_count\t1
        zk_ephemerals_count\t1
        zk_approximate_data_size\t50
        zk_open_file_descriptor_count\t23
        zk_max_file_descriptor_count\t20000
        zk_fsync_threshold_exceed_count\t0
        zk_followers\t2
        zk_synced_followers\t2
        zk_pending_syncs\t0
        zk_last_proposal_size\t82
        zk_max_proposal_size\t85
        zk_min_proposal_size\t36

        """

    /// Real `conf` output (captured from a local ensemble).
    static let conf34 = """
        clientPort=23103
        dataDir=/tmp/bz/e34/d3/version-2
        dataLogDir=/tmp/bz/e34/d3/version-2
        tickTime=500
        maxClientCnxns=60
        minSessionTimeout=1000
        maxSessionTimeout=10000
        serverId=3
        initLimit=10
        syncLimit=5
        electionAlg=3
        electionPort=23123
        quorumPort=23113
        peerType=0

        """

    /// Real `cons` output (captured from a local ensemble).
    static let cons34 = """
         /127.0.0.1:53266[1](queued=0,recved=4,sent=4,sid=0x300006c3f970000,lop=GETD,est=1795444698017,to=10000,lcxid=0x3,lzxid=0x100000003,lresp=7110357,llat=2,minlat=0,avglat=10,maxlat=19)
         /127.0.0.1:53304[0](queued=0,recved=1,sent=0)


        """

    /// Real `envi` output (captured from a local ensemble).
    static let envi34 = """
        Environment:
        zookeeper.version=3.4.13-6--1, built on Sat, 28 Oct 2023 23:16:44 +0200
        host.name=localhost
        java.version=17.0.15
        java.vendor=Debian
        java.home=/usr/lib/jvm/java-17-openjdk-amd64
        java.class.path=/work/main/vendor-zookeeper/3.4.13/zookeeper-3.4.13.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-log4j12.jar
        java.library.path=/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib
        java.io.tmpdir=/tmp
        java.compiler=<NA>
        os.name=Linux
        os.arch=amd64
        os.version=6.18.44-fc-v657
        user.name=root
        user.home=/root
        user.dir=/tmp/bz

        """

    /// Real `srvr` output (captured from a local ensemble).
    static let srvr38Leader = """
        Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
        Latency min/avg/max: 2/7.2857/19
        Received: 9
        Sent: 8
        Connections: 2
        Outstanding: 0
        Zxid: 0x100000004
        Mode: leader
        Node count: 7
        Proposal sizes last/min/max: 94/48/94

        """

    /// Real `srvr` output (captured from a local ensemble).
    static let srvr38Follower = """
        Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
        Latency min/avg/max: 2/7.0/16
        Received: 7
        Sent: 6
        Connections: 2
        Outstanding: 0
        Zxid: 0x100000008
        Mode: follower
        Node count: 7

        """

    /// Real `stat` output (captured from a local ensemble).
    static let stat38Leader = """
        Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
        Clients:
         /127.0.0.1:35094[1](queued=0,recved=7,sent=7)
         /127.0.0.1:35098[0](queued=0,recved=1,sent=0)

        Latency min/avg/max: 2/7.2857/19
        Received: 10
        Sent: 9
        Connections: 2
        Outstanding: 0
        Zxid: 0x100000004
        Mode: leader
        Node count: 7
        Proposal sizes last/min/max: 94/48/94

        """

    /// Real `mntr` output (captured from a local ensemble).
    static let mntr38Leader = """
        zk_version\t3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
        zk_server_state\tleader
        zk_peer_state\tleading - broadcast
        zk_ephemerals_count\t1
        zk_num_alive_connections\t2
        zk_avg_latency\t7.2857
        zk_outstanding_requests\t0
        zk_znode_count\t7
        zk_synced_followers\t2
        zk_watch_count\t1
        zk_synced_non_voting_followers\t0
        zk_synced_observers\t0
        zk_min_latency\t2
        zk_approximate_data_size\t205
        zk_pending_syncs\t0
        zk_uptime\t18378
        zk_max_latency\t19
        zk_learners\t2
        zk_avg_quorum_ack_latency\t8.5
        zk_p99_quorum_ack_latency\t13

        """

    /// Real `conf` output (captured from a local ensemble).
    static let conf38 = """
        clientPort=23201
        secureClientPort=-1
        dataDir=/tmp/bz/e38/d1/version-2
        dataDirSize=67109477
        dataLogDir=/tmp/bz/e38/d1/version-2
        dataLogSize=67109477
        tickTime=500
        maxClientCnxns=60
        minSessionTimeout=1000
        maxSessionTimeout=10000
        clientPortListenBacklog=-1
        serverId=1
        initLimit=10
        syncLimit=5
        electionAlg=3
        electionPort=23221
        quorumPort=23211
        peerType=0
        membership: 
        server.1=127.0.0.1:23211:23221:participant
        server.2=127.0.0.1:23212:23222:participant
        server.3=127.0.0.1:23213:23223:participant
        version=0
        """

    /// Real `cons` output (captured from a local ensemble).
    static let cons38 = """
         /127.0.0.1:35094[1](queued=0,recved=7,sent=7,sid=0x300006c45b00000,lop=GETD,est=1795444701366,to=10000,lcxid=0x6,lzxid=0x100000004,lresp=7113750,llat=2,minlat=0,avglat=7,maxlat=19)
         /127.0.0.1:35140[0](queued=0,recved=1,sent=0)


        """

    /// Real `envi` output (captured from a local ensemble).
    static let envi38 = """
        Environment:
        zookeeper.version=3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
        host.name=localhost
        java.version=17.0.15
        java.vendor=Debian
        java.home=/usr/lib/jvm/java-17-openjdk-amd64
        java.class.path=/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/netty-all.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/metrics-core.jar:/usr/share/java/snappy-java.jar:/usr/share/java/commons-io.jar:/usr/share/java/commons-cli.jar
        java.library.path=/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib
        java.io.tmpdir=/tmp
        java.compiler=<NA>
        os.name=Linux
        os.arch=amd64
        os.version=6.18.44-fc-v657
        user.name=root
        user.home=/root
        user.dir=/tmp/bz
        os.memory.free=112MB
        os.memory.max=123MB
        os.memory.total=123MB

        """
}
