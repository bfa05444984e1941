import NIOCore
import ZooKeeper

/// Polls every server's `srvr` while the plan runs and records each new leader (an election),
/// and servers going away or coming back, on the timeline.
struct LeaderMonitor: Sendable {
    let servers: [(String, ConnectionString.Server)]
    let timeline: TimelineRecorder
    let group: any EventLoopGroup
    var interval: Duration = .milliseconds(500)

    func run() async {
        var modes: [String: String] = [:]
        while !Task.isCancelled {
            await withTaskGroup(of: (String, String?).self) { tasks in
                for (host, server) in servers {
                    tasks.addTask {
                        let status = try? await FourLetterWords.srvr(server, timeout: .seconds(1), group: group)
                        return (host, status?.mode.rawValue)
                    }
                }
                for await (host, mode) in tasks {
                    let before = modes[host]
                    let now = mode ?? "down"
                    if before != now {
                        if now == "leader" { timeline.event(.leaderElection, "\(host) leads", subject: host) }
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
