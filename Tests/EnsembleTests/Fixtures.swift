/// Test files written for these tests, modelled on the example configurations that ship with
/// ZooKeeper (conf/zoo_sample.cfg, the 3.5 dynamic reconfiguration guide) and Kafka
/// (config/server.properties). Trailing blanks and odd spacing are deliberate: a re-render must
/// keep them.
enum Fixtures {
    /// Like ZooKeeper's conf/zoo_sample.cfg, with a three-server 3.4 ensemble appended.
    static let zooSample34 = """
        # The number of milliseconds of each tick
        tickTime=2000
        # The number of ticks that the initial\u{20}
        # synchronization phase can take
        initLimit=10
        # The number of ticks that can pass between\u{20}
        # sending a request and getting an acknowledgement
        syncLimit=5
        # the directory where the snapshot is stored.
        # do not use /tmp for storage, /tmp here is just\u{20}
        # example sakes.
        dataDir=/var/lib/zookeeper
        # the port at which the clients will connect
        clientPort=2181
        # the maximum number of client connections.
        # increase this if you need to handle more clients
        #maxClientCnxns=60
        #
        # Be sure to read the maintenance section of the\u{20}
        # administrator guide before turning on autopurge.
        #
        # The number of snapshots to retain in dataDir
        autopurge.snapRetainCount=3
        # Purge task interval in hours
        # Set to "0" to disable auto purge feature
        autopurge.purgeInterval=1

        ## Ensemble
        server.1=zk1.example.internal:2888:3888
        server.2 = zk2.example.internal:2888:3888
        server.3=zk3.example.internal:2888:3888

        """

    /// A 3.5+ static file that points at a dynamic file.
    static let static35 = """
        tickTime=2000
        initLimit=10
        syncLimit=5
        dataDir=/var/lib/zookeeper
        reconfigEnabled=true
        standaloneEnabled=false
        4lw.commands.whitelist=srvr, mntr, conf, ruok
        dynamicConfigFile=/etc/zookeeper/conf/zoo.cfg.dynamic.100000000

        """

    /// A dynamic file as the reconfiguration guide writes them (client part after ';').
    static let dynamic35 = """
        server.1=125.23.63.23:2780:2783:participant;2791
        server.2=125.23.63.24:2781:2784:participant;2792
        server.3=125.23.63.25:2782:2785:participant;2793
        server.4=[2001:db8::4]:2888:3888:observer;0.0.0.0:2181

        """

    /// The content of /zookeeper/config: a dynamic configuration with its version.
    static let configZnode = """
        server.1=zk1:2888:3888:participant;0.0.0.0:2181
        server.2=zk2:2888:3888:participant;0.0.0.0:2181
        server.3=zk3:2888:3888:participant;0.0.0.0:2181
        version=100000000
        """

    /// Like Kafka's config/server.properties (ZooKeeper mode), plus the properties syntax a
    /// hand-edited file accumulates: ':' separators, a continued line, escapes, CRLF-free.
    static let kafkaServerProperties = """
        # Licensed to the Apache Software Foundation (ASF) under one or more
        # contributor license agreements.  See the NOTICE file distributed with
        # this work for additional information regarding copyright ownership.

        #
        # This configuration file is intended for use in ZK-based mode, where Apache ZooKeeper is required.
        # See kafka.server.KafkaConfig for additional details and defaults
        #

        ############################# Server Basics #############################

        # The id of the broker. This must be set to a unique integer for each broker.
        broker.id=0

        ############################# Socket Server Settings #############################

        #listeners=PLAINTEXT://:9092
        num.network.threads=3
        num.io.threads=8
        socket.send.buffer.bytes=102400
        socket.receive.buffer.bytes=102400
        socket.request.max.bytes=104857600

        ############################# Log Basics #############################

        log.dirs=/var/lib/kafka/data-1,\\
                 /var/lib/kafka/data-2
        num.partitions=1
        num.recovery.threads.per.data.dir=1
        offsets.topic.replication.factor=3
        log.retention.hours : 168
        log.segment.bytes=1073741824
        log.retention.check.interval.ms=300000
        ssl.keystore.location=C\\:\\\\kafka\\\\keystore.jks

        ############################# Zookeeper #############################

        # Zookeeper connection string (see zookeeper docs for details).
        # This is a comma separated host:port pairs, each corresponding to a zk
        # server. e.g. "127.0.0.1:3000,127.0.0.1:3001,127.0.0.1:3002".
        # You can also append an optional chroot string to the urls to specify the
        # root directory for all kafka znodes.
        zookeeper.connect=zk1.example.internal:2181,zk2.example.internal:2181,zk3.example.internal:2181/kafka

        # Timeout in ms for connecting to zookeeper
        zookeeper.connection.timeout.ms=18000
        zookeeper.session.timeout.ms   18000

        ############################# Group Coordinator Settings #############################

        group.initial.rebalance.delay.ms=3
        """
}
