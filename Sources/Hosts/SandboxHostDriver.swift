import Foundation

/// Drives one sandbox host: commands run inside its network namespace (`ip netns exec`); its
/// files are this machine's files (each host has its own directory).
public struct SandboxHostDriver: HostDriver {
    public let sandboxHost: SandboxHost
    public let network: SandboxNetwork

    public init(host: SandboxHost, network: SandboxNetwork) {
        self.sandboxHost = host
        self.network = network
    }

    public var host: String { sandboxHost.name }

    public func run(_ command: String, timeout: Duration) async throws -> CommandResult {
        guard NetworkNamespace.exists(sandboxHost.namespace) else {
            throw HostError(.unreachable, host: host, operation: command, "its network namespace \(sandboxHost.namespace) does not exist; is the sandbox up? (`mitosis sandbox status`)")
        }
        do {
            return try await LocalCommand.run(["ip", "netns", "exec", sandboxHost.namespace, "/bin/sh", "-c", command], timeout: timeout)
        } catch var error as HostError {
            error.host = host
            error.operation = command
            throw error
        }
    }

    public func readFile(_ path: String) async throws -> String? {
        try LocalFiles.read(path, host: host)
    }

    public func writeFile(_ path: String, contents: String) async throws -> HostChange {
        try await LocalFiles.write(path, contents: contents, host: host)
    }

    public func readBytes(_ path: String) async throws -> [UInt8]? {
        try LocalFiles.readBytes(path, host: host)
    }

    public func writeBytes(_ path: String, contents: [UInt8]) async throws -> HostChange {
        try LocalFiles.write(path, bytes: contents, host: host)
    }

    /// Attaches the address, then makes every namespace of the network forget the address's old
    /// link-layer address (what a gratuitous ARP does on a real network, made certain), and
    /// records in the network's state that this host holds it.
    public func attachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        let change = try await attach(address, prefixLength: prefixLength, device: device)
        try await SandboxManager(network: network).record(address, heldBy: host, from: host)
        return change
    }

    /// Detaches the address and records in the network's state that this host no longer holds it.
    public func detachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        let change = try await detach(address, prefixLength: prefixLength, device: device)
        try await SandboxManager(network: network).record(address, heldBy: nil, from: host)
        return change
    }

    /// ``attachAddress(_:prefixLength:device:)`` without recording (for callers holding the
    /// network's lock).
    func attach(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        if try await hasAddress(address, device: device) {
            return HostChange(host: host, changed: false, summary: "\(address) already on \(device)")
        }
        try await check("ip addr add \(address)/\(prefixLength) dev \(device)", timeout: .seconds(30), operation: "attach \(address)")
        for namespace in NetworkNamespace.all() where namespace.hasPrefix(network.id + "-") {
            _ = try? await LocalCommand.run(["ip", "-n", namespace, "neigh", "flush", "to", address], timeout: .seconds(10))
        }
        return HostChange(host: host, changed: true, summary: "attached \(address)/\(prefixLength) to \(device)")
    }

    /// ``detachAddress(_:prefixLength:device:)`` without recording.
    func detach(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        guard try await hasAddress(address, device: device) else {
            return HostChange(host: host, changed: false, summary: "\(address) not on \(device)")
        }
        try await check("ip addr del \(address)/\(prefixLength) dev \(device)", timeout: .seconds(30), operation: "detach \(address)")
        return HostChange(host: host, changed: true, summary: "detached \(address) from \(device)")
    }
}
