import DequeModule
import Foundation
import Logging
import Probes
import ZooKeeper

/// What to do with ephemeral nodes of the source, which belong to live sessions there.
public enum EphemeralPolicy: String, Sendable, Codable, CaseIterable {
    /// Leave them out (the default: a copied broker registration would outlive its broker).
    case skip
    /// Copy them as persistent nodes.
    case persist
}

public struct CopyOptions: Sendable {
    /// Only write nodes created or modified after this mtime (ms since 1970); nil copies everything.
    public var sinceMtime: Int64?
    public var ephemerals: EphemeralPolicy = .skip
    /// Delete destination nodes that the source does not have.
    public var mirror = false
    /// Compute what would be written, write nothing.
    public var dryRun = false
    /// Make each parent's next sequential suffix equal the source's (never lower): scratch children
    /// created and deleted raise it where the destination created fewer children.
    public var reproduceSequenceCounters = true
    /// Make each node's data version equal the source's (never lower): repeated `setData` in the
    /// same multi transactions. Applications keep counters in versions and write conditionally.
    public var reproduceDataVersions = true
    /// Upper bound of one multi transaction, in encoded bytes (keep below `jute.maxbuffer`).
    public var batchBytes = 512 * 1024
    /// Upper bound of operations in one multi transaction.
    public var batchOperations = 1000
    /// Multi transactions in flight at once.
    public var batchesInFlight = 8
    /// Children read as one chunk (their reads are in flight at once); also the destination's.
    public var readConcurrency = 128
    /// Chunks whose reads are started before the copy reaches them, so the source keeps serving
    /// while the copier writes (and, in the benchmark tree, while it moves to the next directory).
    /// Memory holds at most this many chunks more.
    public var readAheadChunks = 4
    /// Read data and stats of up to `readsPerRequest` siblings per `multiRead` request where the
    /// server supports it (3.6+; checked once per run, otherwise node by node). Never with
    /// `watchSource`: multiRead sets no watches.
    public var useMultiRead = true
    /// Reads per `multiRead`. The reply holds all their data: keep this times the largest node
    /// (`jute.maxbuffer`, 1 MB by default) under the client's `maximumResponseSize` (64 MB).
    public var readsPerRequest = 32
    /// Sessions reading the source's chunks: one per server of its connection string, up to this
    /// many, each chunk through one of them after a `sync` (so a child listed by one server is
    /// there on another). A server answers one session's requests one after another; several
    /// sessions keep several servers reading, which pays where the servers have cores of their
    /// own. 1 (the default: on the 2-core benchmark machine, with all six servers on it, three
    /// sessions copied at about half the rate of one — see BENCHMARKS.md), a one-server
    /// connection string or `watchSource` reads through the source client alone.
    public var readSessions = 1
    /// Containers and TTL nodes, read from a source server's snapshot and transaction logs
    /// (`ServerDataFiles`). Without them such nodes are copied as persistent: the client protocol
    /// shows them so.
    public var nodeTypes: NodeTypeMap?
    /// Set a data and a child watch on every source node read (for `TreeFollower`), so changes made
    /// after a node was read are reported on the source client's `watchEvents()`.
    public var watchSource = false
    /// Relative paths whose subtrees are not copied ("/zookeeper" always).
    public var exclude: Set<String> = ["/zookeeper"]

    public init() {}
}

public struct CopyProgress: Sendable, Codable {
    public var visited: Int
    public var written: Int
    public var bytes: Int
    public var seconds: Double
    public var nodesPerSecond: Double { seconds > 0 ? Double(visited) / seconds : 0 }
}

public struct CopyReport: Sendable, Codable {
    public var visited = 0
    public var created = 0
    public var dataUpdated = 0
    public var aclsUpdated = 0
    public var deleted = 0
    public var ephemeralsSkipped = 0
    public var unchanged = 0
    public var bytes = 0
    public var transactions = 0
    public var sequencePads = 0
    /// `setData` steps written to bring data versions up to the source's.
    public var versionSteps = 0
    /// ACLs that shut the copier out, applied after their subtrees were written.
    public var aclsDeferred = 0
    /// The highest mtime seen on the source: pass it as `sinceMtime` to the next catch-up pass.
    public var highestMtime: Int64 = 0
    public var seconds = 0.0
    public var dryRun = false
    /// How the source was read: "multiRead" (many siblings per request) or "per-node".
    public var sourceReads = "per-node"
    /// Things the copy could not make identical, each naming the node.
    public var warnings: [String] = []
    /// Nodes that look persistent and are newer than the server files the node types came from.
    public var nodeTypesUnknown = 0
    /// Containers and TTL nodes the server files named (nil: no files were read).
    public var nodeTypesRead: String?
}

