import Testing
import ZooKeeperProtocol

@testable import Ensemble

@Suite("Kafka server.properties")
struct KafkaBrokerConfigTests {
    @Test("reads the connection string with its chroot and the other settings")
    func reads() throws {
        let config = KafkaBrokerConfig(parsing: Fixtures.kafkaServerProperties)
        let connect = try config.zookeeperConnect()
        #expect(connect.servers.map(\.host) == ["zk1.example.internal", "zk2.example.internal", "zk3.example.internal"])
        #expect(connect.chroot == "/kafka")
        #expect(config.brokerID == 0)
        #expect(config.zookeeperConnectionTimeout == .milliseconds(18000))
        #expect(config.zookeeperSessionTimeout == .milliseconds(18000))
        #expect(config.value(forKey: "log.dirs") == "/var/lib/kafka/data-1,/var/lib/kafka/data-2")
        #expect(config.value(forKey: "log.retention.hours") == "168")
        #expect(config.value(forKey: "ssl.keystore.location") == "C:\\kafka\\keystore.jks")
        #expect(config.rendered == Fixtures.kafkaServerProperties)
    }

    @Test("switching ensembles rewrites exactly the zookeeper.connect line")
    func switches() throws {
        var config = KafkaBrokerConfig(parsing: Fixtures.kafkaServerProperties)
        let destination = try ConnectionString(parsing: "10.0.2.1:2181,10.0.2.2:2181,[2001:db8::3]:2181/kafka")
        config.setZooKeeperConnect(destination)
        let changes = changedLines(Fixtures.kafkaServerProperties, config.rendered)
        #expect(changes.count == 1)
        #expect(changes.first?.hasSuffix("-> zookeeper.connect=10.0.2.1:2181,10.0.2.2:2181,[2001:db8::3]:2181/kafka\n") == true)
        #expect(try config.zookeeperConnect() == destination)
    }

    @Test("a custom connection-string key is honoured")
    func customKey() throws {
        var config = KafkaBrokerConfig(parsing: "zk.quorum = a:2181\nzookeeper.connect=b:2181\n", connectionStringKey: "zk.quorum")
        #expect(try config.zookeeperConnect().servers.first?.host == "a")
        config.setZooKeeperConnect(ConnectionString(servers: [.init(host: "c", port: 2182)]))
        #expect(config.rendered == "zk.quorum = c:2182\nzookeeper.connect=b:2181\n")
    }

    @Test("a missing or broken connection string says where and what to write")
    func errors() {
        #expect {
            try KafkaBrokerConfig(parsing: "broker.id=1\n").zookeeperConnect()
        } throws: { error in
            (error as? KafkaConfigError)?.description.contains("add zookeeper.connect=host:2181") == true
        }
        #expect {
            try KafkaBrokerConfig(parsing: "broker.id=1\nzookeeper.connect=a:2181,,b:2181\n").zookeeperConnect()
        } throws: { error in
            guard let error = error as? KafkaConfigError else { return false }
            return error.line == 2 && error.description.hasPrefix("server.properties:2:")
        }
    }
}
