import NIOCore
import NIOPosix
import ZooKeeperProtocol

/// ZooKeeper's four-letter words: a word sent on a fresh TCP connection to the client port, the
/// answer read until the server closes. Since 3.5.3 only words in `4lw.commands.whitelist` answer
/// (3.4.10+ has the list too, with everything allowed by default).
///
/// `ruok` answering `imok` does not mean the server is in a quorum; `srvr` tells the mode.
public enum FourLetterWords {
    /// Sends `word` and returns the raw answer.
    public static func send(
        _ word: String, to server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> String {
        let loop = group.next()
        let promise = loop.makePromise(of: String.self)
        let connect = SandboxAddressGuard.check(server.host, on: loop).flatMap {
            ClientBootstrap(group: loop)
                .connectTimeout(timeAmount(timeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(CollectingHandler(promise: promise))
                    }
                }
                .connect(host: server.host, port: server.port)
        }
        let timer = loop.scheduleTask(in: timeAmount(timeout)) {
            promise.fail(FourLetterWordError(word: word, server: server.description, kind: .timeout, detail: "no complete answer within \(timeout)"))
        }
        connect.whenComplete { result in
            switch result {
            case .success(let channel):
                var buffer = channel.allocator.buffer(capacity: 4)
                buffer.writeString(word)
                channel.writeAndFlush(buffer, promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                promise.fail(FourLetterWordError(word: word, server: server.description, kind: .unreachable, detail: "\(error)"))
            }
        }
        let answer: String
        do {
            answer = try await promise.futureResult.get()
            timer.cancel()
        } catch let error as FourLetterWordError {
            throw error
        } catch {
            throw FourLetterWordError(word: word, server: server.description, kind: .unreachable, detail: "\(error)")
        }
        return try checkedAnswer(answer, word: word, server: server.description)
    }

    /// Turns the answers that mean "refused" into errors: the whitelist refusal of 3.5.3+
    /// ("mntr is not executed because it is not in the whitelist.") and an empty answer (the
    /// server closed the connection: an unknown word, or a 3.4 server with a restricted list).
    static func checkedAnswer(_ answer: String, word: String, server: String) throws(FourLetterWordError) -> String {
        if answer.contains("is not executed because it is not in the whitelist") {
            throw FourLetterWordError(word: word, server: server, kind: .notWhitelisted, detail: answer.trimmingWhitespace())
        }
        if answer.isEmpty {
            throw FourLetterWordError(word: word, server: server, kind: .noAnswer, detail: "the server closed the connection without answering")
        }
        return answer
    }

    /// `srvr`: version, latency, counters, zxid, mode, node count.
    public static func srvr(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> ServerStatus {
        try await status("srvr", server, timeout: timeout, group: group)
    }

    /// `stat`: `srvr` plus the connected clients.
    public static func stat(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> ServerStatus {
        try await status("stat", server, timeout: timeout, group: group)
    }

    private static func status(
        _ word: String, _ server: ConnectionString.Server, timeout: Duration, group: any EventLoopGroup
    ) async throws(FourLetterWordError) -> ServerStatus {
        let text = try await send(word, to: server, timeout: timeout, group: group)
        do {
            return try ServerStatus(parsing: text)
        } catch {
            throw FourLetterWordError(word: word, server: server.description, kind: .unexpectedAnswer, detail: "\(error)")
        }
    }

    /// `mntr`: monitoring key/values.
    public static func mntr(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> MonitoringData {
        MonitoringData(parsing: try await send("mntr", to: server, timeout: timeout, group: group))
    }

    /// `conf`: the server's configuration, with membership lines on 3.5+.
    public static func conf(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> ServerConfiguration {
        ServerConfiguration(parsing: try await send("conf", to: server, timeout: timeout, group: group))
    }

    /// `envi`: the server's environment.
    public static func envi(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> [String: String] {
        KeyValueText.parse(try await send("envi", to: server, timeout: timeout, group: group), separator: "=")
    }

    /// `ruok`: true when the server answers `imok` (it runs; it may still not be in a quorum).
    public static func ruok(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> Bool {
        try await send("ruok", to: server, timeout: timeout, group: group).trimmingWhitespace() == "imok"
    }

    /// `isro`: true when the server is in read-only mode.
    public static func isro(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> Bool {
        try await send("isro", to: server, timeout: timeout, group: group).trimmingWhitespace() == "ro"
    }

    /// `cons`: one line per client connection.
    public static func cons(_ server: ConnectionString.Server, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FourLetterWordError) -> [ClientConnection] {
        ClientConnection.parse(try await send("cons", to: server, timeout: timeout, group: group))
    }
}

public struct FourLetterWordError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case notWhitelisted, unreachable, timeout, noAnswer, unexpectedAnswer
    }

    public var word: String
    public var server: String
    public var kind: Kind
    public var detail: String

    public var description: String {
        switch kind {
        case .notWhitelisted:
            "\(server) refuses '\(word)': add it to 4lw.commands.whitelist in its zoo.cfg (e.g. 4lw.commands.whitelist=srvr,mntr,conf,ruok,isro,cons,stat,envi) and restart it"
        case .unreachable:
            "cannot reach \(server) to send '\(word)': \(detail); check the address and that the server runs"
        case .timeout:
            "'\(word)' to \(server): \(detail)"
        case .noAnswer:
            "'\(word)' to \(server): \(detail); the server may not know this word"
        case .unexpectedAnswer:
            "'\(word)' to \(server): unexpected answer: \(detail)"
        }
    }
}

/// What `srvr` (and `stat`) report.
public struct ServerStatus: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Hashable, Codable {
        case leader, follower, observer, standalone
        case readOnly = "read-only"
    }

    public var version: String
    public var latencyMinimum: Double
    public var latencyAverage: Double
    public var latencyMaximum: Double
    public var received: Int
    public var sent: Int
    public var connections: Int
    public var outstanding: Int
    public var zxid: Zxid
    public var mode: Mode
    public var nodeCount: Int
    /// Client lines of `stat`; empty for `srvr`.
    public var clients: [String]

    /// The clients of `stat`, parsed like `cons` lines (`stat` prints no session details).
    public var clientConnections: [ClientConnection] { ClientConnection.parse(clients.joined(separator: "\n")) }

    /// The release without the packager's suffix: "3.4.13" for "3.4.13-6--1", "3.8.0" for
    /// "3.8.0-${mvngit.commit.id}" (both as the Debian packages print them).
    public var releaseVersion: String { String(version.prefix(while: { $0.isNumber || $0 == "." })) }

    /// A leader, follower, observer or standalone server serves clients; read-only serves reads.
    public var isServing: Bool { mode != .readOnly }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var missing: String
        public var description: String { "no '\(missing)' line" }
    }

    public init(parsing text: String) throws(ParseError) {
        var values: [String: String] = [:]
        var clients: [String] = []
        var inClients = false
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine).trimmingWhitespace()
            if line == "Clients:" {
                inClients = true
                continue
            }
            if inClients {
                if line.isEmpty { inClients = false } else { clients.append(line) }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            values[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmingWhitespace()
        }
        func value(_ key: String) throws(ParseError) -> String {
            guard let value = values[key] else { throw ParseError(missing: key) }
            return value
        }
        let latency = try value("Latency min/avg/max").split(separator: "/").map { Double($0) ?? 0 }
        let version = try value("Zookeeper version")
        self.version = String(version.prefix(while: { $0 != "," }))
        self.latencyMinimum = latency.first ?? 0
        self.latencyAverage = latency.count > 1 ? latency[1] : 0
        self.latencyMaximum = latency.count > 2 ? latency[2] : 0
        self.received = Int(try value("Received")) ?? 0
        self.sent = Int(try value("Sent")) ?? 0
        self.connections = Int(try value("Connections")) ?? 0
        self.outstanding = Int(try value("Outstanding")) ?? 0
        guard let zxid = Zxid(parsing: try value("Zxid")) else { throw ParseError(missing: "Zxid (as hex)") }
        self.zxid = zxid
        guard let mode = Mode(rawValue: try value("Mode")) else { throw ParseError(missing: "Mode (leader, follower, observer, standalone or read-only)") }
        self.mode = mode
        self.nodeCount = Int(try value("Node count")) ?? 0
        self.clients = clients
    }
}

/// What `mntr` reports: tab-separated key/values, with typed accessors for the common keys.
public struct MonitoringData: Sendable, Hashable, Codable {
    public var values: [String: String]

    public init(parsing text: String) {
        values = KeyValueText.parse(text, separator: "\t")
    }

    public subscript(key: String) -> String? { values[key] }

    public var serverState: String? { values["zk_server_state"] }
    public var version: String? { values["zk_version"].map { String($0.prefix(while: { $0 != "," })) } }
    public var znodeCount: Int? { values["zk_znode_count"].flatMap { Int($0) } }
    public var ephemeralsCount: Int? { values["zk_ephemerals_count"].flatMap { Int($0) } }
    public var watchCount: Int? { values["zk_watch_count"].flatMap { Int($0) } }
    public var outstandingRequests: Int? { values["zk_outstanding_requests"].flatMap { Int($0) } }
    public var averageLatency: Double? { values["zk_avg_latency"].flatMap { Double($0) } }
    public var maximumLatency: Double? { values["zk_max_latency"].flatMap { Double($0) } }
    public var aliveConnections: Int? { values["zk_num_alive_connections"].flatMap { Int($0) } }
    /// On the leader only: connected learners (`zk_followers` before 3.6, `zk_learners` since).
    public var followers: Int? { (values["zk_followers"] ?? values["zk_learners"]).flatMap { Int($0) } }
    /// On the leader only: followers that are in sync.
    public var syncedFollowers: Int? { values["zk_synced_followers"].flatMap { Int($0) } }
    public var pendingSyncs: Int? { values["zk_pending_syncs"].flatMap { Int($0) } }
    public var approximateDataSize: Int? { values["zk_approximate_data_size"].flatMap { Int($0) } }
}

/// What `conf` reports. On 3.5+ the membership (`server.N=…`) and its `version` are included.
public struct ServerConfiguration: Sendable, Hashable, Codable {
    public var values: [String: String]
    /// `server.N` lines by id, as the server prints them.
    public var membership: [Int: String]
    /// The dynamic configuration version (3.5+), hex as printed.
    public var membershipVersion: String?

    public init(parsing text: String) {
        let all = KeyValueText.parse(text, separator: "=")
        var values: [String: String] = [:]
        var membership: [Int: String] = [:]
        for (key, value) in all {
            if key.hasPrefix("server."), let id = Int(key.dropFirst("server.".count)) {
                membership[id] = value
            } else {
                values[key] = value
            }
        }
        self.values = values
        self.membership = membership
        self.membershipVersion = values["version"]
    }

    public subscript(key: String) -> String? { values[key] }
    public var serverID: Int? { values["serverId"].flatMap { Int($0) } }
    public var clientPort: Int? { values["clientPort"].flatMap { Int($0) } }
    public var dataDirectory: String? { values["dataDir"] }
    public var tickTime: Int? { values["tickTime"].flatMap { Int($0) } }
}

/// One line of `cons`: ` /127.0.0.1:41234[1](queued=0,recved=5,sent=5,sid=0x…,…)`.
public struct ClientConnection: Sendable, Hashable, Codable {
    public var address: String
    public var details: [String: String]
    public var sessionID: String? { details["sid"] }

    /// Parses the lines of `cons` (or the client lines of `stat`); other lines are skipped.
    public static func parse(_ text: String) -> [ClientConnection] {
        text.split(separator: "\n").compactMap { rawLine in
            let line = String(rawLine).trimmingWhitespace()
            guard line.hasPrefix("/"), let open = line.firstIndex(of: "(") else { return nil }
            var address = String(line[line.index(after: line.startIndex)..<open])
            if let bracket = address.firstIndex(of: "[") { address = String(address[..<bracket]) }
            let inner = line[line.index(after: open)...].dropLast(line.hasSuffix(")") ? 1 : 0)
            var details: [String: String] = [:]
            for pair in inner.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { details[String(parts[0])] = String(parts[1]) }
            }
            return ClientConnection(address: address, details: details)
        }
    }
}

enum KeyValueText {
    static func parse(_ text: String, separator: Character) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(separator: "\n") {
            let line = String(rawLine)
            guard let index = line.firstIndex(of: separator) else { continue }
            let key = String(line[..<index]).trimmingWhitespace()
            guard !key.isEmpty else { continue }
            values[key] = String(line[line.index(after: index)...]).trimmingWhitespace()
        }
        return values
    }
}

/// Accumulates everything the server sends until it closes the connection.
final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<String>
    // Bytes, not text, until the end: a chunk boundary may split a UTF-8 sequence.
    private var received: ByteBuffer?

    init(promise: EventLoopPromise<String>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received == nil {
            received = buffer
        } else {
            received!.writeBuffer(&buffer)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(received.map { String(buffer: $0) } ?? "")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
