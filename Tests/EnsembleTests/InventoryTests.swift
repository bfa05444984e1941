import Foundation
import Testing
import ZooKeeperProtocol

@testable import Ensemble

private func inventoryErrors(_ yaml: String) -> [InventoryDiagnostic] {
    do {
        _ = try Inventory.parse(yaml: yaml, fileName: "inv.yaml")
        return []
    } catch {
        return error.diagnostics
    }
}

/// A small valid inventory to break in each test.
private let base = """
    hosts:
      - name: a
        via: sandbox
      - name: b
        address: 10.0.0.2
        via: sandbox
    ensembles:
      - name: src
        version: 3.8.0
        servers:
          - id: 1
            host: a
            configPath: /etc/zk/zoo.cfg
            dataDir: /var/zk
          - id: 2
            host: b
            configPath: /etc/zk/zoo.cfg
            dataDir: /var/zk
          - id: 3
            host: b
            quorumPort: 2889
            electionPort: 3889
            clientPort: 2182
            configPath: /etc/zk3/zoo.cfg
            dataDir: /var/zk3
    clientGroups:
      - name: kafka
        ensemble: src
        members:
          - host: a
            configPath: /etc/kafka/server.properties

    """

@Suite("inventory")
struct InventoryTests {
    @Test("the shipped example parses into the model it describes")
    func example() throws {
        let inventory = try Inventory.parse(yaml: Inventory.example)
        #expect(inventory.warnings.isEmpty)
        #expect(inventory.ensembles.map(\.name) == ["source", "destination"])
        let source = try #require(inventory.ensemble(named: "source"))
        #expect(source.version == .v3_4_13)
        #expect(source.servers.map(\.id) == [1, 2, 3])
        #expect(source.servers[0].commands.restart == "systemctl restart zookeeper")
        #expect(source.servers[1].myidPath == "/var/lib/zookeeper/myid")
        #expect(source.servers[1].quorumPort == 2888 && source.servers[1].clientPort == 2181)
        let destination = try #require(inventory.ensemble(named: "destination"))
        #expect(destination.servers[0].dataLogDir == "/var/lib/zookeeper-txnlog")
        #expect(destination.servers[0].commands.start == nil)
        #expect(inventory.connectionString(for: source, chroot: "/kafka").description == "10.77.1.1:2181,10.77.1.2:2181,10.77.1.3:2181/kafka")
        let kafkaHost = try #require(inventory.host(named: "kafka-1"))
        #expect(kafkaHost.access == .ssh(SSHAccess(user: "mitosis", port: 22, keyPath: "/home/mitosis/.ssh/id_ed25519", knownHostsPath: "/home/mitosis/.ssh/known_hosts", sudo: true)))
        #expect(inventory.host(named: "zk-src-1")?.access == .sandbox)
        let kafka = try #require(inventory.clientGroup(named: "kafka"))
        #expect(kafka.chroot == "/kafka")
        #expect(kafka.members.first?.connectionKey == "zookeeper.connect")
        #expect(kafka.members.first?.healthCheck == "systemctl is-active kafka")
        #expect(kafka.kind == .kafka)
        #expect(kafka.members.first?.restart == "systemctl restart kafka")
        #expect(kafka.members.first?.stop == "systemctl stop kafka")
        #expect(source.servers[0].location?.line == 40)
        // The model turns into the server lines of the configuration files.
        #expect(destination.servers[0].line(clientPortInLine: true).description == "server.4=10.77.2.1:2888:3888;2181")
        #expect(source.servers[2].line(clientPortInLine: false).description == "server.3=10.77.1.3:2888:3888")
    }

    @Test("defaults: ports, myid path, member name and connection key, address from the host name")
    func defaults() throws {
        let inventory = try Inventory.parse(yaml: base)
        let src = try #require(inventory.ensemble(named: "src"))
        #expect(src.servers[0].address == "a")
        #expect(src.servers[1].address == "10.0.0.2")
        #expect(src.servers[0].myidPath == "/var/zk/myid")
        #expect(inventory.clientGroups[0].members[0].name == "a")
        #expect(inventory.clientGroups[0].members[0].connectionKey == "zookeeper.connect")
    }