/// Copies a subtree from one ensemble to another: streaming (memory grows with depth and fan-out,
/// not with the tree), reads pipelined, writes batched into multi transactions with several in
/// flight, parents before children. Faithful: data, ACLs, container and TTL nodes, and each
/// parent's sequence counter. Writes are idempotent (create what is missing, update what differs),
/// so running the same copy again after a failure finishes the job.
public struct TreeCopier: Sendable {
    public let source: TreeLocation
    public let destination: TreeLocation
    public let options: CopyOptions
    public let logger: Logger

    public init(source: TreeLocation, destination: TreeLocation, options: CopyOptions = CopyOptions(), logger: Logger = Logger(label: "mitosis.copy")) {
        self.source = source
        self.destination = destination
        self.options = options
        self.logger = logger
    }

    /// A source node as read.
    struct SourceNode: Sendable {
        var name: String
        var stat: Stat
        var children: [String]
        var data: [UInt8]?
        var acl: [ACL]?

        /// The node without its data and ACL: what a directory still to visit needs to keep.
        var withoutContent: SourceNode {
            var node = self
            node.data = nil
            node.acl = nil
            return node
        }
    }

    /// A destination node as read (nil when absent).
    struct DestinationNode: Sendable {
        var data: [UInt8]
        var stat: Stat
        var acl: [ACL]
    }

    /// A directory still to visit: its relative path, the source node (stat and child names; its
    /// data and ACL are dropped once written), and whether its destination counterpart was created
    /// by this copy (then none of its children can exist there yet).
    struct Frame: Sendable {
        var id: Int
        var relative: String
        var node: SourceNode
        var fresh: Bool
        /// The child names to visit, sorted, without excluded paths.
        var names: [String]
    }

    /// Up to `readConcurrency` children of one directory: the unit of reading ahead.
    struct Chunk: Sendable {
        var id: Int
        var frame: Frame
        var names: ArraySlice<String>
        var isFirst: Bool
        var isLast: Bool
    }

    /// How each side is read, decided once per run.
    struct ReadPlan: Sendable {
        var sourceInBulk: Bool
        var destinationInBulk: Bool
        /// Sessions that take turns reading chunks; empty: the source client reads them all.
        var readers: [ZooKeeperClient]
    }

    typealias ChunkReads = [(SourceNode?, DestinationNode?)]

    public func run(progress: @escaping @Sendable (CopyProgress) -> Void = { _ in }) async throws -> CopyReport {
        let readers = try await openReaders()
        do {
            let report = try await copy(readers: readers, progress: progress)
            for reader in readers { await reader.close() }
            return report
        } catch {
            for reader in readers { await reader.close() }
            throw error
        }
    }

    /// Sessions to each server of the source's connection string (see `readSessions`), with the
    /// source client's chroot, credentials and event loop; none when the source client reads
    /// alone. A server that does not answer is left out.
    private func openReaders() async throws -> [ZooKeeperClient] {
        let configuration = source.client.configuration
        let servers = configuration.connectionString.servers
        guard options.readSessions > 1, !options.watchSource, servers.count > 1 else { return [] }
        var readers: [ZooKeeperClient] = []
        for server in servers.prefix(options.readSessions) {
            var single = configuration
            single.connectionString = ConnectionString(servers: [server], chroot: configuration.connectionString.chroot)
            do {
                readers.append(try await ZooKeeperClient.connect(single, timeout: .seconds(5), eventLoopGroup: source.client.eventLoop))
            } catch {
                logger.warning("reading the source without \(server): \(error)")
            }
        }
        if readers.count < 2 {
            for reader in readers { await reader.close() }
            return []
        }
        return readers
    }

