import Foundation
import Testing
import ZooKeeperProtocol

@testable import Ensemble

@Suite("server lines")
struct QuorumServerTests {
    @Test("3.4 and 3.5+ formats parse", arguments: [
        ("zk1:2888:3888", QuorumServer(id: 1, host: "zk1", quorumPort: 2888, electionPort: 3888)),
        ("zk1:2888", QuorumServer(id: 1, host: "zk1", quorumPort: 2888, electionPort: nil)),
        ("zk1:2888:3888:observer", QuorumServer(id: 1, host: "zk1", quorumPort: 2888, electionPort: 3888, role: .observer)),
        ("zk1:2888:3888:PARTICIPANT", QuorumServer(id: 1, host: "zk1", quorumPort: 2888, electionPort: 3888, role: .participant, roleIsExplicit: true)),
        ("125.23.63.23:1234:1235;1236", QuorumServer(id: 1, host: "125.23.63.23", quorumPort: 1234, electionPort: 1235, clientPort: 1236)),
        ("125.23.63.23:1234:1235:participant;125.23.63.24:1236",
         QuorumServer(id: 1, host: "125.23.63.23", quorumPort: 1234, electionPort: 1235, role: .participant, roleIsExplicit: true, clientAddress: "125.23.63.24", clientPort: 1236)),
        ("[2001:db8::1]:2888:3888:observer;[::]:2181",
         QuorumServer(id: 1, host: "2001:db8::1", quorumPort: 2888, electionPort: 3888, role: .observer, clientAddress: "::", clientPort: 2181)),
        (" zk1 : 2888 : 3888 ; 2181 ", QuorumServer(id: 1, host: "zk1", quorumPort: 2888, electionPort: 3888, clientPort: 2181)),
    ])
    func parses(text: String, expected: QuorumServer) throws {
        let parsed = try QuorumServer(id: 1, parsing: text)
        #expect(parsed == expected)
        // == leaves the spelling out (see QuorumServer's documentation): check it on its own.
        #expect(parsed.roleIsExplicit == expected.roleIsExplicit)
    }

    /// Plans carry these lines: the JSON a plan has always had (ServerLineSpec's keys), and the
    /// role's spelling, which JSON does not record, is left out of equality.
    @Test("a line as JSON: the plan's keys, read back equal, spelling not compared")
    func json() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let observer = QuorumServer(id: 4, host: "10.0.2.1", quorumPort: 2888, electionPort: 3888, role: .observer, clientAddress: "0.0.0.0", clientPort: 2181)
        #expect(String(decoding: try encoder.encode(observer), as: UTF8.self)
            == #"{"clientAddress":"0.0.0.0","clientPort":2181,"electionPort":3888,"host":"10.0.2.1","id":4,"quorumPort":2888,"role":"observer"}"#)
        let spelled = try QuorumServer(id: 1, parsing: "zk1:2888:3888:participant")
        let json = String(decoding: try encoder.encode(spelled), as: UTF8.self)
        #expect(json == #"{"electionPort":3888,"host":"zk1","id":1,"quorumPort":2888,"role":"participant"}"#)
        let read = try JSONDecoder().decode(QuorumServer.self, from: Data(json.utf8))
        #expect(read == spelled && read.hashValue == spelled.hashValue)
        #expect(!read.roleIsExplicit && read.value == "zk1:2888:3888" && spelled.value == "zk1:2888:3888:participant")
        #expect(try JSONDecoder().decode(QuorumServer.self, from: encoder.encode(observer)).roleIsExplicit)
        #expect(spelled != QuorumServer(id: 1, host: "zk1", quorumPort: 2888, electionPort: 3888, role: .observer))
    }

    @Test("rendering gives back the canonical line", arguments: [
        "zk1:2888:3888", "zk1:2888", "zk1:2888:3888:observer", "zk1:2888:3888:participant;0.0.0.0:2181",
        "[2001:db8::1]:2888:3888;2181", "10.0.0.1:2888:3888:observer;[::1]:2181",
    ])
    func renders(text: String) throws {
        #expect(try QuorumServer(id: 7, parsing: text).value == text)
    }

    @Test("malformed lines say what is wrong", arguments: [
        ("", "empty"), ("zk1", "no quorum port"), ("zk1:port:3888", "quorum port 'port'"),
        ("zk1:2888:70000", "election port '70000'"), ("zk1:2888:3888:leader", "role 'leader'"),
        ("zk1:2888:3888;", "empty client part"), ("zk1:2888:3888;x:y:2181", "more than one ':'"),
        ("a:2888:3888|b:2888:3888", "multi-address"), ("2001:db8::1:2888:3888", "IPv6 addresses in brackets"),
        ("[2001:db8::1:2888:3888", "no closing ]"), ("zk1:2888:3888;2181;2182", "more than one ';'"),
    ])
    func rejects(text: String, reasonFragment: String) {
        #expect {
            try QuorumServer(id: 4, parsing: text)
        } throws: { error in
            guard let error = error as? ServerLineError else { return false }
            return error.reason.contains(reasonFragment) && error.description.hasPrefix("server.4=")
        }
    }

    @Test("server ids come from server.N keys only")
    func keys() {
        #expect(QuorumServer.serverID(fromKey: "server.12") == 12)
        #expect(QuorumServer.serverID(fromKey: "server.012") == 12)
        #expect(QuorumServer.serverID(fromKey: "server.x") == nil)
        #expect(QuorumServer.serverID(fromKey: "server.-1") == nil)
        #expect(QuorumServer.serverID(fromKey: "servers.1") == nil)
    }
}

