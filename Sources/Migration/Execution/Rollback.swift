import Ensemble
import MigrationPlanning

/// The way back to the start, for a run stopped before its point of no return.
///
/// A plan changes membership in rounds: a step that writes configurations, then steps that
/// apply them (start the new server, restart the others one at a time). A round is undone by
/// moving back the clients it moved, then stopping the servers it started, then writing the
/// previous configurations, then undoing its other steps in reverse: the restarts run again, now into the previous
/// configuration. Every running server holds the round's membership or the previous one, whose
/// majorities share a server, so two leaders cannot be elected.
///
/// The new server is stopped before the restarts, not after them as a mirror image of the way
/// in would have it: the new server has the highest id, so it usually leads after the rolling
/// restart that brought it in, and a server restarted into a membership without the leader
/// ignores it and stays LOOKING (seen on real 3.8 servers). With the new server stopped, the
/// leader is always in the previous membership. The price: when the round took a three-server
/// source to four voters (quorum 3), the source has no quorum while each of its servers
/// restarts. Each restart waits until the round's previous membership serves again.
///
/// Rounds are undone last first. Only actions that changed something (the journal says) are
/// undone; configuration files go back to what the journal recorded they held before.
public enum Rollback {
    /// The way back from what `journal` says a run of `proven` did. It takes the proven plan (a
    /// plan runs, and so is undone, only as it was proved); the way back it gives is proved in
    /// turn (``Prover/prove(rollback:of:journal:options:)``) before it runs.
    public static func plan(for proven: ProvenPlan, journal: JournalState) throws -> Plan {
        let plan = proven.plan
        // In the order the run began them (a rolling restart's units may have run out of plan order).
        let finished = journal.inRunOrder(plan.steps).filter { step in
            journal.finishedSteps.contains(step.id) || !(journal.finishedActions[step.id] ?? []).isEmpty
                || !(journal.interruptedActions[step.id] ?? []).isEmpty
        }
        if let point = plan.pointOfNoReturn, let pointIndex = plan.index(of: point),
            let past = finished.first(where: { (plan.index(of: $0.id) ?? 0) >= pointIndex })
        {
            throw ExecutionError(
                .pastPointOfNoReturn, step: past.id,
                "step \(past.id) is at or after the point of no return (\(point)): the clients and the data have moved on, so going back would lose writes. Finish the plan with --resume instead")
        }
        if journal.events.isEmpty || finished.isEmpty {
            return Plan(strategy: plan.strategy, source: plan.source, destination: plan.destination, clientGroups: plan.clientGroups, steps: [], pointOfNoReturn: nil, impactWindows: [])
        }

        // Rounds: each starts at a step that writes configurations.
        var rounds: [[Step]] = []
        for step in finished {
            let writes = step.actions.contains { if case .writeConfig = $0 { return true } else { return false } }
            if writes || rounds.isEmpty { rounds.append([step]) } else { rounds[rounds.count - 1].append(step) }
        }

        var steps: [Step] = []
        var restartSteps = 0
        let sourceHealthy = Gate.quorumHealthy(ensemble: plan.source.name, servers: plan.source.refs)
        for (roundIndex, round) in rounds.enumerated().reversed() {
            var restoreWrites: [Action] = []
            for step in round {
                for (index, action) in step.appliedActions(journal: journal) {
                    guard case .writeConfig(let write) = action else { continue }
                    // Only files the journal says this write changed (or, for a write the tool did
                    // not live to finish, what they held when it began), byte for byte, and the
                    // files it created, removed. A write that never began (its host refused us)
                    // has nothing recorded: its files are left alone, never rewritten with what
                    // the planner believed they held.
                    guard let recorded = journal.fileRecord(step: step.id, action: index) else { continue }
                    let removes = write.files.map(\.path).filter { recorded.created.contains($0) && recorded.previous[$0] == nil }
                    let directories = recorded.directories.sorted()
                    let previousDynamic = write.dynamicConfigPath.flatMap { recorded.previous[$0] }
                    // zoo.cfg: back to what it held; or removed; or, when the write left it as it
                    // was, written with what it held when the write began (no change).
                    let text: String
                    let servers: [QuorumServer]
                    if let previous = recorded.previous[write.configPath] ?? (removes.isEmpty && previousDynamic == nil ? nil : recorded.atStart[write.configPath]) {
                        text = previous
                        servers = ZooKeeperConfig(parsing: previous).servers.map(\.spelledAsPlanned)
                    } else if removes.contains(write.configPath) {
                        // The server had no file before the run: as the prover starts it, with
                        // its own ensemble's membership, and stopped (the undo of its start).
                        text = ""
                        servers = (write.server.ensemble == plan.source.name ? plan.source : plan.destination).servers.map { $0.line(clientPortInLine: false) }
                    } else {
                        continue
                    }
                    restoreWrites.append(
                        .writeConfig(
                            ConfigWrite(
                                server: write.server, configPath: write.configPath, servers: servers,
                                settings: [:], text: text, previousText: write.text,
                                dynamicConfigPath: previousDynamic == nil ? nil : write.dynamicConfigPath,
                                dynamicText: previousDynamic, previousDynamicText: write.dynamicText, restoresExactly: true,
                                removes: removes.isEmpty ? nil : removes, removesDirectories: directories.isEmpty ? nil : directories)))
                }
            }
            var restore: [Step] = []
            if !restoreWrites.isEmpty {
                restore.append(
                    Step(
                        id: StepID("rollback-\(roundIndex + 1)-configs"), title: "Restore the configurations of round \(roundIndex + 1)",
                        why: "Write back what the files held before this round, so that the restarts that follow take the servers back to the previous membership.",
                        actions: restoreWrites))
            }
            // The membership before this round: what the round's first step required to serve.
            let previousMembership = round.first.map { $0.gatesBefore.filter { if case .quorumHealthy = $0 { return true } else { return false } } } ?? []
            let roundHealthy = previousMembership.isEmpty ? [sourceHealthy] : previousMembership
            var undo: [Step] = []
            for step in round.reversed() {
                var inverse: [Action] = []
                for (_, action) in step.appliedActions(journal: journal).reversed() {
                    switch action {
                    case .writeConfig, .wait, .copy: continue
                    case .startServer(let ref): inverse.append(.stopServer(ref))
                    case .stopServer(let ref): inverse.append(.startServer(ref))
                    case .restartServer(let ref): inverse.append(.restartServer(ref))
                    case .addFirewallRule(let rule): inverse.append(.removeFirewallRule(rule))
                    case .removeFirewallRule(let rule): inverse.append(.addFirewallRule(rule))
                    case .switchClient(let change):
                        inverse.append(
                            .switchClient(ClientSwitch(client: change.client, configPath: change.configPath, connectionKey: change.connectionKey, from: change.to, to: change.from, restart: change.restart)))
                    case .stopClient(let client):
                        // Started again where it was: a switch to the connection string it has,
                        // whose restart starts a stopped member.
                        guard let member = plan.clientGroup(client.group)?.members.first(where: { $0.name == client.member }), let restart = member.restart else {
                            throw ExecutionError(.unsupportedAction, step: step.id, "\(client) was stopped and the plan has no restart command for it; start it by hand, then roll back")
                        }
                        inverse.append(
                            .switchClient(
                                ClientSwitch(client: client, configPath: member.configPath, connectionKey: member.connectionKey, from: member.connectionString, to: member.connectionString, restart: restart)))
                    case .reconfig(let change) where change.remove.isEmpty && !change.add.isEmpty && change.add.allSatisfy({ $0.role == .observer }):
                        // Observers added by reconfig leave by reconfig: they never voted, so
                        // removing them changes neither the quorum nor the leader.
                        inverse.append(.reconfig(Reconfig(ensemble: change.ensemble, via: change.via, remove: change.add.map(\.id))))
                    case .reconfig(let change):
                        throw ExecutionError(.unsupportedAction, step: step.id, "step \(step.id) ran `\(change.command)`; undo it with the inverse reconfig by hand (the runbook shows it), then roll back the rest")
                    // A service created pointing at its server's own host (phase 1 from host
                    // addresses) stays: once the clients and peers are back on the host
                    // addresses nobody uses it, and pointing it elsewhere would mean nothing.
                    case .moveAddress(let move) where move.from == move.to: break
                    case .moveAddress(let move): inverse.append(.moveAddress(move.reversed))
                    }
                }
                if inverse.isEmpty { continue }
                let restarts = inverse.contains { if case .restartServer = $0 { return true } else { return false } }
                // An address goes back only once the server that took it over has stopped (the
                // undo of its start comes first, in a step of its own).
                let holders = inverse.compactMap { action -> ServerRef? in
                    if case .moveAddress(let move) = action { return move.from }
                    return nil
                }
                // A restart back into the previous membership, while the servers not yet restarted
                // still count the stopped new server, may leave the source without a quorum
                // (see above): the clients may find no serving quorum, a window the plan declares.
                if restarts { restartSteps += 1 }
                undo.append(
                    Step(
                        id: StepID("rollback-\(step.id)"), title: "Undo: \(step.title)",
                        why: "The mirror image of step \(step.id).", gatesBefore: holders.isEmpty ? [] : [.serversStopped(servers: holders)],
                        actions: inverse, gatesAfter: restarts ? roundHealthy : [], impact: restarts ? .window(id: Self.restartWindow) : .none))
            }
            // The servers the round started stop before anything restarts (see above); then the
            // previous membership must serve (it elects a leader of its own if one of them led).
            let stopsStarted = { (step: Step) in step.actions.allSatisfy { if case .stopServer = $0 { return true } else { return false } } }
            var stops = undo.filter(stopsStarted)
            if let last = stops.indices.last { stops[last].gatesAfter = previousMembership }
            // Clients the round moved go back first, while the servers they use still serve. The
            // files go back only once the servers the round started have stopped: a server of the
            // round that crashed and restarted with its old file back would count only its old
            // membership, and could lead it beside the source's leader.
            let switchesBack = { (step: Step) in step.actions.allSatisfy { if case .switchClient = $0 { return true } else { return false } } }
            steps += undo.filter(switchesBack) + stops + restore + undo.filter { !stopsStarted($0) && !switchesBack($0) }
        }
        if let last = steps.indices.last, !steps[last].gatesAfter.contains(sourceHealthy) { steps[last].gatesAfter.append(sourceHealthy) }
        let windows =
            restartSteps == 0
            ? []
            : [
                ImpactWindow(
                    id: restartWindow, clientGroups: plan.clientGroups.map(\.name), expectedLength: .seconds(Int64(10 * restartSteps)),
                    reason: "each source server restarted back into the previous membership may leave the others, which still count the stopped new server, without a quorum until it is back (about one election per restart)")
            ]
        // Every other stop or restart of a server clients may use is declared as a forward plan's
        // is: the destination servers the run started (joined to the source, they may lead it, and
        // moved clients use them) and the source's own servers.
        var running: Set<ServerRef> = []
        var moved: Set<String> = []
        for step in finished {
            for (_, action) in step.appliedActions(journal: journal) {
                switch action {
                case .startServer(let ref), .restartServer(let ref): running.insert(ref)
                case .switchClient(let change): moved.insert(change.client.group)
                default: break
                }
            }
        }
        let declared = ServerRestartImpact.declare(
            steps: steps, windows: windows, source: plan.source.name, destination: plan.destination.name, groups: plan.clientGroups,
            expectedLength: PlanningOptions().electionWindow, running: running, switched: moved)
        return Plan(
            strategy: plan.strategy, source: plan.source, destination: plan.destination, clientGroups: plan.clientGroups, steps: declared.steps,
            pointOfNoReturn: nil, impactWindows: declared.windows, notes: ["rollback of a \(plan.strategy) plan"])
    }

