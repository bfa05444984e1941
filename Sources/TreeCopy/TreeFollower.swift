import Foundation
import Logging
import Probes
import ZooKeeper

public struct FollowReport: Sendable, Codable {
    /// The first full pass, which also armed a data and a child watch on every source node.
    public var initial: CopyReport
    /// Source changes seen while following, and what they caused on the destination.
    public var events = 0
    public var created = 0
    public var updated = 0
    public var deleted = 0
    /// Full passes forced by a lost session (its watches were gone).
    public var resyncs = 0
    /// The final catch-up after the stop request: a full compare that writes only differences.
    /// With clients blocked, this is the block window of a block & copy cutover.
    public var finalCatchUp: CopyReport?
    public var finalCatchUpSeconds = 0.0
}

/// Keeps a destination subtree in sync with a live source (like etcd's make-mirror): a full copy
/// that arms watches, then every change the watches report is applied, until `stop` yields. Then a
/// final catch-up pass — a full comparison that also catches what watches cannot see (ACL changes
/// fire no watch) — whose length is reported: it is the block window of a block & copy cutover.
public struct TreeFollower: Sendable {
    public let source: TreeLocation
    public let destination: TreeLocation
    public let options: CopyOptions
    public let logger: Logger
    let access: DestinationAccess

    public init(source: TreeLocation, destination: TreeLocation, options: CopyOptions = CopyOptions(), logger: Logger = Logger(label: "mitosis.follow")) {
        self.source = source
        self.destination = destination
        self.options = options
        self.logger = logger
        self.access = DestinationAccess(configuration: destination.client.configuration)
    }

    enum Input: Sendable {
        case event(WatchedEvent)
        case expired
        case stop
    }

    /// Follows until `stop` yields a value or finishes; `onChange` hears about each applied change,
    /// `onInitialCopy` about the first full pass once it is done (from then on every change is
    /// applied as it happens). Cancelled, it ends without the final catch-up (CancellationError).
    public func run(
        stop: AsyncStream<Void>, onChange: @escaping @Sendable (String) -> Void = { _ in },
        onInitialCopy: @escaping @Sendable (CopyReport) -> Void = { _ in }
    ) async throws -> FollowReport {
        let events = await source.client.watchEvents()
        let states = await source.client.stateUpdates()
        let (inputs, input) = AsyncStream<Input>.makeStream(bufferingPolicy: .unbounded)
        var watching = options
        watching.watchSource = true
        watching.mirror = true

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events { input.yield(.event(event)) }
            }
            group.addTask {
                for await state in states { if case .expired = state { input.yield(.expired) } }
            }
            group.addTask {
                for await _ in stop { break }
                input.yield(.stop)
            }
            defer { group.cancelAll() }

            var report = FollowReport(initial: try await TreeCopier(source: source, destination: destination, options: watching, logger: logger).run())
            onInitialCopy(report.initial)
            loop: for await next in inputs {
                switch next {
                case .stop:
                    break loop
                case .expired:
                    // The session's watches are gone with it: copy again, arming new ones.
                    report.resyncs += 1
                    onChange("source session expired: full resync")
                    _ = try await TreeCopier(source: source, destination: destination, options: watching, logger: logger).run()
                case .event(let event):
                    report.events += 1
                    try await apply(event, report: &report, options: watching, onChange: onChange)
                }
            }
            input.finish()
            // The stream also ends when the task is cancelled: that is no stop request, and a
            // final catch-up must not run then.
            try Task.checkCancellation()

