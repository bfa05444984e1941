import Ensemble
import ZooKeeperProtocol

/// The four invariants of DESIGN.md "The prover", and the plan's ability to proceed.
public enum Invariant: Int, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The plan gets stuck: a gate can never pass, or an action cannot run, without any crash.
    case planProceeds = 0
    /// 1. Every client group can reach a serving quorum of its data, except in declared windows.
    case clientsServed = 1
    /// 2. No client group can reach two serving quorums that do not intersect (split brain), nor a
    ///    quorum serving a history other than its own.
    case noSplitBrain = 2
    /// 3. No server holding data some client relies on is overwritten by another history.
    case noDataOverwritten = 3
    /// 4. Clients that stay on the source keep their quorum throughout.
    case sourceKeepsQuorum = 4

    public var description: String {
        switch self {
        case .planProceeds: return "the plan can proceed"
        case .clientsServed: return "invariant 1 (every client group reaches a serving quorum of its data)"
        case .noSplitBrain: return "invariant 2 (no split brain)"
        case .noDataOverwritten: return "invariant 3 (no data overwritten)"
        case .sourceKeepsQuorum: return "invariant 4 (clients staying on the source keep their quorum)"
        }
    }
}

/// A broken invariant, in words a person can act on.
public struct Violation: Sendable, Hashable, CustomStringConvertible {
    public var invariant: Invariant
    public var message: String
    public var description: String { "\(invariant) violated: \(message)" }
}

/// One event on the way to a violation.
public struct TraceEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case stepBegins = "step"
        case action
        case stepDone = "done"
        case crash
        case recovery
    }

    public var kind: Kind
    /// The plan step the event belongs to; nil for crashes and recoveries.
    public var step: StepID?
    public var text: String

    public var description: String {
        switch kind {
        case .crash, .recovery: return "!! \(text)"
        default: return (step.map { "[\($0)] " } ?? "") + text
        }
    }
}

/// The shortest sequence of events from the start of a plan to a broken invariant.
public struct Counterexample: Sendable, Hashable, CustomStringConvertible {
    public var violation: Violation
    public var trace: [TraceEvent]
    /// The state in which the invariant breaks, one line per server, rule or client.
    public var state: [String]

    /// The plan step during which the invariant breaks.
    public var step: StepID? { trace.last(where: { $0.step != nil })?.step }

    public var description: String {
        var lines = ["\(violation)", "", "How (shortest sequence of events):"]
        for (number, event) in trace.enumerated() { lines.append("  \(number + 1). \(event)") }
        lines.append("")
        lines.append("State at that point:")
        lines += state.map { "  " + $0 }
        return lines.joined(separator: "\n")
    }
}

/// What the prover found.
public struct ProofResult: Sendable, CustomStringConvertible {
    /// Nil when every reachable state keeps the invariants.
    public var counterexample: Counterexample?
    public var statesExplored: Int
    public var elapsed: Duration

    public var isSafe: Bool { counterexample == nil }

    public var description: String {
        if let counterexample { return "UNSAFE after exploring \(statesExplored) states\n\(counterexample)" }
        return "safe: \(statesExplored) reachable states explored in \(elapsed), every invariant holds"
    }
}

/// A plan the prover cannot read.
public struct ProverError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { "cannot check the plan: \(message)" }
}

/// What the prover may assume.
public struct ProverOptions: Sendable, Hashable {
    /// Explore a crash of any one server at any point (and its coming back with the
    /// configuration on its disk at any later point).
    public var crashes: Bool
    /// Give up (as unsafe) beyond this many states.
    public var stateLimit: Int

    public init(crashes: Bool = true, stateLimit: Int = 3_000_000) {
        self.crashes = crashes
        self.stateLimit = stateLimit
    }
}

/// Checks a plan by exploring every state it can reach (DESIGN.md, "The prover").
///
/// ## The model
/// Per server: its id, the lineage of its data (empty, the source's, the destination's own, or a
/// branch split off from one of them), whether that lineage is certain or only possible (an empty
/// server that may have synced), its live view of the membership (voters and observers), the view
/// on its disk (what a restart loads), and whether it runs. Per firewall rule: whether it is in
/// place (a rule cuts peer traffic both ways). Per client member: its connection string and
/// whether it runs. Per client group: the lineage it relies on. Per stable address (a server
/// address bound on a host, which replace moves to the new server's host): the server whose
/// host holds it. A server's identity is its id and its address, so moving an address changes
/// no membership; a server whose host does not hold its address cannot be reached by peers or
/// clients (it counts for no *must serve* cluster), and an address moved away from a running
/// server breaks invariant 2 (that server would still vote, through connections it opens itself,
/// beside the one that takes its address over). A server whose file on disk puts its own line on a
/// service address (bound on no interface) without `quorumListenOnAllIPs=true` cannot bind its
/// quorum and election ports: starting it from that file breaks "the plan can proceed".
/// A source server not yet behind its service (``ServerSpec/hostAddress``, HubSpot before phases
/// 2–3) is reached at its host address by peers whose running file still names host addresses and
/// by clients whose connection string does; anyone using the service address reaches it only once
/// the service points at its host. A service starts out pointing nowhere; a client switched to a
/// service that points nowhere, or at a server of another id, breaks invariant 1.
/// An address that follows its server by itself (``StableAddress/Kind/follows``: a DNS name or a
/// Kubernetes Service with a selector, re-pointed by the platform, never by the plan) reaches
/// whichever of its servers runs, so it adds no state: peers and clients reach a server behind it
/// while that server runs. Two of its servers running at once break invariant 2 (the platform may
/// send each connection to either, and both vote as one id). The `addressReleased` gate passes only
/// when none of the servers behind the address runs.
///
/// Transitions: the plan's steps in order, except that at the places of a rolling restart
/// (``Step/rollingRestart``, ``RollingRestarts``) every order the executor may choose is explored:
/// at each place where no unit is under way, any unit of that rolling restart not yet begun (its
/// first step), else the next step of the unit under way; within a step every interleaving of its
/// actions' effects (a restart is a stop then a start, so two restarts in one step can overlap);
/// gates pass or block (a gate that can never pass, in any order the executor may choose, is a
/// stuck plan); and, once per run, a crash of any one running server, which may later come back
/// with the configuration on its disk. A counterexample names the steps in the order explored.
///
/// ## Quorums
/// A server serves only inside a quorum: a strict majority of the voters *in its own view*.
/// Two notions are used, each erring on the side of a false alarm:
/// - *may serve* (for split brain and overwritten data): a running server L that is a voter in its
///   own view may lead every running server connected to it whose own view lists L as a voter;
///   the voters among them (voters in L's view and in their own) must be a majority of L's view.
///   Nothing else (election timing, zxid order, epochs) is assumed to prevent a quorum, so any
///   voter may be the leader, and two disjoint quorums are assumed possible whenever the counts
///   allow them.
/// - *must serve* (for availability and for gates): running, connected servers that all list the
///   leader, are listed by it, and each see a majority of their own view among those they reach.
///   A cluster counts as serving a lineage only if a server certainly holding it is inside.
///
/// Over-approximations (a false alarm beats a missed split brain):
/// - An empty server inside a cluster that may serve is taken to possibly hold that cluster's data
///   from then on ("maybe"), and to possibly still be empty; a `followersSynced` gate makes it certain.
/// - When two clusters of one lineage may serve at once without sharing a server, the side with
///   fewer source servers is taken to have diverged (a branch), even if in reality it never formed.
/// - A reconfig is committed atomically on the servers of the quorum that runs it; until a write
///   after it (`writeAfterReconfig`), availability is judged with the old views and split brain
///   with both the old and the new ones. A server that missed it keeps its old view (ZooKeeper 3.5+
///   would normally learn the new one from notifications; the prover does not count on that).
/// - ZooKeeper 3.4 counts acknowledgements of followers missing from the leader's server list
///   towards an *established* leader's quorum; forming a quorum needs a majority of the leader's
///   own voters in every version, which is what is modelled. The difference needs a network
///   partition, and the fault model has crashes and the plan's own firewall rules, not partitions.
/// - Availability is required in runs without a crash: with one server already restarting, ZooKeeper
///   itself cannot survive a second one going down, and no plan can promise it. Split brain and
///   overwritten data are checked in every run, crashes included.
public enum Prover {
    public static func check(_ plan: Plan, options: ProverOptions = ProverOptions()) throws(ProverError) -> ProofResult {
        let clock = ContinuousClock()
        let start = clock.now
        let model = try Model(plan: plan)
        var explorer = Explorer(model: model, options: options)
        let counterexample = explorer.run()
        return ProofResult(counterexample: counterexample, statesExplored: explorer.states.count, elapsed: clock.now - start)
    }
}

// MARK: - Compiled model

/// Membership as bit masks over server ids.
struct View: Hashable {
    var voters: UInt32
    var observers: UInt32
    var members: UInt32 { voters | observers }
    var quorum: Int { voters == 0 ? Int.max : voters.nonzeroBitCount / 2 + 1 }
}

