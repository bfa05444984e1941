import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import Testing
import ZooKeeper

extension RealServers {
    /// Zalando's path with the operator's own commands (`stableAddress: {kind: command, …}`):
    /// here scripts that wrap `ip addr`, as an ENI's detach and attach would be wrapped around the
    /// cloud API. A whole replace plan runs on real servers through the executor.
    @Suite struct CommandAddressMoves {
        @Test func replaceMovesEachAddressWithTheInventorysCommands() async throws {
            try await withSandboxNetwork("cmdmove") { manager, group in
                let source = try await manager.up(.init(name: "src", servers: 3, stableAddresses: true))
                let destination = try await manager.up(.init(name: "dst", servers: 3, start: false, replacing: source.name))
                let device = SandboxHost.device
                let commands = AddressCommands(
                    detach: "ip addr del \"$ADDRESS/16\" dev \(device) 2>/dev/null || ! ip -o addr show dev \(device) | grep -q \" $ADDRESS/\"",
                    // No arping here: the neighbours forget the old link-layer address as a
                    // gratuitous ARP would make them (as the sandbox's own move does).
                    attach: "ip addr replace \"$ADDRESS/16\" dev \(device) && for ns in $(ip netns list | awk '{print $1}' | grep '^\(manager.network.id)-'); do ip -n \"$ns\" neigh flush to \"$ADDRESS\"; done",
                    check: "ip -o addr show dev \(device) | grep -q \" $ADDRESS/\"")
                var inventory = SandboxInventory.inventory([source, destination])
                for ensemble in inventory.ensembles.indices {
                    for server in inventory.ensembles[ensemble].servers.indices { inventory.ensembles[ensemble].servers[server].stableAddress = .command(commands) }
                }
                let client = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(source.connectionString), eventLoopGroup: group)
                _ = try await client.create("/before-replace", data: Array("kept".utf8))
                await client.close()

                let plan = try Planner.plan(
                    .replace, inventory: inventory, source: source.name, destination: destination.name,
                    options: PlanningOptions(rollingRestartPause: .seconds(1)))
                #expect(plan.steps.filter { $0.id.rawValue.hasSuffix("-move-address") }.count == 3)
                let directory = NSTemporaryDirectory() + "mitosis-cmdmove-\(getpid())"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let outcome = try await MigrationExecutor(
                    plan: try Prover.prove(plan), hosts: InventoryHostDirectory(inventory: inventory, sandbox: manager), eventLoopGroup: group,
                    journal: Journal(path: directory + "/journal.jsonl")
                ).run()
                #expect(outcome == .finished)
                for (old, new) in zip(source.hosts, destination.hosts) {
                    let stable = try #require(old.stableAddress)
                    #expect(try await !SandboxHostDriver(host: old, network: manager.network).hasAddress(stable, device: device), "\(stable) left \(old.name)")
                    #expect(try await SandboxHostDriver(host: new, network: manager.network).hasAddress(stable, device: device), "\(stable) is on \(new.name)")
                }
                // A client of the unchanged connection string finds the data on the new servers.
                let after = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(source.connectionString), eventLoopGroup: group)
                let data = try await after.getData("/before-replace").data
                await after.close()
                #expect(data == Array("kept".utf8))
            }
        }
    }
}
