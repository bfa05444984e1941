import ArgumentParser
import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import NIOCore
import NIOPosix
import Probes
import Rehearsal
import Reports
import ZooKeeper

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan a migration, prove it safe, and print it as a runbook (touches nothing).",
        discussion: "An unsafe plan is refused with the shortest counterexample, step by step, and nothing is written.")

    @Option(help: "The inventory (YAML) describing the ensembles, hosts and client groups.") var inventory: String
    @Option(help: "mitosis, mitosis-observers, replace, reconfig or copy.") var strategy: String = "mitosis"
    @Option(help: "The ensemble the clients leave.") var source: String
    @Option(help: "The ensemble the clients move to.") var destination: String
    @Option(help: "Client groups that move (comma-separated); default: every group of the source.") var moving: String?
    @Flag(help: "The destination already holds data (only strategy copy allows it).") var destinationHoldsData = false
    @Option(help: "Seconds between the restarts of a rolling restart.") var pause: Double = 10
    @Option(help: "Write the plan as JSON to this file (what `mitosis run` executes).") var out: String?
    @Flag(help: "Print the plan as JSON instead of a runbook.") var json = false
    @Flag(help: "Print what discovery read on the hosts (zoo.cfg, dynamic file, myid, data directories, service, srvr; client configs) and the problems found; plan nothing. With --json: the estate as JSON.")
    var showEstate = false
    @Flag(help: "Plan from the inventory alone, without reading the hosts (e.g. to write --kubernetes manifests away from them): the runbook's diffs are then against the files the planner assumes, and `mitosis run` stops at any file that differs.")
    var noDiscovery = false
    @Option(help: "Also write HubSpot's Kubernetes manifests into this directory: per server the phase-1 Service and Endpoints, the phase-4 ConfigMap, Service and StatefulSet, and RUNBOOK.md with the kubectl command of each step (strategy replace with service addresses).")
    var kubernetes: String?
    @Option(help: "The namespace of the Kubernetes manifests (default: the inventory's kubernetes.namespace, else default).") var kubernetesNamespace: String?
    @Option(help: "The pods' ZooKeeper image (default: the inventory's kubernetes.image, else zookeeper:<the destination's version>).") var kubernetesImage: String?
    @Option(help: "The size of each pod's data volume (default: the inventory's kubernetes.storage, else 10Gi).") var kubernetesStorage: String?

    func validate() throws {
        if noDiscovery && showEstate { throw ValidationError("--show-estate prints what discovery reads; it cannot go with --no-discovery") }
    }

    func run() async throws {
        guard let kind = StrategyKind(rawValue: strategy) else {
            throw ValidationError("unknown strategy '\(strategy)'; choose one of \(StrategyKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let parsed = try loadInventory(inventory)
        var options = PlanningOptions()
        options.rollingRestartPause = PlanDuration(milliseconds: Int64(pause * 1000))
        // Ground truth first: every server and client config read through its host driver.
        let (source, destination) = (self.source, self.destination)
        let estate = noDiscovery ? nil : try await withInventoryHosts(parsed) { hosts, group in
            await EstateDiscovery(hosts: hosts, eventLoopGroup: group).discover(inventory: parsed, source: source, destination: destination)
        }
        if showEstate, let estate { return try EstateOutput.show(estate, inventory: parsed, source: source, destination: destination, strategy: kind, json: json, destinationHoldsData: destinationHoldsData) }
        let plan = try Planner.plan(
            kind, inventory: parsed, source: source, destination: destination,
            movingGroups: moving.map { $0.split(separator: ",").map(String.init) }, destinationHoldsData: destinationHoldsData, options: options,
            estate: estate)
        let (proof, proven) = try Prover.attempt(plan)
        guard let proven else {
            Output.note(Runbook.render(plan, proof: proof, withoutSudo: parsed.hostsWithoutSudo, pods: parsed.podStatefulSets))
            Output.error("the plan is unsafe; nothing was written:\n\(proof)")
            throw ExitCode.failure
        }
        // The plan as written records its proof and the digest of what was proved: `run` and
        // `rollback` refuse it if it is changed afterwards.
        let recorded = proven.recorded
        // The moving members' config files, read through their hosts: a switch that could not be
        // made is refused now, before anything runs.
        var fileProblems: [String] = []
        if !noDiscovery {
            let clientFiles = InventoryHostDirectory(inventory: parsed)
            fileProblems = await ClientConfigCheck.problems(plan, hosts: clientFiles)
            await clientFiles.close()
        }
        guard fileProblems.isEmpty else {
            Output.error("client config files that Mitosis cannot switch; nothing was written:\n" + fileProblems.map { "  \($0)" }.joined(separator: "\n"))
            throw ExitCode.failure
        }
        if let kubernetes { try writeKubernetesManifests(plan, inventory: parsed, into: kubernetes) }
        if let out {
            try recorded.jsonData().write(to: URL(fileURLWithPath: out))
            Output.note("wrote \(out); run it with `mitosis run \(out) --inventory \(inventory)`")
        }
        if json {
            Output.line(String(decoding: try recorded.jsonData(), as: UTF8.self))
        } else {
            Output.line(Runbook.render(plan, proof: proof, withoutSudo: parsed.hostsWithoutSudo, pods: parsed.podStatefulSets))
        }
    }
}

extension PlanCommand {
    /// Writes the manifests of a proven replace plan with service addresses (refused, naming the
    /// server or host and the fix, for any other plan; nothing is written then).
    func writeKubernetesManifests(_ plan: Plan, inventory: Inventory, into directory: String) throws {
        // The inventory's kubernetes section is what `mitosis run` drives the pods with: the
        // manifests default to it, so that both make the same objects.
        let access = inventory.kubernetes
        if let flag = kubernetesNamespace, let namespace = access?.namespace, flag != namespace {
            Output.error("no Kubernetes manifests were written: --kubernetes-namespace \(flag) differs from the inventory's kubernetes.namespace \(namespace), which `mitosis run` drives; drop the flag or fix the inventory")
            throw ExitCode.failure
        }
        let options = KubernetesManifests.Options(
            namespace: kubernetesNamespace ?? access?.namespace ?? "default", image: kubernetesImage ?? access?.image,
            storage: kubernetesStorage ?? access?.storage ?? "10Gi")
        let pods = inventory.podStatefulSets
        let files: [KubernetesManifests.File]
        do {
            files = try KubernetesManifests.make(plan, hostAddresses: inventory.hostAddresses, pods: pods, options: options)
        } catch {
            Output.error("no Kubernetes manifests were written: \(error)")
            throw ExitCode.failure
        }
        let root = URL(fileURLWithPath: directory)
        for file in files {
            let url = root.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.text.utf8).write(to: url)
        }
        Output.note("wrote \(files.count) files into \(directory): apply them as \(directory)/RUNBOOK.md says")
    }
}