    /// The window a rollback's restarts declare.
    static let restartWindow = "rollback-restarts"
}

extension Step {
    /// The actions of this step that took effect, according to the journal: finished with a
    /// change, or interrupted (they may have taken effect).
    func appliedActions(journal: JournalState) -> [(index: Int, action: Action)] {
        let events = journal.events.filter { $0.step == id && ($0.kind == .actionFinished || $0.kind == .actionSkipped) }
        let changed = Set(events.filter { $0.changed == true }.compactMap(\.action))
        let interrupted = journal.interruptedActions[id] ?? []
        return actions.enumerated().filter { changed.contains($0.offset) || interrupted.contains($0.offset) }.map { ($0.offset, $0.element) }
    }
}

extension JournalState {
    /// What a configuration write did to its files, as the journal recorded it. As its
    /// `action-finished` says: what each file it changed held before (only those), and the files
    /// it created; for a write interrupted before it finished, as its last `action-started` says:
    /// what every file it was about to write held, and those that did not exist (it may have
    /// created them). `atStart`: what every file held when the write began. Nil when none is
    /// recorded (the write never began).
    /// `directories`: the directories it created (for an interrupted write, those that were
    /// missing when it began: it may have created them).
    func fileRecord(step: StepID, action: Int) -> (previous: [String: String], created: Set<String>, atStart: [String: String], directories: [String])? {
        let events = events.filter { $0.step == step && $0.action == action }
        let started = events.last { $0.kind == .actionStarted && ($0.previousContents != nil || $0.createdFiles != nil) }
        if let finished = events.last(where: { $0.kind == .actionFinished || $0.kind == .actionSkipped }) {
            if finished.previousContents == nil && finished.createdFiles == nil && finished.createdDirectories == nil { return nil }
            return (finished.previousContents ?? [:], Set(finished.createdFiles ?? []), started?.previousContents ?? [:], finished.createdDirectories ?? [])
        }
        guard let started else { return nil }
        return (started.previousContents ?? [:], Set(started.createdFiles ?? []), started.previousContents ?? [:], started.createdDirectories ?? [])
    }
}
