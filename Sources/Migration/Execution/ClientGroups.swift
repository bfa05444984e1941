import Ensemble
import Foundation
public import Hosts
public import NIOCore
import NIOPosix

/// Moves the members of a client group between ensembles: what `switchClient` and `stopClient`
/// actions and `clientGroupHealthy` gates do.
public protocol ClientGroupController: Sendable {
    /// Points the member at `change.to` and restarts it; returns when it is healthy again.
    func switchMember(_ change: ClientSwitch) async throws -> [HostChange]
    /// Whether the member already uses `change.to` and is healthy (a resumed run skips it then).
    func hasSwitched(_ change: ClientSwitch) async throws -> Bool
    func stopMember(_ client: ClientRef) async throws -> [HostChange]
    /// Whether every member of the group is healthy, and if not, why.
    func health(of group: String) async throws -> (healthy: Bool, detail: String)
    /// The hosts the controller's commands run on and the programs they start, which a run
    /// checks before it changes anything (none for controllers that run no host commands).
    func preflightNeeds() -> PreflightNeeds
}

extension ClientGroupController {
    public func preflightNeeds() -> PreflightNeeds { PreflightNeeds() }
}

/// The client-group controller for real processes: the member's config file is rewritten on its
/// host (only the connection key changes; every other byte stays), its restart command runs, and
/// its health check must pass before the next member. For a Kafka group (`kind: kafka`) the
/// restarted broker must also be registered again, and no partition under-replicated or offline,
/// as Kafka's znodes show them through the ensemble the broker now uses.
public struct HostClientGroupController: ClientGroupController {
    public var plan: Plan
    public var hosts: any HostDirectory
    /// How long a restarted member may take to report healthy.
    public var healthTimeout: Duration
    /// Where the Kafka checks' ZooKeeper clients run (for a sandbox: inside its namespace).
    public var eventLoopGroup: (any EventLoopGroup)?

    public init(plan: Plan, hosts: any HostDirectory, healthTimeout: Duration = .seconds(300), eventLoopGroup: (any EventLoopGroup)? = nil) {
        self.plan = plan
        self.hosts = hosts
        self.healthTimeout = healthTimeout
        self.eventLoopGroup = eventLoopGroup
    }

    var kafka: KafkaGroupHealth { KafkaGroupHealth(eventLoopGroup: eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton) }

    func member(_ client: ClientRef) throws -> PlanClientMember {
        guard let member = plan.clientGroup(client.group)?.members.first(where: { $0.name == client.member }) else {
            throw HostError(.invalidRequest, host: client.host, operation: "find client \(client)", "the plan has no member \(client.member) in client group \(client.group)")
        }
        return member
    }

    public func switchMember(_ change: ClientSwitch) async throws -> [HostChange] {
        let member = try member(change.client)
        let driver = try hosts.driver(for: change.client.host)
        var changes: [HostChange] = []
        guard let text = try await driver.readFile(change.configPath) else {
            throw HostError(.invalidRequest, host: driver.host, operation: "switch \(change.client)", "\(change.configPath) does not exist; check configPath of member \(member.name) in the inventory")
        }
        var document = PropertiesDocument(text)
        if document.value(forKey: change.connectionKey) != change.to {
            document.setValue(change.to, forKey: change.connectionKey)
            changes.append(try await driver.writeFile(change.configPath, contents: document.rendered))
        }
        guard let restart = change.restart else {
            throw HostError(.invalidRequest, host: driver.host, operation: "switch \(change.client)", "member \(member.name) has no restart command, so it would not pick up the new connection string; add restart: to it in the inventory")
        }
        try await driver.check(restart, timeout: healthTimeout, operation: "restart \(change.client)")
        changes.append(HostChange(host: driver.host, changed: true, summary: "restarted \(change.client.member) with \(change.connectionKey)=\(change.to)"))
        try await waitUntilHealthy(member, driver: driver)
        if plan.clientGroup(change.client.group)?.isKafka == true {
            let brokerID = KafkaBrokerConfig(parsing: document.rendered, connectionStringKey: change.connectionKey).brokerID
            try await waitUntilKafkaHealthy(member, brokerID: brokerID, connectionString: change.to, host: driver.host)
            changes.append(HostChange(host: driver.host, changed: false, summary: "\(change.client.member) registered again on \(change.to); no partition under-replicated or offline"))
        }
        return changes
    }

