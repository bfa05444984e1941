import Ensemble
import Foundation
public import Hosts
import MigrationPlanning
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
/// host in its own format (only the value changes; every other byte stays) and parsed again, its
/// restart command runs, its health check must pass, and `cons` on the servers must show its
/// sessions on the new ensemble and none on the old before the next member. For a Kafka group (`kind: kafka`) the
/// restarted broker must also be registered again, and no partition under-replicated or offline,
/// as Kafka's znodes show them through the ensemble the broker now uses.
public struct HostClientGroupController: ClientGroupController {
    public var plan: Plan
    public var hosts: any HostDirectory
    /// How long a restarted member may take to report healthy.
    public var healthTimeout: Duration
    /// Where the Kafka checks' ZooKeeper clients run (for a sandbox: inside its namespace).
    public var eventLoopGroup: (any EventLoopGroup)?
    /// Whether a switch is done only when `cons` shows the member's sessions on the new servers and
    /// on none of the old (the default). Off only where no server can be asked (tests of file
    /// edits); then ``hasSwitched(_:)`` is always false, so a resumed run redoes every switch.
    public var verifiesSessions: Bool

    public init(
        plan: Plan, hosts: any HostDirectory, healthTimeout: Duration = .seconds(300), eventLoopGroup: (any EventLoopGroup)? = nil,
        verifiesSessions: Bool = true
    ) {
        self.plan = plan
        self.hosts = hosts
        self.healthTimeout = healthTimeout
        self.eventLoopGroup = eventLoopGroup
        self.verifiesSessions = verifiesSessions
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
        var configText: String?
        if member.configFormat == .command {
            changes.append(try await runSwitchCommand(member, change, driver: driver))
        } else {
            let (written, text) = try await writeConnectionString(member, change, driver: driver)
            changes += written
            configText = text
        }
        if let restart = change.restart {
            try await driver.check(restart, timeout: healthTimeout, operation: "restart \(change.client)")
            changes.append(HostChange(host: driver.host, changed: true, summary: "restarted \(change.client.member) with \(change.connectionKey)=\(change.to)"))
        } else if member.configFormat != .command {
            throw HostError(.invalidRequest, host: driver.host, operation: "switch \(change.client)", "member \(member.name) has no restart command, so it would not pick up the new connection string; add restart: to it in the inventory")
        }
        try await waitUntilHealthy(member, driver: driver)
        if verifiesSessions, plan.source.isServiceSwitch(from: change.from, to: change.to) {
            let evidence = try await waitUntilConnectedThroughServices(member, change, driver: driver)
            changes.append(HostChange(host: driver.host, changed: false, summary: "\(change.client.member): \(evidence)"))
        } else if verifiesSessions {
            let evidence = try await waitUntilSwitched(member, change, host: driver.host)
            changes.append(HostChange(host: driver.host, changed: false, summary: "\(change.client.member): \(evidence)"))
        }
        if plan.clientGroup(change.client.group)?.isKafka == true {
            let brokerID = KafkaBrokerConfig(parsing: configText ?? "", connectionStringKey: change.connectionKey).brokerID
            try await waitUntilKafkaHealthy(member, brokerID: brokerID, connectionString: change.to, host: driver.host)
            changes.append(HostChange(host: driver.host, changed: false, summary: "\(change.client.member) registered again on \(change.to); no partition under-replicated or offline"))
        }
        return changes
    }

    /// Writes the connection string into the member's file (only the value changes), then reads
    /// the file back from the host and parses it again: the restart comes only after that check.
    func writeConnectionString(_ member: PlanClientMember, _ change: ClientSwitch, driver: any HostDriver) async throws -> ([HostChange], String) {
        let format = member.configFormat
        let wanted = format.storedValue(for: change.to)
        let place = "\(change.configPath) (\(format.rawValue), key \(change.connectionKey)) of member \(member.name)"
        let operation = "switch \(change.client)"
        guard let text = try await driver.readFile(change.configPath) else {
            throw HostError(.invalidRequest, host: driver.host, operation: operation, "\(change.configPath) does not exist; check configPath of member \(member.name) in the inventory")
        }
        let edited: String
        do {
            if try ClientConfigFile.value(in: text, format: format, key: change.connectionKey) == wanted { return ([], text) }
            edited = try ClientConfigFile.replacingValue(in: text, format: format, key: change.connectionKey, with: change.to)
        } catch {
            throw HostError(.invalidRequest, host: driver.host, operation: operation, "\(place): \(error); the file was not changed. Fix it, then run again with --resume")
        }
        let written = try await driver.writeFile(change.configPath, contents: edited)
        let reread = try await driver.readFile(change.configPath) ?? ""
        let value = try? ClientConfigFile.value(in: reread, format: format, key: change.connectionKey)
        guard value == wanted else {
            throw HostError(
                .commandFailed, host: driver.host, operation: operation,
                "after writing \(place) it reads \(value.map { "'\($0)'" } ?? "as unparseable") instead of '\(wanted)'; the member was not restarted. Restore the file from the run's journal and look for something else rewriting it")
        }
        return ([written], reread)
    }