            let clock = ContinuousClock()
            let began = clock.now
            var final = options
            final.mirror = true
            final.watchSource = false
            report.finalCatchUp = try await TreeCopier(source: source, destination: destination, options: final, logger: logger).run()
            report.finalCatchUpSeconds = (clock.now - began).seconds
            return report
        }
    }

    private func excluded(_ relative: String) -> Bool {
        options.exclude.contains { relative == $0 || relative.hasPrefix($0 + "/") }
    }

    private func apply(_ event: WatchedEvent, report: inout FollowReport, options watching: CopyOptions, onChange: @Sendable (String) -> Void) async throws {
        guard let relative = source.relative(event.path), !excluded(relative) else { return }
        let target = destination.path(relative)
        switch event.type {
        case .nodeDataChanged, .nodeCreated:
            do {
                let (data, stat) = try await source.client.getData(event.path, watch: true)
                if stat.isEphemeral && options.ephemerals == .skip { return }
                let (acl, _) = try await source.client.getACL(event.path)
                if let existing = try? await destination.client.getData(target) {
                    // Data and data version: a setData of the same bytes still counts on the source.
                    var steps = FidelityWrites.versionSteps(
                        path: target, data: data, intermediate: existing.data, from: existing.stat.version, to: options.reproduceDataVersions ? stat.version : 0)
                    if steps.isEmpty && existing.data != data { steps = [.setData(SetDataRequest(path: target, data: data))] }
                    if !steps.isEmpty {
                        try await destination.client.multi(steps)
                        report.updated += 1
                        onChange("updated \(target)")
                    }
                } else {
                    do {
                        try await createNode(target, data: data, acl: acl, version: stat.version)
                        report.created += 1
                        onChange("created \(target)")
                    } catch let error as ZooKeeperError where error.code == .noNode || error.code == .nodeExists {
                        // The parent is not there yet (its child event copies the whole subtree), or a
                        // concurrent event created it: either way nothing to do here.
                    }
                }
            } catch let error as ZooKeeperError where error.code == .noNode {
                try await deleteSubtree(target, report: &report, onChange: onChange)
            }
        case .nodeDeleted:
            try await deleteSubtree(target, report: &report, onChange: onChange)
        case .nodeChildrenChanged:
            let sourceChildren: [String]
            let sourceStat: Stat
            do {
                (sourceChildren, sourceStat) = try await source.client.getChildren(event.path, watch: true)
            } catch let error as ZooKeeperError where error.code == .noNode {
                try await deleteSubtree(target, report: &report, onChange: onChange)
                return
            }
            let destinationChildren = (try? await destination.client.getChildren(target)) ?? []
            let wanted = Set(sourceChildren)
            for name in destinationChildren where !wanted.contains(name) {
                let child = ZooKeeperPath.join(relative, name)
                if excluded(child) { continue }
                try await deleteSubtree(ZooKeeperPath.join(target, name), report: &report, onChange: onChange)
            }
            let present = Set(destinationChildren)
            let fresh = sourceChildren.sorted().filter { !present.contains($0) && !excluded(ZooKeeperPath.join(relative, $0)) }
            try await copyNewChildren(fresh, relative: relative, target: target, report: &report, options: watching, onChange: onChange)
            if options.reproduceSequenceCounters { try await alignSequence(target, sourceStat: sourceStat, onChange: onChange) }
        default:
            break
        }
    }

    /// A new source child as read, its watches armed.
    struct NewChild: Sendable {
        var name: String
        var data: [UInt8]
        var acl: [ACL]
        var stat: Stat
    }

    /// Copies children new on the source: read together (arming their watches), leaves created in
    /// multi transactions, deeper subtrees through the copier. Writers that add a child at a time
    /// make most changes leaves; one copier pass per leaf would fall behind them.
    private func copyNewChildren(
        _ names: [String], relative: String, target: String, report: inout FollowReport, options watching: CopyOptions,
        onChange: @Sendable (String) -> Void
    ) async throws {
        var start = 0
        while start < names.count {
            let chunk = Array(names[start..<min(start + max(1, watching.readConcurrency), names.count)])
            start += chunk.count
            let read = try await withThrowingTaskGroup(of: (Int, NewChild?).self) { group in
                for (index, name) in chunk.enumerated() {
                    let path = source.path(ZooKeeperPath.join(relative, name))
                    let client = source.client
                    group.addTask {
                        do {
                            async let data = client.getData(path, watch: true)
                            async let acl = client.getACL(path)
                            async let children = client.getChildren(path, watch: true)
                            let (bytes, stat) = try await data
                            _ = try await children
                            return (index, NewChild(name: name, data: bytes, acl: try await acl.acl, stat: stat))
                        } catch let error as ZooKeeperError where error.code == .noNode {
                            return (index, nil)  // gone again: the parent's next child event says so
                        }
                    }
                }
                var results = [NewChild?](repeating: nil, count: chunk.count)
                for try await (index, child) in group { results[index] = child }
                return results
            }
            var leaves: [NewChild] = []
            for child in read.compactMap({ $0 }) {
                if child.stat.isEphemeral && options.ephemerals == .skip { continue }
                let needed = DestinationAccess.needed(
                    children: false, nextSuffix: options.reproduceSequenceCounters ? child.stat.nextSequenceSuffix : 0,
                    version: options.reproduceDataVersions ? child.stat.version : 0)
                if child.stat.numChildren == 0 && (needed.isEmpty || (needed == .write && access.grants(child.acl, .write))) {
                    leaves.append(child)
                    continue
                }
                // A subtree (or a leaf with sequence pads, or whose ACL shuts the copier out of
                // carrying its version): the copier copies it, arming watches on it.
                let subtree = watching
                let childRelative = ZooKeeperPath.join(relative, child.name)
                let copied: CopyReport
                do {
                    copied = try await TreeCopier(
                        source: TreeLocation(client: source.client, root: source.path(childRelative)),
                        destination: TreeLocation(client: destination.client, root: ZooKeeperPath.join(target, child.name)),
                        options: subtree, logger: logger
                    ).run()
                } catch let error as ZooKeeperError where error.code == .noNode {
                    // Deleted again before it could be read (e.g. a controller registration that
                    // came and went): the parent's next child event says so. Anything else missing
                    // is a real failure.
                    if try await source.client.exists(source.path(childRelative)) == nil { continue }
                    throw error
                }
                report.created += copied.created
                if copied.created > 0 { onChange("created \(ZooKeeperPath.join(target, child.name)) (\(copied.created) nodes)") }
            }
            try await createLeaves(leaves, under: target, report: &report, options: watching, onChange: onChange)
        }
    }

    private func createLeaves(_ leaves: [NewChild], under target: String, report: inout FollowReport, options: CopyOptions, onChange: @Sendable (String) -> Void) async throws {
        // Each leaf is a create and, to carry its data version, setData steps: kept together.
        var batch: [[MultiOperation]] = []
        var bytes = 0
        func flush() async throws {
            guard !batch.isEmpty else { return }
            defer {
                batch = []
                bytes = 0
            }
            do {
                try await destination.client.multi(batch.flatMap { $0 })
                report.created += batch.count
                for operations in batch { onChange("created \(operations[0].path)") }
            } catch let error as ZooKeeperError where error.code == .nodeExists || error.code == .noNode {
                // One of them is there already (another event made it) or lost its parent (deleted
                // meanwhile, its own event follows): the others one by one.
                for operations in batch {
                    do {
                        try await destination.client.multi(operations)
                        report.created += 1
                        onChange("created \(operations[0].path)")
                    } catch let error as ZooKeeperError where error.code == .nodeExists || error.code == .noNode {}
                }
            }
        }
        for leaf in leaves {
            let operations = Self.creation(
                ZooKeeperPath.join(target, leaf.name), data: leaf.data, acl: leaf.acl, kind: leaf.stat.kind,
                version: options.reproduceDataVersions ? leaf.stat.version : 0)
            let size = (leaf.data.count + leaf.name.utf8.count + target.utf8.count + 96) * operations.count
            if !batch.isEmpty && (bytes + size > options.batchBytes || batch.count >= options.batchOperations) { try await flush() }
            batch.append(operations)
            bytes += size
        }
        try await flush()
    }

    /// The create of a node and the setData steps that carry its data version.
    static func creation(_ path: String, data: [UInt8], acl: [ACL], kind: NodeKind, version: Int32, temporaryACL: [ACL]? = nil) -> [MultiOperation] {
        var mode = CreateMode.persistent
        switch kind {
        case .container: mode = .container
        case .ttl(let milliseconds): mode = .persistentWithTTL(.milliseconds(milliseconds))
        case .persistent, .ephemeral: break
        }
        let steps = FidelityWrites.versionSteps(path: path, data: data, intermediate: [], from: 0, to: version)
        let create = CreateRequest(path: path, data: steps.isEmpty ? data : [], acl: temporaryACL ?? (acl.isEmpty ? ACL.openUnsafe : acl), mode: mode)
        return [.create(create)] + steps
    }

    /// Creates a node with its data version; under a temporary ACL first where the real one
    /// would shut the copier out of the version steps.
    private func createNode(_ path: String, data: [UInt8], acl: [ACL], version: Int32) async throws {
        let version = options.reproduceDataVersions ? version : 0
        let deferACL = version > 0 && !access.grants(acl, .write)
        try await destination.client.multi(Self.creation(path, data: data, acl: acl, kind: .persistent, version: version, temporaryACL: deferACL ? access.temporary(acl) : nil))
        if deferACL { _ = try await destination.client.setACL(path, acl: acl) }
    }

    /// Raises the destination parent's next sequential suffix to the source's (ephemeral children
    /// that were skipped, children created and deleted before the follower saw them).
    private func alignSequence(_ target: String, sourceStat: Stat, onChange: @Sendable (String) -> Void) async throws {
        do {
            guard let current = try await destination.client.exists(target) else { return }
            let missing = sourceStat.nextSequenceSuffix - current.nextSequenceSuffix
            guard missing > 0 else { return }
            let children = try await destination.client.getChildren(target)
            try await destination.client.multi(FidelityWrites.sequencePads(parent: target, avoiding: children, count: missing))
            onChange("raised the next sequential suffix of \(target) to \(sourceStat.nextSequenceSuffix)")
        } catch let error as ZooKeeperError where error.code == .noNode || error.code == .nodeExists || error.code == .noAuth {
            // Gone meanwhile, a pad name taken, or a parent whose ACL shuts the copier out: the
            // final catch-up compares every parent again and says what it could not raise.
        }
    }

    private func deleteSubtree(_ path: String, report: inout FollowReport, onChange: @Sendable (String) -> Void) async throws {
        for node in try await destination.client.deleteRecursively(path) {
            report.deleted += 1
            onChange("deleted \(node)")
        }
    }
}
