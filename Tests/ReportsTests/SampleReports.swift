import Foundation
import Reports

/// Reports for the tests: a realistic mitosis rehearsal and a few awkward shapes.
enum SampleReports {
    static let start = Date(timeIntervalSince1970: 1_714_564_800.25)

    /// A rehearsal of mitosis on a sandbox: 3 source servers, 3 destination servers, Kafka
    /// (moves, 3 brokers) and a billing service (stays); 13 steps over 90 s; the leader of the
    /// source restarts at 24 s (election, 0.4 s stall for billing); the split at 61 s stalls
    /// Kafka for 1.4 s while the destination elects its own leader.
    static func mitosisRehearsal() -> RunReport {
        var steps: [StepSpan] = []
        func step(_ id: String, _ title: String, _ start: Double, _ end: Double, window: String? = nil, expected: Double? = nil) {
            steps.append(
                StepSpan(
                    id: id, title: title, start: start, end: end, outcome: .succeeded, impactWindow: window,
                    expectedWindowLength: expected))
        }
        step("preflight", "Check versions, quorum, and that the destination holds no znodes", 0, 1.5)
        step("start-destination", "Start destination servers 4–6 joined to the source, dormant", 1.5, 8.0)
        step("restart-src-1", "Restart source server 1 with the joined membership", 8.0, 14.5)
        step("restart-src-2", "Restart source server 2 with the joined membership", 14.5, 21.0)
        step(
            "restart-src-3", "Restart source server 3 (the leader) with the joined membership", 21.0, 27.8,
            window: "election", expected: 2)
        step("wait-sync", "Wait until destination servers 4–6 have synced", 27.8, 36.0)
        step("switch-broker-1", "Point broker 1's zookeeper.connect at the destination and restart it", 36.0, 44.0)
        step("switch-broker-2", "Point broker 2's zookeeper.connect at the destination and restart it", 44.0, 52.0)
        step("switch-broker-3", "Point broker 3's zookeeper.connect at the destination and restart it", 52.0, 60.0)
        step("split-configs", "Write the split configurations on all six servers", 60.0, 61.0)
        step(
            "split-firewall", "Cut the destination off from the source and restart it on its own", 61.0, 66.5,
            window: "split", expected: 10)
        step("verify", "Compare both trees and watch both ensembles", 66.5, 74.0)
        step("cleanup-source", "Restart the source without the destination members", 74.0, 88.0)

        var random = SplitMix(seed: 42)
        let kafka = ClientGroupTimeline(
            name: "kafka", moves: true,
            buckets: buckets(rate: 820, until: 90, random: &random) { t in
                if t >= 62.3 && t < 63.7 { return (0, t < 62.6 || t > 63.5 ? 6 : 0) }
                if (36.5..<38).contains(t) || (44.5..<46).contains(t) || (52.5..<54).contains(t) { return (0.66, 0) }
                if (24.1..<24.5).contains(t) { return (0.7, 0) }
                return (1, 0)
            },
            stalls: [Stall(start: 62.3, end: 63.7)],
            restarts: [
                MemberRestart(member: "broker-1", start: 36.5, end: 38.0),
                MemberRestart(member: "broker-2", start: 44.5, end: 46.0),
                MemberRestart(member: "broker-3", start: 52.5, end: 54.0),
            ])
        let billing = ClientGroupTimeline(
            name: "billing-service", moves: false,
            buckets: buckets(rate: 410, until: 90, random: &random) { t in
                if t >= 24.2 && t < 24.6 { return (0, t < 24.3 ? 4 : 0) }
                if (8.2..<8.6).contains(t) || (14.7..<15.1).contains(t) || (74.3..<74.8).contains(t) { return (0.8, 0) }
                return (1, 0)
            },
            stalls: [Stall(start: 24.2, end: 24.6)])

        let events: [TimelineEvent] = [
            TimelineEvent(time: 1.9, kind: .serverStarted, label: "dst-4 started", subject: "dst-4"),
            TimelineEvent(time: 2.4, kind: .serverStarted, label: "dst-5 started", subject: "dst-5"),
            TimelineEvent(time: 2.9, kind: .serverStarted, label: "dst-6 started", subject: "dst-6"),
            TimelineEvent(time: 8.1, kind: .serverStopped, label: "src-1 stopped", subject: "src-1"),
            TimelineEvent(time: 9.0, kind: .serverStarted, label: "src-1 started", subject: "src-1"),
            TimelineEvent(time: 14.6, kind: .serverStopped, label: "src-2 stopped", subject: "src-2"),
            TimelineEvent(time: 15.5, kind: .serverStarted, label: "src-2 started", subject: "src-2"),
            TimelineEvent(time: 21.1, kind: .serverStopped, label: "src-3 stopped", subject: "src-3"),
            TimelineEvent(time: 24.3, kind: .leaderElection, label: "src-2 elected (epoch 2)", subject: "src-2"),
            TimelineEvent(time: 22.0, kind: .serverStarted, label: "src-3 started", subject: "src-3"),
            TimelineEvent(time: 35.8, kind: .gate, label: "destination synced", subject: "dst-4,5,6"),
            TimelineEvent(time: 61.4, kind: .firewallSplit, label: "firewall split", subject: "dst ⟂ src"),
            TimelineEvent(time: 61.8, kind: .serverStopped, label: "dst-4..6 stopped", subject: "dst-4"),
            TimelineEvent(time: 62.5, kind: .serverStarted, label: "dst-4..6 started", subject: "dst-4"),
            TimelineEvent(time: 63.5, kind: .leaderElection, label: "dst-5 elected (epoch 1)", subject: "dst-5"),
            TimelineEvent(time: 74.2, kind: .serverStopped, label: "src-1 stopped", subject: "src-1"),
            TimelineEvent(time: 75.1, kind: .serverStarted, label: "src-1 started", subject: "src-1"),
        ]

        return RunReport(
            title: "mitosis rehearsal: 3 → 3 servers, kafka moves, billing stays",
            kind: .rehearsal, strategy: "mitosis", startedAt: start, duration: 90,
            verdict: [
                VerdictItem(
                    name: "acknowledged writes lost", value: "0", passed: true,
                    detail: "74,120 acknowledged writes read back from the destination"),
                VerdictItem(
                    name: "longest stall, moving clients", value: "1.4 s", passed: true,
                    detail: "kafka at 62.3 s, in the split window (expected ≤ 10 s)"),
                VerdictItem(
                    name: "longest stall, staying clients", value: "400 ms", passed: true,
                    detail: "billing-service at 24.2 s, in the election window (expected ≤ 2 s)"),
                VerdictItem(name: "sessions expired", value: "0", passed: true, detail: "session timeout 6 s"),
                VerdictItem(
                    name: "leader elections", value: "2", passed: nil, detail: "src-2 at 24.3 s, dst-5 at 63.5 s"),
            ],
            steps: steps, clientGroups: [kafka, billing], events: events,
            servers: [
                ServerRow(name: "src-1", ensemble: "source", finalMode: "follower"),
                ServerRow(name: "src-2", ensemble: "source", finalMode: "leader"),
                ServerRow(name: "src-3", ensemble: "source", finalMode: "follower"),
                ServerRow(name: "dst-4", ensemble: "destination", finalMode: "follower"),
                ServerRow(name: "dst-5", ensemble: "destination", finalMode: "leader"),
                ServerRow(name: "dst-6", ensemble: "destination", finalMode: "follower"),
            ],
            notes: [
                "Sandbox: six ZooKeeper 3.8.0 servers in network namespaces on this machine.",
                "Kafka's brokers are three client processes writing Kafka's metadata layout.",
            ])
    }

