import Foundation
public import Ensemble
public import Hosts
import MigrationPlanning
public import NIOCore
import NIOPosix
import Synchronization

/// Finds the driver for a host named in a plan.
public protocol HostDirectory: Sendable {
    func driver(for host: String) throws -> any HostDriver
    /// Points the service whose address is `address` at `host` (the endpoint of a Kubernetes
    /// Service; in the sandbox, the DNAT rules of every namespace).
    func retargetService(_ address: String, to host: String) async throws -> HostChange
    /// The host the service at `address` points at now, nil if it points nowhere.
    func serviceBackend(_ address: String) async throws -> String?
    /// HubSpot's phase 1: points `server`'s service (its address) at `host`, where it runs now,
    /// creating the service first where services are objects that may not exist yet (Kubernetes).
    func createService(for server: ServerSpec, ensemble: String, at host: String) async throws -> HostChange
}

extension HostDirectory {
    public func retargetService(_ address: String, to host: String) async throws -> HostChange {
        throw HostError(
            .invalidRequest, host: host, operation: "point service \(address) at \(host)",
            "Mitosis drives services only in its sandbox; point the service's endpoint at \(host) as the runbook shows (kubectl patch endpoints), then resume the run")
    }

    /// A sandbox's services exist from the start, pointing nowhere: creating one is pointing it.
    public func createService(for server: ServerSpec, ensemble: String, at host: String) async throws -> HostChange {
        try await retargetService(server.address, to: host)
    }

    public func serviceBackend(_ address: String) async throws -> String? {
        throw HostError(
            .invalidRequest, host: "-", operation: "find the backend of service \(address)",
            "Mitosis reads services only in its sandbox; check the service's endpoint by hand (kubectl get endpoints)")
    }
}

extension SandboxManager: HostDirectory {
    public func driver(for host: String) throws -> any HostDriver {
        try hostDriver(for: host)
    }

    public func retargetService(_ address: String, to host: String) async throws -> HostChange {
        try await pointService(address, at: host)
    }

    public func serviceBackend(_ address: String) async throws -> String? {
        try serviceBackends()[address]
    }
}

/// Drivers for an inventory's hosts: sandbox hosts through the sandbox network, `local` hosts
/// on this machine, SSH hosts over one SSH connection each (made on first use and kept).
public final class InventoryHostDirectory: HostDirectory {
    public let hosts: [String: HostAccess]
    public let sandbox: SandboxManager
    let addresses: [String: String]
    let eventLoopGroup: any EventLoopGroup
    /// Set when the inventory names a kubectl command: services are driven through it.
    let kubectl: KubectlServices?
    /// The drivers of the pod hosts (`via: kubernetes`), made as the inventory is read.
    let podDrivers: [String: Result<KubernetesPodHostDriver, HostError>]
    private let sshDrivers = Mutex<[String: SSHHostDriver]>([:])

    public init(inventory: Inventory, sandbox: SandboxManager = SandboxManager(), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        var hosts: [String: HostAccess] = [:]
        for host in inventory.hosts { hosts[host.name] = host.access }
        self.hosts = hosts
        self.sandbox = sandbox
        self.eventLoopGroup = eventLoopGroup
        self.addresses = Dictionary(inventory.hosts.map { ($0.name, $0.address ?? $0.name) }, uniquingKeysWith: { first, _ in first })
        let pods = inventory.podStatefulSets
        self.kubectl = inventory.kubernetes.map { access in
            KubectlServices(
                access: access,
                hostAddresses: inventory.hostAddresses,
                pods: pods)
        }
        var podDrivers: [String: Result<KubernetesPodHostDriver, HostError>] = [:]
        for (host, statefulSet) in pods {
            guard let access = inventory.kubernetes else {
                podDrivers[host] = .failure(HostError(.invalidRequest, host: host, operation: "find host", "host \(host) is a pod (via: kubernetes), but the inventory has no kubernetes section naming kubectl"))
                continue
            }
            do {
                podDrivers[host] = .success(try KubernetesPodHostDriver(host: host, statefulSet: statefulSet, inventory: inventory, access: access))
            } catch let error as HostError {
                podDrivers[host] = .failure(error)
            } catch {
                podDrivers[host] = .failure(HostError(.invalidRequest, host: host, operation: "find host", "\(error)"))
            }
        }
        self.podDrivers = podDrivers
    }

    public func driver(for host: String) throws -> any HostDriver {
        switch hosts[host] {
        case .sandbox?:
            return try sandbox.hostDriver(for: host)
        case .local?:
            return LocalHostDriver(host: host)
        case .kubernetes?:
            return try podDrivers[host].map { try $0.get() }
                ?? { throw HostError(.invalidRequest, host: host, operation: "find host", "pod host \(host) has no driver") }()
        case .ssh(let access)?:
            let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
            let configuration = SSHHostConfiguration(
                host: host, address: addresses[host], port: access.port, user: access.user,
                identityFile: access.keyPath ?? "\(home)/.ssh/id_ed25519", knownHostsFile: access.knownHostsPath ?? "\(home)/.ssh/known_hosts",
                sudo: access.sudo)
            return sshDrivers.withLock { drivers in
                if let existing = drivers[host] { return existing }
                let created = SSHHostDriver(configuration, group: eventLoopGroup)
                drivers[host] = created
                return created
            }
        case nil:
            throw HostError(.invalidRequest, host: host, operation: "find host", "the inventory has no host named '\(host)'; add it under hosts: with via: sandbox, ssh, local or kubernetes")
        }
    }

    /// Services are driven through the inventory's kubectl command when it names one, else
    /// only in the sandbox (see ``HostDirectory/retargetService(_:to:)``).
    public func retargetService(_ address: String, to host: String) async throws -> HostChange {
        if let kubectl { return try await kubectl.retarget(address, to: host) }
        guard case .sandbox? = hosts[host] else {
            throw HostError(
                .invalidRequest, host: host, operation: "point service \(address) at \(host)",
                "Mitosis drives services only in its sandbox, or through a kubectl command the inventory names (kubernetes: {kubectl: …}); point the service's endpoint at \(host) as the runbook shows (kubectl patch endpoints), then resume the run")
        }
        return try await sandbox.pointService(address, at: host)
    }

    public func createService(for server: ServerSpec, ensemble: String, at host: String) async throws -> HostChange {
        if let kubectl { return try await kubectl.create(server, ensemble: ensemble, at: host) }
        return try await retargetService(server.address, to: host)
    }

    public func serviceBackend(_ address: String) async throws -> String? {
        if let kubectl { return try await kubectl.backend(address) }
        return try sandbox.serviceBackends()[address]
    }

    /// Closes the SSH connections.
    public func close() async {
        let drivers = sshDrivers.withLock { drivers in
            defer { drivers = [:] }
            return Array(drivers.values)
        }
        for driver in drivers { await driver.close() }
    }
}
