public import Ensemble
public import Hosts
import MigrationPlanning

extension Sandbox {
    /// The sandbox as an inventory ensemble: its servers, files and the service script that
    /// controls each. A server with a stable address is reached through it, and the address is
    /// marked as one to move (on the sandbox's device, with the network's prefix length), or as a
    /// service to point at the replacing host when the sandbox's stable addresses are services.
    public var ensembleSpec: EnsembleSpec {
        EnsembleSpec(
            name: name, version: ZooKeeperVersion(parsing: version) ?? ZooKeeperVersion(3, 8, 0),
            servers: hosts.map { host in
                return ServerSpec(
                    id: ServerID(Int64(host.serverID)), host: host.name, address: host.stableAddress ?? host.address, quorumPort: quorumPort,
                    electionPort: electionPort, clientPort: clientPort, configPath: host.configPath, dataDir: host.dataDir,
                    myidPath: host.myidPath,
                    commands: ServiceCommands(start: host.serviceCommand("start"), stop: host.serviceCommand("stop"), restart: nil, status: host.serviceCommand("status")),
                    stableAddress: host.stableAddress.map { _ in
                        serviceAddresses != true
                            ? StableAddress(device: SandboxHost.device, prefixLength: SandboxNetwork.prefixLength)
                            : peersOnHostAddresses == true ? .serviceFromHost(host.address) : .service
                    })
            })
    }

    public var hostSpecs: [HostSpec] {
        hosts.map { HostSpec(name: $0.name, address: $0.address, access: .sandbox) }
    }
}

/// Inventories for sandboxes, in memory and as the YAML `mitosis plan --inventory` reads.
public enum SandboxInventory {
    public static func inventory(_ sandboxes: [Sandbox], clientGroups: [ClientGroup] = [], localHosts: [String] = []) -> Inventory {
        Inventory(
            ensembles: sandboxes.map(\.ensembleSpec),
            hosts: sandboxes.flatMap(\.hostSpecs) + localHosts.map { HostSpec(name: $0, access: .local) },
            clientGroups: clientGroups)
    }

    /// The inventory as YAML, with every key the sandbox knows.
    public static func yaml(_ inventory: Inventory) -> String {
        func quoted(_ text: String) -> String {
            text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-:".contains($0) }) && !text.isEmpty ? text : "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var lines = ["# Written by mitosis for its sandboxes.", "hosts:"]
        for host in inventory.hosts {
            lines.append("  - name: \(quoted(host.name))")
            if let address = host.address { lines.append("    address: \(quoted(address))") }
            switch host.access {
            case .sandbox: lines.append("    via: sandbox")
            case .local: lines.append("    via: local")
            case .kubernetes(let pod):
                lines.append("    via: kubernetes")
                lines.append("    statefulSet: \(quoted(pod.statefulSet))")
            case .ssh(let ssh):
                lines.append("    via: ssh")
                lines.append("    ssh:")
                lines.append("      user: \(quoted(ssh.user))")
                lines.append("      port: \(ssh.port)")
                if let key = ssh.keyPath { lines.append("      key: \(quoted(key))") }
                if let knownHosts = ssh.knownHostsPath { lines.append("      knownHosts: \(quoted(knownHosts))") }
                lines.append("      sudo: \(ssh.sudo)")
            }
        }
        lines.append("")
        lines.append("ensembles:")
        for ensemble in inventory.ensembles {
            lines.append("  - name: \(quoted(ensemble.name))")
            lines.append("    version: \(ensemble.version)")
            lines.append("    servers:")
            for server in ensemble.servers {
                lines.append("      - id: \(server.id)")
                lines.append("        host: \(quoted(server.host))")
                lines.append("        address: \(quoted(server.address))")
                if let stable = server.stableAddress, stable.kind == .follows {
                    lines.append("        stableAddress:")
                    lines.append("          kind: follows")
                } else if let stable = server.stableAddress, stable.kind == .service {
                    lines.append("        stableAddress:")
                    lines.append("          kind: service")
                    if let hostAddress = stable.hostAddress { lines.append("          hostAddress: \(quoted(hostAddress))") }
                } else if let stable = server.stableAddress {
                    lines.append("        stableAddress:")
                    lines.append("          device: \(quoted(stable.device))")
                    lines.append("          prefixLength: \(stable.prefixLength)")
                }
                lines.append("        quorumPort: \(server.quorumPort)")
                lines.append("        electionPort: \(server.electionPort)")
                lines.append("        clientPort: \(server.clientPort)")
                lines.append("        configPath: \(quoted(server.configPath))")
                lines.append("        dataDir: \(quoted(server.dataDir))")
                lines.append("        myidPath: \(quoted(server.myidPath))")
                let commands = [("start", server.commands.start), ("stop", server.commands.stop), ("restart", server.commands.restart), ("status", server.commands.status)]
                    .compactMap { key, value in value.map { (key, $0) } }
                if !commands.isEmpty {
                    lines.append("        commands:")
                    for (key, value) in commands { lines.append("          \(key): \(quoted(value))") }
                }
            }
        }
        if !inventory.clientGroups.isEmpty {
            lines.append("")
            lines.append("clientGroups:")
            for group in inventory.clientGroups {
                lines.append("  - name: \(quoted(group.name))")
                lines.append("    ensemble: \(quoted(group.ensemble))")
                if let chroot = group.chroot { lines.append("    chroot: \(quoted(chroot))") }
                lines.append("    members:")
                for member in group.members {
                    lines.append("      - name: \(quoted(member.name))")
                    lines.append("        host: \(quoted(member.host))")
                    if member.format != .properties { lines.append("        format: \(member.format.rawValue)") }
                    if member.format == .command {
                        if let command = member.switchCommand { lines.append("        switch: \(quoted(command))") }
                        if let verify = member.verifyCommand { lines.append("        verify: \(quoted(verify))") }
                    } else {
                        lines.append("        configPath: \(quoted(member.configPath))")
                        lines.append("        connectionKey: \(quoted(member.connectionKey))")
                    }
                    if !member.match.isEmpty { lines.append("        match: [\(member.match.map { quoted($0.description) }.joined(separator: ", "))]") }
                    if let restart = member.restart { lines.append("        restart: \(quoted(restart))") }
                    if let stop = member.stop { lines.append("        stop: \(quoted(stop))") }
                    if let check = member.healthCheck { lines.append("        healthCheck: \(quoted(check))") }
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