enum MicroOp: Hashable {
    /// `binds`: false when the file puts the server's own line on a service address (bound on no
    /// interface) without `quorumListenOnAllIPs=true`, so the server cannot start from it.
    /// `hostLines`: the file names the servers not yet behind their services by their host
    /// addresses (HubSpot before phase 3), not by their service addresses.
    case writeDisk(server: Int, view: View, binds: Bool, hostLines: Bool)
    case start(Int)
    case stop(Int)
    case addRule(Int)
    case removeRule(Int)
    /// `viaAddress`: the servers of `reach` named by their (stable or service) address, whom the
    /// member reaches only while that address leads to them.
    case switchClient(member: Int, reach: UInt32, viaAddress: UInt32)
    case stopClient(member: Int)
    case reconfig(via: Int, addVoters: UInt32, addObservers: UInt32, remove: UInt32)
    case copy(group: Int, phase: CopyPhase)
    /// A stable address (its slot) goes from one server's host to another's.
    case moveAddress(slot: Int, from: Int, to: Int)
    case noop
}

struct CompiledAction {
    var ops: [MicroOp]
    var summary: String
}

enum CompiledGate {
    case quorumHealthy(servers: [Int])
    /// Id bits: for each, some server of that id inside one serving cluster.
    case idsHealthy(ids: UInt32)
    case synced(servers: [Int])
    case empty(servers: [Int])
    case copyCaughtUp(groups: [Int])
    case groupHealthy(group: Int)
    case committed(view: View)
    case writeAfterReconfig(via: Int)
    case stopped(servers: [Int])
    case always
}

struct CompiledStep {
    var id: StepID
    var actions: [CompiledAction]
    var gatesBefore: [(CompiledGate, String)]
    var gatesAfter: [(CompiledGate, String)]
    /// Client groups (bit per group) exempt from availability during the step.
    var window: UInt64
}

struct ModelServer {
    var ref: ServerRef
    var idBit: UInt32
    var fromSource: Bool
    var name: String
}

struct Model {
    let plan: Plan
    var servers: [ModelServer] = []
    var ids: [ServerID] = []
    var steps: [CompiledStep] = []
    /// Per firewall rule: for each server, the servers it cuts it off from.
    var ruleCuts: [[UInt32]] = []
    var ruleNames: [String] = []
    var memberGroup: [Int] = []
    var memberNames: [String] = []
    var groupMoves: [Bool] = []
    var groupNames: [String] = []
    var groupPaths: [String] = []
    var destinationMask: UInt32 = 0
    /// The stable addresses the plan moves, and per address the servers that use it (the one
    /// whose host holds it at the start and those it moves to).
    var addressSlots: [String] = []
    var slotMembers: [UInt32] = []
    /// Per server: the slot of its stable address, or -1.
    var serverSlot: [Int] = []
    /// Source servers that peers and clients know by their host address until phase 3 and 2
    /// (``ServerSpec/hostAddress``): a peer whose file still names host addresses reaches them
    /// there, whatever their service points at.
    var hostAddressed: UInt32 = 0
    /// Addresses that follow their server by themselves (``StableAddress/Kind/follows``), and per
    /// address the servers behind it: it reaches whichever of them runs, so nothing is tracked
    /// but who runs, and two of them running means it may reach either.
    var followingAddresses: [String] = []
    var followers: [UInt32] = []
    /// Rolling restarts (``RollingRestarts``): per step, its unit (-1: none) and its place in it.
    var stepUnit: [Int] = []
    var stepUnitPosition: [Int] = []
    /// Per unit: its steps (plan indices, in order).
    var units: [[Int]] = []
    /// Per step place: the units whose first step the executor may run there (every unit of the
    /// place's rolling restart; 0 for a place outside any).
    var placeUnits: [UInt64] = []
    /// Per step place: the client groups exempt whichever step of its rolling restart runs there.
    var placeWindow: [UInt64] = []
    var initial: State

