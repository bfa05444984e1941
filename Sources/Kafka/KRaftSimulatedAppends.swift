import Foundation
import NIOCore
import NIOPosix
import ZooKeeper

// Produce-style appends to a simulated broker, so a rehearsal can count lost writes across the
// migration's restarts. Not Kafka's protocol: one text line per request on the broker's first
// PLAINTEXT listener, `APPEND <topic> <partition> <payload>` → `OK` | `NOT_LEADER <id>` | `ERR <why>`.
// A broker accepts appends for the partitions it leads and persists each before it answers OK;
// nothing is replicated (the simulation has no followers).

/// Which partitions a broker leads: read from the partition states while it runs in ZooKeeper or
/// migration mode and kept in `<data>/leaders.json`, which a KRaft-mode broker (which does not
/// read ZooKeeper; KRaft keeps the leaders during the migration) reads instead.
public struct SimulatedLeadership: Sendable, Codable, Equatable {
    /// "topic-partition" → leader id.
    public var leaders: [String: Int]
    public init(leaders: [String: Int]) { self.leaders = leaders }
    public init(_ states: [TopicPartition: PartitionState]) { leaders = Dictionary(uniqueKeysWithValues: states.map { ($0.key.description, $0.value.leader.rawValue) }) }
    public static func path(_ dataDirectory: String) -> String { dataDirectory + "/leaders.json" }
    public func save(_ dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: Self.path(dataDirectory)), options: .atomic)
    }
    public static func load(_ dataDirectory: String) -> SimulatedLeadership {
        FileManager.default.contents(atPath: path(dataDirectory)).flatMap { try? JSONDecoder().decode(SimulatedLeadership.self, from: $0) } ?? .init(leaders: [:])
    }

    /// The answer to one request line for broker `id`, and the record to persist when accepted.
    public func decide(_ line: String, broker id: Int) -> (answer: String, accepted: (partition: String, payload: String)?) {
        let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "APPEND", Int(parts[2]) != nil else { return ("ERR expected APPEND <topic> <partition> <payload>", nil) }
        let partition = "\(parts[1])-\(parts[2])"
        guard let leader = leaders[partition] else { return ("ERR unknown partition \(partition)", nil) }
        guard leader == id else { return ("NOT_LEADER \(leader)", nil) }
        return ("OK", (partition, parts[3]))
    }
}

/// A broker's persisted appends: `<data>/appends/<topic>-<partition>.log`, one payload a line,
/// synced before the append is acknowledged.
public actor SimulatedPartitionStore {
    public let directory: String
    public init(dataDirectory: String) { directory = dataDirectory + "/appends" }

    public func append(partition: String, payload: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try appendAndSync(Data((payload + "\n").utf8), to: "\(directory)/\(partition).log")
    }

    /// Every payload persisted in `dataDirectory`, by partition (for the rehearsal's loss check).
    public static func stored(dataDirectory: String) -> [String: [String]] {
        let directory = dataDirectory + "/appends"
        var result: [String: [String]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".log") {
            let text = (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? ""
            result[String(name.dropLast(4)), default: []] += text.split(separator: "\n").map(String.init)
        }
        return result
    }
}

/// Splits the stream into lines and answers each in order; the store's work runs off the event loop.
final class SimulatedAppendHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let broker: Int
    let leadership: SimulatedLeadership
    let store: SimulatedPartitionStore
    /// Bytes of an unfinished line; touched only on the channel's event loop.
    private let pending: NIOLoopBoundBox<ByteBuffer>

    init(broker: Int, leadership: SimulatedLeadership, store: SimulatedPartitionStore, eventLoop: any EventLoop) {
        self.broker = broker; self.leadership = leadership; self.store = store
        pending = NIOLoopBoundBox(ByteBuffer(), eventLoop: eventLoop)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.value.writeBuffer(&incoming)
        while let newline = pending.value.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.value.readerIndex
            let line = pending.value.readString(length: length) ?? ""
            pending.value.moveReaderIndex(forwardBy: 1)
            let (answer, accepted) = leadership.decide(line.trimmingCharacters(in: .whitespaces), broker: broker)
            let promise = context.eventLoop.makePromise(of: String.self)
            let store = self.store
            promise.completeWithTask {
                guard let accepted else { return answer }
                do { try await store.append(partition: accepted.partition, payload: accepted.payload); return answer } catch { return "ERR \(error)" }
            }
            let channel = context.channel
            promise.futureResult.whenSuccess { reply in
                channel.writeAndFlush(ByteBuffer(string: reply + "\n"), promise: nil)
            }
        }
    }
}

/// Serves appends on `host:port` until the returned channel is closed.
public func serveSimulatedAppends(broker: Int, host: String, port: Int, leadership: SimulatedLeadership, dataDirectory: String,
                                  group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> any Channel {
    let store = SimulatedPartitionStore(dataDirectory: dataDirectory)
    return try await ServerBootstrap(group: group)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(SimulatedAppendHandler(broker: broker, leadership: leadership, store: store, eventLoop: channel.eventLoop))
            }
        }
        .bind(host: host, port: port).get()
}
