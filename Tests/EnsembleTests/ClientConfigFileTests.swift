import Testing

@testable import Ensemble

/// One member config file belongs to one member: listing it in two groups would let one group's
/// switch rewrite a file the other group still counts on.
@Suite("client member config files")
struct ClientConfigFileTests {
    static func inventory(secondGroupHost: String, secondPath: String) -> String {
        """
        hosts:
          - name: a
            via: sandbox
          - name: b
            via: sandbox
        ensembles:
          - name: src
            version: 3.8.0
            servers:
              - id: 1
                host: a
                configPath: /etc/zk/zoo.cfg
                dataDir: /var/zk
        clientGroups:
          - name: kafka
            ensemble: src
            members:
              - host: a
                configPath: /etc/kafka/server.properties
          - name: connect
            ensemble: src
            members:
              - name: worker
                host: \(secondGroupHost)
                configPath: \(secondPath)

        """
    }

    @Test func oneFileInTwoGroupsIsRefusedNamingBothPlaces() throws {
        let yaml = Self.inventory(secondGroupHost: "a", secondPath: "/etc/kafka/server.properties")
        let error = try #require(throws: InventoryError.self) { try Inventory.parse(yaml: yaml, fileName: "inv.yaml") }
        #expect(error.errors.count == 1)
        let text = error.description
        #expect(text.contains("inv.yaml:23:"), "the second listing's line: \(text)")
        #expect(text.contains("a:/etc/kafka/server.properties is already the config file of member 'a' of client group 'kafka' (inv.yaml:18:"), "\(text)")
        #expect(text.contains("list the client once"))
    }

    @Test func theSamePathOnAnotherHostIsAnotherFile() throws {
        let inventory = try Inventory.parse(yaml: Self.inventory(secondGroupHost: "b", secondPath: "/etc/kafka/server.properties"))
        #expect(inventory.clientGroups.map(\.members.count) == [1, 1])
    }

    @Test func commandMembersHaveNoFileToShare() throws {
        var yaml = Self.inventory(secondGroupHost: "a", secondPath: "/unused")
        yaml = yaml.replacingOccurrences(
            of: "      - host: a\n        configPath: /etc/kafka/server.properties\n",
            with: "      - host: a\n        format: command\n        switch: /usr/local/bin/zk-move\n        verify: /usr/local/bin/zk-uses\n")
        yaml = yaml.replacingOccurrences(
            of: "        host: a\n        configPath: /unused\n",
            with: "        host: a\n        format: command\n        switch: /usr/local/bin/connect-move\n        verify: /usr/local/bin/connect-uses\n")
        let inventory = try Inventory.parse(yaml: yaml)
        #expect(inventory.clientGroups.map(\.members.count) == [1, 1], "two command members on one host are two clients")
    }
}
