public import Ensemble
import Foundation
import Hosts
import MigrationPlanning
public import NIOCore
import ZooKeeper
import ZooKeeperProtocol

/// Reads the estate before planning, through the host drivers: every server's zoo.cfg, dynamic
/// file, myid, data and log directories, service state and, where it serves, `srvr` and `conf`;
/// every client member's config file. Reads only: nothing on any host changes.
public struct EstateDiscovery: Sendable {
    public var hosts: any HostDirectory
    public var eventLoopGroup: any EventLoopGroup
    /// How long a four-letter word may take (a server that does not serve answers nothing).
    public var fourLetterWordTimeout: Duration

    public init(hosts: any HostDirectory, eventLoopGroup: any EventLoopGroup, fourLetterWordTimeout: Duration = .seconds(2)) {
        self.hosts = hosts
        self.eventLoopGroup = eventLoopGroup
        self.fourLetterWordTimeout = fourLetterWordTimeout
    }

    /// Reads both ensembles of a migration and the client groups of the source, as the inventory
    /// describes them: what ``Planner/plan(_:inventory:source:destination:movingGroups:destinationHoldsData:options:estate:)`` takes.
    public func discover(inventory: Inventory, source: String, destination: String) async -> ObservedEstate {
        let ensembles = [source, destination].compactMap(inventory.ensemble(named:)).map {
            Planner.planEnsemble($0, data: .empty, running: false)
        }
        let groups = inventory.clientGroups.filter { $0.ensemble == source }.map { group in
            PlanClientGroup(
                name: group.name, chroot: group.chroot, moves: true,
                members: group.members.map { PlanClientMember(name: $0.name, host: $0.host, configPath: $0.configPath, connectionString: "") })
        }
        return await discover(ensembles, clientGroups: groups)
    }

    /// Reads the servers of `ensembles` and the members of `clientGroups`, hosts in parallel.
    public func discover(_ ensembles: [PlanEnsemble], clientGroups: [PlanClientGroup]) async -> ObservedEstate {
        await withTaskGroup(of: (Int, ObservedServer?, ObservedClientConfig?).self) { group in
            var index = 0
            for ensemble in ensembles {
                for server in ensemble.servers {
                    let position = index
                    group.addTask { (position, await self.observe(server, of: ensemble), nil) }
                    index += 1
                }
            }
            for clientGroup in clientGroups {
                for member in clientGroup.members {
                    let position = index
                    group.addTask { (position, nil, await self.observe(member, of: clientGroup)) }
                    index += 1
                }
            }
            var results: [(Int, ObservedServer?, ObservedClientConfig?)] = []
            for await result in group { results.append(result) }
            results.sort { $0.0 < $1.0 }
            return ObservedEstate(servers: results.compactMap { $0.1 }, clientConfigs: results.compactMap { $0.2 })
        }
    }

    func observe(_ server: ServerSpec, of ensemble: PlanEnsemble) async -> ObservedServer {
        var observed = ObservedServer(
            ensemble: ensemble.name, id: server.id, host: server.host, config: ObservedFile(path: server.configPath, bytes: nil),
            myid: ObservedFile(path: server.myidPath, bytes: nil))
        let driver: any HostDriver
        do {
            driver = try hosts.driver(for: server.host)
        } catch {
            observed.readErrors.append("\(error)")
            return observed
        }
        func read(_ path: String) async -> ObservedFile {
            do {
                return ObservedFile(path: path, bytes: try await driver.readBytes(path))
            } catch {
                observed.readErrors.append("cannot read \(path): \(error)")
                return ObservedFile(path: path, bytes: nil)
            }
        }
        observed.config = await read(server.configPath)
        observed.myid = await read(server.myidPath)
        // The dynamic file: the inventory's, else the one zoo.cfg names (3.5+).
        let named = observed.config.text.flatMap { ZooKeeperConfig(parsing: $0).dynamicConfigFile?.trimmingCharacters(in: .whitespaces) }
        if let path = server.dynamicConfigPath ?? (ensemble.version.isStaticMembershipOnly ? nil : named) {
            let file = await read(path)
            if file.exists || server.dynamicConfigPath != nil { observed.dynamicConfig = file }
        }
        do {
            observed.dataDir = try await Self.directory(server.dataDir, on: driver)
            if let dataLogDir = server.dataLogDir { observed.dataLogDir = try await Self.directory(dataLogDir, on: driver) }
        } catch {
            observed.readErrors.append("cannot list the data directories: \(error)")
        }
        if let own = driver.ownService() {
            do {
                observed.service = try await driver.serviceState(own)
            } catch {
                observed.readErrors.append("cannot read whether it runs: \(error)")
            }
        } else if let status = server.commands.status {
            do {
                observed.service = try await driver.run(status, timeout: .seconds(30)).succeeded ? .running : .stopped
            } catch {
                observed.readErrors.append("cannot run its status command `\(status)`: \(error)")
            }
        }
        let host = server.clientAddress.flatMap { isWildcardAddress($0) ? nil : $0 } ?? server.currentAddress
        let endpoint = ConnectionString.Server(host: host, port: server.clientPort)
        observed.srvr = try? await FourLetterWords.send("srvr", to: endpoint, timeout: fourLetterWordTimeout, group: eventLoopGroup)
        if observed.srvr != nil {
            observed.conf = try? await FourLetterWords.send("conf", to: endpoint, timeout: fourLetterWordTimeout, group: eventLoopGroup)
        }
        return observed
    }

    func observe(_ member: PlanClientMember, of group: PlanClientGroup) async -> ObservedClientConfig {
        var observed = ObservedClientConfig(group: group.name, member: member.name, host: member.host, file: ObservedFile(path: member.configPath, bytes: nil))
        do {
            let driver = try hosts.driver(for: member.host)
            observed.file = ObservedFile(path: member.configPath, bytes: try await driver.readBytes(member.configPath))
        } catch {
            observed.readErrors.append("cannot read \(member.configPath): \(error)")
        }
        return observed
    }

    /// Whether the directory exists, and the snapshots and transaction logs under `version-2/`.
    static func directory(_ path: String, on driver: any HostDriver) async throws -> ObservedDirectory {
        guard try await driver.listDirectory(path) != nil else { return ObservedDirectory(path: path, exists: false, dataFiles: []) }
        let dataFiles = (try await driver.listDirectory(path + "/version-2") ?? []).filter { $0.hasPrefix("snapshot.") || $0.hasPrefix("log.") }
        return ObservedDirectory(path: path, exists: true, dataFiles: dataFiles)
    }
}
