import Ensemble
@testable import Migration
@testable import MigrationPlanning
import Testing

/// Ensembles and client groups for the planner and prover tests: source servers 1…n on
/// 10.1.0.x, destination servers on 10.2.0.x, Kafka brokers that move and a service that stays.
enum Fixtures {
    static func ensemble(
        _ name: String, ids: [Int64], subnet: Int, version: ZooKeeperVersion, data: InitialData, running: Bool,
        sameAddressesAs other: PlanEnsemble? = nil, stableAddress: StableAddress? = nil
    ) -> PlanEnsemble {
        PlanEnsemble(
            name: name, version: version,
            servers: ids.map { id in
                let address = other?.server(ServerID(id))?.address ?? "10.\(subnet).0.\(id)"
                return ServerSpec(
                    id: ServerID(id), host: "zk-\(name)-\(id)", address: address,
                    configPath: "/etc/zookeeper/conf/zoo.cfg", dataDir: "/var/lib/zookeeper",
                    commands: ServiceCommands(
                        start: "systemctl start zookeeper", stop: "systemctl stop zookeeper",
                        restart: "systemctl restart zookeeper", status: "echo srvr | nc -q 2 localhost 2181"),
                    stableAddress: stableAddress)
            },
            initialData: data, initiallyRunning: running)
    }

    static func source(_ count: Int, version: ZooKeeperVersion = .v3_8_0) -> PlanEnsemble {
        ensemble("source", ids: (1...Int64(count)).map { $0 }, subnet: 1, version: version, data: .holdsData, running: true)
    }

    /// Destination ids follow the source's (e.g. 4, 5, 6 after a 3-server source).
    static func destination(
        _ count: Int, after sourceCount: Int, version: ZooKeeperVersion = .v3_8_0, data: InitialData = .empty,
        running: Bool = false
    ) -> PlanEnsemble {
        let first = Int64(sourceCount) + 1
        return ensemble(
            "destination", ids: (first..<(first + Int64(count))).map { $0 }, subnet: 2, version: version, data: data,
            running: running)
    }

    static func groups(source: PlanEnsemble, brokers: Int = 3, staying: Bool = true) -> [PlanClientGroup] {
        let all = [
            PlanClientGroup(
                name: "kafka", chroot: "/kafka", moves: true,
                members: (1...brokers).map { number in
                    PlanClientMember(
                        name: "broker-\(number)", host: "kafka-\(number)", configPath: "/etc/kafka/server.properties",
                        restart: "systemctl restart kafka", stop: "systemctl stop kafka", connectionString: source.connectionString(chroot: "/kafka"))
                }),
            PlanClientGroup(
                name: "smartstack", chroot: nil, moves: false,
                members: [
                    PlanClientMember(
                        name: "nerve-1", host: "svc-1", configPath: "/etc/nerve/nerve.conf", connectionKey: "zk_hosts",
                        connectionString: source.connectionString(chroot: nil))
                ]),
        ]
        return staying ? all : [all[0]]
    }

    /// `plan` with the config writes of `step` stripped of `quorumListenOnAllIPs=true` (HubSpot's
    /// phase 3, or a new server's file, without the flag a service address needs).
    static func withoutQuorumListenOnAllIPs(_ plan: Plan, in step: StepID) throws -> Plan {
        var plan = plan
        let index = try #require(plan.index(of: step))
        plan.steps[index].actions = plan.steps[index].actions.map { action in
            guard case .writeConfig(var write) = action else { return action }
            write.settings[ZooKeeperConfig.Key.quorumListenOnAllIPs] = nil
            write.text = write.text.replacingOccurrences(of: "quorumListenOnAllIPs=true\n", with: "")
            return .writeConfig(write)
        }
        return plan
    }

    /// The stable addresses of a replace with movable addresses: 10.1.0.x/24 on eth0.
    static let movable = StableAddress(device: "eth0", prefixLength: 24)

    /// The planner's refusal of what `body` plans, or nil when it plans (or fails otherwise).
    static func refusal(_ body: () throws -> Plan) -> PlanningError? {
        do {
            _ = try body()
            return nil
        } catch let error as PlanningError {
            return error
        } catch {
            return nil
        }
    }

    /// - Parameter movableAddresses: for replace, the source's addresses are stable addresses
    ///   bound on their hosts that the plan moves (Zalando); otherwise they follow the servers by
    ///   themselves (a DNS name).
    /// - Parameter serviceAddresses: for replace, the source's addresses are services (HubSpot's
    ///   ClusterIPs) that the plan points at the new hosts.
    static func plan(
        _ strategy: StrategyKind, _ sourceCount: Int, _ destinationCount: Int, version: ZooKeeperVersion = .v3_8_0,
        destinationVersion: ZooKeeperVersion? = nil, destinationData: InitialData = .empty, staying: Bool = true,
        movableAddresses: Bool = false, serviceAddresses: Bool = false, addressCommands: AddressCommands? = nil
    ) throws -> Plan {
        var source = source(sourceCount, version: version)
        let destinationRelease = destinationVersion ?? version
        let destination: PlanEnsemble
        switch strategy {
        case .replace:
            let stable: StableAddress? = movableAddresses ? movable : serviceAddresses ? .service : addressCommands.map { .command($0) }
            if let stable {
                source = ensemble(
                    "source", ids: (1...Int64(sourceCount)).map { $0 }, subnet: 1, version: version, data: .holdsData, running: true,
                    stableAddress: stable)
            }
            destination = ensemble(
                "destination", ids: source.servers.map(\.id.rawValue), subnet: 2, version: destinationRelease, data: destinationData,
                running: false, sameAddressesAs: source, stableAddress: stable)
        case .copy:
            destination = Self.destination(
                destinationCount, after: sourceCount, version: destinationRelease, data: destinationData == .empty ? .holdsData : destinationData,
                running: true)
        default:
            destination = Self.destination(destinationCount, after: sourceCount, version: destinationRelease, data: destinationData)
        }
        return try Planner.plan(strategy, source: source, destination: destination, clientGroups: groups(source: source, staying: staying))
    }
}