extension Inventory {
    /// Hosts whose commands run without `sudo`: this machine and sandbox hosts (root already), and
    /// SSH hosts without `sudo: true`.
    var hostsWithoutSudo: Set<String> {
        Set(hosts.filter { if case .ssh(let access) = $0.access { !access.sudo } else { true } }.map(\.name))
    }
}

func loadInventory(_ path: String) throws -> Inventory {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read the inventory \(path); `mitosis sandbox inventory > inv.yaml` writes one for the sandboxes")
    }
    return try Inventory.parse(yaml: try Inventory.text(of: Array(data), fileName: path), fileName: path)
}

func loadPlan(_ path: String) throws -> Plan {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read the plan \(path); write one with `mitosis plan … --out \(path)`") }
    do {
        return try Plan(jsonData: data)
    } catch {
        throw ValidationError("\(path) is not a plan: \(error)")
    }
}

/// Options shared by `run` and `rollback`.
struct ExecutionCommandOptions: ParsableArguments {
    @Argument(help: "The plan (JSON, from `mitosis plan --out`).") var plan: String
    @Option(help: "The inventory the plan was made from (how to reach the hosts). Without it, hosts are looked up in the sandbox network.") var inventory: String?
    @Option(help: "The journal file (default: PLAN.journal).") var journal: String?
    @Flag(help: "Show what would be done, with config diffs; change nothing.") var dryRun = false
    @Option(help: "Seconds a gate may take to hold before the run stops.") var gateTimeout: Double = 300
    @Flag(help: "Events as JSON lines on stdout.") var json = false

    var journalPath: String { journal ?? plan + ".journal" }