    /// The inventory's server is the plan's: the same JSON keys a plan's servers have always had,
    /// the address always written (resolved as the inventory is read), the location never.
    @Test("a server as a plan writes it: the resolved address, no inventory location")
    func serverJSON() throws {
        let inventory = try Inventory.parse(yaml: base)
        let server = try #require(inventory.ensemble(named: "src")?.servers[1])
        #expect(server.location != nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(server), as: UTF8.self)
        #expect(json == #"{"address":"10.0.0.2","clientPort":2181,"commands":{},"configPath":"/etc/zk/zoo.cfg","dataDir":"/var/zk","electionPort":3888,"host":"b","id":2,"myidPath":"/var/zk/myid","quorumPort":2888,"role":"participant"}"#)
        var read = try JSONDecoder().decode(ServerSpec.self, from: Data(json.utf8))
        #expect(read.location == nil)
        read.location = server.location
        #expect(read == server)
    }

    @Test("an unknown key is reported at its line with a suggestion")
    func unknownKey() {
        let errors = inventoryErrors(base.replacingFirst("        dataDir: /var/zk3", with: "        dataDri: /var/zk3"))
        #expect(errors.map(\.description) == [
            "inv.yaml:19:9: error: ensembles[0].servers[2]: a server is missing the required key 'dataDir'",
            "inv.yaml:25:9: error: ensembles[0].servers[2].dataDri: unknown key 'dataDri' in a server; did you mean 'dataDir'?",
        ])
    }

    @Test("references to hosts and ensembles that do not exist")
    func references() {
        let badHost = inventoryErrors(base.replacingFirst("        host: b\n        quorumPort", with: "        host: bb\n        quorumPort"))
        #expect(badHost.map(\.description) == ["inv.yaml:20:15: error: ensembles[0].servers[2].host: host 'bb' is not defined under hosts; did you mean 'b'?"])
        let badEnsemble = inventoryErrors(base.replacingFirst("ensemble: src", with: "ensemble: source"))
        #expect(badEnsemble.count == 1)
        #expect(badEnsemble[0].location?.line == 28)
        #expect(badEnsemble[0].message.contains("ensemble 'source' is not defined under ensembles"))
        let badMember = inventoryErrors(base.replacingFirst("      - host: a\n", with: "      - host: zz\n"))
        #expect(badMember.map(\.location?.line) == [30])
    }

    @Test("duplicate server ids, host names and members")
    func duplicates() {
        let duplicateID = inventoryErrors(base.replacingFirst("      - id: 3", with: "      - id: 2"))
        #expect(duplicateID.map(\.description) == ["inv.yaml:19:9: error: ensembles[0].servers[2]: server id 2 is already used in this ensemble at line 15; give each server its own id"])
        let duplicateHost = inventoryErrors(base.replacingFirst("  - name: b\n", with: "  - name: a\n"))
        #expect(duplicateHost.first?.location?.line == 4)
        #expect(duplicateHost.first?.message.contains("a host named 'a' is already defined at line 2") == true)
        let duplicateMember = inventoryErrors(base + "      - host: a\n        configPath: /other\n")
        #expect(duplicateMember.map(\.location?.line) == [32])
    }

    @Test("a member's stop command, for block & copy's block window, needs a restart that brings it back")
    func memberStop() throws {
        let member = "        configPath: /etc/kafka/server.properties\n"
        let both = try Inventory.parse(yaml: base.replacingFirst(member, with: member + "        restart: systemctl restart kafka\n        stop: systemctl stop kafka\n"))
        #expect(both.clientGroups[0].members[0].stop == "systemctl stop kafka")
        #expect(both.clientGroups[0].members[0].restart == "systemctl restart kafka")
        #expect(try Inventory.parse(yaml: base).clientGroups[0].members[0].stop == nil)

        let stopOnly = inventoryErrors(base.replacingFirst(member, with: member + "        stop: systemctl stop kafka\n"))
        #expect(stopOnly.map(\.description) == [
            "inv.yaml:32:15: error: clientGroups[0].members[0].stop: member 'a' has a stop command but no restart command; block & copy stops it for the block window and starts it again on the destination with restart:, so add restart: (a command that also starts the member when it is stopped, e.g. systemctl restart kafka)",
        ])
        let same = inventoryErrors(base.replacingFirst(member, with: member + "        restart: kafkactl bounce\n        stop: kafkactl bounce\n"))
        #expect(same.map(\.message) == ["member 'a' has the same command for stop and restart ('kafkactl bounce'); stop: must leave the member stopped until the switch restarts it"])
        let empty = inventoryErrors(base.replacingFirst(member, with: member + "        restart: systemctl restart kafka\n        stop: \"  \"\n"))
        #expect(empty.map(\.message) == ["stop is empty; give it a value or remove the key"])
        let list = inventoryErrors(base.replacingFirst(member, with: member + "        restart: systemctl restart kafka\n        stop: [systemctl, stop]\n"))
        #expect(list.count == 1 && list[0].message.hasPrefix("stop must be text, not "))
        #expect(list.first?.location?.line == 33)
        let typo = inventoryErrors(base.replacingFirst(member, with: member + "        sotp: systemctl stop kafka\n"))
        #expect(typo.map(\.message) == ["unknown key 'sotp' in a client group member; did you mean 'stop'?"])
    }

    @Test("ports used twice on one host, across servers")
    func portConflict() {
        let errors = inventoryErrors(base.replacingFirst("        clientPort: 2182\n", with: "        clientPort: 2181\n"))
        #expect(errors.count == 1)
        #expect(errors[0].location?.line == 19)
        #expect(errors[0].message == "port 2181 on host 'b' is the client port of server 3 in ensemble 'src' and also the client port of server 2 in ensemble 'src'; give each a different port")
    }

    @Test("wrong types and values say what is expected")
    func values() {
        let errors = inventoryErrors(base
            .replacingFirst("version: 3.8.0", with: "version: latest")
            .replacingFirst("quorumPort: 2889", with: "quorumPort: 99999")
            .replacingFirst("  - name: a\n    via: sandbox", with: "  - name: a\n    via: sshh"))
        #expect(errors.map(\.location?.line) == [3, 9, 21])
        #expect(errors[0].message == "via is 'sshh'; a host is reached via sandbox, ssh, local or kubernetes; did you mean 'ssh'?")
        #expect(errors[1].message.contains("not a ZooKeeper version such as 3.4.13 or 3.8.0"))
        #expect(errors[2].message == "quorumPort is '99999', which is not a port (1–65535)")
    }

    @Test("ssh hosts need ssh settings with a user")
    func ssh() {
        let noBlock = inventoryErrors(base.replacingFirst("  - name: a\n    via: sandbox", with: "  - name: a\n    via: ssh"))
        #expect(noBlock.map(\.message) == ["a host reached via ssh needs an ssh mapping with at least user"])
        let noUser = inventoryErrors(base.replacingFirst("  - name: a\n    via: sandbox", with: "  - name: a\n    via: ssh\n    ssh: {port: 2222, sudo: maybe}"))
        #expect(noUser.map(\.message) == ["ssh settings is missing the required key 'user'", "sudo is 'maybe'; write true or false"])
    }

    @Test("YAML syntax errors and structural errors point at the line")
    func syntax() {
        let broken = inventoryErrors("hosts:\n  - name: a\n    via: [sandbox\nensembles: []\n")
        #expect(broken.count == 1)
        #expect(broken[0].message.hasPrefix("invalid YAML"))
        #expect(broken[0].location != nil)
        let notMapping = inventoryErrors("- just\n- a list\n")
        #expect(notMapping.map(\.message) == ["the inventory must be a mapping of keys (ensembles, hosts, clientGroups, kubernetes), not a list"])
        let empty = inventoryErrors("")
        #expect(empty.first?.message.contains("the inventory is empty") == true)
        let missingTop = inventoryErrors("hosts: []\nensembels: []\n")
        #expect(missingTop.map(\.message) == ["the inventory is missing the required key 'ensembles'", "unknown key 'ensembels' in the inventory; did you mean 'ensembles'?"])
    }

    @Test("a stable address: the server's address, the device and prefix length to move it with")
    func stableAddress() throws {
        let yaml = base.replacingFirst("""
                  - id: 2
                    host: b
            """, with: """
                  - id: 2
                    host: b
                    address: 10.0.9.2
                    stableAddress:
                      device: eth0
                      prefixLength: 24
            """)
        let inventory = try Inventory.parse(yaml: yaml)
        let src = try #require(inventory.ensemble(named: "src"))
        #expect(src.servers[1].stableAddress == StableAddress(device: "eth0", prefixLength: 24))
        #expect(src.servers[1].address == "10.0.9.2")
        #expect(src.servers[0].stableAddress == nil)
        // The shipped example marks one.
        let example = try Inventory.parse(yaml: Inventory.example)
        #expect(example.ensemble(named: "destination")?.server(6)?.stableAddress == StableAddress(device: "eth0", prefixLength: 24))
    }

    @Test("stable address errors point at the key or value at fault")
    func stableAddressErrors() {
        func errors(address: String?, block: String) -> [String] {
            let yaml = base.replacingFirst("""
                      - id: 2
                        host: b
                """, with: """
                      - id: 2
                        host: b
                """ + (address.map { "\n        address: \($0)" } ?? "") + "\n        stableAddress:\n" + block)
            return inventoryErrors(yaml).map(\.description)
        }
        #expect(errors(address: nil, block: "          device: eth0\n          prefixLength: 24") == [
            "inv.yaml:18:11: error: ensembles[0].servers[1].stableAddress: a stable address is the server's own address, moved between hosts: give the server an address (the IP address peers and clients use, e.g. address: 10.77.9.1)"
        ])
        #expect(errors(address: "zk2.example", block: "          device: eth0\n          prefixLength: 24") == [
            "inv.yaml:17:18: error: ensembles[0].servers[1].address: address is 'zk2.example', but a stable address is moved with `ip addr`, which needs an IP address (e.g. 10.77.9.1), not a host name"
        ])
        #expect(errors(address: "10.0.9.2", block: "          device: eth0\n          prefixLength: 33") == [
            "inv.yaml:20:25: error: ensembles[0].servers[1].stableAddress.prefixLength: prefixLength is '33', which is not a prefix length for this address (0–32)"
        ])
        #expect(errors(address: "fd00::9:2", block: "          device: eth0\n          prefixLength: 64").isEmpty)
        #expect(errors(address: "10.0.9.2", block: "          device: eth 0\n          prefixLength: 24") == [
            "inv.yaml:19:19: error: ensembles[0].servers[1].stableAddress.device: device is 'eth 0', which is not a network device name (up to 15 letters, digits and . _ - @, e.g. eth0)"
        ])
        #expect(errors(address: "10.0.9.2", block: "          device: eth0\n          prefix: 24") == [
            "inv.yaml:19:11: error: ensembles[0].servers[1].stableAddress: a stable address is missing the required key 'prefixLength'",
            "inv.yaml:20:11: error: ensembles[0].servers[1].stableAddress.prefix: unknown key 'prefix' in a stable address; allowed keys: kind, device, prefixLength",
        ])
        // A service address (HubSpot's ClusterIP) is bound on no host: no device, any address.
        #expect(errors(address: "10.96.0.12", block: "          kind: service").isEmpty)
        #expect(errors(address: nil, block: "          kind: service") == [
            "inv.yaml:18:11: error: ensembles[0].servers[1].stableAddress: a service stable address is the address clients and peers use (the service's IP or name): give the server an address (e.g. address: 10.96.0.12)"
        ])
        #expect(errors(address: "10.0.9.2", block: "          kind: cloud") == [
            "inv.yaml:19:17: error: ensembles[0].servers[1].stableAddress.kind: kind is 'cloud', which Mitosis does not know: use interface, service, command, follows"
        ])
        // Zalando's interfaces, moved by the operator's own commands: all three are needed.
        #expect(errors(address: "10.0.9.2", block: "          kind: command\n          detach: eni detach\n          attach: eni attach\n          check: eni check").isEmpty)
        #expect(errors(address: "10.0.9.2", block: "          kind: command\n          detach: eni detach\n          attach: eni attach") == [
            "inv.yaml:19:11: error: ensembles[0].servers[1].stableAddress: a stable address moved by commands is missing the required key 'check'"
        ])
        // HubSpot's no-move variant: a DNS name or Service the platform points at whichever server runs.
        #expect(errors(address: "zk-2.zookeeper.svc.cluster.local", block: "          kind: follows").isEmpty)
        #expect(errors(address: nil, block: "          kind: follows") == [
            "inv.yaml:18:11: error: ensembles[0].servers[1].stableAddress: an address that follows its server is the address clients and peers use (a DNS name or a Service's IP the platform points at whichever server runs): give the server an address (e.g. address: zk-1.zookeeper.svc.cluster.local)"
        ])
        #expect(errors(address: "10.96.0.12", block: "          kind: follows\n          device: eth0") == [
            "inv.yaml:20:11: error: ensembles[0].servers[1].stableAddress.device: unknown key 'device' in an address that follows its server; allowed keys: kind"
        ])
        // HubSpot's starting point: a service the server is not behind yet; peers and clients use the host's address.
        #expect(errors(address: "10.96.0.12", block: "          kind: service\n          hostAddress: 10.0.0.2").isEmpty)
        #expect(errors(address: "10.96.0.12", block: "          kind: service\n          hostAddress: 10.96.0.12") == [
            "inv.yaml:20:24: error: ensembles[0].servers[1].stableAddress.hostAddress: hostAddress is the service address 10.96.0.12 itself; give the address zoo.cfg and the clients use now (the host's), or drop hostAddress when the server is behind its service already"
        ])
    }

    @Test("two servers of one ensemble cannot share a stable address")
    func sharedStableAddress() {
        let stable = "\n        address: 10.0.9.9\n        stableAddress: {device: eth0, prefixLength: 24}"
        let yaml = base
            .replacingFirst("      - id: 2\n        host: b", with: "      - id: 2\n        host: b" + stable)
            .replacingFirst("      - id: 3\n        host: b", with: "      - id: 3\n        host: b" + stable)
        #expect(inventoryErrors(yaml).map(\.description) == [
            "inv.yaml:21:9: error: ensembles[0].servers[2]: servers 2 and 3 both have the stable address 10.0.9.9; each server of an ensemble has its own (the server that replaces one, in another ensemble, has the same)"
        ])
    }

    @Test("IP address literals")
    func ipLiterals() {
        for good in ["10.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "fd00::9:2", "2001:db8:0:0:0:0:2:1", "::ffff:10.0.0.1"] {
            #expect(isIPAddressLiteral(good), "\(good)")
        }
        for bad in ["zk1", "10.0.0", "10.0.0.256", "010.0.0.1", "1:2:3:4:5:6:7:8:9", "fd00:::1", "10.0.0.1/24", ""] {
            #expect(!isIPAddressLiteral(bad), "\(bad)")
        }
    }

    @Test("a client group's kind: kafka, generic by default, and a clear error for anything else")
    func clientGroupKind() throws {
        #expect(try Inventory.parse(yaml: base).clientGroups.first?.kind == .generic)
        let kafka = base.replacingFirst("    ensemble: src\n", with: "    ensemble: src\n    kind: kafka\n")
        #expect(try Inventory.parse(yaml: kafka).clientGroups.first?.kind == .kafka)
        let typo = base.replacingFirst("    ensemble: src\n", with: "    ensemble: src\n    kind: kafak\n")
        let errors = inventoryErrors(typo).map(\.message)
        #expect(errors == ["kind is 'kafak', which Mitosis does not know: use kafka (brokers, checked through their znodes) or generic (the default); did you mean 'kafka'?"])
    }

    @Test("a member's format: its default key, match rules, and what each format requires")
    func clientFormats() throws {
        let member = "      - host: a\n        configPath: /etc/kafka/server.properties\n"
        func with(_ lines: String) -> String { base.replacingFirst(member, with: lines) }
        let yaml = try Inventory.parse(yaml: with("      - host: a\n        format: yaml\n        configPath: /etc/patroni.yml\n        match: [10.0.0.9, '10.0.0.1:40000-40100']\n"))
        let patroni = try #require(yaml.clientGroups.first?.members.first)
        #expect(patroni.format == .yaml && patroni.connectionKey == "zookeeper.hosts")
        #expect(patroni.match == [ClientAddressMatch(address: "10.0.0.9"), ClientAddressMatch(address: "10.0.0.1", ports: 40000...40100)])
        #expect(patroni.match[1].matches(address: "10.0.0.1", port: 40100) && !patroni.match[1].matches(address: "10.0.0.1", port: 2181))
        let env = try Inventory.parse(yaml: with("      - host: a\n        format: env\n        configPath: /etc/solr.in.sh\n"))
        #expect(env.clientGroups.first?.members.first?.connectionKey == "ZK_HOST")
        let command = try Inventory.parse(yaml: with("      - host: a\n        format: command\n        switch: /usr/local/bin/zk-move\n        verify: /usr/local/bin/zk-uses\n"))
        #expect(command.clientGroups.first?.members.first?.switchCommand == "/usr/local/bin/zk-move")

        #expect(inventoryErrors(with("      - host: a\n        format: yml\n        configPath: /x\n")).map(\.message)
            == ["format is 'yml', which Mitosis cannot edit: use one of properties, yaml, xml, env, command; did you mean 'yaml'?"])
        let noVerify = inventoryErrors(with("      - host: a\n        format: command\n        switch: move\n        configPath: /x\n")).map(\.message)
        #expect(noVerify.contains { $0.hasPrefix("a member with format command needs verify:") }, "\(noVerify)")
        #expect(noVerify.contains { $0.hasPrefix("a member with format command has no file; remove configPath") }, "\(noVerify)")
        #expect(inventoryErrors(with("      - host: a\n        configPath: /x\n        switch: move\n")).map(\.message)
            == ["switch: belongs to format command; this member's format is properties, whose file Mitosis edits itself"])
        #expect(inventoryErrors(with("      - host: a\n        format: xml\n")).map(\.message) == ["a client group member is missing the required key 'configPath'"])
        #expect(inventoryErrors(with("      - host: a\n        configPath: /x\n        match: kafka-1\n")).first?.message.hasPrefix("match must be an IP address") == true)
    }

    @Test("an even number of voters is a warning, not an error")
    func warnings() throws {
        let yaml = base.replacingFirst("clientGroups:", with: """
                  - id: 4
                    host: a
                    quorumPort: 2890
                    electionPort: 3890
                    clientPort: 2183
                    configPath: /etc/zk4/zoo.cfg
                    dataDir: /var/zk4
            clientGroups:
            """)
        let inventory = try Inventory.parse(yaml: yaml)
        #expect(inventory.warnings.map(\.message) == ["ensemble 'src' has 4 voting servers, which tolerate no more failures than 3; make one an observer or add one"])
    }
}