    /// The operator's switch command with the new connection string, then the verify command.
    func runSwitchCommand(_ member: PlanClientMember, _ change: ClientSwitch, driver: any HostDriver) async throws -> HostChange {
        guard let command = member.switchCommand, let verify = member.verifyCommand else {
            throw HostError(.invalidRequest, host: driver.host, operation: "switch \(change.client)", "member \(member.name) has format command but no switch: or verify: command; add both in the inventory")
        }
        let argument = shellQuoted(change.to)
        try await driver.check("\(command) \(argument)", timeout: healthTimeout, operation: "switch \(change.client) (\(command))")
        try await driver.check("\(verify) \(argument)", timeout: .seconds(60), operation: "verify \(change.client) uses \(change.to) (\(verify))")
        return HostChange(host: driver.host, changed: true, summary: "ran \(command) \(argument); \(verify) confirms it")
    }

    /// Whether the member's configuration names `change.to`: the file's value, or the verify command.
    func configured(_ member: PlanClientMember, _ change: ClientSwitch, driver: any HostDriver) async throws -> (Bool, String?) {
        if member.configFormat == .command {
            guard let verify = member.verifyCommand else { return (false, nil) }
            return (try await driver.run("\(verify) \(shellQuoted(change.to))", timeout: .seconds(60)).succeeded, nil)
        }
        guard let text = try await driver.readFile(change.configPath) else { return (false, nil) }
        let value = try? ClientConfigFile.value(in: text, format: member.configFormat, key: change.connectionKey)
        return (value == member.configFormat.storedValue(for: change.to), text)
    }

    /// Polls `cons` until the member's sessions are on the servers of `change.to` and on none of
    /// `change.from`'s; a switch that cannot be seen to take effect stops the run.
    func waitUntilSwitched(_ member: PlanClientMember, _ change: ClientSwitch, host: String) async throws -> SwitchEvidence {
        guard !member.addressRules.isEmpty else {
            throw HostError(
                .invalidRequest, host: host, operation: "verify the switch of \(change.client)",
                "Mitosis cannot tell member \(member.name)'s connections apart: its host's address '\(member.address ?? host)' is not an IP address. Give the host an address: in the inventory, or the member a match: rule (e.g. match: 10.0.0.5)")
        }
        let group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let deadline = ContinuousClock.now + healthTimeout
        while true {
            let evidence = try await SwitchEvidence.read(member, from: change.from, to: change.to, group: group)
            if evidence.switched { return evidence }
            guard ContinuousClock.now < deadline else {
                throw HostError(
                    .timeout, host: host, operation: "verify the switch of \(change.client)",
                    "after \(healthTimeout) \(member.name) (connections from \(member.addressRules.map(\.description).joined(separator: ", "))) is not seen on \(change.to) alone: \(evidence). The run stops before the split; find out why the member did not reconnect, then run again with --resume")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Polls the member's host until its connections go to the service addresses of `change.to`
    /// and none to the host addresses of `change.from` (HubSpot's phase 2, see ``SocketEvidence``).
    func waitUntilConnectedThroughServices(_ member: PlanClientMember, _ change: ClientSwitch, driver: any HostDriver) async throws -> SocketEvidence {
        let deadline = ContinuousClock.now + healthTimeout
        while true {
            let evidence = try await SocketEvidence.read(through: driver, from: change.from, to: change.to)
            if evidence.switched { return evidence }
            guard ContinuousClock.now < deadline else {
                throw HostError(
                    .timeout, host: driver.host, operation: "verify the switch of \(change.client) to the service addresses",
                    "after \(healthTimeout) \(member.name)'s host shows \(evidence). The run stops before any server changes its lines; find out why the member did not reconnect through the services (`ss -tn` on \(driver.host); is each service pointing at its server's host?), then run again with --resume")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Done means: the configuration names the new string, the member is healthy, and (unless
    /// sessions are not checked) its sessions are on the new servers and on none of the old. A
    /// file that says "switched" proves nothing: a run killed before the restart leaves exactly that.
    public func hasSwitched(_ change: ClientSwitch) async throws -> Bool {
        let member = try member(change.client)
        let driver = try hosts.driver(for: change.client.host)
        // Without a way to see the member's sessions, never trust the file: redoing a switch is
        // safe, skipping one is not.
        guard verifiesSessions, !member.addressRules.isEmpty else { return false }
        let (configured, text) = try await configured(member, change, driver: driver)
        guard configured else { return false }
        if let check = member.healthCheck, try await !driver.run(check, timeout: .seconds(60)).succeeded { return false }
        let group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        if plan.source.isServiceSwitch(from: change.from, to: change.to) {
            guard (try? await SocketEvidence.read(through: driver, from: change.from, to: change.to))?.switched == true else { return false }
        } else {
            guard (try? await SwitchEvidence.read(member, from: change.from, to: change.to, group: group))?.switched == true else { return false }
        }
        if plan.clientGroup(change.client.group)?.isKafka == true {
            let brokerID = KafkaBrokerConfig(parsing: text ?? "", connectionStringKey: change.connectionKey).brokerID
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