    private func copy(readers openReaders: [ZooKeeperClient], progress: @escaping @Sendable (CopyProgress) -> Void) async throws -> CopyReport {
        let clock = ContinuousClock()
        let began = clock.now
        var state = RunState(options: options, clock: clock, began: began, progress: progress)
        let writer = BatchWriter(client: destination.client, options: options)

        // multiRead sets no watches, and the follower needs one on every node it reads.
        let sourceInBulk = options.watchSource ? false : try await supportsMultiRead(source)
        // Readers read like the source client: a server of another version (mid-upgrade) is left out.
        var readers: [ZooKeeperClient] = []
        for reader in openReaders {
            // A refused reader is being disconnected: it is only closed at the end, never used.
            if sourceInBulk, !(try await answersMultiRead(reader, root: source.root)) { continue }
            readers.append(reader)
        }
        if readers.count < 2 { readers = [] }
        let plan = ReadPlan(sourceInBulk: sourceInBulk, destinationInBulk: try await supportsMultiRead(destination), readers: readers)
        state.report.sourceReads = (plan.sourceInBulk ? "multiRead" : "per-node") + (readers.isEmpty ? "" : " × \(readers.count) sessions")
        try await ensureAncestors(of: destination.root, writer: writer)
        let access = DestinationAccess(configuration: destination.client.configuration)

        guard let root = try await readSource(relative: "/", name: "", needContent: true) else {
            throw ZooKeeperError(.noNode, path: source.root, message: "the source root does not exist")
        }
        let rootDestination = try await readDestination(relative: "/")
        // Existing parents whose next sequential suffix may not match the source's after the writes.
        var fixups: [(relative: String, target: Int)] = []
        var fixupPaths = Set<String>()
        func fixup(_ relative: String, _ target: Int) {
            guard options.reproduceSequenceCounters, fixupPaths.insert(relative).inserted else { return }
            fixups.append((relative, target))
        }
        try apply(relative: "/", node: root, existing: rootDestination, parentFresh: false, access: access, state: &state, writer: writer)
        if let rootDestination, rootDestination.stat.nextSequenceSuffix != root.stat.nextSequenceSuffix { fixup("/", root.stat.nextSequenceSuffix) }

        // Depth first over chunks: the last pushed is visited next. A directory's chunks are pushed
        // in reverse so they come in name order; its subdirectories, pushed as each chunk is
        // written, come before its remaining chunks (their parent exists by then).
        var stack: [Chunk] = []
        var nextID = 0
        var createdChildren: [Int: Int] = [:]
        func push(relative: String, node: SourceNode, fresh: Bool) {
            nextID += 1
            let names = node.children.sorted().filter { !options.exclude.contains(ZooKeeperPath.join(relative, $0)) }
            let frame = Frame(id: nextID, relative: relative, node: node.withoutContent, fresh: fresh, names: names)
            let size = max(1, options.readConcurrency)
            let starts = Array(stride(from: 0, to: max(1, names.count), by: size))
            for (index, start) in starts.enumerated().reversed() {
                nextID += 1
                let slice = names[min(start, names.count)..<min(start + size, names.count)]
                stack.append(Chunk(id: nextID, frame: frame, names: slice, isFirst: index == 0, isLast: index == starts.count - 1))
            }
        }
        push(relative: "/", node: root, fresh: rootDestination == nil)

        try await withThrowingTaskGroup(of: (Int, ChunkReads).self) { group in
            var started = Set<Int>()  // read or being read, not yet written
            var ready: [Int: ChunkReads] = [:]
            func start(_ chunk: Chunk) {
                started.insert(chunk.id)
                group.addTask { (chunk.id, try await read(chunk, plan: plan)) }
            }
            while let chunk = stack.popLast() {
                if !started.contains(chunk.id) { start(chunk) }
                for ahead in stack.suffix(options.readAheadChunks).reversed() where started.count <= options.readAheadChunks && !started.contains(ahead.id) {
                    start(ahead)
                }
                let frame = chunk.frame
                if chunk.isFirst && options.mirror && !frame.fresh {
                    try await mirrorDeletes(relative: frame.relative, keep: Set(frame.names), state: &state, writer: writer)
                }
                var reads = ready.removeValue(forKey: chunk.id)
                while reads == nil {
                    guard let (id, result) = try await group.next() else { break }
                    if id == chunk.id { reads = result } else { ready[id] = result }
                }
                started.remove(chunk.id)
                guard let reads else { throw ZooKeeperError(.systemError, path: source.path(frame.relative), message: "the copier lost track of a read (a bug)") }

                var created = 0
                var next: [(relative: String, node: SourceNode, fresh: Bool)] = []
                for (child, existing) in reads {
                    guard let child else { continue }  // deleted on the source while we copied
                    let relative = ZooKeeperPath.join(frame.relative, child.name)
                    let written = try apply(relative: relative, node: child, existing: existing, parentFresh: frame.fresh, access: access, state: &state, writer: writer)
                    if written == .created { created += 1 }
                    if written == .skipped { continue }
                    if let existing, existing.stat.nextSequenceSuffix != child.stat.nextSequenceSuffix {
                        fixup(relative, child.stat.nextSequenceSuffix)
                    }
                    if !child.children.isEmpty || (options.mirror && (existing?.stat.numChildren ?? 0) > 0) {
                        next.append((relative, child, written == .created))
                    } else if written == .created, options.reproduceSequenceCounters {
                        try pad(relative: relative, node: child, createdChildren: 0, state: &state, writer: writer)
                    }
                }
                try await writer.drainIfFull()
                state.tick(writer: writer)
                let createdSoFar = (createdChildren.removeValue(forKey: frame.id) ?? 0) + created
                if chunk.isLast {
                    if frame.fresh && options.reproduceSequenceCounters {
                        try pad(relative: frame.relative, node: frame.node, createdChildren: createdSoFar, state: &state, writer: writer)
                    } else if createdSoFar > 0 {
                        // Children created under an existing parent raised its suffix: check it after the writes.
                        fixup(frame.relative, frame.node.stat.nextSequenceSuffix)
                    }
                } else {
                    createdChildren[frame.id] = createdSoFar
                }
                for directory in next.reversed() { push(relative: directory.relative, node: directory.node, fresh: directory.fresh) }
            }
        }
        try writer.flush()
        try await writer.drainAll()

        if options.reproduceSequenceCounters && !options.dryRun {
            for (relative, target) in fixups {
                try await fixSequence(relative: relative, target: target, state: &state, writer: writer)
            }
            try writer.flush()
            try await writer.drainAll()
        }
        // Last, the ACLs that shut the copier out: everything under them is written by now.
        for (path, acl) in state.deferredACLs {
            try writer.setACL(path, acl: acl)
            try await writer.drainIfFull()
        }
        try await writer.drainAll()
        state.report.transactions = writer.transactions
        state.report.seconds = (clock.now - began).seconds
        state.report.nodeTypesRead = options.nodeTypes.map { "containers: \($0.containers), TTL nodes: \($0.ttlNodes), read from \($0.origin) through zxid \($0.zxid)" }
        state.report.dryRun = options.dryRun
        progress(state.progress(writer: writer))
        return state.report
    }