    init(plan: Plan) throws(ProverError) {
        self.plan = plan
        initial = State()
        var idIndex: [ServerID: Int] = [:]
        func bit(_ id: ServerID) throws(ProverError) -> UInt32 {
            if let index = idIndex[id] { return 1 << UInt32(index) }
            guard idIndex.count < 32 else { throw ProverError(message: "more than 32 server ids; the prover handles up to 32") }
            idIndex[id] = idIndex.count
            ids.append(id)
            return 1 << UInt32(idIndex.count - 1)
        }
        func view(_ membership: Membership) throws(ProverError) -> View {
            var result = View(voters: 0, observers: 0)
            for id in membership.voters { result.voters |= try bit(id) }
            for id in membership.observers { result.observers |= try bit(id) }
            return result
        }
        for ensemble in [plan.source, plan.destination] {
            for server in ensemble.servers {
                let ref = ensemble.ref(server)
                if servers.contains(where: { $0.ref.ensemble == ref.ensemble && $0.ref.id == ref.id }) {
                    throw ProverError(message: "ensemble \(ensemble.name) lists server \(server.id) twice")
                }
                servers.append(
                    ModelServer(
                        ref: ref, idBit: try bit(server.id), fromSource: ensemble.name == plan.source.name,
                        name: "\(ensemble.name) \(server.id)"))
            }
        }
        guard servers.count <= 32 else { throw ProverError(message: "more than 32 servers; the prover handles up to 32") }
        let sourceView = try view(plan.source.membership)
        let destinationView = try view(plan.destination.membership)
        let destinationLineage: UInt8 = plan.destination.initialData == .empty ? Lineage.empty : Lineage.destination
        for (index, server) in servers.enumerated() {
            let isSource = server.fromSource
            initial.views.append(isSource ? sourceView : destinationView)
            initial.disks.append(isSource ? sourceView : destinationView)
            initial.pending.append(View(voters: 0, observers: 0))
            initial.lineage.append(isSource ? Lineage.source : destinationLineage)
            let running = isSource ? plan.source.initiallyRunning : plan.destination.initiallyRunning
            if running { initial.running |= 1 << UInt32(index) }
            if plan.server(server.ref)?.hostAddress != nil { hostAddressed |= 1 << UInt32(index) }
            if !isSource { destinationMask |= 1 << UInt32(index) }
        }
        func serverIndex(_ ref: ServerRef) throws(ProverError) -> Int {
            guard let index = servers.firstIndex(where: { $0.ref.ensemble == ref.ensemble && $0.ref.id == ref.id }) else {
                throw ProverError(message: "the plan refers to \(ref), which is in neither ensemble")
            }
            return index
        }
        // Client members.
        for (groupIndex, group) in plan.clientGroups.enumerated() {
            groupNames.append(group.name)
            groupMoves.append(group.moves)
            groupPaths.append(group.chroot ?? "/")
            initial.home.append(Lineage.source)
            for member in group.members {
                let memberIndex = memberGroup.count
                guard memberIndex < 64 else { throw ProverError(message: "more than 64 client members; the prover handles up to 64") }
                memberGroup.append(groupIndex)
                memberNames.append("\(group.name)/\(member.name)")
                let reach = try Self.reach(member.connectionString, servers: servers, plan: plan)
                initial.reach.append(reach.all)
                initial.viaAddress.append(reach.viaAddress)
                initial.clientsRunning |= 1 << UInt64(memberIndex)
            }
        }
        guard plan.clientGroups.count <= 64 else { throw ProverError(message: "more than 64 client groups") }
        // Rules: one index per distinct rule (adding and removing the same rule share it).
        var ruleIndex: [FirewallRule: Int] = [:]
        func rule(_ rule: FirewallRule) throws(ProverError) -> Int {
            if let index = ruleIndex[rule] { return index }
            guard ruleIndex.count < 64 else { throw ProverError(message: "more than 64 firewall rules") }
            var cuts = [UInt32](repeating: 0, count: servers.count)
            let own = try serverIndex(rule.server)
            for peer in rule.peers {
                let other = try serverIndex(peer.server)
                cuts[own] |= 1 << UInt32(other)
                cuts[other] |= 1 << UInt32(own)
            }
            ruleCuts.append(cuts)
            ruleNames.append("on \(rule.server.host): \(rule.server.ensemble) \(rule.server.id) cut off from \(Action.list(rule.peers.map(\.server)))")
            ruleIndex[rule] = ruleCuts.count - 1
            return ruleCuts.count - 1
        }
        func memberIndex(_ client: ClientRef) throws(ProverError) -> Int {
            guard let index = memberNames.firstIndex(of: "\(client.group)/\(client.member)") else {
                throw ProverError(message: "the plan refers to client \(client), which is not in its client groups")
            }
            return index
        }
        func groupIndex(_ name: String) throws(ProverError) -> Int {
            guard let index = groupNames.firstIndex(of: name) else {
                throw ProverError(message: "the plan refers to client group \(name), which it does not list")
            }
            return index
        }
        func gate(_ gate: Gate) throws(ProverError) -> CompiledGate {
            switch gate {
            case .quorumHealthy(_, let refs):
                var indices: [Int] = []
                for ref in refs { indices.append(try serverIndex(ref)) }
                return .quorumHealthy(servers: indices)
            case .idsHealthy(_, let list):
                var mask: UInt32 = 0
                for id in list { mask |= try bit(id) }
                return .idsHealthy(ids: mask)
            // The mode (observer) is what the model's views already say; the data is what counts here.
            case .followersSynced(let refs), .observersSynced(let refs):
                var indices: [Int] = []
                for ref in refs { indices.append(try serverIndex(ref)) }
                return .synced(servers: indices)
            case .destinationEmpty(let refs):
                var indices: [Int] = []
                for ref in refs { indices.append(try serverIndex(ref)) }
                return .empty(servers: indices)
            case .zxidCaughtUp(_, _, let path):
                let groups = groupPaths.indices.filter { groupPaths[$0] == path && groupMoves[$0] }
                return .copyCaughtUp(groups: groups)
            case .clientGroupHealthy(let name): return .groupHealthy(group: try groupIndex(name))
            case .reconfigCommitted(_, let membership): return .committed(view: try view(membership))
            case .writeAfterReconfig(_, let via): return .writeAfterReconfig(via: try serverIndex(via))
            case .reconfigEnabled: return .always
            // The census checks the world outside the model (unknown clients), not a server state.
            case .sessionsAccountedFor: return .always
            case .serversStopped(let refs):
                var indices: [Int] = []
                for ref in refs { indices.append(try serverIndex(ref)) }
                return .stopped(servers: indices)
            // An address that follows its servers reaches a serving server while any of them runs.
            case .addressReleased(_, let ref):
                let address = plan.server(ref)?.address
                return .stopped(servers: [try serverIndex(ref)] + servers.indices.filter { plan.server(servers[$0].ref)?.address == address && servers[$0].ref != ref })
            }
        }
        // Stable addresses bound on hosts: a server that uses one is reachable only while its host
        // holds it. At the start the source's server holds it (or the first server using it).
        // (Collected in locals: a nested function may not capture `self` inout.)
        var slots: [String] = []
        var slotHolders: [Int8] = []
        var members: [UInt32] = []
        func slot(_ address: String, holder: Int) -> Int {
            if let known = slots.firstIndex(of: address) { return known }
            slots.append(address)
            members.append(0)
            slotHolders.append(Int8(holder))
            return slots.count - 1
        }
        // Every server using an address that some server marks as stable, or that a step moves,
        // shares it; the first of them (a source server, if any) holds it at the start.
        var stable = Set((plan.source.servers + plan.destination.servers).filter { $0.stableAddress?.isMoved == true }.map(\.address))
        for (index, server) in servers.enumerated() {
            guard let spec = plan.server(server.ref), spec.stableAddress?.kind == .follows else { continue }
            if let known = followingAddresses.firstIndex(of: spec.address) {
                followers[known] |= 1 << UInt32(index)
            } else {
                followingAddresses.append(spec.address)
                followers.append(1 << UInt32(index))
            }
        }
        for step in plan.steps {
            for case .moveAddress(let move) in step.actions { stable.insert(move.address) }
        }
        for (index, server) in servers.enumerated() {
            guard let spec = plan.server(server.ref), stable.contains(spec.address) else { continue }
            // A service its server is not behind yet points nowhere until phase 1 creates it.
            members[slot(spec.address, holder: spec.hostAddress == nil ? index : -1)] |= 1 << UInt32(index)
        }
        // Service addresses (a Kubernetes ClusterIP) are bound on no interface of any host.
        let serviceAddresses = Set(
            (plan.source.servers + plan.destination.servers).filter { $0.stableAddress?.kind == .service }.map(\.address))
        let hostAddresses = Set(plan.source.servers.compactMap(\.hostAddress))
        for index in servers.indices where hostAddressed != 0 && servers[index].fromSource {
            initial.hostLines |= 1 << UInt32(index)
            initial.diskHostLines |= 1 << UInt32(index)
        }
        var seenSteps: Set<StepID> = []
        for step in plan.steps {
            guard seenSteps.insert(step.id).inserted else { throw ProverError(message: "two steps are named \(step.id)") }
            var compiled = CompiledStep(id: step.id, actions: [], gatesBefore: [], gatesAfter: [], window: 0)
            if case .window(let id) = step.impact {
                guard let window = plan.window(id) else {
                    throw ProverError(message: "step \(step.id) refers to impact window \(id), which the plan does not declare")
                }
                if window.exemptsQuorum {
                    for name in window.clientGroups { compiled.window |= 1 << UInt64(try groupIndex(name)) }
                }
            }
            for item in step.gatesBefore { compiled.gatesBefore.append((try gate(item), item.summary)) }
            for item in step.gatesAfter { compiled.gatesAfter.append((try gate(item), item.summary)) }
            for action in step.actions {
                var ops: [MicroOp]
                switch action {
                case .writeConfig(let write):
                    ops = [
                        .writeDisk(
                            server: try serverIndex(write.server), view: try view(write.membership),
                            binds: Self.binds(write, serviceAddresses: serviceAddresses), hostLines: write.servers.contains { hostAddresses.contains($0.host) })
                    ]
                case .startServer(let ref): ops = [.start(try serverIndex(ref))]
                case .stopServer(let ref): ops = [.stop(try serverIndex(ref))]
                case .restartServer(let ref):
                    let index = try serverIndex(ref)
                    ops = [.stop(index), .start(index)]
                case .addFirewallRule(let item): ops = [.addRule(try rule(item))]
                case .removeFirewallRule(let item): ops = [.removeRule(try rule(item))]
                case .switchClient(let change):
                    let reach = try Self.reach(change.to, servers: servers, plan: plan)
                    ops = [.switchClient(member: try memberIndex(change.client), reach: reach.all, viaAddress: reach.viaAddress)]
                case .stopClient(let client): ops = [.stopClient(member: try memberIndex(client))]
                case .reconfig(let change):
                    var voters: UInt32 = 0
                    var observers: UInt32 = 0
                    var removed: UInt32 = 0
                    for line in change.add {
                        if line.role == .participant { voters |= try bit(line.id) } else { observers |= try bit(line.id) }
                    }
                    for id in change.remove { removed |= try bit(id) }
                    ops = [.reconfig(via: try serverIndex(change.via), addVoters: voters, addObservers: observers, remove: removed)]
                case .copy(let copy): ops = [.copy(group: try groupIndex(copy.group), phase: copy.phase)]
                case .moveAddress(let move):
                    let from = try serverIndex(move.from)
                    let to = try serverIndex(move.to)
                    // (An address no server uses is on the host of its first move's `from` server.)
                    let index = slot(move.address, holder: from)
                    members[index] |= (1 << UInt32(from)) | (1 << UInt32(to))
                    ops = [.moveAddress(slot: index, from: from, to: to)]
                case .wait: ops = [.noop]
                }
                compiled.actions.append(CompiledAction(ops: ops, summary: action.summary))
            }
            steps.append(compiled)
        }
        try compileRollingRestarts()
        guard slots.count <= 32 else { throw ProverError(message: "more than 32 stable addresses; the prover handles up to 32") }
        addressSlots = slots
        slotMembers = members
        initial.addressHolder = slotHolders
        serverSlot = servers.indices.map { index in members.firstIndex { $0 & (1 << UInt32(index)) != 0 } ?? -1 }
    }

    /// The executor fills a rolling restart's places unit by unit in an order it picks while it
    /// runs: the explorer tries every unit at each place where none is under way.
    mutating func compileRollingRestarts() throws(ProverError) {
        let restarts: RollingRestarts
        switch RollingRestarts.of(plan.steps) {
        case .success(let found): restarts = found
        case .failure(let error): throw ProverError(message: error.message)
        }
        stepUnit = [Int](repeating: -1, count: steps.count)
        stepUnitPosition = [Int](repeating: 0, count: steps.count)
        placeUnits = [UInt64](repeating: 0, count: steps.count)
        placeWindow = steps.map(\.window)
        for group in restarts.groups {
            var mask: UInt64 = 0
            for unit in group.units {
                guard units.count < 64 else { throw ProverError(message: "more than 64 rolling-restart units; the prover handles up to 64") }
                for (position, step) in unit.enumerated() {
                    stepUnit[step] = units.count
                    stepUnitPosition[step] = position
                }
                mask |= 1 << UInt64(units.count)
                units.append(unit)
            }
            let window = group.positions.reduce(UInt64.max) { $0 & steps[$1].window }
            for place in group.positions {
                placeUnits[place] = mask
                placeWindow[place] = window
            }
        }
    }

    /// Whether a server can start from the file `write` leaves: ZooKeeper binds its quorum and
    /// election ports to the address of its own `server.N` line unless `quorumListenOnAllIPs=true`,
    /// and a service address is on no interface (HubSpot's phase 3 sets the flag for this reason).
    static func binds(_ write: ConfigWrite, serviceAddresses: Set<String>) -> Bool {
        guard let own = write.servers.first(where: { $0.id == write.server.id }), serviceAddresses.contains(own.host) else { return true }
        if let setting = write.settings[ZooKeeperConfig.Key.quorumListenOnAllIPs] { return setting?.lowercased() == "true" }
        return ZooKeeperConfig(parsing: write.text).quorumListenOnAllIPs == true
    }

    /// The servers a connection string reaches: those whose address (or client address, or host
    /// address before phase 2) and client port it lists; `viaAddress`, those it names by their address.
    static func reach(_ text: String, servers: [ModelServer], plan: Plan) throws(ProverError) -> (all: UInt32, viaAddress: UInt32) {
        let connection: ConnectionString
        do throws(ConnectionStringError) {
            connection = try ConnectionString(parsing: text)
        } catch {
            throw ProverError(message: "\(error)")
        }
        var mask: UInt32 = 0
        var viaAddress: UInt32 = 0
        for (index, server) in servers.enumerated() {
            guard let spec = plan.server(server.ref) else { continue }
            let hosts = [spec.address, spec.clientAddress, spec.host, spec.hostAddress].compactMap { $0 }
            if connection.servers.contains(where: { endpoint in endpoint.port == spec.clientPort && hosts.contains(endpoint.host) }) {
                mask |= 1 << UInt32(index)
            }
            if connection.servers.contains(where: { $0.port == spec.clientPort && $0.host == spec.address }) {
                viaAddress |= 1 << UInt32(index)
            }
        }
        return (mask, viaAddress)
    }
}

