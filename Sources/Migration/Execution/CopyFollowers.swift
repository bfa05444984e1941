import Foundation
import MigrationPlanning
import NIOCore
import Probes
import Synchronization
import TreeCopy
import ZooKeeper

/// The subtree one follower keeps in sync.
struct FollowKey: Sendable, Hashable, CustomStringConvertible {
    var from: String
    var to: String
    var path: String

    init(from: String, to: String, path: String) {
        self.from = from
        self.to = to
        self.path = path
    }

    init(_ copy: CopyAction) { self.init(from: copy.from, to: copy.to, path: copy.path) }

    var description: String { "\(path) from \(from) into \(to)" }
}

/// The followers of one executor run. Block & copy's `follow` action starts one per copied
/// subtree; it keeps applying the source's changes while the next steps run (the clients still
/// work on the source), until the `final-catch-up` action stops it: a last full compare, whose
/// length is the copy's share of the block window.
///
/// The followers are child tasks of the run (``serve()`` runs in the run's task group), so none
/// outlives it: a run that pauses, fails or is cancelled ends them without a final catch-up, and
/// the resumed run starts them again. Starting again is safe because a follower begins with a
/// full compare, which writes whatever changed while none ran.
final class CopyFollowers: Sendable {
    private let jobs = Mutex<[FollowKey: FollowJob]>([:])
    private let requests: AsyncStream<FollowJob>.Continuation
    private let started: AsyncStream<FollowJob>
    let eventLoopGroup: any EventLoopGroup
    /// The sessions' timeout: long, so that a server restart on the source does not expire the
    /// follower's session (its watches would go with it and force a full pass).
    let sessionTimeout: Duration

    init(eventLoopGroup: any EventLoopGroup, sessionTimeout: Duration = .seconds(30)) {
        (started, requests) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        self.eventLoopGroup = eventLoopGroup
        self.sessionTimeout = sessionTimeout
    }

    /// Runs the followers until ``finish()``; then cancels those still following.
    func serve() async {
        await withDiscardingTaskGroup { group in
            for await job in started {
                group.addTask { await job.run() }
            }
            group.cancelAll()
        }
    }

    /// No more followers: the run is over. Those still following stop without a final catch-up.
    func finish() {
        requests.finish()
    }

    /// Starts following `key` (or joins the follower already running) and returns the report of
    /// its first full compare once it is done: from then on the source's changes are applied as
    /// they happen.
    func start(_ key: FollowKey, source: String, destination: String, nodeTypes: NodeTypeMap? = nil) async throws -> CopyReport {
        let job = jobs.withLock { jobs in
            if let running = jobs[key], running.initial.failed == false { return running }
            let job = FollowJob(key: key, source: source, destination: destination, nodeTypes: nodeTypes, eventLoopGroup: eventLoopGroup, sessionTimeout: sessionTimeout)
            jobs[key] = job
            requests.yield(job)
            return job
        }
        return try await job.initial.value()
    }

    /// Stops following `key`: the follower runs its final catch-up (a full compare) and reports.
    /// Nil when no follower runs for it.
    func stop(_ key: FollowKey) async throws -> (report: FollowReport, status: FollowStatus)? {
        guard let job = jobs.withLock({ $0[key] }) else { return nil }
        let report = try await job.stop()
        _ = jobs.withLock { $0.removeValue(forKey: key) }
        return (report, job.status)
    }

    /// What the follower of `key` is doing, or nil when none runs.
    func status(_ key: FollowKey) -> FollowStatus? {
        jobs.withLock { $0[key] }?.status
    }
}

/// What a follower is doing, for gates and events.
struct FollowStatus: Sendable, CustomStringConvertible {
    var following: Bool
    var attempts: Int
    var changesApplied: Int
    var lastError: String?

    var description: String {
        var text = following ? "following, \(changesApplied) changes applied" : "first full compare under way"
        if attempts > 1 { text += ", started \(attempts) times" }
        if let lastError { text += " (last error: \(lastError))" }
        return text
    }
}

/// One follower, started again after an error until it is stopped or cancelled.
final class FollowJob: Sendable {
    let key: FollowKey
    let source: String
    let destination: String
    /// Containers and TTL nodes from a source server's files, or nil.
    let nodeTypes: NodeTypeMap?
    let eventLoopGroup: any EventLoopGroup
    let sessionTimeout: Duration
    /// The first full compare's report (of the first attempt that finished one).
    let initial = Promise<CopyReport>()
    /// The report after the final catch-up.
    let final = Promise<FollowReport>()

    private struct State {
        var stopRequested = false
        /// Ends the current attempt's following (nil between attempts).
        var stopCurrent: AsyncStream<Void>.Continuation?
        var status = FollowStatus(following: false, attempts: 0, changesApplied: 0)
    }

