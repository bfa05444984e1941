import Ensemble
import Kafka
import MigrationPlanning
import NIOCore
import ZooKeeper

/// Kafka's own view of a broker group, read from its znodes through the ensemble a broker uses:
/// whether the brokers are registered and whether any partition is under-replicated or offline.
/// A broker restarted onto another ensemble is back only when it registered there again and its
/// partitions caught up; restarting the next one before that can take partitions below
/// `min.insync.replicas`.
struct KafkaGroupHealth {
    var eventLoopGroup: any EventLoopGroup
    var connectTimeout: Duration = .seconds(15)

    /// The cluster as seen through `connectionString` (with Kafka's chroot): healthy when every
    /// broker in `brokers` is registered and no partition is under-replicated or offline.
    func check(connectionString: String, brokers: [(member: String, id: Int?)]) async throws -> (healthy: Bool, detail: String) {
        try await withClient(connectionString) { zk in try await Self.check(zk, connectionString: connectionString, brokers: brokers) }
    }

    /// Polls through one session every `interval` until the cluster is healthy, or `timeout` has
    /// passed; returns the last answer either way (a read that failed counts as unhealthy).
    func waitUntilHealthy(connectionString: String, brokers: [(member: String, id: Int?)], timeout: Duration, interval: Duration = .seconds(1)) async throws
        -> (healthy: Bool, detail: String)
    {
        try await withClient(connectionString) { zk in
            let deadline = ContinuousClock.now + timeout
            while true {
                let (healthy, detail): (Bool, String)
                do {
                    (healthy, detail) = try await Self.check(zk, connectionString: connectionString, brokers: brokers)
                } catch {
                    (healthy, detail) = (false, "cannot read Kafka's znodes through \(connectionString): \(error)")
                }
                if healthy || ContinuousClock.now >= deadline { return (healthy, detail) }
                try await Task.sleep(for: interval)
            }
        }
    }

    private func withClient<T: Sendable>(_ connectionString: String, _ body: (ZooKeeperClient) async throws -> T) async throws -> T {
        let configuration = ZooKeeperConfiguration(connectionString: try ConnectionString(parsing: connectionString))
        return try await ZooKeeperClient.withClient(configuration, timeout: connectTimeout, eventLoopGroup: eventLoopGroup, body)
    }

    private static func check(_ zk: ZooKeeperClient, connectionString: String, brokers: [(member: String, id: Int?)]) async throws -> (healthy: Bool, detail: String) {
        let state = try await KafkaMetadataReader.read(zk).state
        let missing = brokers.filter { broker in broker.id.map { state.brokers[BrokerID($0)] == nil } ?? false }
        if !missing.isEmpty {
            return (false, "not registered: " + missing.map { "\($0.member) (broker \($0.id ?? -1))" }.joined(separator: ", "))
        }
        let urp = state.underReplicatedPartitions, offline = state.offlinePartitions
        if !urp.isEmpty || !offline.isEmpty {
            return (false, "\(urp.count) under-replicated partition\(urp.count == 1 ? "" : "s") (\(listedOrNone(urp))), \(offline.count) offline (\(listedOrNone(offline)))")
        }
        let unknown = brokers.filter { $0.id == nil }.map(\.member)
        return (true, "\(state.brokers.count) brokers registered, no under-replicated or offline partition"
            + (unknown.isEmpty ? "" : "; \(unknown.joined(separator: ", ")) ha\(unknown.count == 1 ? "s" : "ve") no broker.id in its config, so its registration is not checked"))
    }

    private static func listedOrNone(_ partitions: [TopicPartition]) -> String {
        partitions.isEmpty ? "none" : listed(partitions)
    }
}
