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

    /// Attaches the address, then makes every namespace of the network forget the address's old
    /// link-layer address (what a gratuitous ARP does on a real network, made certain).
    public func attachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        let listing = try await check("ip -o addr show dev \(device)", timeout: .seconds(30), operation: "list addresses of \(device)")
        if listing.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains(where: { $0.hasPrefix(address + "/") }) {
            return HostChange(host: host, changed: false, summary: "\(address) already on \(device)")
        }
        try await check("ip addr add \(address)/\(prefixLength) dev \(device)", timeout: .seconds(30), operation: "attach \(address)")
        for namespace in NetworkNamespace.all() where namespace.hasPrefix(network.id + "-") {
            _ = try? await LocalCommand.run(["ip", "-n", namespace, "neigh", "flush", "to", address], timeout: .seconds(10))
        }
        return HostChange(host: host, changed: true, summary: "attached \(address)/\(prefixLength) to \(device)")
    }
}