    // MARK: Reading

    /// Whether the location's servers answer `multiRead` (3.6+), asked once with the root's data.
    /// Older servers refuse it and then close the connection, so the question is asked through a
    /// session of its own (same servers, chroot and credentials), never the one the copy uses.
    private func supportsMultiRead(_ location: TreeLocation) async throws -> Bool {
        guard options.useMultiRead else { return false }
        let probe = try await ZooKeeperClient.connect(location.client.configuration, eventLoopGroup: location.client.eventLoop)
        let supported = try await answersMultiRead(probe, root: location.root)
        await probe.close()
        return supported
    }

    /// Whether `client`'s server answers `multiRead`; after a refusal `client` is being disconnected.
    private func answersMultiRead(_ client: ZooKeeperClient, root: String) async throws -> Bool {
        do {
            _ = try await client.multiRead([.getData(path: root)])  // a missing root is a per-read result
            return true
        } catch let error as ZooKeeperError where error.code == .unsupportedByServer {
            logger.info("the server does not support multiRead: reading node by node", metadata: ["root": "\(root)", "server": "\(error.server ?? "?")"])
            return false
        }
    }

    private func read(_ chunk: Chunk, plan: ReadPlan) async throws -> ChunkReads {
        if chunk.names.isEmpty { return [] }
        var client = source.client
        if !plan.readers.isEmpty {
            client = plan.readers[chunk.id % plan.readers.count]
            // The chunk's names were listed through another session, maybe another server: this
            // one catches up with the leader first, so a listed child is not taken for deleted.
            try await client.sync(source.path(chunk.frame.relative))
        }
        if plan.sourceInBulk {
            return try await readChildrenInBulk(of: chunk.frame, names: Array(chunk.names), client: client, destinationInBulk: plan.destinationInBulk)
        }
        return try await readChildren(of: chunk.frame, names: Array(chunk.names), client: client)
    }