enum Lineage {
    static let empty: UInt8 = 0
    static let source: UInt8 = 1
    static let destination: UInt8 = 2
    static let firstBranch: UInt8 = 3
}

struct State: Hashable {
    /// The place in the plan the run has reached.
    var step: Int = 0
    var started = false
    /// The plan index of the step running at place `step` (another step of its rolling restart
    /// than the plan's, when the executor picks another order); -1 between steps.
    var current: Int16 = -1
    /// Rolling-restart units begun (bit per ``Model/units``), and the one under way (-1: none)
    /// with the position of its next step.
    var unitsBegun: UInt64 = 0
    var unitUnderWay: Int8 = -1
    var unitNext: UInt8 = 0
    var progress: [UInt8] = []
    var running: UInt32 = 0
    var views: [View] = []
    var pending: [View] = []
    var pendingMask: UInt32 = 0
    var disks: [View] = []
    var lineage: [UInt8] = []
    var maybe: UInt32 = 0
    var rules: UInt64 = 0
    var reach: [UInt32] = []
    /// Per member: the servers of ``reach`` it names by their address (see ``MicroOp/switchClient``).
    var viaAddress: [UInt32] = []
    var clientsRunning: UInt64 = 0
    var home: [UInt8] = []
    /// 0: no crash yet; 1: `crashed` is down after a crash; 2: the one crash is over.
    var crash: UInt8 = 0
    var crashed: Int8 = -1
    var nextBranch: UInt8 = Lineage.firstBranch
    /// Servers whose data is a prefix of a lineage that has since split: they were in neither
    /// side when it split, so they hold nothing either side lacks and may sync from either.
    var prefix: UInt32 = 0
    /// The lineage each branch split off (index: branch − firstBranch).
    var branchParents: [UInt8] = []
    /// Per client group: the copy into the destination is following the source.
    var following: UInt64 = 0
    /// Per moved stable address (``Model/addressSlots``): the server whose host holds it now (-1:
    /// a service that points nowhere yet).
    var addressHolder: [Int8] = []
    /// Servers whose running file names the servers not yet behind their services by their host
    /// addresses (before phase 3), and those whose file on disk does.
    var hostLines: UInt32 = 0
    var diskHostLines: UInt32 = 0
    /// Servers whose file on disk puts them on a service address without `quorumListenOnAllIPs`.
    var cannotBind: UInt32 = 0
}

// MARK: - Exploration

enum Event {
    /// `step` begins at the place of the plan's step `place` (another step of its rolling restart
    /// when the executor picks another order).
    case begin(step: Int, place: Int)
    case op(step: Int, action: Int, op: Int)
    case finish(Int)
    case crash(Int)
    case recover(Int)
}

struct Explorer {
    let model: Model
    let options: ProverOptions
    var states: [State] = []
    var parents: [Int32] = []
    var events: [Event?] = []
    var index: [State: Int32] = [:]
    /// Settling depends on far less than the whole state (not on the step, nor on the files on
    /// disk): many states share one analysis.
    var analyses: [AnalysisKey: Analysis] = [:]

    struct AnalysisKey: Hashable {
        var running: UInt32
        var views: [View]
        var pending: [View]
        var pendingMask: UInt32
        var lineage: [UInt8]
        var maybe: UInt32
        var prefix: UInt32
        var branchParents: [UInt8]
        var nextBranch: UInt8
        var rules: UInt64
        var reach: [UInt32]
        var viaAddress: [UInt32]
        var hostLines: UInt32
        var clientsRunning: UInt64
        var home: [UInt8]
        var addressHolder: [Int8]
        var availability: Bool
        var exempt: UInt64
    }

    struct Analysis {
        var violation: Violation?
        var lineage: [UInt8]
        var maybe: UInt32
        var prefix: UInt32
        var branchParents: [UInt8]
        var nextBranch: UInt8
        var home: [UInt8]
    }

    init(model: Model, options: ProverOptions) {
        self.model = model
        self.options = options
    }

    var serverCount: Int { model.servers.count }

    mutating func run() -> Counterexample? {
        var first = model.initial
        first.progress = []
        if let violation = settleCached(&first) { return counterexample(violation, parent: -1, event: nil, state: first) }
        states.append(first)
        parents.append(-1)
        events.append(nil)
        index[first] = 0
        var cursor = 0
        while cursor < states.count {
            let state = states[cursor]
            var planMoves = 0
            var blocked: String?
            // The plan.
            if state.step < model.steps.count {
                if !state.started {
                    let candidates = self.candidates(state)
                    for candidate in candidates {
                        let step = model.steps[candidate]
                        var next = state
                        if let failure = passGates(step.gatesBefore, &next) {
                            blocked = "before step \(step.id): the gate \"\(failure)\" can never pass"
                            if candidates.count > 1 && state.crash == 0 {
                                // The executor picks the order while it runs: it may pick this one.
                                let place = model.steps[state.step].id
                                let violation = Violation(
                                    invariant: .planProceeds,
                                    message: "\(blocked!) (the executor may run \(step.id) here, in the place of \(place): a rolling restart's units run in any order)")
                                return counterexample(violation, parent: parents[cursor], event: events[cursor], state: state)
                            }
                        } else {
                            begin(candidate, &next)
                            planMoves += 1
                            if let found = visit(next, from: cursor, event: .begin(step: candidate, place: state.step)) { return found }
                        }
                    }
                } else {
                    let current = Int(state.current)
                    let step = model.steps[current]
                    var allDone = true
                    for (actionIndex, action) in step.actions.enumerated() {
                        let done = Int(state.progress[actionIndex])
                        guard done < action.ops.count else { continue }
                        allDone = false
                        var next = state
                        switch apply(action.ops[done], &next) {
                        case .blocked(let reason):
                            blocked = "in step \(step.id), \"\(action.summary)\" cannot run: \(reason)"
                        case .violated(let violation):
                            return counterexample(violation, parent: cursor, event: .op(step: current, action: actionIndex, op: done), state: next)
                        case .done:
                            next.progress[actionIndex] += 1
                            planMoves += 1
                            if let found = visit(next, from: cursor, event: .op(step: current, action: actionIndex, op: done)) {
                                return found
                            }
                        }
                    }
                    if allDone {
                        var next = state
                        if let failure = passGates(step.gatesAfter, &next) {
                            blocked = "after step \(step.id): the gate \"\(failure)\" can never pass"
                        } else {
                            next.step += 1
                            next.started = false
                            next.current = -1
                            next.progress = []
                            planMoves += 1
                            if let found = visit(next, from: cursor, event: .finish(current)) { return found }
                        }
                    }
                }
                if planMoves == 0 && state.crash == 0 {
                    let violation = Violation(invariant: .planProceeds, message: blocked ?? "no step can run")
                    return counterexample(violation, parent: parents[cursor], event: events[cursor], state: state)
                }
            }
            // One crash per run, and the crashed server coming back.
            if options.crashes {
                if state.crash == 0 {
                    for server in 0..<serverCount where state.running & (1 << UInt32(server)) != 0 {
                        var next = state
                        next.running &= ~(1 << UInt32(server))
                        next.pendingMask &= ~(1 << UInt32(server))
                        next.crash = 1
                        next.crashed = Int8(server)
                        if let found = visit(next, from: cursor, event: .crash(server)) { return found }
                    }
                } else if state.crash == 1, state.crashed >= 0 {
                    let server = Int(state.crashed)
                    var next = state
                    next.crash = 2
                    next.crashed = -1
                    if case .violated(let violation) = start(server, &next) {
                        return counterexample(violation, parent: cursor, event: .recover(server), state: next)
                    }
                    if let found = visit(next, from: cursor, event: .recover(server)) { return found }
                }
            }
            if states.count > options.stateLimit {
                let violation = Violation(
                    invariant: .planProceeds,
                    message: "the plan has more than \(options.stateLimit) reachable states; split large steps into smaller ones")
                return Counterexample(violation: violation, trace: [], state: [])
            }
            cursor += 1
        }
        return nil
    }

    /// The steps the executor may begin at the place the run has reached: the plan's step there,
    /// or, at a place of a rolling restart, the next step of the unit under way, else the first
    /// step of any unit of it not yet begun.
    func candidates(_ state: State) -> [Int] {
        // Steps between a rolling restart's places (pauses) stay in place, even inside a unit.
        guard model.placeUnits[state.step] != 0 else { return [state.step] }
        if state.unitUnderWay >= 0 { return [model.units[Int(state.unitUnderWay)][Int(state.unitNext)]] }
        var free = model.placeUnits[state.step] & ~state.unitsBegun
        guard free != 0 else { return [state.step] }
        var result: [Int] = []
        while free != 0 {
            result.append(model.units[free.trailingZeroBitCount][0])
            free &= free - 1
        }
        return result
    }

