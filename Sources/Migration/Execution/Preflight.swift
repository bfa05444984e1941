import Ensemble
import Hosts
import MigrationPlanning
import ZooKeeperProtocol

/// What a run needs of the hosts before it changes anything: to reach each host it touches
/// (SSH authentication, and sudo where the driver or a command uses it), and there the programs
/// its commands start. A run checks all of it first (``MigrationExecutor/preflight()``), so that
/// a wrong key or a missing program stops it with every host as it was.
public struct PreflightNeeds: Sendable, Hashable {
    /// Host → program → what needs it (the first command that named it).
    public var programs: [String: [String: String]] = [:]
    /// Commands a step will run that the plan does not have (a server without a start command),
    /// each with its host and what needs it: preflight fails on them before anything changes,
    /// except on a host whose driver starts and stops the server itself (a pod).
    public var absent: [Absent] = []

    public struct Absent: Sendable, Hashable {
        public var host: String
        public var message: String
    }

    /// The messages of ``absent``.
    public var missing: [String] { absent.map(\.message) }

    public init() {}

    /// The host must be reached (e.g. to write a file there).
    public mutating func reach(_ host: String) {
        if programs[host] == nil { programs[host] = [:] }
    }

    /// The programs `command` starts must exist on `host`; `purpose` says what the command is for.
    public mutating func command(_ command: String?, on host: String, for purpose: String) {
        reach(host)
        guard let command else { return }
        for program in ShellCommandLine.programs(command) where programs[host]?[program] == nil {
            programs[host]?[program] = "\(purpose) `\(command)`"
        }
    }

    public mutating func program(_ program: String, on host: String, for purpose: String) {
        reach(host)
        if programs[host]?[program] == nil { programs[host]?[program] = purpose }
    }

    public mutating func merge(_ other: PreflightNeeds) {
        for entry in other.absent where !absent.contains(entry) { absent.append(entry) }
        for (host, needed) in other.programs {
            reach(host)
            for (program, purpose) in needed where programs[host]?[program] == nil { programs[host]?[program] = purpose }
        }
    }

    /// The `sh` script that prints each program of `host` that cannot be run there (and `sudo`
    /// when `sudo -n` would ask for a password); it prints nothing when all is there.
    static func script(for programs: [String]) -> String {
        let checks = programs.map { program in
            program == "sudo"
                ? "sudo -n true >/dev/null 2>&1 || echo sudo"
                : "command -v \(shellQuoted(program)) >/dev/null 2>&1 || echo \(shellQuoted(program))"
        }
        return (["true"] + checks).joined(separator: "; ")
    }
}

/// The programs a shell command line starts, read the way `sh` splits it: each simple command
/// (between `;`, `&&`, `||`, `|`, `&`, newlines and parentheses, outside quotes) starts the first
/// word that is not a variable assignment, a keyword or a wrapper (`sudo`, `env`, `exec`, `nohup`,
/// `command`). Words that hold `$` or a backquote are known only when the command runs, and are
/// left out.
enum ShellCommandLine {
    static let keywords: Set<String> = ["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"]
    static let wrappers: Set<String> = ["exec", "nohup", "command", "env"]
    /// Options of sudo and env that take the next word as their argument.
    static let optionsWithArgument: Set<String> = ["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-S"]

    static func programs(_ line: String) -> [String] {
        var found: [String] = []
        for words in simpleCommands(line) {
            var index = 0
            while index < words.count {
                let word = words[index]
                if keywords.contains(word) || isAssignment(word) {
                    index += 1
                    continue
                }
                guard word == "sudo" || wrappers.contains(word) else { break }
                if word == "sudo" && !found.contains("sudo") { found.append("sudo") }
                // The wrapper's own options (`sudo -n -u kafka`, `env -u NAME`), then what it runs.
                index += 1
                while index < words.count && words[index].hasPrefix("-") {
                    index += optionsWithArgument.contains(words[index]) ? 2 : 1
                }
            }
            guard index < words.count else { continue }
            let program = words[index]
            // `for x in …` and `case … in` name no program; neither do words known only at run time.
            if program == "for" || program == "case" || program.contains("$") || program.contains("`") { continue }
            if !found.contains(program) { found.append(program) }
        }
        return found
    }

