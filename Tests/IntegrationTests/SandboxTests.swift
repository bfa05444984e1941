import Foundation
import Hosts
import NIOPosix
import Testing
import ZooKeeper
import ZooKeeperProtocol
import ZooKeeperTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A sandbox network of this test process's own, removed afterwards whatever happens.
func withSandboxNetwork<T>(_ label: String, _ body: (SandboxManager, MultiThreadedEventLoopGroup) async throws -> T) async throws -> T {
    let manager = SandboxManager(network: SandboxNetwork(id: "mt\(label)\(getpid())"))
    try await manager.downAll()
    do {
        let result = try await manager.withControlGroup { group in try await body(manager, group) }
        try await manager.downAll()
        return result
    } catch {
        try? await manager.downAll()
        throw error
    }
}

/// The namespaces and processes a network leaves behind (nothing, after `downAll`).
func leftovers(of network: SandboxNetwork) async throws -> [String] {
    var found = NetworkNamespace.all().filter { $0.hasPrefix(network.id + "-") }.map { "namespace \($0)" }
    let processes = try await LocalCommand.run(["pgrep", "-f", "--", "-Dmitosis.sandbox=\(network.id)/"]).output
    found += processes.split(whereSeparator: \.isNewline).map { "process \($0)" }
    if FileManager.default.fileExists(atPath: network.root) { found.append("directory \(network.root)") }
    return found
}

extension RealServers {
    @Suite struct Sandboxes {
        @Test func rejectsBadNamesBeforeTouchingAnything() async throws {
            let manager = SandboxManager(network: SandboxNetwork(id: "mtbad\(getpid())"))
            for name in ["Src", "1src", "a-b", "averyveryverylongname", ""] {
                await #expect(throws: HostError.self) { try await manager.up(.init(name: name, servers: 1, start: false)) }
            }
            await #expect(throws: HostError.self) { try await manager.up(.init(name: "old", servers: 3, version: .v3_4_13, reconfigEnabled: true)) }
            #expect(try await leftovers(of: manager.network).isEmpty)
        }

        /// Two sandboxes of three servers, one per ZooKeeper version, serve independently; a firewall
        /// split silences the minority and heals; everything is gone after `down`.
        @Test func twoSandboxesServeIndependentlyAndASplitSilencesTheMinority() async throws {
            let network = try await withSandboxNetwork("split") { manager, group in
                let source = try await manager.up(.init(name: "src", servers: 3, version: .v3_8_0))
                let destination = try await manager.up(.init(name: "dst", servers: 3, version: .v3_4_13))
                #expect(source.hosts.map(\.serverID) == [1, 2, 3])
                #expect(destination.hosts.map(\.serverID) == [4, 5, 6])

                let sourceClient = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(source.connectionString), eventLoopGroup: group)
                let destinationClient = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(destination.connectionString), eventLoopGroup: group)
                _ = try await sourceClient.create("/only-in-source", data: Array("s".utf8))
                _ = try await destinationClient.create("/only-in-destination", data: Array("d".utf8))
                #expect(try await sourceClient.exists("/only-in-destination") == nil)
                #expect(try await destinationClient.exists("/only-in-source") == nil)
                await sourceClient.close()
                await destinationClient.close()

                // Cut src-3 off from its peers: it loses the quorum and stops serving; the majority serves on.
                let minority = source.hosts[2]
                let driver = SandboxHostDriver(host: minority, network: manager.network)
                let block = PeerBlock(tag: "mitosis-test-split", peers: source.hosts.dropLast().map(\.address))
                #expect(try await driver.blockPeers(block).changed)
                #expect(try await driver.blockPeers(block).changed == false)
                #expect(try await driver.peerBlockTags() == ["mitosis-test-split"])
                let minorityServer = ConnectionString.Server(host: minority.address, port: source.clientPort)
                let stoppedServing = try await eventually(timeout: .seconds(60)) {
                    let status = try? await FourLetterWords.srvr(minorityServer, timeout: .seconds(1), group: group)
                    return status == nil || status?.isServing == false
                }
                #expect(stoppedServing, "src-3 kept serving while cut off from both peers")
                let majority = source.hosts.dropLast().map { "\($0.address):\(source.clientPort)" }.joined(separator: ",")
                let majorityClient = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(majority), eventLoopGroup: group)
                _ = try await majorityClient.create("/written-during-split", data: [])
                await majorityClient.close()

                #expect(try await driver.unblockPeers(tag: block.tag).changed)
                #expect(try await driver.unblockPeers(tag: block.tag).changed == false)
                try await manager.waitUntilServing(source, hosts: source.hosts)
                let healed = try await ZooKeeperClient.connect(try ZooKeeperConfiguration("\(minority.address):\(source.clientPort)"), eventLoopGroup: group)
                try await healed.sync("/")
                #expect(try await healed.exists("/written-during-split") != nil)
                await healed.close()

