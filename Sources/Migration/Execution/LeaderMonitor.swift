import MigrationPlanning
import NIOCore
import Synchronization
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
    /// What the polls have seen so far, shared by ``run()`` and a last ``poll()``.
    private let state = Seen()

    private final class Seen: Sendable {
        let lock = Mutex<(modes: [String: String], elections: ElectionCounter)>(([:], ElectionCounter()))
        func withLock<T>(_ body: (inout (modes: [String: String], elections: ElectionCounter)) -> T) -> T { lock.withLock { body(&$0) } }
    }

    package init(servers: [(String, ConnectionString.Server)], ensembles: [String: String] = [:], timeline: TimelineRecorder, group: any EventLoopGroup) {
        self.servers = servers
        self.ensembles = ensembles
        self.timeline = timeline
        self.group = group
    }

    package func run() async {
        while !Task.isCancelled {
            await poll()
            try? await Task.sleep(for: interval)
        }
    }

    /// One round: `srvr` of every server, at once. Called once more when the plan has ended,
    /// before the watch stops: an election whose leader the rounds missed (the plan's last
    /// steps can take less than a round on a loaded machine) is still counted, since the
    /// leader it made leads at the end.
    package func poll() async {
        await withTaskGroup(of: (String, ServerStatus?).self) { tasks in
            for (host, server) in servers {
                tasks.addTask {
                    (host, try? await FourLetterWords.srvr(server, timeout: .seconds(1), group: group))
                }
            }
            for await (host, status) in tasks {
                let now = status?.mode.rawValue ?? "down"
                let (before, elected) = state.withLock { state -> (String?, Bool) in
                    let before = state.modes[host]
                    state.modes[host] = now
                    guard let status, status.mode == .leader else { return (before, false) }
                    return (before, state.elections.leader(ensemble: ensembles[host] ?? "", epoch: status.zxid.epoch))
                }
                if let status, elected {
                    timeline.event(.leaderElection, "\(host) leads (epoch \(status.zxid.epoch))", subject: host)
                }
                if before != now {
                    if before != nil, now == "down" { timeline.event(.serverStopped, "\(host) not serving", subject: host) }
                    if before == "down", now != "down" { timeline.event(.serverStarted, "\(host) serving (\(now))", subject: host) }
                }
            }
        }
    }
}