    /// The plan as `mitosis plan` proved it, proved again by this prover; refused (exit 1, nothing
    /// changed) when it was altered since or is unsafe.
    func prove(_ loaded: Plan) throws -> ProvenPlan {
        do {
            return try Prover.verify(loaded, source: plan)
        } catch {
            Output.error("\(error)")
            throw ExitCode.failure
        }
    }

    /// The whole command that resumes this run, ready to paste.
    var resumeCommand: String {
        (["mitosis", "run", shellQuoted(plan)] + (inventory.map { ["--inventory", shellQuoted($0)] } ?? []) + ["--journal", shellQuoted(journalPath), "--resume"])
            .joined(separator: " ")
    }

    /// The addresses Mitosis's own sessions come from: this machine's, and the sandbox network's
    /// control address when the hosts are sandbox hosts.
    func ownAddresses() throws -> [String] {
        var addresses = ((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress }
        let usesSandbox = try inventory.map { try loadInventory($0).hosts.contains { $0.access == .sandbox } } ?? true
        if usesSandbox { addresses.append(SandboxNetwork.fromEnvironment().controlAddress) }
        return Array(Set(addresses)).sorted()
    }

    /// Runs `body` with the host directory and an event loop group that reaches the hosts'
    /// addresses (the sandbox's control namespace for sandbox hosts).
    func withHosts<T>(_ plan: Plan, _ body: (any HostDirectory, any EventLoopGroup) async throws -> T) async throws -> T {
        guard let inventory else {
            let sandbox = SandboxManager()
            if ProcessInfo.processInfo.environment["MITOSIS_IN_NETNS"] != nil { return try await body(sandbox, MultiThreadedEventLoopGroup.singleton) }
            return try await sandbox.withControlGroup { group in try await body(sandbox, group) }
        }
        return try await withInventoryHosts(try loadInventory(inventory), body)
    }
}

/// Runs `body` with the inventory's host drivers and an event loop group that reaches the hosts'
/// addresses (the sandbox's control namespace for sandbox hosts).
func withInventoryHosts<T>(_ parsed: Inventory, _ body: (any HostDirectory, any EventLoopGroup) async throws -> T) async throws -> T {
    let sandbox = SandboxManager()
    var usesSandbox = parsed.hosts.contains { if case .sandbox = $0.access { return true } else { return false } }
    if ProcessInfo.processInfo.environment["MITOSIS_IN_NETNS"] != nil { usesSandbox = false }
    if usesSandbox { return try await sandbox.withControlGroup { group in try await InventoryHosts.run(parsed, sandbox, group, body) } }
    return try await InventoryHosts.run(parsed, sandbox, MultiThreadedEventLoopGroup.singleton, body)
}

enum InventoryHosts {
    static func run<T>(
        _ inventory: Inventory, _ sandbox: SandboxManager, _ group: any EventLoopGroup, _ body: (any HostDirectory, any EventLoopGroup) async throws -> T
    ) async throws -> T {
        let directory = InventoryHostDirectory(inventory: inventory, sandbox: sandbox, eventLoopGroup: group)
        do {
            let result = try await body(directory, group)
            await directory.close()
            return result
        } catch {
            await directory.close()
            throw error
        }
    }
}

extension ExecutionCommandOptions {
    func printer() -> @Sendable (ExecutionEvent) -> Void {
        let json = self.json
        return { event in
            if json {
                try? Output.json(event)
                return
            }
            let time = event.time.formatted(.dateTime.hour(.twoDigits(amPM: .omitted)).minute(.twoDigits).second(.twoDigits))
            switch event.kind {
            case .stepStarted: Output.note("\(time) ▶ \(event.step?.rawValue ?? ""): \(event.summary)")
            case .gateWaiting: Output.note("\(time)   … waiting: \(event.summary)")
            case .gatePassed: Output.note("\(time)   ✓ \(event.summary)")
            case .actionStarted: break
            case .actionFinished: Output.note("\(time)   → \(event.summary)")
            case .actionSkipped: Output.note("\(time)   · \(event.summary)")
            case .stepFinished: Output.note("\(time) ✔ \(event.step?.rawValue ?? "")")
            case .stepSkipped: Output.note("\(time) · \(event.step?.rawValue ?? "") (done before)")
            case .failed: Output.note("\(time) ✘ \(event.step?.rawValue ?? ""): \(event.summary)")
            default: Output.note("\(time) \(event.kind.rawValue): \(event.summary)")
            }
        }
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Execute a plan: gates, actions through the host drivers, a journal after every action.",
        discussion: "The plan must be the one `mitosis plan --out` proved (its recorded digest is checked) and is proved again; every host is reached and every program its commands need is found (preflight) before the first action. If the tool is stopped or killed, run it again with --resume: finished actions are not repeated; an action that was interrupted is checked and redone only if it had not taken effect.")

