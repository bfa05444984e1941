import Foundation
import ZooKeeperProtocol
import Hosts
import Migration
import MigrationPlanning
import Probes
import Reports

extension Rehearsing {
    func makeReport(
        plan: Plan, proof: ProofResult, execution: ExecutionSummary, splitDiff: TreeDiffReport?, timeline: TimelineRecorder,
        kafka: ClientGroupReport, writers: [NumberedWritesReport], lost: Int, acknowledged: Int, verificationProblems: [String],
        finalStatus: [(ensemble: String, host: String, mode: String)], otherApp: OtherAppCheck? = nil, destination: Sandbox,
        processes: RehearsalProcesses
    ) -> RunReport {
        let windowLengths = Dictionary(plan.impactWindows.map { ($0.id, Double($0.expectedLength.milliseconds) / 1000) }, uniquingKeysWith: { first, _ in first })
        let groups = [Self.timeline(of: [kafka], moves: true), Self.timeline(of: writers.map(\.group), moves: true)]
        let writerReports = writers.map(\.group)
        var verdict: [VerdictItem] = []
        verdict.append(
            VerdictItem(
                name: "plan proved safe", value: proof.isSafe ? "safe" : "UNSAFE", passed: proof.isSafe,
                detail: proof.isSafe ? "\(proof.statesExplored) reachable states, every invariant holds" : proof.counterexample.map { "\($0.violation)" }))
        verdict.append(
            VerdictItem(
                name: "plan completed", value: execution.finished ? "all \(plan.steps.count) steps" : "stopped", passed: execution.finished,
                detail: execution.failure ?? (execution.toolKills > 0 ? "resumed from the journal after the tool was stopped \(execution.toolKills)×" : nil)))
        verdict.append(
            VerdictItem(
                name: "acknowledged writes lost", value: "\(lost) of \(acknowledged)", passed: lost == 0 && verificationProblems.isEmpty && acknowledged > 0,
                detail: verificationProblems.isEmpty ? "every numbered write acknowledged on the source or the destination is on the destination" : verificationProblems.joined(separator: "; ")))
        let spans = timeline.steps(windowLengths: windowLengths).map { StallJudgement.StepInterval(window: $0.impactWindow, start: $0.start, end: $0.end) }
        for (name, reports) in [(RehearsalClients.kafkaGroup, [kafka]), (RehearsalClients.writersGroup, writerReports)] {
            let longest = reports.map(\.longestStallSeconds).max() ?? 0
            let threshold = reports.first?.stallThresholdSeconds ?? 1
            // A client notices a server back at its next try: a stall may end up to one stall
            // threshold after its step.
            let judged = reports.flatMap(\.stalls).map {
                StallJudgement.judge(group: name, start: $0.start, end: $0.end, steps: spans, windows: plan.impactWindows, grace: threshold)
            }
            let outside = judged.filter { !$0.isDeclared }
            let windows = Set(judged.compactMap { judgement -> String? in
                if case .declared(let window, _, _) = judgement { return window } else { return nil }
            }).sorted()
            verdict.append(
                VerdictItem(
                    name: "longest stall (\(name))", value: String(format: "%.2f s", longest), passed: outside.isEmpty,
                    detail: judged.isEmpty
                        ? "no stall (no member without a successful operation for over \(String(format: "%.0f", threshold)) s)"
                        : outside.isEmpty
                        ? "\(judged.count) stall\(judged.count == 1 ? "" : "s") (no successful operation for over \(String(format: "%.0f", threshold)) s), each inside a declared window no longer than it declares\(windows.isEmpty ? "" : " (\(windows.joined(separator: ", ")))")"
                        : "undeclared: \(outside.map(\.description).joined(separator: "; "))"))
        }
        let failed = kafka.failedOperations + writerReports.map(\.failedOperations).reduce(0, +)
        var codes: [String: Int] = kafka.failuresByCode
        for report in writerReports { codes.merge(report.failuresByCode, uniquingKeysWith: +) }
        verdict.append(
            VerdictItem(
                name: "failed client operations", value: "\(failed)", passed: nil,
                detail: codes.isEmpty ? "none" : codes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        let expired = kafka.sessionExpirations.count + writerReports.map(\.sessionExpirations.count).reduce(0, +)
        verdict.append(VerdictItem(name: "sessions expired (moving clients)", value: "\(expired)", passed: expired == 0))
        let electionEvents = timeline.events.filter { $0.kind == .leaderElection }
        let elections = electionEvents.count
        verdict.append(VerdictItem(name: "ZooKeeper leader elections", value: "\(elections)", passed: nil, detail: "counted from srvr every 0.5 s, after the first leader is known"))
        // Per side: the source's are what the clients that stay (and the moving ones before their
        // switch) see; the destination's are what the moved clients see.
        for (side, ensemble) in [("source", plan.source), ("destination", plan.destination)] {
            let hosts = Set(ensemble.servers.map(\.host))
            let count = electionEvents.filter { hosts.contains($0.subject ?? "") }.count
            verdict.append(VerdictItem(name: "leader elections on the \(side)", value: "\(count)", passed: nil, detail: "ensemble \(ensemble.name)"))
        }
        verdict.append(VerdictItem(name: "Kafka controller elections", value: "\(kafka.controllerElections.count)", passed: nil))
        let copy = plan.strategy == .copy
        let diffName = copy ? "data diff at the switch" : "data diff at the split"
        if let splitDiff {
            let differences = splitDiff.differences.count + splitDiff.moreDifferences
            let sides = diffSides(destination: destination)
            let shown = splitDiff.differences.prefix(3).map(\.description).joined(separator: "; ")
            verdict.append(
                VerdictItem(
                    name: diffName, value: "\(differences) differences", passed: differences == 0 && splitDiff.nodesLeft > 0,
                    detail: "\(diffPaths(plan).joined(separator: ", ")): \(splitDiff.nodesLeft) znodes on \(sides.left), \(splitDiff.nodesRight) on \(sides.right)"
                        + (copy ? " (after the final catch-up, with the clients stopped; ephemeral nodes left out)" : "") + (shown.isEmpty ? "" : "; \(shown)")))
        } else {
            verdict.append(VerdictItem(name: diffName, value: "not compared", passed: false, detail: "the run did not reach the \(copy ? "switch" : "split")"))
        }
        if let otherApp {
            verdict.append(
                VerdictItem(
                    name: "unrelated data on the destination", value: otherApp.problems.isEmpty ? "\(otherApp.nodes) znodes untouched" : "\(otherApp.problems.count) changed",
                    passed: otherApp.problems.isEmpty && otherApp.nodes == Self.otherAppNodes,
                    detail: otherApp.problems.isEmpty
                        ? "\(Self.otherAppPath), which the destination held before the migration: same data, ACLs and versions"
                        : otherApp.problems.prefix(5).joined(separator: "; ")))
        }
        if copy, let block = plan.window("block") {
            verdict.append(blockWindow(declared: Double(block.expectedLength.milliseconds) / 1000, kafka: kafka, writers: writerReports, timeline: timeline, execution: execution))
        }
        verdict.append(censusVerdict(plan: plan, execution: execution, stranger: processes.stranger))
        verdict.append(yamlVerdict(plan: plan, execution: execution, client: processes.yaml, destination: destination))
        let destinationLeaders = finalStatus.filter { $0.ensemble == "dst" && $0.mode == "leader" }.count
        let destinationServing = finalStatus.filter { $0.ensemble == "dst" && $0.mode != "not serving" }.count
        verdict.append(
            VerdictItem(
                name: "destination serves on its own", value: "\(destinationServing) serving, \(destinationLeaders) leader",
                passed: destinationLeaders == 1 && destinationServing == options.destinationServers))

        var events = timeline.events
        for election in kafka.controllerElections {
            events.append(TimelineEvent(time: election.time, kind: .note, label: "controller: broker \(election.brokerID) (epoch \(election.epoch))", subject: election.member))
        }
        for expiry in kafka.sessionExpirations + writerReports.flatMap(\.sessionExpirations) {
            events.append(TimelineEvent(time: expiry.time, kind: .sessionExpired, label: "\(expiry.member) session expired", subject: expiry.member))
        }
        let elapsed = ContinuousClock.now - origin
        return RunReport(
            title: "Rehearsal: \(plan.strategy) from \(options.sourceServers) × \(options.sourceVersion.version) to \(options.destinationServers) × \(options.destinationVersion.version)",
            kind: .rehearsal, strategy: plan.strategy.rawValue, startedAt: startedAt,
            duration: elapsed.seconds,
            verdict: verdict, steps: timeline.steps(windowLengths: windowLengths), clientGroups: groups,
            events: events.sorted { $0.time < $1.time },
            servers: finalStatus.map { ServerRow(name: $0.host, ensemble: $0.ensemble, finalMode: $0.mode) },
            notes: plan.notes + [
                "data set: \(options.dataNodes) znodes; clients: \(options.brokers) simulated brokers under /kafka, \(options.writers) numbered writers at \(Int(options.writesPerSecond))/s each",
                "sandbox network \(options.networkID); plan, runbook and journal beside this report",
            ])
    }

    /// Whether the census before the split caught the client no inventory lists.
    func censusVerdict(plan: Plan, execution: ExecutionSummary, stranger: ConfigFileClient) -> VerdictItem {
        let name = "unknown client caught by the census"
        // Before the split; or, for replace from host addresses, before phase 4 (the client still on them loses its servers then).
        let census = plan.steps.contains { $0.gatesBefore.contains { if case .sessionsAccountedFor = $0 { true } else { false } } }
        guard census else {
            return VerdictItem(
                name: name, value: "no census", passed: nil,
                detail: "\(plan.strategy) has no split: every client stays on the same addresses, \(stranger.name) (\(stranger.host.address)) too")
        }
        guard let held = execution.censusHeld else {
            return VerdictItem(
                name: name, value: "not caught", passed: false,
                detail: "\(stranger.name) (\(stranger.host.address)) was connected to the source and in no client group, yet the census did not hold the split")
        }
        return VerdictItem(
            name: name, value: "held the split", passed: true,
            detail: "\(held) — then accepted as an operator would with --leave-behind \(execution.leftBehind.joined(separator: ","))")
    }

    /// Whether the YAML client read its file again when restarted and works on the destination.
    func yamlVerdict(plan: Plan, execution: ExecutionSummary, client: ConfigFileClient, destination: Sandbox) -> VerdictItem {
        let name = "YAML client (\(Self.yamlGroup))"
        let log = client.log()
        let connections = log.connected.joined(separator: ", then ")
        let switches = plan.steps.flatMap(\.actions).contains { action in
            if case .switchClient(let change) = action { return change.client.group == Self.yamlGroup } else { return false }
        }
        guard switches else {
            // replace keeps the addresses: the client is not restarted and must still be writing.
            return VerdictItem(
                name: name, value: log.connected.count == 1 ? "not switched, still writing" : "reconnected \(log.connected.count - 1)×",
                passed: log.connected.count == 1 && log.ackedSinceLast > 0,
                detail: "\(plan.strategy) keeps the addresses, so \(client.configPath) is not edited; connected to \(connections); \(log.ackedSinceLast) writes acknowledged")
        }
        let expected = destination.connectionString + (yamlChroot ?? "")
        let onDestination = log.connected.last == expected
        // From host addresses to the services of the same servers (HubSpot's phase 2), `cons` cannot tell the two apart.
        let how =
            plan.source.startsOnHostAddresses
            ? "the switch to the service addresses was verified on \(client.host.name) (ss: its connections to the services, none left to the hosts' addresses)"
            : "the switch was verified through cons (its sessions from \(client.host.address) on the destination's servers and none on the source's)"
        return VerdictItem(
            name: name, value: onDestination ? "switched, read its file, verified" : "not on the destination",
            passed: onDestination && log.connected.count >= 2 && log.ackedSinceLast > 0 && execution.finished,
            detail: "\(client.configPath) (format yaml, key \(Self.yamlKey)) read at each start: connected to \(connections); \(log.ackedSinceLast) writes acknowledged since; \(how)")
    }

    /// Block & copy's block window as the clients felt it: from the first member stopped to the
    /// last one working again on the destination, against the length the plan declares.
    func blockWindow(declared: Double, kafka: ClientGroupReport, writers: [ClientGroupReport], timeline: TimelineRecorder, execution: ExecutionSummary) -> VerdictItem {
        // The brokers' stops: a restart interval each, from the stop until it is registered again.
        let brokerStops = kafka.restarts
        // The writers: the gap between the run on the source and the next one, on the destination.
        let writerGaps = zip(writers, writers.dropFirst()).map { (stopped: $0.stopped, started: $1.started) }
        let starts = brokerStops.map(\.start) + writerGaps.map(\.stopped)
        let ends = brokerStops.map(\.end) + writerGaps.map(\.started)
        guard let first = starts.min(), let last = ends.max(), !brokerStops.isEmpty, !writerGaps.isEmpty else {
            return VerdictItem(name: "block window (clients stopped)", value: "not measured", passed: false, detail: "the clients were not stopped and started again")
        }
        let measured = last - first
        let incomplete = brokerStops.filter { !$0.completed }.map(\.member)
        let longestBroker = brokerStops.map(\.seconds).max() ?? 0
        let longestWriters = writerGaps.map { $0.started - $0.stopped }.max() ?? 0
        let steps = timeline.steps(windowLengths: [:])
        let catchUp = steps.first { $0.id == "catch-up" }.flatMap { step in step.end.map { $0 - step.start } }
        var detail = "declared \(String(format: "%.0f", declared)) s; from the first stop to the last client working on the destination; longest broker down \(String(format: "%.2f", longestBroker)) s, writers stopped \(String(format: "%.2f", longestWriters)) s"
        if let catchUp { detail += "; final catch-up step \(String(format: "%.2f", catchUp)) s" }
        if let pause = execution.diffPauseSeconds { detail += "; includes \(String(format: "%.2f", pause)) s the rehearsal paused to compare the data before the switch" }
        if !incomplete.isEmpty { detail += "; never back: \(incomplete.joined(separator: ", "))" }
        return VerdictItem(
            name: "block window (clients stopped)", value: String(format: "%.2f s of %.0f s declared", measured, declared),
            passed: measured <= declared && incomplete.isEmpty, detail: detail)
    }

    /// One client group's runs (a switch ends one run and starts the next) as a timeline.
    static func timeline(of runs: [ClientGroupReport], moves: Bool) -> ClientGroupTimeline {
        var buckets: [ThroughputBucket] = []
        var stalls: [Reports.Stall] = []
        var restarts: [MemberRestart] = []
        for (index, run) in runs.enumerated() {
            buckets += run.buckets.map {
                ThroughputBucket(start: $0.start, end: $0.start + run.bucketSeconds, successes: $0.successes, failures: $0.failures, maxLatencyMs: $0.maxLatencyMilliseconds)
            }
            stalls += run.stalls.map { Reports.Stall(start: $0.start, end: $0.end) }
            restarts += run.restarts.map { MemberRestart(member: $0.member, start: $0.start, end: $0.end) }
            if index + 1 < runs.count {
                restarts.append(MemberRestart(member: run.group, start: run.stopped, end: runs[index + 1].started))
            }
        }
        return ClientGroupTimeline(name: runs.first?.group ?? "clients", moves: moves, buckets: buckets, stalls: stalls, restarts: restarts)
    }
}
