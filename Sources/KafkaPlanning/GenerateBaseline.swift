import Foundation

/// `java.util.Random`: the 48-bit linear congruential generator Kafka's `AdminUtils` draws its
/// start index and replica shift from. Reproduced so the baseline behaves like the real tool.
public struct JavaRandom: Sendable {
    private var seed: Int64
    private static let multiplier: Int64 = 0x5DEECE66D
    private static let mask: Int64 = (1 << 48) - 1

    public init(seed: Int64) { self.seed = (seed ^ JavaRandom.multiplier) & JavaRandom.mask }

    private mutating func next(bits: Int) -> Int32 {
        seed = (seed &* JavaRandom.multiplier &+ 0xB) & JavaRandom.mask
        return Int32(truncatingIfNeeded: seed >> (48 - bits))
    }

    /// Uniform in `0..<bound`, exactly as `Random.nextInt(int bound)`.
    public mutating func nextInt(_ bound: Int32) -> Int32 {
        precondition(bound > 0, "bound must be positive")
        if bound & -bound == bound {
            return Int32(truncatingIfNeeded: (Int64(bound) &* Int64(next(bits: 31))) >> 31)
        }
        var bits: Int32
        var value: Int32
        repeat {
            bits = next(bits: 31)
            value = bits % bound
        } while bits &- value &+ (bound &- 1) < 0
        return value
    }
}

/// Placement computed the way `kafka-reassign-partitions --generate` does it: for each topic,
/// `AdminUtils.assignReplicasToBrokers` over the given brokers, ignoring where replicas are now.
/// Used as the baseline our planners are compared with (replicas moved on the same cluster).
public enum KafkaGenerateBaseline {
    /// Kafka's `assignReplicasToBrokers`: a random start index, round robin for first replicas, and
    /// followers at a shifting offset; with racks on every broker, over the rack-alternating list,
    /// skipping brokers whose rack (or themselves) already hold a replica while others do not.
    public static func assignReplicasToBrokers(
        _ brokers: [Broker], partitions: Int, replicationFactor: Int,
        fixedStartIndex: Int? = nil, startPartitionID: Int? = nil, random: inout JavaRandom
    ) throws(KafkaPlanError) -> [Int: [BrokerID]] {
        guard partitions > 0 else { throw KafkaPlanError(.invalidOption, "number of partitions must be larger than 0") }
        guard replicationFactor > 0 else { throw KafkaPlanError(.invalidReplicationFactor, "replication factor must be larger than 0") }
        guard replicationFactor <= brokers.count else {
            throw KafkaPlanError(.notEnoughBrokers, "replication factor: \(replicationFactor) larger than available brokers: \(brokers.count)")
        }
        if brokers.allSatisfy({ $0.rack == nil }) {
            return rackUnaware(brokers.map(\.id), partitions, replicationFactor, fixedStartIndex, startPartitionID, &random)
        }
        guard brokers.allSatisfy({ $0.rack != nil }) else {
            throw KafkaPlanError(.invalidOption, "not all brokers have rack information for replica rack aware assignment")
        }
        return rackAware(brokers, partitions, replicationFactor, fixedStartIndex, startPartitionID, &random)
    }

    /// Brokers ordered rack by rack: rack1's first, rack2's first, …, rack1's second, ….
    public static func rackAlternatedBrokerList(_ brokers: [Broker]) -> [BrokerID] {
        var byRack: [String: [BrokerID]] = [:]
        for broker in brokers { byRack[broker.rack ?? "", default: []].append(broker.id) }
        let racks = byRack.keys.sorted()
        var iterators = byRack.mapValues { $0.sorted()[...] }
        var result: [BrokerID] = []
        var rackIndex = 0
        while result.count < brokers.count {
            let rack = racks[rackIndex]
            if let next = iterators[rack]!.popFirst() { result.append(next) }
            rackIndex = (rackIndex + 1) % racks.count
        }
        return result
    }

    private static func replicaIndex(_ first: Int, _ secondShift: Int, _ index: Int, _ count: Int) -> Int {
        let shift = 1 + (secondShift + index) % (count - 1)
        return (first + shift) % count
    }