    @OptionGroup var execution: ExecutionCommandOptions
    @Flag(help: "Continue a run from its journal.") var resume = false
    @Flag(help: "Ask before each step.") var step = false
    @Option(help: "Stop after this step (resume later).") var until: String?
    @Option(help: "Where the report of the run goes (report.html with a timeline, report.json, summary.txt; default: PLAN.report).") var report: String?
    @Option(
        help: "Watch a client group while the plan runs: NAME=HOST:PORT,…[/chroot]. A canary writes and reads /mitosis-canary-NAME there (repeatable).")
    var watch: [String] = []
    @Option(
        help: "Clients the census before the split may leave on the source: ADDR, ADDR:PORT or ADDR:LOW-HIGH, comma-separated (clients the inventory does not know stop the run otherwise).")
    var leaveBehind: String?
    @Option(
        help: "Seconds the census waits after the last step that stopped, started or restarted a server, so that clients that lost their server have reconnected (they back off between attempts; none is on any server's cons until then).")
    var censusSettle: Double = 5

    func validate() throws {
        _ = try leaveBehindRules()
        guard censusSettle >= 0 else { throw ValidationError("--census-settle must be 0 or more seconds") }
    }

    func leaveBehindRules() throws -> [ClientAddressMatch] {
        guard let leaveBehind else { return [] }
        return try leaveBehind.split(separator: ",").map { item in
            let text = item.trimmingCharacters(in: .whitespaces)
            guard let rule = ClientAddressMatch(parsing: text) else {
                throw ValidationError("--leave-behind takes IP addresses, optionally with a port or port range (10.0.0.5, 10.0.0.5:4000, 10.0.0.5:40000-40100); '\(text)' is none of these")
            }
            return rule
        }
    }

