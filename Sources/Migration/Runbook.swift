import Ensemble
import ZooKeeperProtocol

/// A plan as a runbook a person can follow by hand: per step, per host, the exact commands and
/// config diffs, the gates to check, the expected client impact, and the point of no return.
public enum Runbook {
    /// `withoutSudo`: hosts whose commands run without `sudo` (the inventory's local and sandbox
    /// hosts, and SSH hosts without `sudo: true`), so that every line is safe to paste as it is.
    /// `pods`: each pod host's StatefulSet (`via: kubernetes`), whose server is started, stopped
    /// and configured through kubectl instead of commands and files.
    public static func render(_ plan: Plan, proof: ProofResult? = nil, withoutSudo: Set<String> = [], pods: [String: String] = [:]) -> String {
        var out: [String] = []
        let groups = plan.clientGroups
        out.append("# Runbook: \(plan.strategy) from \(describe(plan.source)) to \(describe(plan.destination))")
        out.append("")
        if !groups.isEmpty {
            out.append("Client groups:")
            for group in groups {
                out.append("  - \(group.name) (\(group.members.count) member\(group.members.count == 1 ? "" : "s")): \(group.moves ? "moves to \(plan.destination.name)" : "stays on \(plan.source.name) and must keep its quorum throughout")")
            }
            out.append("")
        }
        if plan.impactWindows.isEmpty {
            out.append("Client impact: no window without a quorum.")
        } else {
            out.append("Client impact windows:")
            for window in plan.impactWindows {
                let steps = plan.steps.filter { $0.impact == .window(id: window.id) }.map(\.id.rawValue)
                let who = window.clientGroups.isEmpty ? "every client (the inventory lists no client group)" : window.clientGroups.joined(separator: ", ")
                out.append("  - \(window.id): \(who) for about \(window.expectedLength) (steps \(steps.joined(separator: ", "))): \(window.reason)")
            }
        }
        let touched = plan.steps.flatMap(\.actions).filter {
            switch $0 {
            case .restartServer, .stopServer: true
            default: false
            }
        }.count
        if touched > 0 {
            out.append("Every stop or restart of a server (\(touched) in this plan) drops the connections of the clients on it; they reconnect to another server of their connection string, and a stop or restart of the leader costs an election.")
        }
        if let point = plan.pointOfNoReturn {
            out.append("Point of no return: step \(point). Before it, the migration can be rolled back; after it, it cannot.")
        }
        if let proof {
            out.append(proof.isSafe ? "Proof: safe (\(proof.statesExplored) reachable states checked)." : "Proof: UNSAFE — do not run this plan.")
        }
        if !plan.notes.isEmpty {
            out.append("")
            out.append("Notes:")
            for note in plan.notes { out.append("  - \(note)") }
        }
        // The census goes before the split begins, which may be a few steps before the point of no return.
        let census = plan.steps.first { step in step.gatesBefore.contains { if case .sessionsAccountedFor = $0 { true } else { false } } }
        for (number, step) in plan.steps.enumerated() {
            out.append("")
            if step.id == plan.pointOfNoReturn {
                out.append("=================== POINT OF NO RETURN ===================")
                out.append("From this step on there is no way back without copying data.")
                out.append("Clients that are switched by hand (not in the inventory) must have moved to \(plan.destination.name) by now,")
                out.append("after the join and before this step: the census \(census.map { "before step [\($0.id)]" } ?? "below") holds the run while any session on \(plan.source.name)")
                out.append("is not accounted for (name clients that may stay with `mitosis run … --leave-behind ADDR,…`).")
                out.append("")
            }
            out.append("## Step \(number + 1)/\(plan.steps.count) [\(step.id)] \(step.title)")
            if let group = step.rollingRestart, plan.steps.first(where: { $0.rollingRestart == group })?.id == step.id {
                let units = plan.steps.filter { $0.rollingRestart == group }.map { $0.restartUnit ?? $0.id.rawValue }
                let count = Set(units).count
                out.append(
                    "Order: this step begins rolling restart '\(group)': its \(count) \(units.count > count ? "servers' step groups" : "restarts") may run in any order (the prover checked every order), one after another. `mitosis run` leaves the server that leads for last; by hand, ask `srvr` before each and do the one that says `Mode: leader` last.")
            }
            out.append("Why: \(step.why)")
            if !step.gatesBefore.isEmpty {
                out.append("Check before:")
                for gate in step.gatesBefore { out.append("  [ ] \(gate.summary)") }
            }
            if !step.actions.isEmpty {
                out.append(step.actions.count > 1 ? "Do (in any order):" : "Do:")
                var hosts: [String] = []
                for action in step.actions where !hosts.contains(action.host) { hosts.append(action.host) }
                for host in hosts {
                    out.append(host == "-" ? "  anywhere:" : "  on \(host):")
                    for action in step.actions where action.host == host {
                        out.append(contentsOf: dropSudo(commands(for: action, in: plan, pods: pods), startingOn: host, withoutSudo: withoutSudo).map { "    " + $0 })
                    }
                }
            }
            if !step.gatesAfter.isEmpty {
                out.append("Check after:")
                for gate in step.gatesAfter { out.append("  [ ] \(gate.summary)") }
            }
            switch step.impact {
            case .none: out.append("Client impact: none.")
            case .window(let id):
                if let window = plan.window(id) {
                    out.append("Client impact: inside window \(id): \(window.clientGroups.joined(separator: ", ")) may find no quorum (expected \(window.expectedLength) in all).")
                } else {
                    out.append("Client impact: inside window \(id).")
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func describe(_ ensemble: PlanEnsemble) -> String {
        "\(ensemble.name) (ZooKeeper \(ensemble.version), servers \(ensemble.servers.map(\.id.description).joined(separator: ",")))"
    }

    /// The commands (and file changes) a person runs for one action.
    /// `lines` with `sudo ` dropped from the commands of hosts in `withoutSudo` (a `then on HOST:`
    /// line moves to the next host).
    static func dropSudo(_ lines: [String], startingOn host: String, withoutSudo: Set<String>) -> [String] {
        guard !withoutSudo.isEmpty else { return lines }
        var current = host
        return lines.map { line in
            if line.hasPrefix("then on "), line.hasSuffix(":") { current = String(line.dropFirst("then on ".count).dropLast()) }
            return withoutSudo.contains(current) && line.hasPrefix("$ sudo ") ? "$ " + line.dropFirst("$ sudo ".count) : line
        }
    }

    public static func commands(for action: Action, in plan: Plan, pods: [String: String] = [:]) -> [String] {
        func command(_ ref: ServerRef, _ pick: (ServiceCommands) -> String?, _ verb: String) -> String {
            if let statefulSet = pods[ref.host] {
                switch verb {
                case "start":
                    return "$ kubectl apply -f 3-statefulset.yaml   # StatefulSet \(statefulSet) (`mitosis plan --kubernetes DIR`); done once pod \(statefulSet)-0 runs"
                case "stop":
                    return "$ kubectl delete statefulset \(statefulSet) --ignore-not-found && kubectl delete pods -l \(KubernetesManifests.serverLabel)=\(statefulSet)   # done once no pod is left; its volume stays"
                default:
                    return "$ kubectl delete pod \(statefulSet)-0   # the StatefulSet makes it again"
                }
            }
            if let text = plan.server(ref).flatMap({ pick($0.commands) }) { return "$ \(text)" }
            return "(\(verb) ZooKeeper \(ref.ensemble) server \(ref.id): the inventory has no \(verb) command)"
        }
        switch action {
        case .writeConfig(let write):
            var lines = ["# \(action.summary)"]
            if let statefulSet = pods[write.server.host] {
                lines.append("(pod host: each file is a key of ConfigMap \(statefulSet)-config, mounted at the config file's directory; myid is its key myid, which the pod copies into its data directory)")
            }
            let removes = write.removes ?? []
            lines += removes.map { "$ rm -- \($0)   # the run created it" }
            if !removes.contains(write.configPath) { lines += fileChange(path: write.configPath, before: write.previousText, after: write.text) }
            if let path = write.dynamicConfigPath, let text = write.dynamicText {
                lines += fileChange(path: path, before: write.previousDynamicText, after: text)
            }
            if let path = write.myidPath, let id = write.myid {
                lines.append("$ echo \(id) > \(path)")
            }
            return lines
        case .startServer(let ref): return ["# \(action.summary)", command(ref, { $0.start }, "start")]
        case .stopServer(let ref): return ["# \(action.summary)", command(ref, { $0.stop }, "stop")]
        case .restartServer(let ref):
            if pods[ref.host] != nil { return ["# \(action.summary)", command(ref, { $0.restart }, "restart")] }
            let restart = plan.server(ref)?.commands.effectiveRestart
            return ["# \(action.summary)", restart.map { "$ \($0)" } ?? "(restart ZooKeeper \(ref.ensemble) server \(ref.id): the inventory has no restart command)"]
        case .addFirewallRule(let rule):
            return ["# \(action.summary)"] + rule.iptablesCommands(adding: true).map { "$ sudo \($0)" }
        case .removeFirewallRule(let rule):
            return ["# \(action.summary)"] + rule.iptablesCommands(adding: false).map { "$ sudo \($0)" }
        case .switchClient(let change):
            let member = plan.clientGroup(change.client.group)?.members.first { $0.name == change.client.member }
            let format = member?.configFormat ?? .properties
            var lines = ["# \(action.summary)"]
            if format == .command, let member, let command = member.switchCommand, let verify = member.verifyCommand {
                lines += ["$ \(command) \(shellQuoted(change.to))", "$ \(verify) \(shellQuoted(change.to))"]
                if let restart = change.restart { lines.append("$ \(restart)") }
            } else {
                lines += [
                    "edit \(change.configPath) (\(format.rawValue); only the value of \(change.connectionKey) changes):",
                    "  -\(change.connectionKey)=\(format.storedValue(for: change.from))", "  +\(change.connectionKey)=\(format.storedValue(for: change.to))",
                ]
                lines.append(change.restart.map { "$ \($0)" } ?? "(restart \(change.client): the inventory has no restart command)")
            }
            if plan.source.isServiceSwitch(from: change.from, to: change.to) {
                // `cons` shows the client's own address whichever address it used: look on its host.
                lines.append("check on \(change.client.host) that its connections go to the service addresses and none to the host addresses:")
                func endpoints(_ text: String) -> String {
                    (try? ConnectionString(parsing: text))?.servers.map(\.description).joined(separator: ",") ?? text
                }
                lines.append("$ ss -Htn state established   # peers among \(endpoints(change.to)), none among \(endpoints(change.from))")
            } else {
                lines.append("check with `cons` on every server that \(change.client.member)'s sessions are on \(change.to) and none is left on \(change.from)")
            }
            if plan.clientGroup(change.client.group)?.isKafka == true {
                lines.append("wait until the broker is registered again and no partition is under-replicated or offline:")
                lines.append("$ mitosis kafka status -s \(shellQuoted(change.to))")
            }
            return lines
        case .stopClient(let client):
            let member = plan.clientGroup(client.group)?.members.first { $0.name == client.member }
            guard let stop = member?.stop else {
                return ["# \(action.summary)", "(stop \(client.group) member \(client.member) by hand and keep it stopped until the switch: the inventory has no stop command for it; add stop: to the member)"]
            }
            return ["# \(action.summary) (it stays stopped until the switch starts it on the destination)", "$ \(stop)"]
        case .reconfig(let change):
            let server = plan.server(change.via)
            let endpoint = server.map { "\($0.address):\($0.clientPort)" } ?? change.via.host
            // `server.N=…;2181` holds a `;`: each list is quoted so the line is safe to paste.
            var arguments = ["reconfig"]
            if !change.add.isEmpty { arguments += ["-add", shellQuoted(change.add.map(\.description).joined(separator: ","))] }
            if !change.remove.isEmpty { arguments += ["-remove", shellQuoted(change.remove.map(\.description).joined(separator: ","))] }
            return ["# \(action.summary)", "$ zkCli.sh -server \(endpoint) \(arguments.joined(separator: " "))"]
        case .copy(let copy):
            guard let from = plan.ensemble(named: copy.from), let to = plan.ensemble(named: copy.to) else { return ["# \(action.summary)"] }
            let source = from.connectionString(chroot: copy.path == "/" ? nil : copy.path)
            let destination = to.connectionString(chroot: copy.path == "/" ? nil : copy.path)
            switch copy.phase {
            case .initial:
                return ["# \(action.summary)", "$ mitosis copy \(source) \(destination) --verify"]
            case .follow:
                return ["# \(action.summary) (keep it running)", "$ mitosis copy \(source) \(destination) --follow"]
            case .finalCatchUp:
                return ["# \(action.summary)", "stop the running `mitosis copy --follow` (Ctrl-C): it runs the final catch-up and prints its length"]
            }
        case .moveAddress(let move) where move.kind == .service && move.from == move.to:
            return [
                "# \(action.summary)",
                "create the service (Kubernetes: a Service with clusterIP \(move.address) and no selector, and its Endpoints with the IP of \(move.to.host), ports \(plan.server(move.to).map { "\($0.clientPort), \($0.quorumPort), \($0.electionPort)" } ?? "2181, 2888, 3888"); `mitosis plan --kubernetes DIR` writes them):",
                "$ kubectl apply -f DIR/phase-1/services.yaml",
                "$ kubectl get endpoints SERVICE -o jsonpath='{.subsets[0].addresses[0].ip}'   # ADDRESS-OF-\(move.to.host)",
                "nobody uses \(move.address) yet; from \(move.to.host)'s neighbours `echo srvr | nc \(move.address) \(plan.server(move.to)?.clientPort ?? 2181)` answers as server \(move.to.id)",
            ]
        case .moveAddress(let move) where move.kind == .service && pods[move.to.host] != nil:
            let statefulSet = pods[move.to.host] ?? ""
            return [
                "# \(action.summary)",
                "select the pod of StatefulSet \(statefulSet) (Kubernetes then keeps the Endpoints of the service whose ClusterIP is \(move.address)):",
                "$ kubectl patch service SERVICE --type=json -p '[{\"op\":\"add\",\"path\":\"/spec/selector\",\"value\":{\"\(KubernetesManifests.serverLabel)\":\"\(statefulSet)\"}},{\"op\":\"add\",\"path\":\"/spec/publishNotReadyAddresses\",\"value\":true}]'",
                "$ kubectl get endpoints SERVICE -o json   # no address but pod \(statefulSet)-0's (none until it exists)",
            ]
        case .moveAddress(let move) where move.kind == .service:
            let fromPod = pods[move.from.host].map { ["the service selects pod \($0)-0: drop its selector first, or Kubernetes keeps rewriting the Endpoints:", "$ kubectl patch service SERVICE --type=json -p '[{\"op\":\"remove\",\"path\":\"/spec/selector\"}]'"] } ?? []
            return ["# \(action.summary)"] + fromPod + [
                "point the service's endpoint at \(move.to.host) (Kubernetes: the Endpoints of the service whose ClusterIP is \(move.address)):",
                "$ kubectl patch endpoints SERVICE --type=json -p '[{\"op\":\"replace\",\"path\":\"/subsets/0/addresses/0/ip\",\"value\":\"ADDRESS-OF-\(move.to.host)\"}]'",
                "kube-proxy rewrites its DNAT rules on every node; clients and peers keep \(move.address)",
            ]
        case .moveAddress(let move) where move.kind == .command:
            guard let commands = move.commands else { return ["# \(action.summary)", "(the plan lost the commands: plan again)"] }
            func line(_ command: String, _ from: String, _ to: String) -> String {
                "$ " + AddressCommands.invocation(command, address: move.address, from: from, to: to)
            }
            return [
                "# \(action.summary)",
                "on \(move.from.host):",
                line(commands.detach, move.from.host, move.to.host),
                "then on \(move.to.host):",
                line(commands.attach, move.from.host, move.to.host),
                line(commands.check, move.from.host, move.to.host) + "   # must exit 0: the address is here",
            ]
        case .moveAddress(let move):
            var lines = [
                "# \(action.summary)",
                "$ sudo ip addr del \(move.cidr) dev \(move.device)",
                "then on \(move.to.host):",
                "$ sudo ip addr add \(move.cidr) dev \(move.device)",
            ]
            if move.address.contains(":") {
                lines.append("(IPv6: the kernel announces the address itself with unsolicited neighbour advertisements)")
            } else {
                lines.append("$ sudo arping -U -c 2 -I \(move.device) -s \(move.address) \(move.address)   # gratuitous ARP: neighbours learn the new host at once")
            }
            return lines
        case .wait(let pause): return ["# \(action.summary)", "$ sleep \(max(1, pause.length.milliseconds / 1000))"]
        }
    }

    /// A file change as a unified diff, or the whole file when its previous content is unknown.
    package static func fileChange(path: String, before: String?, after: String) -> [String] {
        guard let before else {
            return ["write \(path):"] + lines(after).map { "  " + $0 }
        }
        if before == after { return ["\(path) already has this content"] }
        return ["change \(path):"] + unifiedDiff(before, after, path: path).map { "  " + $0 }
    }

    static func lines(_ text: String) -> [String] {
        // "\r\n" is one Character in Swift: split on it too, or a CRLF file is one long line.
        var result = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        if result.last == "" { result.removeLast() }
        return result
    }

    /// A unified diff (three lines of context) between two texts.
    public static func unifiedDiff(_ before: String, _ after: String, path: String, context: Int = 3) -> [String] {
        let old = lines(before)
        let new = lines(after)
        // Longest common subsequence table.
        var table = [[Int]](repeating: [Int](repeating: 0, count: new.count + 1), count: old.count + 1)
        for i in stride(from: old.count - 1, through: 0, by: -1) {
            for j in stride(from: new.count - 1, through: 0, by: -1) {
                table[i][j] = old[i] == new[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        enum Edit { case same(String), removed(String), added(String) }
        var edits: [Edit] = []
        var i = 0
        var j = 0
        while i < old.count || j < new.count {
            if i < old.count && j < new.count && old[i] == new[j] {
                edits.append(.same(old[i]))
                i += 1
                j += 1
            } else if i < old.count && (j == new.count || table[i + 1][j] >= table[i][j + 1]) {
                edits.append(.removed(old[i]))
                i += 1
            } else {
                edits.append(.added(new[j]))
                j += 1
            }
        }
        var output = ["--- \(path)", "+++ \(path)"]
        var index = 0
        while index < edits.count {
            guard let firstChange = edits[index...].firstIndex(where: { if case .same = $0 { return false } else { return true } }) else {
                break
            }
            var start = max(index, firstChange - context)
            if start < index { start = index }
            var end = firstChange
            var lastChange = firstChange
            while end < edits.count {
                if case .same = edits[end] {
                    if end - lastChange > 2 * context { break }
                } else {
                    lastChange = end
                }
                end += 1
            }
            end = min(edits.count, lastChange + context + 1)
            // Line numbers of the hunk.
            var oldLine = 1
            var newLine = 1
            for edit in edits[..<start] {
                switch edit {
                case .same: oldLine += 1; newLine += 1
                case .removed: oldLine += 1
                case .added: newLine += 1
                }
            }
            var oldCount = 0
            var newCount = 0
            var body: [String] = []
            for edit in edits[start..<end] {
                switch edit {
                case .same(let line):
                    body.append(" " + line)
                    oldCount += 1
                    newCount += 1
                case .removed(let line):
                    body.append("-" + line)
                    oldCount += 1
                case .added(let line):
                    body.append("+" + line)
                    newCount += 1
                }
            }
            output.append("@@ -\(oldLine),\(oldCount) +\(newLine),\(newCount) @@")
            output += body
            index = end
        }
        return output
    }
}
