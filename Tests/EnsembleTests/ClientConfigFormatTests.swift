import Testing

@testable import Ensemble

/// Each client config format: only the value changes (comments, quoting and indentation stay),
/// the edit is read back, and files that cannot be parsed, or whose key is missing or
/// ambiguous, are refused with the line.
@Suite struct ClientConfigFormatTests {
    static let to = "10.2.0.1:2181,10.2.0.2:2181,10.2.0.3:2181"

    func edit(_ text: String, _ format: ClientConfigFormat, _ key: String, to: String = Self.to) throws -> String {
        try ClientConfigFile.replacingValue(in: text, format: format, key: key, with: to)
    }

    func refusal(_ text: String, _ format: ClientConfigFormat, _ key: String, to: String = Self.to) -> ClientConfigError? {
        ClientConfigFile.problem(in: text, format: format, key: key, switchingTo: to)
    }

    // MARK: YAML

    @Test func patroniBlockListKeepsCommentsIndentationAndQuoting() throws {
        let text = """
            # Patroni
            scope: pg  # cluster
            zookeeper:
              # the ensemble
              hosts:
                - '10.1.0.1:2181'
                - '10.1.0.2:2181'
              retry_timeout: 10
            postgresql:
              listen: 0.0.0.0:5432

            """
        let edited = try edit(text, .yaml, "zookeeper.hosts")
        #expect(edited == """
            # Patroni
            scope: pg  # cluster
            zookeeper:
              # the ensemble
              hosts:
                - '10.2.0.1:2181'
                - '10.2.0.2:2181'
                - '10.2.0.3:2181'
              retry_timeout: 10
            postgresql:
              listen: 0.0.0.0:5432

            """)
        #expect(try ClientConfigFile.value(in: edited, format: .yaml, key: "zookeeper.hosts") == Self.to)
    }

    @Test func yamlFlowListAndStringsKeepTheirStyle() throws {
        let flow = "zookeeper:\r\n  hosts: [\"10.1.0.1:2181\", \"10.1.0.2:2181\"] # old\r\n  ttl: 30\r\n"
        #expect(try edit(flow, .yaml, "zookeeper.hosts")
            == "zookeeper:\r\n  hosts: [\"10.2.0.1:2181\", \"10.2.0.2:2181\", \"10.2.0.3:2181\"] # old\r\n  ttl: 30\r\n")
        let plain = "zookeeper:\n  hosts: 10.1.0.1:2181,10.1.0.2:2181/app   # the ensemble\n"
        #expect(try edit(plain, .yaml, "zookeeper.hosts", to: Self.to + "/app") == "zookeeper:\n  hosts: \(Self.to)/app   # the ensemble\n")
        let single = "zk: {connect: '10.1.0.1:2181'}\n"
        #expect(try edit(single, .yaml, "zk.connect") == "zk: {connect: '\(Self.to)'}\n")
        let dotted = "zookeeper.connect: \"10.1.0.1:2181\"\n"
        #expect(try edit(dotted, .yaml, "zookeeper.connect") == "zookeeper.connect: \"\(Self.to)\"\n")
    }

    @Test func badYAMLIsRefusedWithItsLine() {
        #expect(refusal("zookeeper:\n  hosts: [10.1.0.1:2181\n", .yaml, "zookeeper.hosts")?.description.contains("not valid YAML") == true)
        #expect(refusal("zookeeper:\n  port: 1\n", .yaml, "zookeeper.hosts")?.problem.contains("no key path zookeeper.hosts") == true)
        let twice = refusal("zookeeper.hosts: a:1\nzookeeper:\n  hosts: b:1\n", .yaml, "zookeeper.hosts")
        #expect(twice?.problem.contains("ambiguous") == true, "\(String(describing: twice))")
        #expect(refusal("zookeeper:\n  hosts:\n    a: 1\n", .yaml, "zookeeper.hosts")?.problem.contains("mapping") == true)
        #expect(refusal("zookeeper:\n  hosts: |\n    10.1.0.1:2181\n", .yaml, "zookeeper.hosts")?.problem.contains("one line") == true)
        let chroot = refusal("zookeeper:\n  hosts:\n    - 10.1.0.1:2181\n", .yaml, "zookeeper.hosts", to: Self.to + "/app")
        #expect(chroot?.problem.contains("chroot") == true)
        #expect(chroot?.line == 3)
    }

    // MARK: XML

    static let hbase = """
        <?xml version="1.0"?>
        <?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
        <configuration>
          <!-- <property><name>hbase.zookeeper.quorum</name><value>old</value></property> -->
          <property>
            <name>hbase.zookeeper.quorum</name>
            <value>
              10.1.0.1:2181,10.1.0.2:2181
            </value>
            <description>The ensemble &amp; its ports</description>
          </property>
          <property><name>hbase.zookeeper.property.clientPort</name><value>2181</value></property>
        </configuration>

        """

    @Test func hbaseQuorumChangesAloneAndTheChrootStaysOut() throws {
        let edited = try edit(Self.hbase, .xml, "hbase.zookeeper.quorum", to: Self.to + "/hbase")
        #expect(edited == Self.hbase.replacing("10.1.0.1:2181,10.1.0.2:2181", with: Self.to))
        #expect(try ClientConfigFile.value(in: edited, format: .xml, key: "hbase.zookeeper.property.clientPort") == "2181")
    }

    @Test func badXMLIsRefusedWithItsLine() {
        let unclosed = refusal(Self.hbase.replacing("</description>", with: ""), .xml, "hbase.zookeeper.quorum")
        #expect(unclosed?.problem.contains("not valid XML") == true, "\(String(describing: unclosed))")
        #expect(unclosed?.line == 11 && unclosed?.problem.contains("</property> closes <description>") == true, "\(String(describing: unclosed))")
        #expect(refusal(Self.hbase, .xml, "hbase.rootdir")?.problem == "no <property> named hbase.rootdir")
        let twice = Self.hbase.replacing("hbase.zookeeper.property.clientPort", with: "hbase.zookeeper.quorum")
        #expect(refusal(twice, .xml, "hbase.zookeeper.quorum")?.problem.contains("2 <property> elements") == true)
    }

    // MARK: env

    @Test func solrZKHostKeepsQuotingAndComments() throws {
        let text = """
            #!/bin/bash
            # ZK_HOST=""
            SOLR_HEAP="2g"
            export ZK_HOST="10.1.0.1:2181,10.1.0.2:2181/solr"   # the ensemble
            ZK_CLIENT_TIMEOUT='30000'
            """
        let edited = try edit(text, .env, "ZK_HOST", to: Self.to + "/solr")
        #expect(edited == text.replacing("10.1.0.1:2181,10.1.0.2:2181/solr", with: Self.to + "/solr"))
        #expect(try edit("ZK_HOST=a:1\n", .env, "ZK_HOST") == "ZK_HOST=\(Self.to)\n")
        #expect(try edit("ZK_HOST='a:1'\n", .env, "ZK_HOST") == "ZK_HOST='\(Self.to)'\n")
    }

    @Test func envFilesThatUseTheShellOrLackTheKeyAreRefused() {
        #expect(refusal("# ZK_HOST=\"a:1\"\n", .env, "ZK_HOST")?.problem == "no ZK_HOST= line; line 1 sets it in a comment: uncomment it")
        #expect(refusal("ZK_HOST=\"$ZK\"\n", .env, "ZK_HOST")?.problem.contains("uses the shell") == true)
        #expect(refusal("ZK_HOST=\"a:1\n", .env, "ZK_HOST")?.problem.contains("no closing") == true)
        #expect(refusal("ZK_HOST=a:1\nexport ZK_HOST=b:1\n", .env, "ZK_HOST")?.problem.contains("set 2 times (lines 1, 2)") == true)
        #expect(refusal("ZK_HOST=\"a:1\"; other\n", .env, "ZK_HOST")?.line == 1)
    }

    // MARK: properties

    @Test func propertiesChangeOnlyTheValueAndRefuseAKeySetTwice() throws {
        let text = "# kafka\nbroker.id=1\nzookeeper.connect = 10.1.0.1:2181/kafka\n"
        #expect(try edit(text, .properties, "zookeeper.connect", to: Self.to + "/kafka") == "# kafka\nbroker.id=1\nzookeeper.connect = \(Self.to)/kafka\n")
        #expect(refusal("broker.id=1\n", .properties, "zookeeper.connect")?.problem == "no zookeeper.connect= line")
        #expect(refusal("zookeeper.connect=a:1\nzookeeper.connect=b:1\n", .properties, "zookeeper.connect")?.line == 2)
    }
}
