public import Ensemble
public import Hosts

/// Finds the driver for a host named in a plan.
public protocol HostDirectory: Sendable {
    func driver(for host: String) throws -> any HostDriver
}

extension SandboxManager: HostDirectory {
    public func driver(for host: String) throws -> any HostDriver {
        try hostDriver(for: host)
    }
}

/// Drivers for an inventory's hosts: sandbox hosts through the sandbox network, `local` hosts
/// on this machine. Hosts reached over SSH need an SSH driver factory.
public struct InventoryHostDirectory: HostDirectory {
    public var hosts: [String: HostAccess]
    public var sandbox: SandboxManager
    /// Makes the driver for an SSH host; nil when this build has no SSH driver wired in.
    public var ssh: (@Sendable (String, String, SSHAccess) throws -> any HostDriver)?

    public init(inventory: Inventory, sandbox: SandboxManager = SandboxManager(), ssh: (@Sendable (String, String, SSHAccess) throws -> any HostDriver)? = nil) {
        var hosts: [String: HostAccess] = [:]
        for host in inventory.hosts { hosts[host.name] = host.access }
        self.hosts = hosts
        self.sandbox = sandbox
        self.ssh = ssh
        self.addresses = Dictionary(inventory.hosts.map { ($0.name, $0.address ?? $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    var addresses: [String: String]

    public func driver(for host: String) throws -> any HostDriver {
        switch hosts[host] {
        case .sandbox?:
            return try sandbox.hostDriver(for: host)
        case .local?:
            return LocalHostDriver(host: host)
        case .ssh(let access)?:
            guard let ssh else {
                throw HostError(.invalidRequest, host: host, operation: "connect", "host \(host) is reached over SSH, but no SSH driver is configured")
            }
            return try ssh(host, addresses[host] ?? host, access)
        case nil:
            throw HostError(.invalidRequest, host: host, operation: "find host", "the inventory has no host named '\(host)'; add it under hosts: with via: sandbox, ssh or local")
        }
    }
}