    /// Begins `step` at the place the run has reached (its gates before have passed).
    func begin(_ step: Int, _ state: inout State) {
        state.started = true
        state.current = Int16(step)
        state.progress = [UInt8](repeating: 0, count: model.steps[step].actions.count)
        let unit = model.stepUnit[step]
        guard unit >= 0 else { return }
        state.unitsBegun |= 1 << UInt64(unit)
        let next = model.stepUnitPosition[step] + 1
        if next < model.units[unit].count {
            state.unitUnderWay = Int8(unit)
            state.unitNext = UInt8(next)
        } else {
            state.unitUnderWay = -1
            state.unitNext = 0
        }
    }

    /// Settles a new state, checks it, and queues it if it is new.
    mutating func visit(_ candidate: State, from parent: Int, event: Event) -> Counterexample? {
        var state = candidate
        if let violation = settleCached(&state) { return counterexample(violation, parent: parent, event: event, state: state) }
        if index[state] != nil { return nil }
        index[state] = Int32(states.count)
        states.append(state)
        parents.append(Int32(parent))
        events.append(event)
        return nil
    }

    // MARK: Actions

    enum Outcome {
        case done
        case blocked(String)
        case violated(Violation)
    }

    func name(_ server: Int) -> String { model.servers[server].name }

    /// Two running servers behind one address that follows its server by itself: the address may reach either.
    func followingTwice(_ running: UInt32) -> Violation? {
        for (slot, mask) in model.followers.enumerated() where (running & mask).nonzeroBitCount > 1 {
            let both = (0..<serverCount).filter { running & mask & (1 << UInt32($0)) != 0 }
            return Violation(
                invariant: .noSplitBrain,
                message: "\(model.followingAddresses[slot]) follows its server by itself, and \(both.map(name).joined(separator: " and ")) run at once: the platform may send peers and clients to either, and both vote as server \(model.servers[both[0]].ref.id); stop the old server, and check that it is still stopped, before the new one starts")
        }
        return nil
    }

    func start(_ server: Int, _ state: inout State) -> Outcome {
        let bit = UInt32(1) << UInt32(server)
        if state.running & bit != 0 { return .done }
        if state.cannotBind & bit != 0 {
            let address = model.plan.server(model.servers[server].ref)?.address ?? "its address"
            return .violated(
                Violation(
                    invariant: .planProceeds,
                    message: "\(name(server)) starts from a file whose server.\(model.servers[server].ref.id) is \(address), a service address on no interface of \(model.servers[server].ref.host), without quorumListenOnAllIPs=true: it cannot bind its quorum and election ports and exits; write quorumListenOnAllIPs=true with the service addresses (HubSpot's phase 3)"))
        }
        if let violation = followingTwice(state.running | bit) { return .violated(violation) }
        let idBit = model.servers[server].idBit
        for other in 0..<serverCount where other != server && state.running & (1 << UInt32(other)) != 0 {
            if model.servers[other].idBit == idBit {
                return .violated(
                    Violation(
                        invariant: .noSplitBrain,
                        message: "\(name(server)) starts while \(name(other)) runs with the same id \(model.servers[server].ref.id): two processes vote as one server, so two quorums can each count it"))
            }
        }
        state.running |= bit
        state.views[server] = state.disks[server]
        state.hostLines = state.diskHostLines & bit != 0 ? state.hostLines | bit : state.hostLines & ~bit
        state.pendingMask &= ~bit
        if state.crash == 1 && Int(state.crashed) == server {
            state.crash = 2
            state.crashed = -1
        }
        return .done
    }

    func apply(_ op: MicroOp, _ state: inout State) -> Outcome {
        switch op {
        case .noop: return .done
        case .writeDisk(let server, let view, let binds, let hostLines):
            state.disks[server] = view
            let bit = UInt32(1) << UInt32(server)
            state.diskHostLines = hostLines ? state.diskHostLines | bit : state.diskHostLines & ~bit
            state.cannotBind = binds ? state.cannotBind & ~bit : state.cannotBind | bit
            return .done
        case .start(let server): return start(server, &state)
        case .stop(let server):
            let bit = UInt32(1) << UInt32(server)
            state.running &= ~bit
            state.pendingMask &= ~bit
            if state.crash == 1 && Int(state.crashed) == server {
                // Stopped on purpose: it does not come back by itself.
                state.crash = 2
                state.crashed = -1
            }
            return .done
        case .addRule(let rule):
            state.rules |= 1 << UInt64(rule)
            return .done
        case .removeRule(let rule):
            state.rules &= ~(1 << UInt64(rule))
            return .done
        case .switchClient(let member, let reach, let viaAddress):
            // A client sent to a service must find its server behind it (HubSpot's phase 2 comes after phase 1).
            var named = viaAddress
            while named != 0 {
                let server = named.trailingZeroBitCount
                named &= named - 1
                let slot = model.serverSlot[server]
                guard slot >= 0 else { continue }
                let holder = Int(state.addressHolder[slot])
                if holder < 0 || model.servers[holder].idBit != model.servers[server].idBit {
                    return .violated(
                        Violation(
                            invariant: .clientsServed,
                            message: "\(model.memberNames[member]) switches to \(model.addressSlots[slot]), which points \(holder < 0 ? "nowhere yet" : "at \(name(holder)), not at a server \(model.servers[server].ref.id)"): its connections there reach no server \(model.servers[server].ref.id); point the service at the server's host first (phase 1)"))
                }
            }
            state.reach[member] = reach
            state.viaAddress[member] = viaAddress
            state.clientsRunning |= 1 << UInt64(member)
            return .done
        case .stopClient(let member):
            state.clientsRunning &= ~(1 << UInt64(member))
            return .done
        case .copy(let group, let phase):
            switch phase {
            case .initial, .follow:
                for server in 0..<serverCount where model.destinationMask & (1 << UInt32(server)) != 0 {
                    if state.lineage[server] == Lineage.empty {
                        state.lineage[server] = Lineage.destination
                        state.maybe &= ~(1 << UInt32(server))
                    }
                }
                if phase == .follow { state.following |= 1 << UInt64(group) }
                return .done
            case .finalCatchUp:
                guard state.following & (1 << UInt64(group)) != 0 else {
                    return .blocked("the copy is not following the source (copy and follow first)")
                }
                for member in model.memberGroup.indices where model.memberGroup[member] == group {
                    if state.clientsRunning & (1 << UInt64(member)) != 0 {
                        return .violated(
                            Violation(
                                invariant: .noDataOverwritten,
                                message: "the final catch-up of client group \(model.groupNames[group]) runs while \(model.memberNames[member]) is still running: writes it makes after the catch-up stay behind on the source and are lost"))
                    }
                }
                state.following &= ~(1 << UInt64(group))
                state.home[group] = Lineage.destination
                return .done
            }
        case .moveAddress(let slot, let from, let to):
            let holder = Int(state.addressHolder[slot])
            if holder == to { return .done }
            if holder < 0 && from == to {
                // A service created, pointing at its server's current host (phase 1).
                state.addressHolder[slot] = Int8(to)
                return .done
            }
            if holder < 0 { return .blocked("\(model.addressSlots[slot]) points nowhere yet, not at the host of \(name(from))") }
            guard holder == from else {
                return .blocked("\(model.addressSlots[slot]) is on the host of \(name(holder)), not of \(name(from))")
            }
            if state.running & (1 << UInt32(from)) != 0 {
                return .violated(
                    Violation(
                        invariant: .noSplitBrain,
                        message: "\(model.addressSlots[slot]) moves away from \(name(from)) while it runs: it keeps voting as server \(model.servers[from].ref.id) through the connections it opens itself, and \(name(to)) at the address would be a second server \(model.servers[to].ref.id); stop \(name(from)) first"))
            }
            state.addressHolder[slot] = Int8(to)
            return .done
        case .reconfig(let via, let addVoters, let addObservers, let remove):
            let viaBit = UInt32(1) << UInt32(via)
            guard state.running & viaBit != 0 else { return .blocked("\(name(via)) is not running") }
            let cuts = cutMasks(state)
            guard let cluster = mustClusters(state, cuts: cuts).first(where: { $0.members & viaBit != 0 }) else {
                return .blocked("\(name(via)) is not in a serving quorum")
            }
            let current = state.pendingMask & viaBit != 0 ? state.pending[via] : state.views[via]
            let added = addVoters | addObservers
            var next = View(
                voters: (current.voters & ~remove & ~added) | addVoters,
                observers: (current.observers & ~remove & ~added) | addObservers)
            next.observers &= ~next.voters
            if next.voters.nonzeroBitCount < 2 {
                return .blocked("the new configuration would have fewer than two participants, which ZooKeeper refuses with standaloneEnabled=true")
            }
            var acks = 0
            for server in 0..<serverCount where cluster.members & (1 << UInt32(server)) != 0 {
                if next.voters & model.servers[server].idBit != 0 { acks += 1 }
            }
            if acks < next.quorum {
                return .blocked(
                    "the new configuration needs \(next.quorum) of its voters to acknowledge it, and only \(acks) are in the serving quorum (add a joiner only once it runs and has synced)")
            }
            for server in 0..<serverCount where cluster.members & (1 << UInt32(server)) != 0 {
                state.disks[server] = next
                state.pending[server] = next
                state.pendingMask |= 1 << UInt32(server)
            }
            return .done
        }
    }

    // MARK: Gates

    /// Returns the summary of the first gate that does not hold, or nil when all pass (and applies
    /// what passing them establishes).
    func passGates(_ gates: [(CompiledGate, String)], _ state: inout State) -> String? {
        for (gate, summary) in gates {
            if !pass(gate, &state) { return summary }
        }
        return nil
    }

