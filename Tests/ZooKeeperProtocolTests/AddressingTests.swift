import Testing
import ZooKeeperProtocol

@Suite struct ConnectionStringTests {
    @Test func hostsPortsAndChroot() throws {
        let parsed = try ConnectionString(parsing: "10.0.0.1:2181, zk2 ,[::1]:2182/kafka/prod")
        #expect(parsed.servers == [.init(host: "10.0.0.1", port: 2181), .init(host: "zk2", port: 2181), .init(host: "::1", port: 2182)])
        #expect(parsed.chroot == "/kafka/prod")
        #expect(parsed.description == "10.0.0.1:2181,zk2:2181,[::1]:2182/kafka/prod")
    }

    @Test func rootChrootIsNoChroot() throws {
        #expect(try ConnectionString(parsing: "a:1/").chroot == nil)
    }

    @Test(arguments: [
        ("", "empty"),
        ("a:1,,b:2", "empty server entry"),
        ("a:99999", "not a number from 1 to 65535"),
        ("a:x", "not a number"),
        ("::1:2181", "brackets"),
        ("[::1:2181", "no closing"),
        ("a:1/kafka/", "not a valid path"),
        (":2181", "no host"),
    ])
    func malformedStringsSayWhatIsWrong(input: String, fragment: String) {
        do {
            _ = try ConnectionString(parsing: input)
            Issue.record("'\(input)' should not parse")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test func chrootMapping() throws {
        let string = try ConnectionString(parsing: "a:1/app")
        #expect(string.serverPath("/") == "/app")
        #expect(string.serverPath("/x") == "/app/x")
        #expect(string.clientPath("/app") == "/")
        #expect(string.clientPath("/app/x/y") == "/x/y")
        #expect(string.clientPath("/apple") == "/apple")
    }
}

@Suite struct PathTests {
    @Test(arguments: ["/", "/a", "/a/b-c.d_e", "/zookeeper/config", "/ü/日本", "/a/.b", "/a/...", "/a/b.", "/..a"])
    func validPaths(path: String) {
        #expect(ZooKeeperPath.problem(with: path) == nil)
    }

    @Test(arguments: ["", "a", "/a/", "//a", "/a//b", "/a/./b", "/a/..", "/.", "/../a", "/a\u{0}b", "/a\u{1}"])
    func invalidPaths(path: String) {
        #expect(ZooKeeperPath.problem(with: path) != nil)
    }

    @Test func sequentialCreateMayEndWithSlash() {
        #expect(ZooKeeperPath.problem(with: "/queue/", sequential: true) == nil)
        #expect(ZooKeeperPath.problem(with: "/queue/", sequential: false) != nil)
    }

    @Test func parentAndJoin() {
        #expect(ZooKeeperPath.parent(of: "/a/b") == "/a")
        #expect(ZooKeeperPath.parent(of: "/a") == "/")
        #expect(ZooKeeperPath.join("/", "a") == "/a")
        #expect(ZooKeeperPath.join("/a", "b") == "/a/b")
    }
}

@Suite struct ZxidTests {
    @Test func epochAndCounter() {
        let zxid = Zxid(epoch: 3, counter: 7)
        #expect(zxid.rawValue == 0x3_0000_0007)
        #expect(zxid.description == "0x300000007")
        #expect(Zxid(parsing: "0x300000007") == zxid)
        #expect(Zxid(parsing: "12884901895") == zxid)
        #expect(Zxid(parsing: "0xzz") == nil)
        #expect(Zxid(epoch: 1, counter: 0xFFFF_FFFF) < Zxid(epoch: 2, counter: 0))
    }
}

@Suite struct NodeKindTests {
    @Test func ephemeralOwnerEncodesTheNodeKind() {
        #expect(Stat(ephemeralOwner: 0).kind == .persistent)
        #expect(Stat(ephemeralOwner: 0x1000_0123_4567_0001).kind == .ephemeral(owner: 0x1000_0123_4567_0001))
        #expect(Stat(ephemeralOwner: Int64.min).kind == .container)
        #expect(Stat(ephemeralOwner: Int64(bitPattern: 0xFF00_0000_0000_EA60)).kind == .ttl(milliseconds: 60_000))
        #expect(!Stat(ephemeralOwner: Int64.min).isEphemeral)
        #expect(Stat(ephemeralOwner: 5).isEphemeral)
    }
}