    private static func rackUnaware(_ brokers: [BrokerID], _ partitions: Int, _ rf: Int, _ fixedStart: Int?,
                                    _ startPartition: Int?, _ random: inout JavaRandom) -> [Int: [BrokerID]] {
        let count = brokers.count
        let startIndex = fixedStart ?? Int(random.nextInt(Int32(count)))
        var partition = max(0, startPartition ?? -1)
        var shift = fixedStart ?? Int(random.nextInt(Int32(count)))
        var result: [Int: [BrokerID]] = [:]
        for _ in 0..<partitions {
            if partition > 0 && partition % count == 0 { shift += 1 }
            let first = (partition + startIndex) % count
            var replicas = [brokers[first]]
            for j in 0..<(rf - 1) { replicas.append(brokers[replicaIndex(first, shift, j, count)]) }
            result[partition] = replicas
            partition += 1
        }
        return result
    }

    private static func rackAware(_ brokers: [Broker], _ partitions: Int, _ rf: Int, _ fixedStart: Int?,
                                  _ startPartition: Int?, _ random: inout JavaRandom) -> [Int: [BrokerID]] {
        let rackOf = Dictionary(uniqueKeysWithValues: brokers.map { ($0.id, $0.rack!) })
        let racks = Set(rackOf.values).count
        let arranged = rackAlternatedBrokerList(brokers)
        let count = arranged.count
        let startIndex = fixedStart ?? Int(random.nextInt(Int32(count)))
        var partition = max(0, startPartition ?? -1)
        var shift = fixedStart ?? Int(random.nextInt(Int32(count)))
        var result: [Int: [BrokerID]] = [:]
        for _ in 0..<partitions {
            if partition > 0 && partition % count == 0 { shift += 1 }
            let first = (partition + startIndex) % count
            let leader = arranged[first]
            var replicas = [leader]
            var racksWithReplicas: Set<String> = [rackOf[leader]!]
            var brokersWithReplicas: Set<BrokerID> = [leader]
            var k = 0
            for _ in 0..<(rf - 1) {
                while true {
                    let broker = arranged[replicaIndex(first, shift * racks, k, count)]
                    let rack = rackOf[broker]!
                    k += 1
                    if (!racksWithReplicas.contains(rack) || racksWithReplicas.count == racks)
                        && (!brokersWithReplicas.contains(broker) || brokersWithReplicas.count == count) {
                        replicas.append(broker)
                        racksWithReplicas.insert(rack)
                        brokersWithReplicas.insert(broker)
                        break
                    }
                }
            }
            result[partition] = replicas
            partition += 1
        }
        return result
    }

    /// What `--generate --broker-list` proposes for every topic of `state` (or `topics`), keeping each
    /// topic's replication factor unless `replicationFactors` overrides it (as a script that feeds
    /// `--generate` output to a replication-factor change would). Rack-aware when every broker has a rack.
    public static func generate(for state: KafkaClusterState, brokers: [BrokerID], topics: [String]? = nil,
                                replicationFactors: [String: Int] = [:], seed: Int64) throws(KafkaPlanError) -> ReplicaAssignment {
        var random = JavaRandom(seed: seed)
        let metadata = try brokers.sorted().map { id throws(KafkaPlanError) -> Broker in
            guard let broker = state.brokers[id] else {
                throw KafkaPlanError(.unknownBroker, "broker \(id) is not registered under /brokers/ids")
            }
            return broker
        }
        var result = ReplicaAssignment()
        for name in (topics ?? Array(state.topics.keys)).sorted() {
            guard let topic = state.topics[name] else {
                throw KafkaPlanError(.unknownTopic, "topic \"\(name)\" does not exist under /brokers/topics")
            }
            let rf = replicationFactors[name] ?? topic.partitions[topic.partitions.keys.min() ?? 0]?.count ?? 0
            let assignment = try assignReplicasToBrokers(metadata, partitions: topic.partitions.count,
                                                         replicationFactor: rf, random: &random)
            for (partition, replicas) in assignment { result[TopicPartition(name, partition)] = replicas }
        }
        return result
    }
}