    func pass(_ gate: CompiledGate, _ state: inout State) -> Bool {
        switch gate {
        case .always: return true
        case .quorumHealthy(let servers):
            let wanted = servers.reduce(UInt32(0)) { $0 | (1 << UInt32($1)) }
            return mustClusters(state, cuts: cutMasks(state)).contains { $0.members & wanted == wanted && $0.lineage != nil }
        case .idsHealthy(let ids):
            return mustClusters(state, cuts: cutMasks(state)).contains { cluster in
                guard cluster.lineage != nil else { return false }
                var covered: UInt32 = 0
                for server in 0..<serverCount where cluster.members & (1 << UInt32(server)) != 0 { covered |= model.servers[server].idBit }
                return covered & ids == ids
            }
        case .synced(let servers):
            let clusters = mustClusters(state, cuts: cutMasks(state))
            for server in servers {
                let bit = UInt32(1) << UInt32(server)
                guard let cluster = clusters.first(where: { $0.members & bit != 0 }), let lineage = cluster.lineage else {
                    return false
                }
                state.lineage[server] = lineage
                state.maybe &= ~bit
            }
            return true
        case .empty(let servers):
            for server in servers {
                let bit = UInt32(1) << UInt32(server)
                if state.lineage[server] != Lineage.empty && state.maybe & bit == 0 { return false }
                // Passing the check shows the server is empty.
                state.lineage[server] = Lineage.empty
                state.maybe &= ~bit
            }
            return true
        case .copyCaughtUp(let groups):
            return groups.allSatisfy { state.following & (1 << UInt64($0)) != 0 || state.home[$0] == Lineage.destination }
        case .groupHealthy(let group):
            let clusters = mustClusters(state, cuts: cutMasks(state))
            for member in model.memberGroup.indices where model.memberGroup[member] == group {
                guard state.clientsRunning & (1 << UInt64(member)) != 0 else { return false }
                if !clusters.contains(where: { $0.members & clientReach(member, state) != 0 && $0.lineage == state.home[group] }) {
                    return false
                }
            }
            return true
        case .committed(let view):
            let clusters = mustClusters(state, cuts: cutMasks(state))
            for cluster in clusters {
                for server in 0..<serverCount where cluster.members & (1 << UInt32(server)) != 0 {
                    let current = state.pendingMask & (1 << UInt32(server)) != 0 ? state.pending[server] : state.views[server]
                    if current == view { return true }
                }
            }
            return false
        case .stopped(let servers):
            return servers.allSatisfy { state.running & (1 << UInt32($0)) == 0 }
        case .writeAfterReconfig(let via):
            let viaBit = UInt32(1) << UInt32(via)
            guard let cluster = mustClusters(state, cuts: cutMasks(state)).first(where: { $0.members & viaBit != 0 }) else {
                return false
            }
            for server in 0..<serverCount where cluster.members & state.pendingMask & (1 << UInt32(server)) != 0 {
                state.views[server] = state.pending[server]
                state.pendingMask &= ~(1 << UInt32(server))
            }
            return true
        }
    }

    // MARK: Quorums

    func cutMasks(_ state: State) -> [UInt32] {
        var cuts = [UInt32](repeating: 0, count: serverCount)
        var rules = state.rules
        while rules != 0 {
            let rule = rules.trailingZeroBitCount
            rules &= rules - 1
            for server in 0..<serverCount { cuts[server] |= model.ruleCuts[rule][server] }
        }
        return cuts
    }

    struct Cluster {
        var leader: Int
        var members: UInt32
        /// The lineage it certainly serves, or nil (no certain holder, or two histories).
        var lineage: UInt8?
    }

    /// Every cluster that certainly serves (see the type's documentation). Membership follows the
    /// newest configuration a server has; while a reconfig awaits its write, the majorities of
    /// both the old and the new configuration are required.
    func mustClusters(_ state: State, cuts ruleCuts: [UInt32]) -> [Cluster] {
        var result: [Cluster] = []
        // A server whose stable address is on another host cannot be reached by its peers (nor by
        // clients): counted out here. Split brain (`mayCluster`) still counts it in, since it can
        // open connections to its peers itself.
        var cuts = ruleCuts
        let away = unreachable(state)
        if away != 0 && model.hostAddressed == 0 {
            for server in 0..<serverCount {
                cuts[server] = away & (1 << UInt32(server)) != 0 ? UInt32.max : cuts[server] | away
            }
        } else if away != 0 {
            // A peer whose file still names host addresses reaches a server not yet behind its
            // service at its host, wherever the service points; any other reaches it only
            // through its address. Connections go both ways, so a pair either side cannot reach is cut.
            for server in 0..<serverCount {
                let bit = UInt32(1) << UInt32(server)
                let missed = away & ~(state.hostLines & bit != 0 ? model.hostAddressed : 0) & ~bit
                cuts[server] |= missed
                var rest = missed
                while rest != 0 {
                    let other = rest.trailingZeroBitCount
                    rest &= rest - 1
                    cuts[other] |= bit
                }
            }
        }
        var views = state.views
        if state.pendingMask != 0 {
            for server in 0..<serverCount where state.pendingMask & (1 << UInt32(server)) != 0 {
                views[server] = state.pending[server]
            }
        }
        func hasQuorum(_ server: Int, among members: UInt32) -> Bool {
            if votes(members, in: views[server], views: views) < views[server].quorum { return false }
            if state.pendingMask & (1 << UInt32(server)) != 0 {
                let old = state.views[server]
                if votes(members, in: old, views: views) < old.quorum { return false }
            }
            return true
        }
        for leader in 0..<serverCount where state.running & (1 << UInt32(leader)) != 0 {
            let leaderView = views[leader]
            let leaderID = model.servers[leader].idBit
            guard leaderView.voters & leaderID != 0 else { continue }
            var members: UInt32 = 1 << UInt32(leader)
            for server in 0..<serverCount where server != leader && state.running & (1 << UInt32(server)) != 0 {
                let id = model.servers[server].idBit
                let view = views[server]
                // The leader need not list the follower: a leader accepts any learner that connects,
                // which is how a new server joins before the others restart into the larger list
                // (Yelp's procedure; seen on 3.4 and 3.8). The follower still needs a majority of its
                // own list among the members, checked below.
                if cuts[server] & (1 << UInt32(leader)) == 0, view.voters & leaderID != 0, view.members & id != 0 {
                    members |= 1 << UInt32(server)
                }
            }
            // Voters that do not see a majority of their own view among the members they reach drop out.
            var changed = true
            while changed {
                changed = false
                for server in 0..<serverCount where members & (1 << UInt32(server)) != 0 {
                    guard views[server].voters & model.servers[server].idBit != 0 else { continue }
                    if !hasQuorum(server, among: members & ~cuts[server]) {
                        if server == leader {
                            members = 0
                            break
                        }
                        members &= ~(1 << UInt32(server))
                        changed = true
                    }
                }
                if members == 0 { break }
            }
            guard members != 0, hasQuorum(leader, among: members) else { continue }
            result.append(Cluster(leader: leader, members: members, lineage: certainLineage(members, state)))
        }
        return result
    }

    /// Servers that use a moved stable address their host does not hold now.
    func unreachable(_ state: State) -> UInt32 {
        var mask: UInt32 = 0
        for slot in state.addressHolder.indices {
            let holder = state.addressHolder[slot]
            mask |= model.slotMembers[slot] & (holder < 0 ? UInt32.max : ~(1 << UInt32(holder)))
        }
        return mask
    }

    /// The servers `member` reaches now: those it names by an address that leads elsewhere drop out.
    func clientReach(_ member: Int, _ state: State) -> UInt32 {
        state.reach[member] & ~(state.viaAddress[member] & unreachable(state))
    }

    /// Members that vote in `view` and in their own view.
    func votes(_ members: UInt32, in view: View, views: [View]) -> Int {
        var count = 0
        var rest = members
        while rest != 0 {
            let server = rest.trailingZeroBitCount
            rest &= rest - 1
            let id = model.servers[server].idBit
            if view.voters & id != 0 && views[server].voters & id != 0 { count += 1 }
        }
        return count
    }

    func certainLineage(_ members: UInt32, _ state: State) -> UInt8? {
        var found: UInt8?
        let settled = members & ~state.maybe & ~state.prefix
        var rest = settled != 0 && hasHolder(settled, state) ? settled : members & ~state.maybe
        while rest != 0 {
            let server = rest.trailingZeroBitCount
            rest &= rest - 1
            let lineage = state.lineage[server]
            guard lineage != Lineage.empty else { continue }
            if let current = found, current != lineage { return nil }
            found = lineage
        }
        return found
    }

    // MARK: Invariants

    mutating func settleCached(_ state: inout State) -> Violation? {
        let key = AnalysisKey(
            running: state.running, views: state.views, pending: state.pending, pendingMask: state.pendingMask,
            lineage: state.lineage, maybe: state.maybe, prefix: state.prefix, branchParents: state.branchParents,
            nextBranch: state.nextBranch, rules: state.rules, reach: state.reach, viaAddress: state.viaAddress, hostLines: state.hostLines,
            clientsRunning: state.clientsRunning,
            home: state.home, addressHolder: state.addressHolder, availability: state.crash == 0, exempt: exemption(state))
        if let known = analyses[key] {
            apply(known, to: &state)
            return known.violation
        }
        let violation = settle(&state)
        let analysis = Analysis(
            violation: violation, lineage: state.lineage, maybe: state.maybe, prefix: state.prefix,
            branchParents: state.branchParents, nextBranch: state.nextBranch, home: state.home)
        analyses[key] = analysis
        return violation
    }