    private let state = Mutex(State())
    /// Attempts after a failure that follow a stop request, before the error is reported.
    static let attemptsAfterStop = 3

    init(key: FollowKey, source: String, destination: String, nodeTypes: NodeTypeMap?, eventLoopGroup: any EventLoopGroup, sessionTimeout: Duration) {
        self.key = key
        self.source = source
        self.destination = destination
        self.nodeTypes = nodeTypes
        self.eventLoopGroup = eventLoopGroup
        self.sessionTimeout = sessionTimeout
    }

    var status: FollowStatus { state.withLock { $0.status } }

    func stop() async throws -> FollowReport {
        state.withLock { state in
            state.stopRequested = true
            state.stopCurrent?.yield()
        }
        return try await final.value()
    }

    func run() async {
        var failuresAfterStop = 0
        while !Task.isCancelled {
            state.withLock { $0.status.attempts += 1 }
            do {
                let report = try await followOnce()
                final.resolve(.success(report))
                return
            } catch {
                if Task.isCancelled { break }
                let stopping = state.withLock { state in
                    state.status.following = false
                    state.status.lastError = "\(error)"
                    state.stopCurrent = nil
                    return state.stopRequested
                }
                if initial.result == nil {
                    // The first full compare failed: the follow action reports it (a resumed run
                    // tries again).
                    initial.resolve(.failure(error))
                    final.resolve(.failure(error))
                    return
                }
                if stopping {
                    failuresAfterStop += 1
                    if failuresAfterStop >= Self.attemptsAfterStop {
                        final.resolve(.failure(error))
                        return
                    }
                }
                // Following again begins with a full compare, which covers what this attempt missed.
                try? await Task.sleep(for: .seconds(1))
            }
        }
        initial.resolve(.failure(CancellationError()))
        final.resolve(.failure(CancellationError()))
    }

    private func followOnce() async throws -> FollowReport {
        let from = try await ZooKeeperClient.connect(
            ZooKeeperConfiguration(source, sessionTimeout: sessionTimeout), timeout: .seconds(15), eventLoopGroup: eventLoopGroup)
        let to: ZooKeeperClient
        do {
            to = try await ZooKeeperClient.connect(
                ZooKeeperConfiguration(destination, sessionTimeout: sessionTimeout), timeout: .seconds(15), eventLoopGroup: eventLoopGroup)
        } catch {
            await from.close()
            throw error
        }
        let (stop, stopCurrent) = AsyncStream<Void>.makeStream()
        let stopNow = state.withLock { state in
            state.stopCurrent = stopCurrent
            return state.stopRequested
        }
        if stopNow { stopCurrent.yield() }
        var options = CopyOptions()
        options.nodeTypes = nodeTypes
        let follower = TreeFollower(source: TreeLocation(client: from, root: key.path), destination: TreeLocation(client: to, root: key.path), options: options)
        let result: Result<FollowReport, any Error>
        do {
            result = .success(
                try await follower.run(
                    stop: stop,
                    onChange: { [self] _ in state.withLock { $0.status.changesApplied += 1 } },
                    onInitialCopy: { [self] report in
                        state.withLock { $0.status.following = true }
                        initial.resolve(.success(report))
                    }))
        } catch {
            result = .failure(error)
        }
        await to.close()
        await from.close()
        return try result.get()
    }
}

/// A value delivered once to any number of waiters; a waiting task that is cancelled stops
/// waiting (CancellationError).
final class Promise<Value: Sendable>: Sendable {
    private enum State {
        case pending([UUID: CheckedContinuation<Value, any Error>])
        case resolved(Result<Value, any Error>)
    }

    private let state = Mutex(State.pending([:]))

    init() {}

    /// The value, once resolved.
    var result: Result<Value, any Error>? {
        state.withLock { state in
            if case .resolved(let result) = state { return result }
            return nil
        }
    }

    /// Whether it was resolved with an error.
    var failed: Bool {
        if case .failure? = result { return true }
        return false
    }

    /// Delivers `result` to every waiter; only the first resolution counts.
    func resolve(_ result: Result<Value, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, any Error>] in
            guard case .pending(let waiters) = state else { return [] }
            state = .resolved(result)
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    func value() async throws -> Value {
        let id = UUID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let ready = state.withLock { state -> Result<Value, any Error>? in
                    switch state {
                    case .resolved(let result): return result
                    case .pending(var waiters):
                        if Task.isCancelled { return .failure(CancellationError()) }
                        waiters[id] = continuation
                        state = .pending(waiters)
                        return nil
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Value, any Error>? in
                guard case .pending(var waiters) = state, let waiter = waiters.removeValue(forKey: id) else { return nil }
                state = .pending(waiters)
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