                let rows = try await manager.status(of: source)
                #expect(rows.filter { $0.mode == "leader" }.count == 1)
                #expect(rows.allSatisfy { $0.serverRunning && $0.firewallTags.isEmpty })
                return manager.network
            }
            #expect(try await leftovers(of: network).isEmpty)
        }

        /// A client that knows a server only by its stable address follows the address to another
        /// host, keeping its session, with no configuration change.
        @Test func aClientFollowsAMovedStableAddress() async throws {
            let network = try await withSandboxNetwork("move") { manager, group in
                let sandbox = try await manager.up(.init(name: "rep", servers: 3, stableAddresses: true))
                let stable = try #require(sandbox.hosts[2].stableAddress)
                #expect(sandbox.connectionString.contains(stable))
                let client = try await ZooKeeperClient.connect(try ZooKeeperConfiguration("\(stable):\(sandbox.clientPort)", sessionTimeout: .seconds(20)), eventLoopGroup: group)
                _ = try await client.create("/before-move", data: [])
                let session = await client.sessionID

                // The server behind the address goes away; the address moves to a host that serves.
                let old = SandboxHostDriver(host: sandbox.hosts[2], network: manager.network)
                #expect(try await old.stopService(sandbox.zookeeperService(on: sandbox.hosts[2])).changed)
                let changes = try await manager.moveAddress(stable, to: sandbox.hosts[0].name)
                #expect(changes.map(\.changed) == [true, true])
                #expect(try manager.stableAddresses()[stable] == sandbox.hosts[0].name)
                #expect(try await manager.moveAddress(stable, to: sandbox.hosts[0].name).allSatisfy { !$0.changed })

                // The client reconnects by itself; a request that meets the reconnection fails with
                // connectionLoss and is retried, as any ZooKeeper client does.
                let written = try await eventually(timeout: .seconds(30)) {
                    do {
                        _ = try await client.create("/after-move", data: [])
                        return true
                    } catch let error as ZooKeeperError where error.code == .connectionLoss {
                        return false
                    } catch let error as ZooKeeperError where error.code == .nodeExists {
                        return true
                    }
                }
                #expect(written, "no write through the moved address within 30 s")
                #expect(await client.sessionID == session)
                #expect(try await client.exists("/before-move") != nil)
                await client.close()
                return manager.network
            }
            #expect(try await leftovers(of: network).isEmpty)
        }

        /// A sandbox that replaces another one for one takes its server ids and stable addresses
        /// (left on the old hosts until moved); moving an address through the host drivers, as the
        /// executor does, keeps the network's record of who holds it right at every point.
        @Test func aReplacingSandboxTakesIdsAndAddressesThatDriversMove() async throws {
            let network = try await withSandboxNetwork("repl") { manager, group in
                let old = try await manager.up(.init(name: "old", servers: 3, start: false, stableAddresses: true))
                await #expect(throws: HostError.self) { try await manager.up(.init(name: "bad", servers: 2, start: false, replacing: "old")) }
                let new = try await manager.up(.init(name: "new", servers: 3, start: false, replacing: "old"))
                #expect(new.hosts.map(\.serverID) == old.hosts.map(\.serverID))
                #expect(new.hosts.map(\.stableAddress) == old.hosts.map(\.stableAddress))
                #expect(new.connectionString == old.connectionString)
                let config = try String(contentsOfFile: new.hosts[0].configPath, encoding: .utf8)
                let stable = try #require(old.hosts[0].stableAddress)
                #expect(config.contains("server.\(old.hosts[0].serverID)=\(stable):2888:3888"))
                #expect(config.contains("quorumListenOnAllIPs=true"))
                // Nothing moved yet: the old hosts hold every address, the new ones none.
                let from = SandboxHostDriver(host: old.hosts[0], network: manager.network)
                let to = SandboxHostDriver(host: new.hosts[0], network: manager.network)
                #expect(try await from.hasAddress(stable, device: SandboxHost.device))
                #expect(try await !to.hasAddress(stable, device: SandboxHost.device))
                #expect(try manager.stableAddresses()[stable] == old.hosts[0].name)

                #expect(try await from.detachAddress(stable, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device).changed)
                #expect(try manager.stableAddresses()[stable] == nil, "detached: nobody holds it")
                #expect(try await to.attachAddress(stable, prefixLength: SandboxNetwork.prefixLength, device: SandboxHost.device).changed)
                #expect(try manager.stableAddresses()[stable] == new.hosts[0].name)
                #expect(try await to.hasAddress(stable, device: SandboxHost.device))
                #expect(try await manager.status(of: new)[0].stableAddresses == [stable])
                #expect(try await manager.status(of: old)[0].stableAddresses.isEmpty)
                // And back through the manager.
                #expect(try await manager.moveAddress(stable, to: old.hosts[0].name).map(\.changed) == [true, true])
                #expect(try manager.stableAddresses()[stable] == old.hosts[0].name)
                _ = group
                return manager.network
            }
            #expect(try await leftovers(of: network).isEmpty)
        }

        /// `downAll` removes what a crash in the middle of `up` leaves: namespaces the state does
        /// not know and servers still running in them.
        @Test func downAllRemovesWhatACrashLeftBehind() async throws {
            let network = SandboxNetwork(id: "mtcrash\(getpid())")
            let manager = SandboxManager(network: network)
            try await manager.up(.init(name: "src", servers: 1))
            // A namespace made behind the state's back, as a crash between two steps would leave it.
            try await LocalCommand.check(["ip", "netns", "add", "\(network.id)-stray"])
            try FileManager.default.removeItem(atPath: "\(network.root)/network.json")
            try await manager.downAll()
            #expect(try await leftovers(of: network).isEmpty)
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration, every interval: Duration = .milliseconds(250), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
