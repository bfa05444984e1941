extension Inventory {
    /// An inventory showing every key: a three-server 3.4 source ensemble, an empty 3.8
    /// destination, the Kafka brokers that use the source under `/kafka`, and hosts reached through
    /// the sandbox or SSH. `mitosis` prints it as a starting point; the tests parse it.
    public static let example = """
        # Mitosis inventory: what exists and what should exist.
        hosts:
          - name: zk-src-1
            address: 10.77.1.1
            via: sandbox
          - name: zk-src-2
            address: 10.77.1.2
            via: sandbox
          - name: zk-src-3
            address: 10.77.1.3
            via: sandbox
          - name: zk-dst-1
            address: 10.77.2.1
            via: sandbox
          - name: zk-dst-2
            address: 10.77.2.2
            via: sandbox
          - name: zk-dst-3
            address: 10.77.2.3
            via: sandbox
          - name: kafka-1
            address: 10.77.3.1
            via: ssh
            ssh:
              user: mitosis
              port: 22
              key: /home/mitosis/.ssh/id_ed25519
              knownHosts: /home/mitosis/.ssh/known_hosts
              sudo: true

        ensembles:
          - name: source
            version: 3.4.13
            commands:                      # defaults for every server of the ensemble
              start: systemctl start zookeeper
              stop: systemctl stop zookeeper
              restart: systemctl restart zookeeper
              status: echo srvr | nc -q 2 localhost 2181
            servers:
              - id: 1
                host: zk-src-1
                quorumPort: 2888
                electionPort: 3888
                clientPort: 2181
                configPath: /etc/zookeeper/conf/zoo.cfg
                dataDir: /var/lib/zookeeper
              - id: 2
                host: zk-src-2
                configPath: /etc/zookeeper/conf/zoo.cfg
                dataDir: /var/lib/zookeeper
              - id: 3
                host: zk-src-3
                configPath: /etc/zookeeper/conf/zoo.cfg
                dataDir: /var/lib/zookeeper
                myidPath: /var/lib/zookeeper/myid
          - name: destination
            version: 3.8.0
            servers:
              - id: 4
                host: zk-dst-1
                role: participant
                configPath: /etc/zookeeper/conf/zoo.cfg
                dynamicConfigPath: /etc/zookeeper/conf/zoo.cfg.dynamic
                dataDir: /var/lib/zookeeper
                dataLogDir: /var/lib/zookeeper-txnlog
                commands:
                  restart: systemctl restart zookeeper
              - id: 5
                host: zk-dst-2
                configPath: /etc/zookeeper/conf/zoo.cfg
                dataDir: /var/lib/zookeeper
                commands:
                  restart: systemctl restart zookeeper
              - id: 6
                host: zk-dst-3
                address: 10.77.9.6         # a stable address bound on zk-dst-3, not the host's own
                stableAddress:             # strategy replace moves it to the host that replaces this server
                  device: eth0             # (or {kind: service} for a Kubernetes ClusterIP, or
                  prefixLength: 24         #  {kind: command, detach: …, attach: …, check: …} for a cloud interface,
                                           #  or {kind: follows} for a DNS name or Service the platform points
                                           #  at whichever server runs: nothing moves, the plan checks the effect)
                configPath: /etc/zookeeper/conf/zoo.cfg
                dataDir: /var/lib/zookeeper
                commands:
                  restart: systemctl restart zookeeper

        clientGroups:
          - name: kafka
            ensemble: source
            chroot: /kafka
            kind: kafka                # each switched broker must register again and no partition lag
            members:
              - name: broker-1
                host: kafka-1
                configPath: /etc/kafka/server.properties
                connectionKey: zookeeper.connect
                restart: systemctl restart kafka
                stop: systemctl stop kafka
                healthCheck: systemctl is-active kafka   # optional; kind: kafka also reads Kafka's znodes
          - name: patroni
            ensemble: source
            members:
              - name: pg-1
                host: kafka-1
                format: yaml               # properties (default), yaml, xml, env or command
                configPath: /etc/patroni/patroni.yml
                connectionKey: zookeeper.hosts   # a dotted key path; the value is a string or a list
                restart: systemctl restart patroni
                match: 10.77.3.1           # how cons shows its connections (default: its host's address)

        """
}