    static func isAssignment(_ word: String) -> Bool {
        guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return false }
        return word[..<equals].allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber } && !(word.first?.isNumber ?? true)
    }

    /// The words of each simple command, quotes removed. A parenthesised part (`( … )`, `$( … )`)
    /// holds commands of its own, and the command around it goes on after the `)`; a redirection
    /// (`2>/dev/null`, `>>log`, `2>&1`, `<in`) takes its file descriptor and its target with it.
    static func simpleCommands(_ line: String) -> [[String]] {
        var commands: [[String]] = []
        var words: [String] = []
        var outer: [[String]] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var redirectTarget = false
        func endWord() {
            if inWord {
                if redirectTarget { redirectTarget = false } else { words.append(word) }
            }
            word = ""
            inWord = false
        }
        func endCommand() {
            endWord()
            if !words.isEmpty { commands.append(words) }
            words = []
        }
        var characters = Array(line)[...]
        while let character = characters.popFirst() {
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"", let next = characters.popFirst() {
                    word.append(next)
                } else {
                    word.append(character)
                }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                inWord = true
            case "\\":
                if let next = characters.popFirst() { word.append(next) }
                inWord = true
            case " ", "\t":
                endWord()
            case ">", "<":
                // `2>` names a file descriptor, not a word of the command.
                if inWord && !word.isEmpty && word.allSatisfy(\.isNumber) {
                    word = ""
                    inWord = false
                } else {
                    endWord()
                }
                while let next = characters.first, next == ">" || next == "<" || next == "&" || next == "|" { characters.removeFirst() }
                redirectTarget = true
            case "(":
                endWord()
                outer.append(words)
                words = []
            case ")":
                endCommand()
                words = outer.popLast() ?? []
            case ";", "&", "|", "\n":
                endCommand()
            default:
                word.append(character)
                inWord = true
            }
        }
        endCommand()
        for words in outer.reversed() where !words.isEmpty { commands.append(words) }
        return commands
    }
}

extension Plan {
    /// The hosts this plan's actions and gates reach through their drivers, and the programs
    /// there: each server's service commands, `iptables` for firewall rules, `ip` for moved
    /// addresses. (Client members' commands are the client controller's: see
    /// ``ClientGroupController/preflightNeeds()``.)
    public var preflightNeeds: PreflightNeeds {
        var needs = PreflightNeeds()
        var reported: Set<ServerRef> = []
        func service(_ ref: ServerRef, step: StepID?) {
            guard let server = server(ref) else { return }
            let commands = server.commands
            for (kind, command) in [("start", commands.start), ("stop", commands.stop), ("restart", commands.restart), ("status", commands.status)] {
                needs.command(command, on: server.host, for: "server \(ref.id)'s \(kind) command")
            }
            // The executor needs start, stop and status for any of the three (a restart without
            // its own command is a stop and a start; status tells a stopped server).
            let absent = commands.absentForService
            if let step, !absent.isEmpty, reported.insert(ref).inserted {
                let names = absent.count == 1 ? absent[0] : absent.dropLast().joined(separator: ", ") + " or " + absent[absent.count - 1]
                let entry = "\(server.host): \(ref) has no \(names) command, and step \(step) starts, stops or restarts it; add \(absent.count == 1 ? "it" : "them") under commands: of the server or its ensemble in the inventory, then plan again"
                needs.absent.append(PreflightNeeds.Absent(host: server.host, message: entry))
            }
        }
        for step in steps {
            for action in step.actions {
                switch action {
                case .writeConfig(let write):
                    needs.reach(write.server.host)
                    if write.removesDirectories?.isEmpty == false {
                        needs.program("rmdir", on: write.server.host, for: "removing the empty directories the run created (step \(step.id))")
                    }
                case .startServer(let ref), .stopServer(let ref), .restartServer(let ref): service(ref, step: step.id)
                case .addFirewallRule(let rule), .removeFirewallRule(let rule):
                    needs.program("iptables", on: rule.server.host, for: "the firewall rules of step \(step.id)")
                case .moveAddress(let move) where move.kind != .interface: break
                case .moveAddress(let move):
                    for ref in [move.from, move.to] { needs.program("ip", on: ref.host, for: "moving \(move.address) in step \(step.id)") }
                case .switchClient, .stopClient, .reconfig, .copy, .wait: break
                }
            }
            for gate in step.gatesBefore + step.gatesAfter {
                if case .serversStopped(let servers) = gate { servers.forEach { service($0, step: nil) } }
            }
        }
        return needs
    }
}

