import ZooKeeper
import ZooKeeperProtocol

/// One server's health, from `srvr`, `mntr` and `conf`.
public struct ServerHealth: Sendable, Codable, Hashable {
    public init(server: String, reachable: Bool, error: String? = nil, mode: String? = nil, zxid: String? = nil, membership: [String]? = nil) {
        self.server = server
        self.reachable = reachable
        self.error = error
        self.mode = mode
        self.zxid = zxid
        self.epoch = zxid.flatMap { Zxid(parsing: $0) }?.epoch
        self.membership = membership
    }

    public var server: String
    public var reachable: Bool
    public var error: String?
    public var mode: String?
    public var version: String?
    public var zxid: String?
    public var epoch: UInt32?
    public var followers: Int?
    public var syncedFollowers: Int?
    public var outstandingRequests: Int?
    public var averageLatency: Double?
    public var znodes: Int?
    public var ephemerals: Int?
    public var connections: Int?
    /// The membership this server believes in (3.5+ `conf`), as sorted `server.N=…` lines.
    public var membership: [String]?
}

public struct EnsembleStatusReport: Sendable, Codable, Hashable {
    public var servers: [ServerHealth]
    public var warnings: [String]
    public var healthy: Bool { warnings.isEmpty }
}

/// `mitosis status`: asks every server for `srvr`, `mntr` and `conf` and says what is wrong:
/// no leader, two leaders, lagging followers, servers that disagree on the membership.
public enum EnsembleStatus {
    /// Zxid counters a follower may trail the leader by before it counts as lagging.
    public static let lagThreshold: UInt32 = 1000

    public static func collect(_ servers: [ConnectionString.Server], timeout: Duration = .seconds(3)) async -> EnsembleStatusReport {
        var rows: [ServerHealth] = []
        for server in servers {
            var row = ServerHealth(server: server.description, reachable: false)
            do {
                let status = try await FourLetterWords.srvr(server, timeout: timeout)
                row.reachable = true
                row.mode = status.mode.rawValue
                row.version = status.version
                row.zxid = status.zxid.description
                row.epoch = status.zxid.epoch
                row.outstandingRequests = status.outstanding
                row.averageLatency = status.latencyAverage
                row.znodes = status.nodeCount
                row.connections = status.connections
            } catch {
                row.error = error.description
                rows.append(row)
                continue
            }
            if let monitoring = try? await FourLetterWords.mntr(server, timeout: timeout) {
                row.followers = monitoring.followers
                row.syncedFollowers = monitoring.syncedFollowers
                row.ephemerals = monitoring.ephemeralsCount
            }
            if let configuration = try? await FourLetterWords.conf(server, timeout: timeout), !configuration.membership.isEmpty {
                row.membership = configuration.membership.sorted { $0.key < $1.key }.map { "server.\($0.key)=\($0.value)" }
            }
            rows.append(row)
        }
        return EnsembleStatusReport(servers: rows, warnings: warnings(for: rows))
    }

    /// The warnings a set of rows deserves (pure, so it is tested without servers).
    public static func warnings(for rows: [ServerHealth]) -> [String] {
        var warnings: [String] = []
        for row in rows where !row.reachable {
            warnings.append("\(row.server) does not answer: \(row.error ?? "no answer")")
        }
        let reachable = rows.filter(\.reachable)
        let leaders = reachable.filter { $0.mode == "leader" }
        let standalone = reachable.filter { $0.mode == "standalone" }
        if leaders.isEmpty && standalone.isEmpty && !reachable.isEmpty {
            warnings.append("no leader: the ensemble is not serving writes (a quorum is missing or an election is under way)")
        }
        if leaders.count > 1 {
            warnings.append("\(leaders.count) leaders (\(leaders.map(\.server).joined(separator: ", "))): the servers are split into separate ensembles")
        }
        for row in reachable where row.mode == "read-only" {
            warnings.append("\(row.server) is read-only: it is not in a quorum")
        }
        if let leader = leaders.first, let leaderZxid = leader.zxid.flatMap({ Zxid(parsing: $0) }) {
            for row in reachable where row.mode == "follower" || row.mode == "observer" {
                guard let zxid = row.zxid.flatMap({ Zxid(parsing: $0) }) else { continue }
                // A follower that has seen nothing of the leader's epoch yet trails by the leader's
                // counter; within one epoch, by the difference of the counters.
                let behind = zxid.epoch == leaderZxid.epoch ? Int64(leaderZxid.counter) - Int64(zxid.counter) : (zxid < leaderZxid ? Int64(leaderZxid.counter) : 0)
                if behind > Int64(lagThreshold) {
                    warnings.append("\(row.server) lags the leader by \(behind) transactions (at \(zxid), the leader at \(leaderZxid))")
                }
            }
            if let followers = leader.followers, let synced = leader.syncedFollowers, synced < followers {
                warnings.append("the leader has \(followers) learners but only \(synced) synced followers")
            }
        }
        let views = Set(reachable.compactMap(\.membership))
        if views.count > 1 {
            warnings.append("the servers disagree on the membership: \(views.count) different views (see --json)")
        }
        return warnings
    }
}
