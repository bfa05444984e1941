import Foundation
import MigrationPlanning
import Reports
import ZooKeeperProtocol
import Synchronization

/// What happened when, gathered from the executor's events, the leader monitor and the faults.
package final class TimelineRecorder: Sendable {
    struct StepRecord {
        var id: String
        var title: String
        var start: Double
        var end: Double?
        var outcome: StepSpan.Outcome
        var window: String?
    }

    struct State {
        var steps: [StepRecord] = []
        var events: [TimelineEvent] = []
        /// The tool was stopped; the next `resumed` is its recovery (not the planned pause for the split's diff).
        var awaitingResume = false
    }

    package let origin: ContinuousClock.Instant
    package let plan: Plan
    private let state = Mutex(State())

    package init(origin: ContinuousClock.Instant, plan: Plan) {
        self.origin = origin
        self.plan = plan
    }

    package var now: Double {
        let elapsed = ContinuousClock.now - origin
        return elapsed.seconds
    }

    package func event(_ kind: TimelineEvent.Kind, _ label: String, subject: String? = nil) {
        let time = now
        state.withLock { $0.events.append(TimelineEvent(time: time, kind: kind, label: label, subject: subject)) }
    }

    /// Takes an executor event, as it happens or (`time`, in seconds after ``origin``) from a journal.
    package func record(_ event: ExecutionEvent, at time: Double? = nil) {
        let time = time ?? now
        state.withLock { state in
            switch event.kind {
            case .stepStarted:
                guard let id = event.step else { return }
                let step = plan.step(id)
                var window: String?
                if case .window(let name)? = step?.impact { window = name }
                // A step started again after an interruption continues its earlier record.
                if let index = state.steps.lastIndex(where: { $0.id == id.rawValue && $0.end == nil }) {
                    state.steps[index].outcome = .resumed
                } else {
                    state.steps.append(StepRecord(id: id.rawValue, title: event.summary, start: time, end: nil, outcome: .succeeded, window: window))
                }
            case .stepFinished:
                guard let id = event.step, let index = state.steps.lastIndex(where: { $0.id == id.rawValue }) else { return }
                state.steps[index].end = time
            case .failed:
                guard let id = event.step, let index = state.steps.lastIndex(where: { $0.id == id.rawValue }) else { return }
                state.steps[index].end = time
                state.steps[index].outcome = .failed
            case .actionFinished:
                guard let index = event.action, let id = event.step, let action = plan.step(id)?.actions[safe: index] else { return }
                switch action {
                case .addFirewallRule(let rule): state.events.append(TimelineEvent(time: time, kind: .firewallSplit, label: "firewall on \(rule.server.host)", subject: rule.server.host))
                case .removeFirewallRule(let rule): state.events.append(TimelineEvent(time: time, kind: .firewallRemoved, label: "rules removed on \(rule.server.host)", subject: rule.server.host))
                case .moveAddress(let move): state.events.append(TimelineEvent(time: time, kind: .addressMoved, label: "\(move.address) to \(move.to.host)", subject: move.to.host))
                default: break
                }
            case .resumed:
                guard state.awaitingResume else { return }
                state.awaitingResume = false
                state.events.append(TimelineEvent(time: time, kind: .resumed, label: "resumed from the journal"))
            default:
                break
            }
        }
    }

    /// Marks the running step interrupted (the tool was stopped during it).
    package func interrupted() {
        let time = now
        state.withLock { state in
            if let index = state.steps.lastIndex(where: { $0.end == nil }) { state.steps[index].outcome = .interrupted }
            state.awaitingResume = true
            state.events.append(TimelineEvent(time: time, kind: .toolKilled, label: "tool stopped mid-step"))
        }
    }

    package func steps(windowLengths: [String: Double]) -> [StepSpan] {
        state.withLock { state in
            state.steps.map {
                StepSpan(
                    id: $0.id, title: $0.title, start: $0.start, end: $0.end, outcome: $0.outcome, impactWindow: $0.window,
                    expectedWindowLength: $0.window.flatMap { windowLengths[$0] })
            }
        }
    }

    package var events: [TimelineEvent] { state.withLock { $0.events.sorted { $0.time < $1.time } } }

    /// When a step started (for a data diff "at the split").
    package func start(of step: String) -> Double? { state.withLock { $0.steps.first { $0.id == step }?.start } }
}

extension Array {
    package subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