@Suite("zoo.cfg, dynamic config and myid")
struct ZooKeeperConfigTests {
    @Test("the sample config reads into typed settings")
    func typed() {
        let config = ZooKeeperConfig(parsing: Fixtures.zooSample34)
        #expect(config.tickTime == 2000)
        #expect(config.initLimit == 10)
        #expect(config.syncLimit == 5)
        #expect(config.dataDir == "/var/lib/zookeeper")
        #expect(config.clientPort == 2181)
        #expect(config.servers.map(\.id) == [1, 2, 3])
        #expect(config.servers[1].host == "zk2.example.internal")
        #expect(config.otherEntries.map(\.key) == ["autopurge.snapRetainCount", "autopurge.purgeInterval"])
        #expect(config.reconfigEnabled == nil)
        #expect(config.rendered == Fixtures.zooSample34)
    }

    @Test("changing one server changes only that line")
    func changeOneServer() throws {
        var config = ZooKeeperConfig(parsing: Fixtures.zooSample34)
        var server = try #require(config.server(2))
        server.host = "zk2-new.example.internal"
        config.setServer(server)
        #expect(changedLines(Fixtures.zooSample34, config.rendered) == [
            "30: server.2 = zk2.example.internal:2888:3888\n -> server.2 = zk2-new.example.internal:2888:3888\n"
        ])
    }

    @Test("adding a server puts its line after the other server lines; removing takes it out")
    func addAndRemove() {
        var config = ZooKeeperConfig(parsing: Fixtures.zooSample34)
        config.setServer(QuorumServer(id: 4, host: "zk4.example.internal", quorumPort: 2888, electionPort: 3888, role: .observer))
        #expect(config.rendered == Fixtures.zooSample34.replacingFirst(
            "server.3=zk3.example.internal:2888:3888\n",
            with: "server.3=zk3.example.internal:2888:3888\nserver.4=zk4.example.internal:2888:3888:observer\n"))
        let removed = config.removeServer(4)
        #expect(removed)
        #expect(config.rendered == Fixtures.zooSample34)
    }

    @Test("replacing the server list touches only the lines that change (the mitosis join)")
    func replaceServers() throws {
        var config = ZooKeeperConfig(parsing: Fixtures.zooSample34)
        var servers = config.servers
        servers.removeAll { $0.id == 3 }
        servers.append(QuorumServer(id: 4, host: "10.0.2.1", quorumPort: 2888, electionPort: 3888))
        servers.append(QuorumServer(id: 5, host: "10.0.2.2", quorumPort: 2888, electionPort: 3888))
        config.setServers(servers)
        #expect(config.rendered == Fixtures.zooSample34.replacingFirst(
            "server.3=zk3.example.internal:2888:3888\n",
            with: "server.4=10.0.2.1:2888:3888\nserver.5=10.0.2.2:2888:3888\n"))
        // Restoring the original list gives back the original file byte for byte: the re-added
        // line lands after the remaining server lines, where it was.
        config.setServers(ZooKeeperConfig(parsing: Fixtures.zooSample34).servers)
        #expect(config.rendered == Fixtures.zooSample34)
    }

    @Test("setting typed values edits their lines and removing them deletes the lines")
    func typedEdits() {
        var config = ZooKeeperConfig(parsing: Fixtures.zooSample34)
        config.tickTime = 3000
        config.quorumListenOnAllIPs = true
        #expect(changedLines(Fixtures.zooSample34, config.rendered).first == "2: tickTime=2000\n -> tickTime=3000\n")
        #expect(config.rendered.hasSuffix("server.3=zk3.example.internal:2888:3888\nquorumListenOnAllIPs=true\n"))
        config.quorumListenOnAllIPs = nil
        config.tickTime = 2000
        #expect(config.rendered == Fixtures.zooSample34)
    }

    @Test("a new config renders in the conventional form")
    func fresh() {
        let config = ZooKeeperConfig(dataDir: "/data", servers: [
            QuorumServer(id: 1, host: "a", quorumPort: 2888, electionPort: 3888),
            QuorumServer(id: 2, host: "b", quorumPort: 2888, electionPort: 3888),
        ])
        #expect(config.rendered == "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/data\nclientPort=2181\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n")
    }

    @Test("the 4lw whitelist and its defaults per version")
    func fourLetterWords() {
        let configured = ZooKeeperConfig(parsing: Fixtures.static35)
        #expect(configured.fourLetterWordWhitelist == ["srvr", "mntr", "conf", "ruok"])
        #expect(configured.allowsFourLetterWord("mntr", on: .v3_8_0))
        #expect(!configured.allowsFourLetterWord("cons", on: .v3_8_0))
        let bare = ZooKeeperConfig(parsing: "dataDir=/d\n")
        #expect(!bare.allowsFourLetterWord("mntr", on: .v3_8_0))
        #expect(bare.allowsFourLetterWord("srvr", on: .v3_8_0))
        #expect(bare.allowsFourLetterWord("mntr", on: .v3_4_13))
        #expect(!bare.allowsFourLetterWord("wchc", on: .v3_4_13))
        #expect(bare.allowsFourLetterWord("wchc", on: ZooKeeperVersion(3, 4, 9)))
        #expect(ZooKeeperConfig(parsing: "4lw.commands.whitelist=*").allowsFourLetterWord("cons", on: .v3_8_0))
    }

    @Test("a dynamic file reads servers with client ports, and keeps its text")
    func dynamicFile() throws {
        let dynamic = DynamicConfig(parsing: Fixtures.dynamic35)
        #expect(dynamic.rendered == Fixtures.dynamic35)
        #expect(dynamic.servers.count == 4)
        #expect(dynamic.servers[3].host == "2001:db8::4")
        #expect(dynamic.servers[3].role == .observer)
        #expect(dynamic.version == nil)
        #expect(dynamic.connectionString?.description == "125.23.63.23:2791,125.23.63.24:2792,125.23.63.25:2793,[2001:db8::4]:2181")
        #expect(DynamicConfig.version(fromFileName: "/etc/zookeeper/conf/zoo.cfg.dynamic.100000000") == Zxid(epoch: 1, counter: 0))
        #expect(DynamicConfig.version(fromFileName: "zoo.cfg.dynamic") == nil)
    }

    @Test("the /zookeeper/config content carries its version")
    func znode() {
        var config = DynamicConfig(parsing: Fixtures.configZnode)
        #expect(config.version == Zxid(epoch: 1, counter: 0))
        #expect(config.servers.map(\.clientAddress) == ["0.0.0.0", "0.0.0.0", "0.0.0.0"])
        config.version = Zxid(epoch: 2, counter: 5)
        #expect(config.rendered.hasSuffix("version=200000005"))
        let built = DynamicConfig(servers: config.servers, version: Zxid(epoch: 1, counter: 0))
        #expect(built.rendered == Fixtures.configZnode + "\n")
    }

    @Test("myid files", arguments: [("1\n", Int64(1)), ("42", 42), ("7\r\n", 7), ("3\nignored", 3)])
    func myid(text: String, id: Int64) throws {
        #expect(try MyIDFile.parse(text) == ServerID(id))
    }

    @Test("bad myid files say how to fix them", arguments: ["", "\n", "one", " 1\n", "-1", "1 2"])
    func badMyID(text: String) {
        #expect(throws: MyIDError.self) { try MyIDFile.parse(text, path: "/var/lib/zookeeper/myid") }
        #expect(MyIDFile.render(12) == "12\n")
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return self[..<range.lowerBound] + replacement + self[range.upperBound...]
    }
}