extension HostClientGroupController {
    /// The member hosts the plan switches, stops or checks, and the programs of their restart,
    /// stop and health-check commands.
    public func preflightNeeds() -> PreflightNeeds {
        var needs = PreflightNeeds()
        func member(_ group: String, _ name: String) -> PlanClientMember? {
            plan.clientGroup(group)?.members.first { $0.name == name }
        }
        func add(_ member: PlanClientMember, _ ref: String, restart: String?) {
            needs.command(restart, on: member.host, for: "\(ref)'s restart command")
            needs.command(member.healthCheck, on: member.host, for: "\(ref)'s health check")
            // A `format: command` member is moved and checked by the operator's own commands.
            needs.command(member.switchCommand, on: member.host, for: "\(ref)'s switch command")
            needs.command(member.verifyCommand, on: member.host, for: "\(ref)'s verify command")
        }
        for step in plan.steps {
            for action in step.actions {
                switch action {
                case .switchClient(let change):
                    guard let found = member(change.client.group, change.client.member) else { continue }
                    add(found, change.client.description, restart: change.restart)
                    if verifiesSessions, plan.source.isServiceSwitch(from: change.from, to: change.to) {
                        needs.program("ss", on: found.host, for: "the check that \(change.client) connects through the service addresses (ss -Htn state established)")
                        let names = [change.from, change.to].flatMap { (try? ConnectionString(parsing: $0).servers) ?? [] }.map(\.host)
                        if names.contains(where: { !isIPAddressLiteral($0) }) {
                            needs.program("getent", on: found.host, for: "resolving the host names of \(change.client)'s connection strings there, as the client does (getent ahosts)")
                        }
                    }
                case .stopClient(let client):
                    guard let found = member(client.group, client.member) else { continue }
                    needs.command(found.stop, on: found.host, for: "\(client)'s stop command")
                    add(found, client.description, restart: found.restart)
                default: break
                }
            }
            for gate in step.gatesBefore + step.gatesAfter {
                guard case .clientGroupHealthy(let name) = gate, let group = plan.clientGroup(name) else { continue }
                for found in group.members { needs.command(found.healthCheck, on: found.host, for: "\(name)/\(found.name)'s health check") }
            }
        }
        return needs
    }
}

extension MigrationExecutor {
    /// Reaches every host the plan touches and looks for the programs its commands start there,
    /// before anything changes (no journal entry, no file, no service). Throws
    /// ``ExecutionError/Code/preflightFailed`` naming each host and what failed; returns a line
    /// for the run's first event.
    func preflight() async throws -> String {
        var needs = plan.preflightNeeds
        needs.merge(clients.preflightNeeds())
        // A pod's StatefulSet is its service: it needs no commands.
        var failures: [String] = needs.absent.filter { entry in (try? hosts.driver(for: entry.host))?.ownServiceControl == nil }.map(\.message)
        var found = 0
        // Reaching a pod is reaching its cluster: kubectl answers, and may do what the run does.
        // Asked once per kubectl, for all the pod hosts it drives.
        var podHosts: [KubernetesAccess: [String]] = [:]
        for (host, programs) in needs.programs.sorted(by: { $0.key < $1.key }) {
            let names = programs.keys.sorted()
            do {
                let driver = try hosts.driver(for: host)
                if let pod = driver as? KubernetesPodHostDriver {
                    podHosts[pod.kubectl.access, default: []].append(host)
                    continue
                }
                let script = PreflightNeeds.script(for: names)
                let result = try await driver.run("sh -c \(shellQuoted(script))", timeout: .seconds(60))
                guard result.succeeded else {
                    let output = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
                    failures.append("\(host): the check of its commands exited with status \(result.status)\(output.isEmpty ? "" : ": \(output.suffix(500))")")
                    continue
                }
                let missing = Set(result.output.split(whereSeparator: \.isNewline).map(String.init)).intersection(names)
                for program in missing.sorted() {
                    failures.append(
                        program == "sudo"
                            ? "\(host): `sudo -n true` fails (sudo wants a password or is not allowed), needed by \(programs[program] ?? "a command"); add a NOPASSWD sudoers rule for this user"
                            : "\(host): `\(program)` is not found (needed by \(programs[program] ?? "a command")); install it, or correct the command in the inventory")
                }
                found += names.count - missing.count
            } catch {
                failures.append("\(host): cannot be reached: \(error)")
            }
        }
        for (access, names) in podHosts.sorted(by: { $0.value[0] < $1.value[0] }) {
            do {
                failures += try await Kubectl(access: access).accessProblems().map { "\(names.joined(separator: ", ")): \($0)" }
            } catch {
                failures.append("\(names.joined(separator: ", ")): cannot be reached: \(error)")
            }
        }
        guard failures.isEmpty else {
            throw ExecutionError(
                .preflightFailed,
                "preflight failed; nothing was changed on any host:\n" + failures.map { "  - " + $0 }.joined(separator: "\n")
                    + "\nFix these, then run the plan again.")
        }
        return "preflight: \(needs.programs.count) host\(needs.programs.count == 1 ? "" : "s") reached, \(found) program\(found == 1 ? "" : "s") found"
    }
}
