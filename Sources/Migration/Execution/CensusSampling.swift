import MigrationPlanning
/// The census before the split, taken over a few seconds and judged: it passes only when a
/// majority of the source's servers answered `cons`, none of those that answered is between
/// leaders, and every session seen in any round is accounted for.
extension SessionCensus {
    /// Adds what another round saw: the union of the sessions; a server counts as answered when
    /// it answered in any round, and as not serving when it said so in any round.
    public mutating func merge(_ round: SessionCensus) {
        var seen = Set(sessions)
        for session in round.sessions where seen.insert(session).inserted { sessions.append(session) }
        for server in round.notServing where !notServing.contains(server) { notServing.append(server) }
        for (server, why) in round.unanswered { unanswered[server] = why }
        answeredServers.formUnion(round.answeredServers)
        for server in answeredServers { unanswered[server] = nil }
    }

    /// `rounds` readings `interval` apart, merged: a client that reconnects from one server to
    /// another between two readings is seen on one of them.
    public static func sample(
        rounds: Int, interval: Duration, read: () async -> SessionCensus, sleep: (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) async -> SessionCensus {
        var census = await read()
        for _ in 1..<max(rounds, 1) {
            await sleep(interval)
            census.merge(await read())
        }
        return census
    }

    /// The decision of the census gate for `ensemble`, whose servers are `servers` (as the
    /// census names them). Fails, naming the servers, when fewer than a majority answered `cons`:
    /// the sessions on the silent ones cannot be seen, and a silent majority may be a serving one.
    /// - Parameter stakes: what becomes of the unknown clients and where to move them (default:
    ///   left on the source by the split).
    public func judge(ensemble: String, servers: [String], owners: [SessionOwner], stakes: String? = nil) -> GateResult {
        let silent = servers.filter { unanswered[$0] != nil }
        let answering = servers.filter { unanswered[$0] == nil && !notServing.contains($0) }
        let majority = servers.count / 2 + 1
        if servers.count - silent.count < majority {
            let reasons = silent.map { "\($0) (\(unanswered[$0] ?? "no answer"))" }.joined(separator: "; ")
            return GateResult(
                passed: false,
                detail: "the census needs cons answers from a majority (\(majority) of \(servers.count)) of \(ensemble)'s servers and got \(servers.count - silent.count): no answer from \(reasons). Sessions on a server that does not answer cannot be counted; start it, or add cons to its 4lw.commands.whitelist, then resume")
        }
        guard notServing.isEmpty else {
            return GateResult(
                passed: false,
                detail: "the census waits until \(ensemble) serves: \(notServing.joined(separator: ", ")) not serving requests (its clients are reconnecting, so they cannot be counted yet)")
        }
        let (owned, unknown) = classified(by: owners)
        let known = owned.map { "\($0.owner): \($0.sessions.count)" }.joined(separator: ", ")
        let note = silent.isEmpty ? "" : "; \(answering.count) of \(servers.count) servers answered, no answer from \(silent.joined(separator: ", "))"
        guard unknown.isEmpty else {
            let addresses = Set(unknown.map(\.clientAddress)).sorted()
            return GateResult(
                passed: false,
                detail: "\(unknown.count) session\(unknown.count == 1 ? "" : "s") on \(ensemble) from clients the plan does not know: \(Self.describeUnknown(unknown)). \(stakes ?? "After the split they would stay on \(ensemble) alone. Move them to the destination"), add them to a client group, or accept them with `mitosis run … --resume --leave-behind \(addresses.joined(separator: ","))`\(note)")
        }
        return GateResult(passed: true, detail: "every session on \(ensemble) is accounted for\(known.isEmpty ? " (none)" : " (\(known))")\(note)")
    }
}