    /// Buckets of 100 ms from 0 to `until`, at about `rate` requests per second; `shape` gives,
    /// for a bucket's start, the fraction of the rate that succeeds and a number of failures.
    static func buckets(
        rate: Double, until: Double, width: Double = 0.1, random: inout SplitMix,
        shape: (Double) -> (fraction: Double, failures: Int)
    ) -> [ThroughputBucket] {
        var result: [ThroughputBucket] = []
        let count = Int((until / width).rounded())
        for index in 0..<count {
            let start = Double(index) * width
            let (fraction, failures) = shape(start)
            let noise = 0.9 + 0.2 * random.nextUnit()
            let successes = Int((rate * width * fraction * noise).rounded())
            let latency = failures > 0 ? 1200 + 300 * random.nextUnit() : 2 + 6 * random.nextUnit()
            result.append(
                ThroughputBucket(
                    start: start, end: start + width, successes: successes, failures: failures,
                    maxLatencyMs: (latency * 10).rounded() / 10))
        }
        return result
    }
}

/// A small deterministic random source, so that samples are the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

extension SampleReports {
    /// A rehearsal that goes wrong: mitosis is killed in the middle of a step and resumed, a
    /// staying client stalls outside any declared window and loses its session.
    static func failedRehearsal() -> RunReport {
        var random = SplitMix(seed: 9)
        var report = mitosisRehearsal()
        report.title = "mitosis rehearsal with a crash of mitosis at 40 s"
        report.steps[6] = StepSpan(
            id: "switch-broker-1", title: "Point broker 1's zookeeper.connect at the destination and restart it",
            start: 36, end: nil, outcome: .interrupted)
        report.steps.insert(
            StepSpan(
                id: "switch-broker-1", title: "Point broker 1's zookeeper.connect at the destination (resumed)",
                start: 45, end: 49, outcome: .resumed), at: 7)
        report.steps[8].start = 49
        report.steps[11].outcome = .failed
        report.steps.removeLast()
        report.steps.append(StepSpan(id: "cleanup-source", title: "Not run after the failed split", start: 66.5, end: 66.5, outcome: .skipped))
        report.duration = 70
        report.clientGroups[1] = ClientGroupTimeline(
            name: "billing-service", moves: false,
            buckets: buckets(rate: 410, until: 70, random: &random) { t in
                if t >= 30 && t < 36.2 { return (0, Int(t * 10) % 5 == 0 ? 12 : 2) }
                return (1, 0)
            },
            stalls: [Stall(start: 30, end: 36.2)])
        report.clientGroups[0].buckets.removeAll { $0.start >= 70 }
        report.events.removeAll { $0.time > 64 }
        report.events += [
            TimelineEvent(time: 36.1, kind: .sessionExpired, label: "billing session 0x1008 expired", subject: "billing-service"),
            TimelineEvent(time: 40, kind: .toolKilled, label: "mitosis killed (SIGKILL)"),
            TimelineEvent(time: 45, kind: .resumed, label: "resumed from the journal"),
            TimelineEvent(time: 30, kind: .serverKilled, label: "src-2 killed", subject: "src-2"),
        ]
        report.verdict[2] = VerdictItem(
            name: "longest stall, staying clients", value: "6.2 s", passed: false,
            detail: "billing-service at 30.0 s, outside any declared window")
        report.verdict[3] = VerdictItem(
            name: "sessions expired", value: "1", passed: false, detail: "billing-service at 36.1 s")
        report.servers = nil
        return report
    }

