import Testing
@testable import ZooKeeper
import ZooKeeperProtocol

@Suite struct WatchRegistryTests {
    @Test func eventsFireTheWatchesTheJavaClientFires() {
        var registry = WatchRegistry<String>()
        registry.add("data", kind: .data, path: "/a")
        registry.add("exist", kind: .exist, path: "/a")
        registry.add("child", kind: .child, path: "/a")
        #expect(registry.fire(.nodeChildrenChanged, path: "/a") == ["child"])
        #expect(registry.fire(.nodeDataChanged, path: "/a").sorted() == ["data", "exist"])
        #expect(registry.fire(.nodeDataChanged, path: "/a") == [], "a watch fires once")
        registry.add("d2", kind: .data, path: "/b")
        registry.add("c2", kind: .child, path: "/b")
        #expect(registry.fire(.nodeDeleted, path: "/b").sorted() == ["c2", "d2"])
        #expect(registry.isEmpty)
    }

    @Test func everyWaiterOfAPathFires() {
        var registry = WatchRegistry<Int>()
        for waiter in 0..<3 { registry.add(waiter, kind: .data, path: "/x") }
        registry.add(9, kind: .data, path: "/y")
        #expect(registry.fire(.nodeCreated, path: "/x").sorted() == [0, 1, 2])
        #expect(registry.count == 1)
        #expect(registry.removeAll() == [9])
    }

    @Test func setWatchesUsesServerPathsAndSplitsLargeSets() {
        var registry = WatchRegistry<Int>()
        for index in 0..<100 { registry.add(index, kind: .data, path: "/node-\(index)") }
        registry.add(1, kind: .exist, path: "/missing")
        registry.add(2, kind: .child, path: "/")
        let requests = registry.setWatchesRequests(relativeZxid: Zxid(5), serverPath: { "/chroot" + ($0 == "/" ? "" : $0) }, maximumBytes: 200)
        #expect(requests.count > 1)
        #expect(requests.allSatisfy { $0.relativeZxid == Zxid(5) })
        let data = requests.flatMap(\.dataWatches)
        #expect(data.count == 100)
        #expect(data.allSatisfy { $0.hasPrefix("/chroot/node-") })
        #expect(requests.flatMap(\.existWatches) == ["/chroot/missing"])
        #expect(requests.flatMap(\.childWatches) == ["/chroot"])
    }

    @Test func noWatchesNoRequest() {
        let registry = WatchRegistry<Int>()
        #expect(registry.setWatchesRequests(relativeZxid: .zero, serverPath: { $0 }).isEmpty)
    }
}

@Suite struct DigestAuthTests {
    @Test func sha1KnownVectors() {
        let hex = { (bytes: [UInt8]) in bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        #expect(hex(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(SHA1.hash(Array(repeating: UInt8(ascii: "a"), count: 1000))) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
        #expect(hex(SHA1.hash([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    @Test func digestIdentityMatchesZooKeepersGenerateDigest() {
        // DigestAuthenticationProvider.generateDigest("super:admin"), as printed in ZooKeeper's docs.
        #expect(DigestAuth.identity(user: "super", password: "admin") == ACLIdentity(scheme: "digest", id: "super:xQJmxLMiHGwaqBvst5y6rkB6HQs="))
    }

    @Test func base64Padding() {
        #expect(DigestAuth.base64(Array("f".utf8)) == "Zg==")
        #expect(DigestAuth.base64(Array("fo".utf8)) == "Zm8=")
        #expect(DigestAuth.base64(Array("foo".utf8)) == "Zm9v")
    }
}