    func apply(_ analysis: Analysis, to state: inout State) {
        state.lineage = analysis.lineage
        state.maybe = analysis.maybe
        state.prefix = analysis.prefix
        state.branchParents = analysis.branchParents
        state.nextBranch = analysis.nextBranch
        state.home = analysis.home
    }

    /// The client groups exempt from availability in this state (declared windows).
    func exemption(_ state: State) -> UInt64 {
        guard state.step < model.steps.count else { return 0 }
        if state.started { return model.steps[Int(state.current)].window }
        // Between two steps: exempt only what both places exempt, whichever steps run there.
        if state.step > 0 { return model.placeWindow[state.step] & model.placeWindow[state.step - 1] }
        return 0
    }

    /// Brings a new state up to date (possible syncs, divergence) and checks every invariant.
    func settle(_ state: inout State) -> Violation? {
        if let violation = followingTwice(state.running) { return violation }
        // Two processes with one id.
        var seen: UInt32 = 0
        for server in 0..<serverCount where state.running & (1 << UInt32(server)) != 0 {
            let id = model.servers[server].idBit
            if seen & id != 0 {
                return Violation(
                    invariant: .noSplitBrain,
                    message: "two servers run with id \(model.servers[server].ref.id): both vote as one server")
            }
            seen |= id
        }
        let cuts = cutMasks(state)
        if let violation = checkMayServe(&state, views: state.views, cuts: cuts) { return violation }
        if state.pendingMask != 0 {
            var newer = state.views
            for server in 0..<serverCount where state.pendingMask & (1 << UInt32(server)) != 0 {
                newer[server] = state.pending[server]
            }
            if let violation = checkMayServe(&state, views: newer, cuts: cuts) { return violation }
        }
        if state.crash == 0, let violation = checkAvailability(state, cuts: cuts) { return violation }
        return nil
    }

    func mayCluster(_ leader: Int, _ state: State, views: [View], cuts: [UInt32]) -> UInt32? {
        let leaderView = views[leader]
        let leaderID = model.servers[leader].idBit
        guard state.running & (1 << UInt32(leader)) != 0, leaderView.voters & leaderID != 0 else { return nil }
        var members: UInt32 = 1 << UInt32(leader)
        for server in 0..<serverCount where server != leader && state.running & (1 << UInt32(server)) != 0 {
            let view = views[server]
            if cuts[server] & (1 << UInt32(leader)) == 0, view.voters & leaderID != 0, view.members & model.servers[server].idBit != 0 {
                members |= 1 << UInt32(server)
            }
        }
        return votes(members, in: leaderView, views: views) >= leaderView.quorum ? members : nil
    }

    func describe(_ mask: UInt32) -> String {
        (0..<serverCount).filter { mask & (1 << UInt32($0)) != 0 }.map(name).joined(separator: ", ")
    }

    func lineageName(_ lineage: UInt8) -> String {
        switch lineage {
        case Lineage.empty: return "no data"
        case Lineage.source: return "the source's data"
        case Lineage.destination: return "the destination's own data"
        default: return "a branch split off the source (#\(lineage - Lineage.firstBranch + 1))"
        }
    }

    func checkMayServe(_ state: inout State, views: [View], cuts: [UInt32]) -> Violation? {
        var clusters: [(leader: Int, members: UInt32)] = []
        for leader in 0..<serverCount {
            if let members = mayCluster(leader, state, views: views, cuts: cuts) { clusters.append((leader, members)) }
        }
        if clusters.isEmpty { return nil }
        // A server holding a prefix of a lineage that split syncs from either side without loss.
        if state.prefix != 0 {
            for cluster in clusters {
                var rest = cluster.members & state.prefix
                while rest != 0 {
                    let server = rest.trailingZeroBitCount
                    rest &= rest - 1
                    let own = state.lineage[server]
                    var others = cluster.members & ~state.prefix
                    while others != 0 {
                        let other = others.trailingZeroBitCount
                        others &= others - 1
                        let lineage = state.lineage[other]
                        if lineage == own || (lineage >= Lineage.firstBranch && descends(lineage, from: own, state)) {
                            state.lineage[server] = lineage
                            state.prefix &= ~(1 << UInt32(server))
                            break
                        }
                    }
                }
            }
        }
        // Empty servers in a cluster that may serve data may have synced it.
        var changed = true
        while changed {
            changed = false
            for cluster in clusters {
                guard let lineage = anyLineage(cluster.members, state) else { continue }
                var rest = cluster.members
                while rest != 0 {
                    let server = rest.trailingZeroBitCount
                    rest &= rest - 1
                    if state.lineage[server] == Lineage.empty {
                        state.lineage[server] = lineage
                        state.maybe |= 1 << UInt32(server)
                        changed = true
                    }
                }
            }
        }
        // Two histories in one cluster: whichever leads overwrites the other.
        for cluster in clusters {
            var holders: [UInt8: Int] = [:]
            var rest = cluster.members
            while rest != 0 {
                let server = rest.trailingZeroBitCount
                rest &= rest - 1
                if state.lineage[server] != Lineage.empty, holders[state.lineage[server]] == nil {
                    holders[state.lineage[server]] = server
                }
            }
            if holders.count > 1 {
                let pairs = holders.sorted { $0.key < $1.key }
                let first = pairs[0]
                let second = pairs[1]
                return Violation(
                    invariant: .noDataOverwritten,
                    message: "\(name(first.value)) (\(lineageName(first.key))) and \(name(second.value)) (\(lineageName(second.key))) can be in one quorum (led by \(name(cluster.leader)), with \(describe(cluster.members))): whichever history the leader has overwrites the other")
            }
        }
        // Two quorums that do not intersect.
        for (firstIndex, first) in clusters.enumerated() {
            for second in clusters[(firstIndex + 1)...] {
                guard let sides = disjoint(first, second, state, views: views) else { continue }
                for group in model.groupNames.indices {
                    var reachesFirst = false
                    var reachesSecond = false
                    for member in model.memberGroup.indices where model.memberGroup[member] == group {
                        guard state.clientsRunning & (1 << UInt64(member)) != 0 else { continue }
                        if state.reach[member] & first.members != 0 { reachesFirst = true }
                        if state.reach[member] & second.members != 0 { reachesSecond = true }
                    }
                    if reachesFirst && reachesSecond {
                        return Violation(
                            invariant: .noSplitBrain,
                            message: "client group \(model.groupNames[group]) can reach two quorums that do not intersect: \(describe(sides.0)) led by \(name(first.leader)) (server list \(viewText(views[first.leader]))) and \(describe(sides.1)) led by \(name(second.leader)) (server list \(viewText(views[second.leader])))")
                    }
                }
                // One lineage on both sides: the side with fewer source servers diverges.
                let firstLineage = anyLineage(first.members, state)
                let secondLineage = anyLineage(second.members, state)
                if let lineage = firstLineage, lineage == secondLineage {
                    let firstSource = sourceCount(sides.0)
                    let secondSource = sourceCount(sides.1)
                    let (kept, branch) = secondSource > firstSource ? (sides.1, sides.0) : (sides.0, sides.1)
                    let exclusive = branch & ~kept
                    let newLineage = state.nextBranch
                    state.nextBranch &+= 1
                    state.branchParents.append(lineage)
                    for server in 0..<serverCount where state.lineage[server] == lineage {
                        let bit = UInt32(1) << UInt32(server)
                        if exclusive & bit != 0 {
                            state.lineage[server] = newLineage
                            state.prefix &= ~bit
                        } else if kept & bit == 0 {
                            state.prefix |= bit
                        }
                    }
                    for group in state.home.indices where state.home[group] == lineage {
                        var union: UInt32 = 0
                        for member in model.memberGroup.indices where model.memberGroup[member] == group {
                            union |= state.reach[member]
                        }
                        if union & exclusive != 0 && union & kept == 0 { state.home[group] = newLineage }
                    }
                }
            }
        }
        // Clients reaching a quorum that serves another history, or none.
        for cluster in clusters {
            let emptyish = emptyMembers(cluster.members, state)
            let emptyQuorum =
                emptyish & (1 << UInt32(cluster.leader)) != 0
                && votes(emptyish, in: views[cluster.leader], views: views) >= views[cluster.leader].quorum
            let lineage = anyLineage(cluster.members, state)
            for member in model.memberGroup.indices where state.clientsRunning & (1 << UInt64(member)) != 0 {
                let group = model.memberGroup[member]
                if emptyQuorum && state.reach[member] & emptyish != 0 {
                    return Violation(
                        invariant: .noSplitBrain,
                        message: "\(describe(emptyish)) hold no data (or may not have synced yet) and can form a quorum on their own, led by \(name(cluster.leader)); \(model.memberNames[member]) reaches it and would see an empty tree: make sure servers that carry the data are a majority-blocking share, and wait for each joiner to sync")
                }
                if state.reach[member] & cluster.members != 0, let lineage, lineage != state.home[group] {
                    return Violation(
                        invariant: .noSplitBrain,
                        message: "\(model.memberNames[member]) reaches a quorum (\(describe(cluster.members)), led by \(name(cluster.leader))) that serves \(lineageName(lineage)), while client group \(model.groupNames[group]) relies on \(lineageName(state.home[group]))")
                }
            }
        }
        return nil
    }