    /// An hour of a plan with hundreds of steps and a bucket every 100 ms.
    static func longRun() -> RunReport {
        var random = SplitMix(seed: 3)
        let steps = (0..<320).map { (index: Int) -> StepSpan in
            let start = Double(index) * 11.25
            let outcome: StepSpan.Outcome = index == 200 ? .failed : .succeeded
            return StepSpan(
                id: "restart-broker-\(index)", title: "Restart broker \(index)", start: start, end: start + 9,
                outcome: outcome, impactWindow: index % 80 == 40 ? "controller" : nil,
                expectedWindowLength: index % 80 == 40 ? 5 : nil)
        }
        var groups: [ClientGroupTimeline] = []
        for (i, name) in ["kafka", "schema-registry", "billing"].enumerated() {
            let rate = 300 + 200 * Double(i)
            let timeline = buckets(rate: rate, until: 3600, random: &random) { (t: Double) -> (Double, Int) in
                let fraction: Double = t.truncatingRemainder(dividingBy: 900) < 3 ? 0 : 1
                let failures = t.truncatingRemainder(dividingBy: 450) < 0.5 ? 2 : 0
                return (fraction, failures)
            }
            let stalls = stride(from: 0.0, to: 3600, by: 900).map { Stall(start: $0, end: $0 + 3) }
            groups.append(ClientGroupTimeline(name: name, moves: i < 2, buckets: timeline, stalls: stalls))
        }
        let events = (0..<200).map { (index: Int) -> TimelineEvent in
            let election = index % 20 == 0
            let label = election ? "broker-\(index) became controller" : "broker-\(index) stopped"
            return TimelineEvent(
                time: Double(index) * 18, kind: election ? .leaderElection : .serverStopped, label: label,
                subject: "broker-\(index)")
        }
        return RunReport(
            title: "rolling restart of 320 brokers", kind: .run, strategy: "kafka-rolling-restart", startedAt: start,
            duration: 3600, verdict: [VerdictItem(name: "under-replicated partitions", value: "0", passed: true)],
            steps: steps, clientGroups: groups, events: events)
    }
}
