import Foundation
import MigrationPlanning
public import NIOCore
public import Probes
public import Reports
import Synchronization
import ZooKeeper
import ZooKeeperProtocol

/// Watches a `mitosis run` from the side and turns it into a report: the executor's events
/// (steps, gates, firewall changes), every server's `srvr` (elections, servers going away and
/// coming back; read-only), and, when asked, canaries that write and read one znode through a
/// client group's connection string.
public final class RunObserver: Sendable {
    let plan: Plan
    let timeline: TimelineRecorder
    let group: any EventLoopGroup
    let canaries: [CanaryOptions]
    /// Every server's srvr, polled while the run goes on (elections, servers stopping and starting).
    let monitor: LeaderMonitor
    let startedAt: Date
    /// ``startedAt`` in seconds since 1970: canary times are counted from it, as the timeline's.
    let wallOrigin: Double
    /// How many runs of `mitosis run` this report covers (1 plus the earlier journal segments).
    let segments: Int
    private let operations = Mutex<[String: [ThroughputBucket]]>([:])
    private let summaries = Mutex<[CanarySummary]>([])
    static let bucketSeconds = 0.25

    /// - Parameter earlier: the journal's events from earlier segments of the same migration (runs
    ///   stopped with `--until`, or killed, before this `--resume`): the report then covers the
    ///   whole migration, from the first segment's start, with the gaps between segments.
    public init(plan: Plan, eventLoopGroup: any EventLoopGroup, canaries: [CanaryOptions] = [], earlier: [ExecutionEvent] = []) {
        self.plan = plan
        let now = Date()
        let first = earlier.map(\.time).min().map { Swift.min($0, now) } ?? now
        self.startedAt = first
        self.wallOrigin = first.timeIntervalSince1970
        self.segments = earlier.isEmpty ? 1 : Self.segments(in: earlier) + 1
        self.timeline = TimelineRecorder(origin: .now - .milliseconds(Int64(now.timeIntervalSince(first) * 1000)), plan: plan)
        self.group = eventLoopGroup
        self.canaries = canaries
        self.monitor = Self.monitor(of: plan, timeline: timeline, group: eventLoopGroup)
        for event in earlier { timeline.record(event, at: event.time.timeIntervalSince(first)) }
        if !earlier.isEmpty { timeline.event(.resumed, "resumed from the journal (segment \(segments))") }
    }

    /// How many runs wrote `events` (each starts with a plan-started or resumed event).
    static func segments(in events: [ExecutionEvent]) -> Int {
        max(1, events.filter { $0.kind == .planStarted || $0.kind == .resumed }.count)
    }

    /// Pass every executor event here.
    public func record(_ event: ExecutionEvent) { timeline.record(event) }

    /// The leader monitor of the plan's servers. Servers that share an address (replace: the old
    /// and the new server behind one stable address) are one process at a time there: watched
    /// once, by id and address.
    static func monitor(of plan: Plan, timeline: TimelineRecorder, group: any EventLoopGroup) -> LeaderMonitor {
        var servers: [(String, ConnectionString.Server)] = []
        var ensembles: [String: String] = [:]
        let all = plan.source.servers.map { (plan.source.name, $0) } + plan.destination.servers.map { (plan.destination.name, $0) }
        for (ensemble, server) in all {
            let address = ConnectionString.Server(host: server.clientAddress.flatMap { $0 == "0.0.0.0" ? nil : $0 } ?? server.address, port: server.clientPort)
            if servers.contains(where: { $0.1 == address }) { continue }
            let shared = all.filter { $0.1.id == server.id && $0.1.host != server.host && $0.1.address == server.address }.count > 0
            let label = shared ? "server \(server.id) (\(server.address))" : server.host
            servers.append((label, address))
            // One process at a time behind a shared address: its elections are one ensemble's.
            ensembles[label] = shared ? plan.source.name : ensemble
        }
        return LeaderMonitor(servers: servers, ensembles: ensembles, timeline: timeline, group: group)
    }

    /// One last look at the servers once the run has ended, before ``run()`` is cancelled: an
    /// election near the end whose leader no round saw yet is still counted.
    public func finish() async { await monitor.poll() }

    /// Watches until the calling task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [monitor] in await monitor.run() }
            for options in canaries {
                tasks.addTask { [self] in
                    let summary = await Canary(options: options, eventLoopGroup: group).run(onOperation: { start, end, succeeded in
                        self.count(group: options.group, at: end - self.wallOrigin, succeeded: succeeded, latency: (end - start) * 1000)
                    })
                    self.summaries.withLock { $0.append(summary) }
                }
            }
        }
    }

    func count(group name: String, at time: Double, succeeded: Bool, latency: Double) {
        let index = max(0, Int(time / Self.bucketSeconds))
        operations.withLock { all in
            var buckets = all[name] ?? []
            while buckets.count <= index {
                let start = Double(buckets.count) * Self.bucketSeconds
                buckets.append(ThroughputBucket(start: start, end: start + Self.bucketSeconds, successes: 0, failures: 0, maxLatencyMs: 0))
            }
            if succeeded { buckets[index].successes += 1 } else { buckets[index].failures += 1 }
            buckets[index].maxLatencyMs = max(buckets[index].maxLatencyMs, latency)
            all[name] = buckets
        }
    }

    /// The report of the run so far.
    public func report(outcome: String, passed: Bool, detail: String?) -> RunReport {
        let windowLengths = Dictionary(plan.impactWindows.map { ($0.id, Double($0.expectedLength.milliseconds) / 1000) }, uniquingKeysWith: { first, _ in first })
        let summaries = self.summaries.withLock { $0 }
        let buckets = operations.withLock { $0 }
        var verdict = [VerdictItem(name: "plan", value: outcome, passed: passed, detail: detail)]
        if segments > 1 {
            verdict.append(
                VerdictItem(
                    name: "runs", value: "\(segments) segments", passed: nil,
                    detail: "earlier segments (stopped with --until or interrupted) are read from the journal; canaries watched only this one"))
        }
        var groups: [ClientGroupTimeline] = []
        var events = timeline.events
        for summary in summaries.sorted(by: { $0.group < $1.group }) {
            let stalls = summary.stalls.map { Reports.Stall(start: $0.start - wallOrigin, end: $0.end - wallOrigin) }
            groups.append(ClientGroupTimeline(name: summary.group, moves: true, buckets: buckets[summary.group] ?? [], stalls: stalls))
            verdict.append(
                VerdictItem(
                    name: "longest stall (\(summary.group))", value: String(format: "%.2f s", summary.longestStallMilliseconds / 1000), passed: nil,
                    detail: "\(summary.operations) canary rounds, \(summary.failed) failed, \(summary.sessionsExpired) sessions expired"))
        }
        let elections = events.filter { $0.kind == .leaderElection }.count
        verdict.append(VerdictItem(name: "ZooKeeper leader elections", value: "\(elections)", passed: nil, detail: "seen through srvr every 0.5 s"))
        events.sort { $0.time < $1.time }
        return RunReport(
            title: "Run: \(plan.strategy) from \(plan.source.name) to \(plan.destination.name)", kind: .run, strategy: plan.strategy.rawValue,
            startedAt: startedAt, duration: timeline.now, verdict: verdict, steps: timeline.steps(windowLengths: windowLengths),
            clientGroups: groups, events: events, notes: plan.notes)
    }
}
