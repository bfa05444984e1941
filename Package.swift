// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Mitosis",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ZooKeeperProtocol", targets: ["ZooKeeperProtocol"]),
        .library(name: "ZooKeeper", targets: ["ZooKeeper"]),
        .library(name: "ZooKeeperTestSupport", targets: ["ZooKeeperTestSupport"]),
        .library(name: "Ensemble", targets: ["Ensemble"]),
        .library(name: "Probes", targets: ["Probes"]),
        .library(name: "TreeCopy", targets: ["TreeCopy"]),
        .library(name: "KafkaPlanning", targets: ["KafkaPlanning"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "MigrationPlanning", targets: ["MigrationPlanning"]),
        .library(name: "Migration", targets: ["Migration"]),
        .library(name: "Hosts", targets: ["Hosts"]),
        .library(name: "Reports", targets: ["Reports"]),
        .library(name: "Rehearsal", targets: ["Rehearsal"]),
        .executable(name: "mitosis", targets: ["mitosis"]),
        .executable(name: "MitosisBench", targets: ["MitosisBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssh.git", from: "0.15.1"),
        // Curve25519, P-256, SHA-256 and HMAC-SHA1 for keys and known_hosts; the range swift-nio-ssh accepts.
        .package(url: "https://github.com/apple/swift-crypto.git", "1.0.0"..<"6.0.0"),
    ],
    targets: [
        // The wire format and addressing: records, opcodes, error codes, framing,
        // connection strings. Pure: no I/O.
        .target(
            name: "ZooKeeperProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // The async client: connection state machine, channel handler, sessions, watches.
        .target(
            name: "ZooKeeper",
            dependencies: [
                "ZooKeeperProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The locked box callers hand requests to the event loop through.
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                // SHA-1 for digest ACL ids and content digests.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Real ZooKeeper servers on loopback for tests and benchmarks only: no production target
        // depends on it. It starts servers with Hosts' `ChildProcess` and `ZooKeeperDistribution`.
        .target(
            name: "ZooKeeperTestSupport",
            dependencies: ["ZooKeeper", "ZooKeeperProtocol", "Hosts", .product(name: "Logging", package: "swift-log")],
            // The kubectl test double (`FakeKubernetes`), run from its place in the checkout.
            exclude: ["fake_kubectl.py"]
        ),
        // zoo.cfg, dynamic config, myid, server.properties, inventories, version knowledge; and the
        // plain values plans and host drivers both name (Latin1, ServiceState, PeerBlock, shellQuoted).
        .target(
            name: "Ensemble",
            dependencies: ["ZooKeeperProtocol", .product(name: "Yams", package: "Yams")]
        ),
        // Instruments: status, smoketest, availability watch (canary), tree diff, live workloads.
        .target(
            name: "Probes",
            dependencies: [
                "ZooKeeper", "ZooKeeperProtocol",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Block & copy: streaming, batched, faithful subtree copy, and continuous follow.
        .target(name: "TreeCopy", dependencies: ["ZooKeeper", "ZooKeeperProtocol", "Probes", .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        // Kafka's metadata as values (znodes, cluster state, the KRaft view and readiness), and the
        // pure planners (reassignment stages, replication factors, throttles, plan safety): no
        // client, no hosts. The planning module uses it without NIO's event loops or Hosts.
        .target(name: "KafkaPlanning", dependencies: ["Ensemble", "ZooKeeperProtocol"]),
        // Kafka's metadata read from ZooKeeper, reassignment execution, the simulated KRaft nodes and
        // the brokers' switch to another ensemble (server.properties rewrites, rolling restarts).
        // Re-exports KafkaPlanning.
        .target(
            name: "Kafka",
            dependencies: [
                "KafkaPlanning", "ZooKeeper", "Ensemble", "Hosts", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // Hosts: the HostDriver protocol, the network-namespace sandbox and its driver, the SSH driver,
        // local child processes and the ZooKeeper installations this machine can run.
        .target(
            name: "Hosts",
            dependencies: [
                // Latin1, ServiceState, PeerBlock and shellQuoted, values plans name too.
                "Ensemble", "ZooKeeper", "ZooKeeperProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSH", package: "swift-nio-ssh"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Plans, strategies, the prover, runbooks, the observed estate, the version matrix and
        // declared impact: pure planning. Its folder holds the execution module's folder too
        // (`Execution`), which it leaves out. Only the prover makes a `ProvenPlan`.
        .target(
            name: "MigrationPlanning",
            dependencies: [
                "Ensemble", "ZooKeeperProtocol",
                // Kafka's metadata model and planners (pure values), for the KRaft migration plan.
                "KafkaPlanning",
                // SHA-256 of a plan's canonical content, recorded with its proof, and of the observed estate.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Migration",
            exclude: ["Execution"]
        ),
        // The executor, its journal, gates, preflight, discovery, rollback and the observer that
        // turns a run into a report (Reports). It runs only a `ProvenPlan`, which it cannot make.
        .target(
            name: "Migration",
            dependencies: [
                "MigrationPlanning", "Ensemble", "ZooKeeperProtocol", "ZooKeeper", "Hosts", "Probes", "TreeCopy", "Kafka", "Reports",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Migration/Execution"
        ),
        // What happened during a run or rehearsal, rendered as text, JSON and HTML+SVG. Pure
        // (Foundation only, no other Mitosis module): the executor maps its data into this model.
        .target(name: "Reports"),
        // `mitosis rehearse`: sandboxes, data, live clients, a plan executed, a verdict and a report.
        .target(
            name: "Rehearsal",
            dependencies: [
                "Migration", "MigrationPlanning", "Hosts", "Probes", "Reports", "TreeCopy", "ZooKeeper", "ZooKeeperProtocol", "Ensemble",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "mitosis",
            dependencies: [
                "ZooKeeper",
                "Ensemble",
                "Probes",
                "TreeCopy",
                "Kafka",
                "Hosts",
                "Migration",
                "MigrationPlanning",
                "Rehearsal",
                "Reports",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "MitosisBench",
            dependencies: [
                "ZooKeeper",
                // The raw ceiling client writes frames with the codec (`package` access).
                "ZooKeeperProtocol",
                "ZooKeeperTestSupport",
                "Hosts",
                "Probes",
                "TreeCopy",
                "Migration",
                "MigrationPlanning",
                "Rehearsal",
                "Reports",
                "Kafka",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ZooKeeperProtocolTests",
            dependencies: ["ZooKeeperProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "ZooKeeperTests",
            dependencies: [
                "ZooKeeper", "ZooKeeperProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "EnsembleTests", dependencies: ["Ensemble"]),
        .testTarget(name: "HostsTests", dependencies: ["Hosts", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "KafkaPlanning", "ZooKeeper"]),
        .testTarget(
            name: "MigrationTests",
            dependencies: [
                "Migration", "MigrationPlanning", "Ensemble", "TreeCopy", "Probes", "ZooKeeper", "Hosts", "Kafka", "ZooKeeperTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["PlanFiles"]
        ),
        .testTarget(name: "ReportsTests", dependencies: ["Reports"]),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "ZooKeeper"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "ZooKeeper", "ZooKeeperProtocol", "ZooKeeperTestSupport", "Probes", "TreeCopy", "Kafka", "Hosts", "Ensemble", "Migration", "MigrationPlanning", "Rehearsal", "Reports",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Interop"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