    public func hasSwitched(_ change: ClientSwitch) async throws -> Bool {
        let member = try member(change.client)
        let driver = try hosts.driver(for: change.client.host)
        guard let text = try await driver.readFile(change.configPath), PropertiesDocument(text).value(forKey: change.connectionKey) == change.to else {
            return false
        }
        if let check = member.healthCheck, try await !driver.run(check, timeout: .seconds(60)).succeeded { return false }
        if plan.clientGroup(change.client.group)?.isKafka == true {
            let brokerID = KafkaBrokerConfig(parsing: text, connectionStringKey: change.connectionKey).brokerID
            // Unreadable counts as not switched: redoing a switch is safe, skipping one is not.
            return (try? await kafka.check(connectionString: change.to, brokers: [(member.name, brokerID)]).healthy) ?? false
        }
        return true
    }

    /// Runs the member's stop command. It stays stopped until a switch restarts it (its restart
    /// command starts a stopped member). Stopping a stopped member is harmless, so a resumed run
    /// simply stops it again.
    public func stopMember(_ client: ClientRef) async throws -> [HostChange] {
        let member = try member(client)
        guard let stop = member.stop else {
            throw HostError(
                .invalidRequest, host: client.host, operation: "stop \(client)",
                "member \(member.name) of client group \(client.group) has no stop command, so Mitosis cannot stop it for the block window; add stop: to it in the inventory and plan again, or stop it by hand (the runbook lists it) and run again with --resume")
        }
        let driver = try hosts.driver(for: client.host)
        try await driver.check(stop, timeout: healthTimeout, operation: "stop \(client)")
        return [HostChange(host: driver.host, changed: true, summary: "stopped \(client.member) (\(stop))")]
    }

    public func health(of group: String) async throws -> (healthy: Bool, detail: String) {
        guard let clientGroup = plan.clientGroup(group) else { return (false, "the plan has no client group \(group)") }
        var unchecked: [String] = []
        for member in clientGroup.members {
            guard let check = member.healthCheck else {
                unchecked.append(member.name)
                continue
            }
            let result = try await hosts.driver(for: member.host).run(check, timeout: .seconds(60))
            if !result.succeeded {
                return (false, "\(member.name)'s health check failed (status \(result.status)): \(result.output.suffix(300))")
            }
        }
        let checks = unchecked.isEmpty ? "every member's health check passes" : "health checks pass; \(unchecked.joined(separator: ", ")) have none"
        guard clientGroup.isKafka else { return (true, checks) }
        // Each broker must be registered on the ensemble it uses now (during block & copy the
        // two ensembles hold separate registrations), and neither may show a partition short of replicas.
        var byEnsemble: [String: [(member: String, id: Int?)]] = [:]
        for member in clientGroup.members {
            let driver = try hosts.driver(for: member.host)
            guard let text = try await driver.readFile(member.configPath) else {
                return (false, "\(member.name)'s config \(member.configPath) does not exist")
            }
            let config = KafkaBrokerConfig(parsing: text, connectionStringKey: member.connectionKey)
            guard let connect = config.zookeeperConnectText else {
                return (false, "\(member.name)'s config \(member.configPath) has no \(member.connectionKey)")
            }
            byEnsemble[connect, default: []].append((member.name, config.brokerID))
        }
        var details: [String] = []
        for (connect, brokers) in byEnsemble.sorted(by: { $0.key < $1.key }) {
            let (healthy, detail) = try await kafka.check(connectionString: connect, brokers: brokers)
            if !healthy { return (false, "Kafka through \(connect): \(detail)") }
            details.append(byEnsemble.count == 1 ? detail : "through \(connect): \(detail)")
        }
        return (true, "\(checks); \(details.joined(separator: "; "))")
    }

    func waitUntilKafkaHealthy(_ member: PlanClientMember, brokerID: Int?, connectionString: String, host: String) async throws {
        let (healthy, detail) = try await kafka.waitUntilHealthy(connectionString: connectionString, brokers: [(member.name, brokerID)], timeout: healthTimeout)
        guard healthy else {
            throw HostError(
                .timeout, host: host, operation: "wait for \(member.name) to rejoin its Kafka cluster",
                "after \(healthTimeout), Kafka through \(connectionString): \(detail). No further member was restarted; find out why (`mitosis kafka status`), then run again with --resume")
        }
    }

    func waitUntilHealthy(_ member: PlanClientMember, driver: any HostDriver) async throws {
        guard let check = member.healthCheck else { return }
        let deadline = ContinuousClock.now + healthTimeout
        while true {
            let result = try await driver.run(check, timeout: .seconds(60))
            if result.succeeded { return }
            guard ContinuousClock.now < deadline else {
                throw HostError(.timeout, host: driver.host, operation: "wait for \(member.name) to be healthy", "its health check still fails after \(healthTimeout): \(result.output.suffix(300))")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
