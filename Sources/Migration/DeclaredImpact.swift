/// The rule that every stop or restart of a server clients can be connected to is declared: the
/// server's connections drop (its clients reconnect to another server), and when it leads, the
/// others elect a new leader and none serves until then. This holds whether or not the inventory
/// lists client groups: the clients are there all the same.
public enum ServerRestartImpact {
    /// The window the rule declares.
    public static let windowID = "server-restart"

    /// Puts every step that stops or restarts a server clients may use, and is in no window yet,
    /// into the ``windowID`` window (declared once, naming the groups that may be on those
    /// servers; none when the inventory lists none). The window does not exempt anyone from the
    /// prover's quorum: a quorum of servers stays up through each such step.
    ///
    /// Clients may use a source server throughout (the groups that stay, and those that move
    /// until their switch). A destination server counts once the plan has started it: joined to
    /// the source it is one of the voters that may lead the clients' ensemble, and after a switch
    /// clients are connected to it. (An empty destination server stopped before it ever ran is
    /// no one's.)
    ///
    /// - Parameters:
    ///   - running: destination servers already running when these steps begin (a rollback's:
    ///     those the forward run started), which clients may use as much as those the steps start.
    ///   - switched: client groups already switched to the destination (a rollback's: those the
    ///     forward run moved).
    public static func declare(
        steps: [Step], windows: [ImpactWindow], source: String, destination: String, groups: [PlanClientGroup], expectedLength: PlanDuration,
        running: Set<ServerRef> = [], switched: Set<String> = []
    ) -> (steps: [Step], windows: [ImpactWindow]) {
        var steps = steps
        var switched = switched
        var started = running
        var affected: [String] = []
        var declared = false
        for index in steps.indices {
            let step = steps[index]
            let touched = step.actions.compactMap { action -> ServerRef? in
                switch action {
                case .stopServer(let server), .restartServer(let server): return server
                default: return nil
                }
            }
            let onSource = groups.filter { !$0.moves || !switched.contains($0.name) }.map(\.name)
            var used: [String] = []
            var reachable = false
            for server in touched {
                if server.ensemble == source {
                    reachable = true
                    used += onSource
                } else if server.ensemble == destination, started.contains(server) {
                    // Before the split it may lead the source's clients; after a switch it serves the moved ones.
                    reachable = true
                    used += groups.map(\.name)
                }
            }
            for action in step.actions {
                switch action {
                case .switchClient(let change): switched.insert(change.client.group)
                case .startServer(let server), .restartServer(let server): started.insert(server)
                default: break
                }
            }
            guard reachable, step.impact == .none else { continue }
            steps[index].impact = .window(id: windowID)
            declared = true
            for name in used where !affected.contains(name) { affected.append(name) }
        }
        guard declared, !windows.contains(where: { $0.id == windowID }) else { return (steps, windows) }
        let window = ImpactWindow(
            id: windowID, clientGroups: affected, expectedLength: expectedLength,
            reason: "each stopped or restarted server drops its clients' connections (they reconnect to another server); when it leads, the others elect a new leader and no server serves until then",
            exemptsQuorum: false)
        return (steps, windows + [window])
    }
}

/// Whether a stall a client felt was declared: inside a window that names its group (or every
/// client, when the window names none) and no longer than that window's expected length.
public enum StallJudgement: Sendable, Hashable, CustomStringConvertible {
    case declared(window: String, seconds: Double, allowed: Double)
    case longerThanDeclared(window: String, seconds: Double, allowed: Double)
    case undeclared(seconds: Double)

    public var isDeclared: Bool { if case .declared = self { true } else { false } }

    public var description: String {
        switch self {
        case .declared(let window, let seconds, let allowed): return String(format: "%.2f s inside window %@ (up to %.0f s)", seconds, window, allowed)
        case .longerThanDeclared(let window, let seconds, let allowed):
            return String(format: "%.2f s, longer than window %@ declares (%.0f s)", seconds, window, allowed)
        case .undeclared(let seconds): return String(format: "%.2f s outside every declared window", seconds)
        }
    }

    /// When a step ran and the window it is part of (times in seconds on one clock).
    public struct StepInterval: Sendable, Hashable {
        public var window: String?
        public var start: Double
        /// nil: still running when the run ended.
        public var end: Double?

        public init(window: String?, start: Double, end: Double?) {
            self.window = window
            self.start = start
            self.end = end
        }
    }

    /// Judges the stall of `group` from `start` to `end` against the steps that ran in windows.
    /// A stall is inside a window when it overlaps one of the window's steps; it may end up to
    /// `grace` seconds after that step (a client notices the server back only at its next try).
    public static func judge(
        group: String, start: Double, end: Double, steps: [StepInterval], windows: [ImpactWindow], grace: Double
    ) -> StallJudgement {
        let seconds = end - start
        var best: (window: String, allowed: Double)?
        for step in steps {
            guard let id = step.window, let window = windows.first(where: { $0.id == id }) else { continue }
            guard window.clientGroups.isEmpty || window.clientGroups.contains(group) else { continue }
            guard start <= (step.end ?? .infinity) + grace, end >= step.start else { continue }
            let allowed = Double(window.expectedLength.milliseconds) / 1000
            if allowed > (best?.allowed ?? -1) { best = (id, allowed) }
        }
        guard let best else { return .undeclared(seconds: seconds) }
        return seconds <= best.allowed
            ? .declared(window: best.window, seconds: seconds, allowed: best.allowed)
            : .longerThanDeclared(window: best.window, seconds: seconds, allowed: best.allowed)
    }
}