    private func readSource(relative: String, name: String, needContent: Bool, client: ZooKeeperClient? = nil) async throws -> SourceNode? {
        let path = source.path(relative)
        let client = client ?? source.client
        do {
            let watch = options.watchSource
            if needContent {
                async let data = client.getData(path, watch: watch)
                async let acl = client.getACL(path)
                let (bytes, stat) = try await data
                // Leaves are most of a tree: skip their child listing unless a child watch is
                // wanted (the follower must hear about children created later).
                let children = stat.numChildren > 0 || watch ? try await client.getChildren(path, watch: watch).children : []
                return SourceNode(name: name, stat: stat, children: children, data: bytes, acl: try await acl.acl)
            }
            let (children, stat) = try await client.getChildren(path, watch: watch)
            return SourceNode(name: name, stat: stat, children: children)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// Reads data and ACL of a node first read without them.
    private func completeSource(_ node: SourceNode, relative: String, client: ZooKeeperClient) async throws -> SourceNode? {
        let path = source.path(relative)
        do {
            async let data = client.getData(path, watch: options.watchSource)
            async let acl = client.getACL(path)
            var node = node
            let (bytes, stat) = try await data
            node.data = bytes
            node.stat = stat
            node.acl = try await acl.acl
            return node
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    private func readDestination(relative: String) async throws -> DestinationNode? {
        let path = destination.path(relative)
        do {
            async let data = destination.client.getData(path)
            async let acl = destination.client.getACL(path)
            let (bytes, stat) = try await data
            return DestinationNode(data: bytes, stat: stat, acl: try await acl.acl)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// Reads a chunk of children on both sides at once, node by node, in name order.
    private func readChildren(of frame: Frame, names: [String], client: ZooKeeperClient) async throws -> ChunkReads {
        let since = options.sinceMtime
        return try await withThrowingTaskGroup(of: (Int, SourceNode?, DestinationNode?).self) { group in
            for (index, name) in names.enumerated() {
                let relative = ZooKeeperPath.join(frame.relative, name)
                group.addTask {
                    // Without --since every node is written or compared: read everything at once.
                    // With --since, read the stat first and the content only for changed nodes.
                    guard var node = try await readSource(relative: relative, name: name, needContent: since == nil, client: client) else {
                        return (index, nil, nil)
                    }
                    let changed = since.map { frame.fresh || node.stat.mtime > $0 || node.stat.ctime > $0 } ?? true
                    if !changed { return (index, node, nil) }
                    if node.data == nil {
                        guard let complete = try await completeSource(node, relative: relative, client: client) else { return (index, nil, nil) }
                        node = complete
                    }
                    let existing = frame.fresh ? nil : try await readDestination(relative: relative)
                    return (index, node, existing)
                }
            }
            var results = ChunkReads(repeating: (nil, nil), count: names.count)
            for try await (index, node, existing) in group { results[index] = (node, existing) }
            return results
        }
    }

    /// Reads a chunk of children with `multiRead`: data and stats `readsPerRequest` siblings per
    /// request, child lists of the subdirectories likewise; ACLs node by node (there is no bulk
    /// ACL read). Without --since, ACLs and the destination are read together with the data; with
    /// it, only for nodes changed since then.
    private func readChildrenInBulk(of frame: Frame, names: [String], client: ZooKeeperClient, destinationInBulk: Bool) async throws -> ChunkReads {
        let relatives = names.map { ZooKeeperPath.join(frame.relative, $0) }
        let sourcePaths = relatives.map { source.path($0) }
        let since = options.sinceMtime
        let eager = since == nil
        async let eagerACLs = eager ? readACLs(client, sourcePaths) : []
        async let eagerDestinations = eager && !frame.fresh ? readDestinations(relatives, inBulk: destinationInBulk) : []
        let contents = try await readInBulk(client, sourcePaths.map { .getData(path: $0) })

        var nodes: [SourceNode?] = contents.enumerated().map { index, result in
            guard case .data(let data, let stat) = result else { return nil }
            return SourceNode(name: names[index], stat: stat, children: [], data: data, acl: nil)
        }
        let changed: [Bool] = nodes.map { node in
            guard let node else { return false }
            return since.map { frame.fresh || node.stat.mtime > $0 || node.stat.ctime > $0 } ?? true
        }
        let directories = nodes.indices.filter { (nodes[$0]?.stat.numChildren ?? 0) > 0 }
        async let listings = readInBulk(client, directories.map { .getChildren(path: sourcePaths[$0]) })

        var acls = [[ACL]?](repeating: nil, count: names.count)
        var existing = [DestinationNode?](repeating: nil, count: names.count)
        if eager {
            acls = try await eagerACLs
            if !frame.fresh { existing = try await eagerDestinations }
        } else {
            let wanted = nodes.indices.filter { changed[$0] }
            async let lateACLs = readACLs(client, wanted.map { sourcePaths[$0] })
            async let lateDestinations = frame.fresh ? [] : readDestinations(wanted.map { relatives[$0] }, inBulk: destinationInBulk)
            for (position, acl) in try await lateACLs.enumerated() { acls[wanted[position]] = acl }
            if !frame.fresh {
                for (position, node) in try await lateDestinations.enumerated() { existing[wanted[position]] = node }
            }
        }
        for (position, listing) in try await listings.enumerated() {
            guard case .children(let children) = listing else {
                nodes[directories[position]] = nil  // deleted while we read it
                continue
            }
            nodes[directories[position]]?.children = children
        }
        var results = ChunkReads()
        results.reserveCapacity(names.count)
        for index in nodes.indices {
            guard var node = nodes[index] else {
                results.append((nil, nil))
                continue
            }
            if !changed[index] {
                // Unchanged since the last pass: no content, so it is not written; its children are visited.
                node.data = nil
                results.append((node, nil))
                continue
            }
            guard let acl = acls[index] else {
                results.append((nil, nil))  // deleted between its data and its ACL
                continue
            }
            node.acl = acl
            results.append((node, existing[index]))
        }
        return results
    }

    /// The results of `operations`, `readsPerRequest` per `multiRead`, all requests in flight at
    /// once. A missing node is `.failed(.noNode)`; any other failed read throws, naming its node.
    private func readInBulk(_ client: ZooKeeperClient, _ operations: [ReadOperation]) async throws -> [ReadResult] {
        if operations.isEmpty { return [] }
        let size = max(1, options.readsPerRequest)
        let results = try await withThrowingTaskGroup(of: (Int, [ReadResult]).self) { group in
            for start in stride(from: 0, to: operations.count, by: size) {
                let batch = Array(operations[start..<min(start + size, operations.count)])
                group.addTask { (start, try await client.multiRead(batch)) }
            }
            var results = [ReadResult](repeating: .failed(.noNode), count: operations.count)
            for try await (start, batch) in group { results.replaceSubrange(start..<start + batch.count, with: batch) }
            return results
        }
        for (index, result) in results.enumerated() {
            if let code = result.error, code != .noNode {
                throw ZooKeeperError(code, path: operations[index].path, message: "reading it (\(operations[index].opCode)) in a multiRead failed")
            }
        }
        return results
    }

    /// The ACL of each path, nil where the node does not exist; all in flight at once.
    private func readACLs(_ client: ZooKeeperClient, _ paths: [String]) async throws -> [[ACL]?] {
        try await withThrowingTaskGroup(of: (Int, [ACL]?).self) { group in
            for (index, path) in paths.enumerated() {
                group.addTask {
                    do {
                        return (index, try await client.getACL(path).acl)
                    } catch let error as ZooKeeperError where error.code == .noNode {
                        return (index, nil)
                    }
                }
            }
            var acls = [[ACL]?](repeating: nil, count: paths.count)
            for try await (index, acl) in group { acls[index] = acl }
            return acls
        }
    }

    /// The destination counterparts of relative paths (nil where absent).
    private func readDestinations(_ relatives: [String], inBulk: Bool) async throws -> [DestinationNode?] {
        guard inBulk else {
            return try await withThrowingTaskGroup(of: (Int, DestinationNode?).self) { group in
                for (index, relative) in relatives.enumerated() {
                    group.addTask { (index, try await readDestination(relative: relative)) }
                }
                var nodes = [DestinationNode?](repeating: nil, count: relatives.count)
                for try await (index, node) in group { nodes[index] = node }
                return nodes
            }
        }
        let paths = relatives.map { destination.path($0) }
        async let acls = readACLs(destination.client, paths)
        let contents = try await readInBulk(destination.client, paths.map { .getData(path: $0) })
        return zip(contents, try await acls).map { content, acl in
            guard case .data(let data, let stat) = content, let acl else { return nil }
            return DestinationNode(data: data, stat: stat, acl: acl)
        }
    }

    // MARK: Writing

    /// A node's kind: from its stat, or for what the stat shows as persistent, from the source
    /// server's own files where the options carry them (containers and TTL nodes look persistent
    /// to clients). A node newer than those files is copied as its stat says, with a warning.
    private func kind(of node: SourceNode, at relative: String, state: inout RunState) -> NodeKind {
        guard node.stat.kind == .persistent, let types = options.nodeTypes else { return node.stat.kind }
        if let kind = types.kind(of: source.path(relative)) { return kind }
        if UInt64(bitPattern: node.stat.czxid.rawValue) > UInt64(bitPattern: types.zxid.rawValue) {
            state.report.nodeTypesUnknown += 1
            if state.report.nodeTypesUnknown <= 5 {
                state.report.warnings.append("\(source.path(relative)) was created (zxid \(node.stat.czxid)) after the newest transaction in \(types.origin) (\(types.zxid)): copied as persistent; if it is a container or TTL node, copy it again once the server has logged it")
            }
        }
        return .persistent
    }

    enum Written { case created, updated, unchanged, skipped }

    @discardableResult
    private func apply(relative: String, node: SourceNode, existing: DestinationNode?, parentFresh: Bool, access: DestinationAccess, state: inout RunState, writer: BatchWriter) throws -> Written {
        state.report.visited += 1
        state.report.highestMtime = max(state.report.highestMtime, node.stat.mtime)
        let path = destination.path(relative)
        var mode = CreateMode.persistent
        switch kind(of: node, at: relative, state: &state) {
        case .ephemeral:
            if options.ephemerals == .skip {
                state.report.ephemeralsSkipped += 1
                return .skipped
            }
        case .container: mode = .container
        case .ttl(let milliseconds): mode = .persistentWithTTL(.milliseconds(milliseconds))
        case .persistent: break
        }
        if let acl = node.acl, let hidden = acl.first(where: { $0.identity.scheme == "digest" && $0.identity.id.hasSuffix(":x") }) {
            // The server masked the digest (CVE-2019-0201): copying it would lock everyone out.
            throw ZooKeeperError(.noAuth, path: source.path(relative), message: "the source hides the digest of \(hidden.identity.id.dropLast(2)) from this session; authenticate on the source (--source-auth) as an identity with ADMIN permission on the node, or as the super user")
        }
        guard let data = node.data, let acl = node.acl else {
            // Unchanged since the last pass (--since): nothing to write, but its children are visited.
            state.report.unchanged += 1
            return .unchanged
        }
        let targetVersion = options.reproduceDataVersions ? node.stat.version : 0
        // A node whose ACL shuts the copier out of what it still has to do there (its children,
        // sequence pads, version steps) is written under a temporary ACL; the real one comes last.
        let needed = DestinationAccess.needed(
            children: !node.children.isEmpty, nextSuffix: options.reproduceSequenceCounters ? node.stat.nextSequenceSuffix : 0, version: targetVersion)
        let deferACL = !access.grants(acl, needed)
        guard let existing else {
            let finalACL = acl.isEmpty ? ACL.openUnsafe : acl
            let steps = FidelityWrites.versionSteps(path: path, data: data, intermediate: [], from: 0, to: targetVersion)
            let initial = steps.isEmpty ? data : []
            try writer.add(.create(CreateRequest(path: path, data: initial, acl: deferACL ? access.temporary(finalACL) : finalACL, mode: mode)), bytes: initial.count)
            try addVersionSteps(steps, extra: steps.count, state: &state, writer: writer)
            if deferACL { state.deferACL(path, finalACL) }
            state.report.created += 1
            state.report.bytes += data.count
            return .created
        }
        var written = Written.unchanged
        var steps = FidelityWrites.versionSteps(path: path, data: data, intermediate: existing.data, from: existing.stat.version, to: targetVersion)
        if steps.isEmpty && existing.data != data { steps = [.setData(SetDataRequest(path: path, data: data))] }
        if !steps.isEmpty {
            let changesData = existing.data != data
            if changesData {
                state.report.dataUpdated += 1
                state.report.bytes += data.count
            }
            try addVersionSteps(steps, extra: steps.count - (changesData ? 1 : 0), state: &state, writer: writer)
            written = .updated
        }
        if options.reproduceDataVersions && existing.stat.version + Int32(steps.count) > node.stat.version {
            state.report.warnings.append("\(path): the destination's data version \(existing.stat.version + Int32(steps.count)) is past the source's \(node.stat.version) (it was written there since); conditional writes expecting the source's version will fail there")
        }
        if existing.acl != acl && !acl.isEmpty {
            if deferACL {
                state.deferACL(path, acl)
            } else {
                try writer.setACL(path, acl: acl)
            }
            state.report.aclsUpdated += 1
            written = .updated
        }
        if existing.stat.kind != node.stat.kind && !(existing.stat.kind == .persistent && node.stat.isEphemeral) {
            state.report.warnings.append("\(path): the destination node is \(existing.stat.kind), the source \(node.stat.kind); delete it on the destination to copy it again")
        }
        if written == .unchanged { state.report.unchanged += 1 }
        return written
    }

    /// Queues `setData` steps; `extra` of them are there only for the version.
    private func addVersionSteps(_ steps: [MultiOperation], extra: Int, state: inout RunState, writer: BatchWriter) throws {
        for step in steps {
            guard case .setData(let request) = step else { continue }
            try writer.add(step, bytes: request.data.count)
        }
        state.report.versionSteps += extra
    }

    /// Creates and deletes a scratch child until the parent's next sequential suffix on the
    /// destination (the children it created there) reaches the source's, so the next sequential
    /// child gets the same suffix on both sides.
    private func pad(relative: String, node: SourceNode, createdChildren: Int, state: inout RunState, writer: BatchWriter) throws {
        let missing = node.stat.nextSequenceSuffix - createdChildren
        for operation in FidelityWrites.sequencePads(parent: destination.path(relative), avoiding: node.children, count: missing) {
            try writer.add(operation, bytes: 0)
        }
        state.report.sequencePads += max(0, missing)
    }

    /// Brings an existing parent's next sequential suffix up to the source's `target`, after the
    /// copy's own writes under it.
    private func fixSequence(relative: String, target: Int, state: inout RunState, writer: BatchWriter) async throws {
        let path = destination.path(relative)
        guard let current = try await destination.client.exists(path) else { return }
        let missing = target - current.nextSequenceSuffix
        if missing < 0 {
            state.report.warnings.append("\(path): the destination's next sequential suffix \(current.nextSequenceSuffix) is already past the source's \(target); sequential children will get higher suffixes there (never one the source handed out)")
            return
        }
        guard missing > 0 else { return }
        let children = try await destination.client.getChildren(path)
        try pad(relative: relative, node: SourceNode(name: "", stat: Stat(cversion: Int32(2 * missing)), children: children), createdChildren: 0, state: &state, writer: writer)
    }

    /// Deletes destination children the source does not have (with their subtrees, deepest first).
    private func mirrorDeletes(relative: String, keep: Set<String>, state: inout RunState, writer: BatchWriter) async throws {
        let path = destination.path(relative)
        let existing: [String]
        do {
            existing = try await destination.client.getChildren(path)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return
        }
        for name in existing.sorted() where !keep.contains(name) {
            let child = ZooKeeperPath.join(relative, name)
            if options.exclude.contains(child) { continue }
            for node in try await destination.client.subtree(destination.path(child)).reversed() {
                try writer.add(.delete(DeleteRequest(path: node)), bytes: 0)
                state.report.deleted += 1
            }
        }
    }

    private func ensureAncestors(of root: String, writer: BatchWriter) async throws {
        guard root != "/" else { return }
        var prefix = ""
        for segment in ZooKeeperPath.parent(of: root).split(separator: "/") {
            prefix += "/" + segment
            if options.dryRun { continue }
            do {
                try await destination.client.create(prefix)
            } catch let error as ZooKeeperError where error.code == .nodeExists {}
        }
    }
}

/// Counters and progress pacing for one run.
struct RunState {
    var report = CopyReport()
    /// Destination nodes written under a temporary ACL, with the ACL they get at the end.
    var deferredACLs: [(path: String, acl: [ACL])] = []
    let options: CopyOptions
    let clock: ContinuousClock
    let began: ContinuousClock.Instant
    let progress: @Sendable (CopyProgress) -> Void
    var lastProgress: ContinuousClock.Instant

    init(options: CopyOptions, clock: ContinuousClock, began: ContinuousClock.Instant, progress: @escaping @Sendable (CopyProgress) -> Void) {
        self.options = options
        self.clock = clock
        self.began = began
        self.progress = progress
        self.lastProgress = began
    }

    mutating func deferACL(_ path: String, _ acl: [ACL]) {
        deferredACLs.append((path, acl))
        report.aclsDeferred += 1
    }

    mutating func tick(writer: BatchWriter) {
        let now = clock.now
        guard now - lastProgress >= .milliseconds(250) else { return }
        lastProgress = now
        progress(self.progress(writer: writer))
    }

    func progress(writer: BatchWriter) -> CopyProgress {
        CopyProgress(visited: report.visited, written: writer.operationsSent, bytes: report.bytes, seconds: (clock.now - began).seconds)
    }
}

/// Collects write operations into multi transactions under the size limits and keeps several in
/// flight. Transactions are submitted in order on one session, so the server applies them in order.
final class BatchWriter: @unchecked Sendable {
    // @unchecked: used only by the copier's own task, never shared between tasks.
    private let client: ZooKeeperClient
    private let options: CopyOptions
    private var pending: [MultiOperation] = []
    private var pendingBytes = 0
    private var inFlight = Deque<Submission>()
    private(set) var transactions = 0
    private(set) var operationsSent = 0

    init(client: ZooKeeperClient, options: CopyOptions) {
        self.client = client
        self.options = options
    }

    /// Queues an operation; `bytes` is its data size (paths and ACLs are estimated).
    func add(_ operation: MultiOperation, bytes: Int) throws {
        let estimate = bytes + operation.path.utf8.count + 96
        if !pending.isEmpty && (pendingBytes + estimate > options.batchBytes || pending.count >= options.batchOperations) {
            try flush()
        }
        pending.append(operation)
        pendingBytes += estimate
    }

    func setACL(_ path: String, acl: [ACL]) throws {
        try flush()  // the ACL change must follow the writes queued before it
        guard !options.dryRun else { return }
        inFlight.append(try client.submitSetACL(path, acl: acl))
        operationsSent += 1
    }

    func flush() throws {
        guard !pending.isEmpty else { return }
        defer {
            pending = []
            pendingBytes = 0
        }
        transactions += 1
        operationsSent += pending.count
        guard !options.dryRun else { return }
        inFlight.append(try client.submit(pending))
    }

    /// Waits for the oldest transactions while more than the allowed number are in flight.
    func drainIfFull() async throws {
        while inFlight.count > options.batchesInFlight, let oldest = inFlight.popFirst() {
            _ = try await oldest.results()
        }
    }

    func drainAll() async throws {
        while let oldest = inFlight.popFirst() {
            _ = try await oldest.results()
        }
    }
}