    func descends(_ lineage: UInt8, from ancestor: UInt8, _ state: State) -> Bool {
        var current = lineage
        while current >= Lineage.firstBranch {
            let index = Int(current - Lineage.firstBranch)
            guard index < state.branchParents.count else { return false }
            current = state.branchParents[index]
            if current == ancestor { return true }
        }
        return false
    }

    func viewText(_ view: View) -> String {
        let voters = model.ids.indices.filter { view.voters & (1 << UInt32($0)) != 0 }.map { model.ids[$0].description }
        let observers = model.ids.indices.filter { view.observers & (1 << UInt32($0)) != 0 }.map { model.ids[$0].description }
        var text = "voters {\(voters.joined(separator: ","))}"
        if !observers.isEmpty { text += " observers {\(observers.joined(separator: ","))}" }
        return text
    }

    func sourceCount(_ mask: UInt32) -> Int {
        (0..<serverCount).filter { mask & (1 << UInt32($0)) != 0 && model.servers[$0].fromSource }.count
    }

    func hasHolder(_ members: UInt32, _ state: State) -> Bool {
        var rest = members
        while rest != 0 {
            let server = rest.trailingZeroBitCount
            rest &= rest - 1
            if state.lineage[server] != Lineage.empty { return true }
        }
        return false
    }

    /// The lineage the cluster may serve: its certain holders', else its possible holders'.
    func anyLineage(_ members: UInt32, _ state: State) -> UInt8? {
        if let certain = certainLineage(members, state) { return certain }
        var rest = members
        while rest != 0 {
            let server = rest.trailingZeroBitCount
            rest &= rest - 1
            if state.lineage[server] != Lineage.empty { return state.lineage[server] }
        }
        return nil
    }

    func emptyMembers(_ members: UInt32, _ state: State) -> UInt32 {
        var result: UInt32 = 0
        var rest = members
        while rest != 0 {
            let server = rest.trailingZeroBitCount
            rest &= rest - 1
            if state.lineage[server] == Lineage.empty || state.maybe & (1 << UInt32(server)) != 0 {
                result |= 1 << UInt32(server)
            }
        }
        return result
    }

    /// Whether the two clusters can serve at the same time without a common server, and if so
    /// one such pair of sides.
    func disjoint(_ first: (leader: Int, members: UInt32), _ second: (leader: Int, members: UInt32), _ state: State, views: [View])
        -> (UInt32, UInt32)?
    {
        guard first.leader != second.leader else { return nil }
        let firstBit = UInt32(1) << UInt32(first.leader)
        let secondBit = UInt32(1) << UInt32(second.leader)
        let firstView = views[first.leader]
        let secondView = views[second.leader]
        var side1 = ((first.members & ~second.members) | firstBit) & ~secondBit
        var side2 = ((second.members & ~first.members) | secondBit) & ~firstBit
        let shared = first.members & second.members & ~firstBit & ~secondBit
        func counts(_ server: Int) -> (Bool, Bool) {
            let id = model.servers[server].idBit
            let own = views[server].voters & id != 0
            return (own && firstView.voters & id != 0, own && secondView.voters & id != 0)
        }
        var have1 = votes(side1, in: firstView, views: views)
        var have2 = votes(side2, in: secondView, views: views)
        var flexible: [Int] = []
        var rest = shared
        while rest != 0 {
            let server = rest.trailingZeroBitCount
            rest &= rest - 1
            switch counts(server) {
            case (true, true): flexible.append(server)
            case (true, false):
                have1 += 1
                side1 |= 1 << UInt32(server)
            case (false, true):
                have2 += 1
                side2 |= 1 << UInt32(server)
            case (false, false): break
            }
        }
        let need1 = max(0, firstView.quorum - have1)
        let need2 = max(0, secondView.quorum - have2)
        guard need1 + need2 <= flexible.count else { return nil }
        for (position, server) in flexible.enumerated() {
            if position < need1 { side1 |= 1 << UInt32(server) } else { side2 |= 1 << UInt32(server) }
        }
        return (side1, side2)
    }

    func checkAvailability(_ state: State, cuts: [UInt32]) -> Violation? {
        let clusters = mustClusters(state, cuts: cuts)
        let exempt = exemption(state)
        // Clients that stay on the source first: theirs is the stricter promise (no windows).
        let order = model.memberGroup.indices.sorted { !model.groupMoves[model.memberGroup[$0]] && model.groupMoves[model.memberGroup[$1]] }
        for member in order {
            let group = model.memberGroup[member]
            let stays = !model.groupMoves[group]
            if !stays && exempt & (1 << UInt64(group)) != 0 { continue }
            let running = state.clientsRunning & (1 << UInt64(member)) != 0
            let served =
                running && clusters.contains { $0.members & clientReach(member, state) != 0 && $0.lineage == state.home[group] }
            if served { continue }
            let reason =
                running
                ? "it reaches no serving quorum holding \(lineageName(state.home[group])) (its servers: \(describe(state.reach[member])))"
                : "it is stopped"
            if stays {
                return Violation(
                    invariant: .sourceKeepsQuorum,
                    message: "\(model.memberNames[member]) stays on the source, and \(reason)")
            }
            return Violation(
                invariant: .clientsServed,
                message: "\(model.memberNames[member]) is cut off outside any declared window: \(reason)")
        }
        return nil
    }

    // MARK: Counterexamples

    func eventText(_ event: Event, before: State?) -> TraceEvent {
        switch event {
        case .begin(let step, let place):
            let compiled = model.steps[step]
            let gates = compiled.gatesBefore.map(\.1)
            let moved = step == place ? "" : " (in the place of \(model.steps[place].id): the executor runs a rolling restart's units in any order)"
            return TraceEvent(
                kind: .stepBegins, step: compiled.id,
                text: "begins: \(model.plan.steps[step].title)" + moved + (gates.isEmpty ? "" : " (gates passed: \(gates.joined(separator: "; ")))"))
        case .op(let step, let action, let op):
            let compiled = model.steps[step].actions[action]
            var text = compiled.summary
            if compiled.ops.count > 1 {
                switch compiled.ops[op] {
                case .stop(let server): text = "\(name(server)) goes down (restart, part 1: stop)"
                case .start(let server): text = "\(name(server)) comes back (restart, part 2: start)"
                default: break
                }
            }
            return TraceEvent(kind: .action, step: model.steps[step].id, text: text)
        case .finish(let step):
            let gates = model.steps[step].gatesAfter.map(\.1)
            return TraceEvent(
                kind: .stepDone, step: model.steps[step].id,
                text: "done" + (gates.isEmpty ? "" : " (gates passed: \(gates.joined(separator: "; ")))"))
        case .crash(let server):
            return TraceEvent(kind: .crash, step: nil, text: "\(name(server)) crashes")
        case .recover(let server):
            let disk = before.map { viewText($0.disks[server]) } ?? "its config"
            return TraceEvent(kind: .recovery, step: nil, text: "\(name(server)) comes back after its crash, with the server list on its disk: \(disk)")
        }
    }

    func counterexample(_ violation: Violation, parent: Int32, event: Event?, state: State) -> Counterexample {
        counterexample(violation, parent: Int(parent), event: event, state: state)
    }

    func counterexample(_ violation: Violation, parent: Int, event: Event?, state: State) -> Counterexample {
        var trace: [TraceEvent] = []
        if let event { trace.append(eventText(event, before: parent >= 0 ? states[parent] : nil)) }
        var cursor = parent
        while cursor > 0 {
            if let event = events[cursor] {
                let before = parents[cursor] >= 0 ? states[Int(parents[cursor])] : nil
                trace.append(eventText(event, before: before))
            }
            cursor = Int(parents[cursor])
        }
        trace.reverse()
        return Counterexample(violation: violation, trace: trace, state: describe(state))
    }

    func describe(_ state: State) -> [String] {
        var lines: [String] = []
        for server in 0..<serverCount {
            let bit = UInt32(1) << UInt32(server)
            let running = state.running & bit != 0
            var text = "\(name(server)): \(running ? "running" : "stopped")"
            if running { text += ", server list \(viewText(state.views[server]))" }
            if state.disks[server] != state.views[server] || !running { text += ", on disk \(viewText(state.disks[server]))" }
            let lineage = lineageName(state.lineage[server])
            text += state.maybe & bit != 0 ? ", data: maybe \(lineage) (may not have synced)" : ", data: \(lineage)"
            if state.crashed == Int8(server) { text += " (crashed)" }
            lines.append(text)
        }
        for rule in model.ruleNames.indices where state.rules & (1 << UInt64(rule)) != 0 {
            lines.append("firewall \(model.ruleNames[rule])")
        }
        for slot in state.addressHolder.indices {
            let holder = Int(state.addressHolder[slot])
            lines.append(holder < 0 ? "address \(model.addressSlots[slot]): a service pointing nowhere yet" : "address \(model.addressSlots[slot]): on \(model.servers[holder].ref.host) (\(name(holder)))")
        }
        for member in model.memberGroup.indices {
            let running = state.clientsRunning & (1 << UInt64(member)) != 0
            lines.append("client \(model.memberNames[member]): \(running ? "running" : "stopped"), connects to \(describe(state.reach[member]))")
        }
        return lines
    }
}