    func run() async throws {
        let plan = try loadPlan(execution.plan)
        let proven = try execution.prove(plan)
        if let until, plan.step(StepID(until)) == nil {
            throw ValidationError("the plan has no step '\(until)'; its steps are \(plan.steps.map(\.id.rawValue).joined(separator: ", "))")
        }
        let confirm: (@Sendable (Step) async -> Bool)? =
            step
            ? { @Sendable step in
                Output.note("\nnext: \(step.id) — \(step.title)\n  \(step.why)")
                for action in step.actions { Output.note("  • \(action.summary)") }
                Output.note("run it? [y/N] ")
                return readLine()?.lowercased().hasPrefix("y") == true
            } : nil
        let options = ExecutionOptions(
            dryRun: execution.dryRun, resume: resume, until: until.map { StepID(rawValue: $0) }, gateTimeout: .milliseconds(Int64(execution.gateTimeout * 1000)),
            confirm: confirm, census: CensusPolicy(
                ownAddresses: try execution.ownAddresses(), leaveBehind: try leaveBehindRules(), settle: .milliseconds(Int64(censusSettle * 1000))))
        let canaries = try watch.map { entry -> CanaryOptions in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--watch takes NAME=HOST:PORT,…[/chroot]; got '\(entry)'") }
            return CanaryOptions(group: parts[0], connectionString: try ConnectionString(parsing: parts[1]))
        }
        let printer = execution.printer()
        let reportDirectory = report ?? execution.plan + ".report"
        let dryRun = execution.dryRun
        // A resumed run reports the whole migration: the earlier segments come from the journal.
        let earlier = resume ? try Journal(path: execution.journalPath).load().events : []
        let outcome: ExecutionOutcome = try await execution.withHosts(plan) { hosts, group in
            let observer = RunObserver(plan: plan, eventLoopGroup: group, canaries: canaries, earlier: earlier)
            let result: Result<ExecutionOutcome, any Error> = await withTaskGroup(of: Result<ExecutionOutcome, any Error>?.self) { tasks in
                tasks.addTask {
                    await observer.run()
                    return nil
                }
                tasks.addTask {
                    do {
                        return .success(
                            try await MigrationExecutor(
                                plan: proven, hosts: hosts, eventLoopGroup: group, journal: Journal(path: execution.journalPath), options: options,
                                onEvent: { event in
                                    observer.record(event)
                                    printer(event)
                                }
                            ).run())
                    } catch {
                        return .failure(error)
                    }
                }
                var result: Result<ExecutionOutcome, any Error> = .failure(CancellationError())
                while let next = await tasks.next() {
                    if let next {
                        result = next
                        // A last look at the servers, so that an election near the end is counted.
                        await observer.finish()
                        tasks.cancelAll()
                    }
                }
                return result
            }
            if !dryRun {
                let (text, passed, detail): (String, Bool, String?) =
                    switch result {
                    case .success(.finished): ("finished", true, nil)
                    case .success(.paused(let after)): ("paused after \(after?.rawValue ?? "the start")", true, "resume with `\(execution.resumeCommand)`")
                    case .success(.dryRun): ("dry run", true, nil)
                    case .failure(let error): ("stopped", false, "\(error)\nOnce the cause is fixed, resume with `\(execution.resumeCommand)`")
                    }
                let written = try writeReport(observer.report(outcome: text, passed: passed, detail: detail), to: URL(fileURLWithPath: reportDirectory, isDirectory: true))
                Output.note("report: \(written.html.path)")
            }
            if case .failure = result, !dryRun { Output.note("once the cause is fixed, resume with `\(execution.resumeCommand)`") }
            return try result.get()
        }
        switch outcome {
        case .finished: Output.note("plan finished; journal: \(execution.journalPath)")
        case .paused(let after): Output.note("paused after \(after?.rawValue ?? "the start"); continue with `\(execution.resumeCommand)`")
        case .dryRun: Output.note("dry run: nothing was changed")
        }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Return to the start: undo what the journal says a run did (only before the plan's point of no return).",
        discussion: "The plan is checked and proved as for `run`; the way back is proved too, after the steps the journal records, and refused with a counterexample when it is unsafe.")

    @OptionGroup var execution: ExecutionCommandOptions

    func run() async throws {
        let plan = try loadPlan(execution.plan)
        let proven = try execution.prove(plan)
        let journal = Journal(path: execution.journalPath)
        let state = try journal.load()
        if state.events.isEmpty {
            // Not a usage error: the command line was right, there is just nothing to undo.
            Output.error("the journal \(execution.journalPath) is empty or missing: nothing was done, so there is nothing to undo (pass --journal FILE if the run kept its journal elsewhere)")
            throw ExitCode.failure
        }
        let rollback = try Rollback.plan(for: proven, journal: state)
        let pods = try execution.inventory.map { try loadInventory($0).podStatefulSets } ?? [:]
        if rollback.steps.isEmpty {
            Output.note("nothing took effect; nothing to undo")
            return
        }
        let back: ProvenPlan
        do {
            back = try Prover.prove(rollback: rollback, of: proven, journal: state)
        } catch {
            Output.note(Runbook.render(rollback, pods: pods))
            Output.error("\(error)")
            throw ExitCode.failure
        }
        Output.note(Runbook.render(back.plan, proof: back.proof, pods: pods))
        let options = ExecutionOptions(dryRun: execution.dryRun, resume: true, gateTimeout: .milliseconds(Int64(execution.gateTimeout * 1000)))
        let outcome = try await execution.withHosts(back.plan) { hosts, group in
            try await MigrationExecutor(
                plan: back, hosts: hosts, clients: HostClientGroupController(plan: plan, hosts: hosts, eventLoopGroup: group), eventLoopGroup: group,
                journal: Journal(path: execution.journalPath + ".rollback"), options: options, onEvent: execution.printer()
            ).run()
        }
        if outcome == .finished {
            try journal.append(ExecutionEvent(kind: .rollbackFinished, summary: "rolled back \(back.plan.steps.count) steps"))
            Output.note("rolled back: the source is as it was")
        }
    }
}

struct SandboxInventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inventory", abstract: "Print the sandboxes as an inventory (YAML) for `mitosis plan`.")

    func run() async throws {
        let sandboxes = try SandboxManager().sandboxes()
        if sandboxes.isEmpty { throw ValidationError("no sandboxes; create them with `mitosis sandbox up`") }
        Output.line(SandboxInventory.yaml(SandboxInventory.inventory(sandboxes)))
    }
}
