import MigrationPlanning
import NIOCore
import ZooKeeper
import ZooKeeperProtocol

/// Counts elections from what `srvr` shows: a leader with an epoch not seen before for its
/// ensemble is an election, except the first leader seen at all (it was elected before the watch
/// began). A server that misses a poll and answers again as the same leader is no election, and
/// after a split each ensemble's own elections count once each. Pure, so it tests without servers.
package struct ElectionCounter: Sendable {
    private var seen: Set<String> = []
    private var firstKnown = false

    package init() {}

    /// Whether `host` (of `ensemble`) leading at `epoch` is a new election.
    package mutating func leader(ensemble: String, epoch: UInt32) -> Bool {
        let inserted = seen.insert("\(ensemble)/\(epoch)").inserted
        guard firstKnown else {
            firstKnown = true
            return false
        }
        return inserted
    }
}

/// Polls every server's `srvr` while the plan runs and records each election (see
/// ``ElectionCounter``), and servers going away or coming back, on the timeline.
package struct LeaderMonitor: Sendable {
    let servers: [(String, ConnectionString.Server)]
    /// The ensemble each watched host belongs to (elections count per ensemble).
    var ensembles: [String: String] = [:]
    let timeline: TimelineRecorder
    let group: any EventLoopGroup
    package var interval: Duration = .milliseconds(500)

    package init(servers: [(String, ConnectionString.Server)], ensembles: [String: String] = [:], timeline: TimelineRecorder, group: any EventLoopGroup) {
        self.servers = servers
        self.ensembles = ensembles
        self.timeline = timeline
        self.group = group
    }

    package func run() async {
        var modes: [String: String] = [:]
        var elections = ElectionCounter()
        while !Task.isCancelled {
            await withTaskGroup(of: (String, ServerStatus?).self) { tasks in
                for (host, server) in servers {
                    tasks.addTask {
                        (host, try? await FourLetterWords.srvr(server, timeout: .seconds(1), group: group))
                    }
                }
                for await (host, status) in tasks {
                    let before = modes[host]
                    let now = status?.mode.rawValue ?? "down"
                    if let status, status.mode == .leader, elections.leader(ensemble: ensembles[host] ?? "", epoch: status.zxid.epoch) {
                        timeline.event(.leaderElection, "\(host) leads (epoch \(status.zxid.epoch))", subject: host)
                    }
                    if before != now {
                        if before != nil, now == "down" { timeline.event(.serverStopped, "\(host) not serving", subject: host) }
                        if before == "down", now != "down" { timeline.event(.serverStarted, "\(host) serving (\(now))", subject: host) }
                    }
                    modes[host] = now
                }
            }
            try? await Task.sleep(for: interval)
        }
    }
}
