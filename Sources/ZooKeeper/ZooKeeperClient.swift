import Logging
import NIOCore
import NIOPosix
import ZooKeeperProtocol

/// A native, asynchronous ZooKeeper client.
///
/// One client holds one session. It connects to one server of the connection string at a time,
/// pipelines requests, keeps the session alive with pings, moves to another server when the
/// connection is lost, resumes the session there and re-arms its watches. If the session expires,
/// it starts a new one and reports `.expired` on `stateUpdates()`.
///
/// ```swift
/// try await ZooKeeperClient.withClient("127.0.0.1:2181/app") { zk in
///     try await zk.create("/config", data: Array("v1".utf8))
///     let (data, stat) = try await zk.getData("/config")
/// }
/// ```
///
/// Call `close()` when done (`withClient` does it for you): it closes the session, so the
/// session's ephemeral nodes go at once instead of after the session timeout.
public final class ZooKeeperClient: Sendable {
    public let configuration: ZooKeeperConfiguration
    let core: ClientCore
    /// The event loop this client runs on. Pass it as `eventLoopGroup` to open more sessions that
    /// reach the servers the way this one does (e.g. from a sandbox's network namespace).
    public var eventLoop: any EventLoop { core.eventLoop }

    /// Creates a client; it connects once `start()` is called.
    public init(configuration: ZooKeeperConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.core = ClientCore(configuration: configuration, eventLoop: eventLoopGroup.next())
    }

    /// A client whose connections `connector` opens (handler tests pass testing channels).
    init(configuration: ZooKeeperConfiguration, eventLoop: any EventLoop, connector: @escaping ChannelConnector) {
        self.configuration = configuration
        self.core = ClientCore(configuration: configuration, eventLoop: eventLoop, connector: connector)
    }

    /// Starts connecting in the background. Requests made before a session exists wait for it.
    public func start() {
        let core = self.core
        core.eventLoop.execute { core.start() }
    }

    /// Creates a client, starts it and waits until it has a session.
    public static func connect(
        _ configuration: ZooKeeperConfiguration,
        timeout: Duration = .seconds(15),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ZooKeeperClient {
        let client = ZooKeeperClient(configuration: configuration, eventLoopGroup: eventLoopGroup)
        // A sandbox address asked from outside the sandbox's namespaces is refused in so many
        // words, not retried until the timeout as if the server were down.
        for server in configuration.connectionString.servers {
            try await SandboxAddressGuard.check(server.host, on: client.eventLoop).get()
        }
        client.start()
        do {
            try await client.waitUntilConnected(timeout: timeout)
        } catch {
            await client.close()
            throw error
        }
        return client
    }

    /// Parses the connection string, connects, and waits for a session.
    public static func connect(_ connectionString: String, sessionTimeout: Duration = .seconds(10), timeout: Duration = .seconds(15)) async throws -> ZooKeeperClient {
        try await connect(ZooKeeperConfiguration(connectionString, sessionTimeout: sessionTimeout), timeout: timeout)
    }

    /// Runs `body` with a connected client and closes it afterwards, whether `body` throws or not.
    public static func withClient<Result: Sendable>(
        _ configuration: ZooKeeperConfiguration,
        timeout: Duration = .seconds(15),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (ZooKeeperClient) async throws -> Result
    ) async throws -> Result {
        let client = try await connect(configuration, timeout: timeout, eventLoopGroup: eventLoopGroup)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    public static func withClient<Result: Sendable>(
        _ connectionString: String,
        sessionTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(15),
        _ body: (ZooKeeperClient) async throws -> Result
    ) async throws -> Result {
        try await withClient(ZooKeeperConfiguration(connectionString, sessionTimeout: sessionTimeout), timeout: timeout, body)
    }

    /// Waits until a session is established, or throws `connectionLoss` after `timeout`.
    public func waitUntilConnected(timeout: Duration = .seconds(15)) async throws {
        let core = self.core
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { core.waitUntilConnected(timeout: timeout, promise: promise) }
        try await promise.futureResult.get()
    }

    /// Closes the session and the connection. Pending requests and watches fail with `clientClosed`.
    public func close() async {
        let core = self.core
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { core.close(promise: promise) }
        try? await promise.futureResult.get()
    }

    /// Starts closing without waiting: for cancellation handlers and other synchronous contexts.
    public func beginClose() {
        let core = self.core
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { core.close(promise: promise) }
    }

    /// The connection state now, then every change, until the client is closed.
    public func stateUpdates() async -> AsyncStream<ConnectionState> {
        let core = self.core
        do {
            return try await eventLoop.submit { core.observeStates() }.get()
        } catch {
            // Only a shut-down event loop refuses work: the client can do nothing more.
            return AsyncStream { $0.yield(.closed); $0.finish() }
        }
    }

    /// Every watch event of this client from now on, whichever call set the watch, until the
    /// client closes. Watches set with `watch: true` report only here.
    public func watchEvents() async -> AsyncStream<WatchedEvent> {
        let core = self.core
        do {
            return try await eventLoop.submit { core.observeWatchEvents() }.get()
        } catch {
            return AsyncStream { $0.finish() }
        }
    }

    /// The node's data and stat; with `watch`, a data watch whose event goes to `watchEvents()`.
    public func getData(_ path: String, watch: Bool) async throws -> (data: [UInt8], stat: Stat) {
        let response = try await getDataRequest(path, watch: watch ? WatchRegistration(kind: .data, path: path, promise: nil) : nil)
        return (response.data, response.stat)
    }

    /// The node's children and stat; with `watch`, a child watch whose event goes to `watchEvents()`.
    public func getChildren(_ path: String, watch: Bool) async throws -> (children: [String], stat: Stat) {
        let response = try await getChildren2(path, watch: watch ? WatchRegistration(kind: .child, path: path, promise: nil) : nil)
        return (response.children, response.stat)
    }

    /// The current state.
    public var state: ConnectionState {
        get async {
            let core = self.core
            return (try? await eventLoop.submit { core.state }.get()) ?? .closed
        }
    }

    /// The session id, once a session exists.
    public var sessionID: Int64? {
        get async {
            let core = self.core
            return (try? await eventLoop.submit { core.sessionID }.get()) ?? nil
        }
    }

    /// The session timeout the server granted.
    public var negotiatedSessionTimeout: Duration? {
        get async {
            let core = self.core
            return (try? await eventLoop.submit { core.negotiatedSessionTimeout }.get()) ?? nil
        }
    }

    /// The highest zxid this client has seen in any reply.
    public var lastZxidSeen: Zxid {
        get async {
            let core = self.core
            return (try? await eventLoop.submit { core.lastZxidSeen }.get()) ?? .zero
        }
    }

    // MARK: - Operations

    /// Creates a node and returns its path (with the sequence suffix for sequential nodes).
    @discardableResult
    public func create(_ path: String, data: [UInt8] = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent) async throws -> String {
        let (created, _) = try await createNode(path, data: data, acl: acl, mode: mode, returnStat: false)
        return created
    }

    /// Creates a node and returns its path and stat (3.5+ servers).
    public func createReturningStat(_ path: String, data: [UInt8] = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent) async throws -> (path: String, stat: Stat) {
        let (created, stat) = try await createNode(path, data: data, acl: acl, mode: mode, returnStat: true)
        guard let stat else { throw ZooKeeperError(.protocolError, path: path, message: "the server returned no stat") }
        return (created, stat)
    }

    private func createNode(_ path: String, data: [UInt8], acl: [ACL], mode: CreateMode, returnStat: Bool) async throws -> (String, Stat?) {
        try validate(path, sequential: mode.isSequential)
        if acl.isEmpty {
            throw ZooKeeperError(.invalidACL, path: path, message: "an ACL must have at least one entry; use ACL.openUnsafe for world:anyone")
        }
        let request = CreateRequest(path: serverPath(path), data: data, acl: acl, mode: mode, returnStat: returnStat)
        let reply = try await send(request, path: path)
        var body = reply.body
        if request.respondsWithStat {
            let response = try decode(Create2Response.self, from: &body, path: path)
            return (clientPath(response.path), response.stat)
        }
        let response = try decode(PathResponse.self, from: &body, path: path)
        return (clientPath(response.path), nil)
    }

    /// Deletes a node; `version` -1 deletes whatever its version.
    public func delete(_ path: String, version: Int32 = -1) async throws {
        try validate(path)
        _ = try await send(DeleteRequest(path: serverPath(path), version: version), path: path)
    }

    /// The node's stat, or nil if it does not exist.
    public func exists(_ path: String) async throws -> Stat? {
        try await existsRequest(path, watch: nil)
    }

    /// The node's stat (or nil), and a watch that fires when the node is created, changed or deleted.
    public func existsAndWatch(_ path: String) async throws -> (stat: Stat?, watch: Watch) {
        let promise = eventLoop.makePromise(of: WatchedEvent.self)
        let stat = try await existsRequest(path, watch: WatchRegistration(kind: .data, path: path, promise: promise))
        return (stat, Watch(future: promise.futureResult))
    }

    private func existsRequest(_ path: String, watch: WatchRegistration?) async throws -> Stat? {
        try validate(path)
        do {
            let reply = try await send(PathWatchRequest(.exists, path: serverPath(path), watch: watch != nil), path: path, watch: watch)
            var body = reply.body
            return try decode(StatResponse.self, from: &body, path: path).stat
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// The node's data and stat.
    public func getData(_ path: String) async throws -> (data: [UInt8], stat: Stat) {
        let response = try await getDataRequest(path, watch: nil)
        return (response.data, response.stat)
    }

    /// The node's data and stat, and a watch that fires when the data changes or the node is deleted.
    public func getDataAndWatch(_ path: String) async throws -> (data: [UInt8], stat: Stat, watch: Watch) {
        let promise = eventLoop.makePromise(of: WatchedEvent.self)
        let response = try await getDataRequest(path, watch: WatchRegistration(kind: .data, path: path, promise: promise))
        return (response.data, response.stat, Watch(future: promise.futureResult))
    }

    private func getDataRequest(_ path: String, watch: WatchRegistration?) async throws -> GetDataResponse {
        do {
            try validate(path)
        } catch {
            watch?.promise?.fail(error)
            throw error
        }
        let reply = try await send(PathWatchRequest(.getData, path: serverPath(path), watch: watch != nil), path: path, watch: watch)
        var body = reply.body
        return try decode(GetDataResponse.self, from: &body, path: path)
    }

    /// Replaces the node's data; `version` -1 writes whatever its version. Returns the new stat.
    @discardableResult
    public func setData(_ path: String, data: [UInt8], version: Int32 = -1) async throws -> Stat {
        try validate(path)
        let reply = try await send(SetDataRequest(path: serverPath(path), data: data, version: version), path: path)
        var body = reply.body
        return try decode(StatResponse.self, from: &body, path: path).stat
    }

    /// The names of the node's children (unordered, as the server returns them).
    public func getChildren(_ path: String) async throws -> [String] {
        try validate(path)
        let reply = try await send(PathWatchRequest(.getChildren, path: serverPath(path), watch: false), path: path)
        var body = reply.body
        return try decode(GetChildrenResponse.self, from: &body, path: path).children
    }

    /// The names of the node's children and the node's stat.
    public func getChildrenWithStat(_ path: String) async throws -> (children: [String], stat: Stat) {
        let response = try await getChildren2(path, watch: nil)
        return (response.children, response.stat)
    }

    /// The children and stat, and a watch that fires when a child is added or removed, or the node is deleted.
    public func getChildrenAndWatch(_ path: String) async throws -> (children: [String], stat: Stat, watch: Watch) {
        let promise = eventLoop.makePromise(of: WatchedEvent.self)
        let response = try await getChildren2(path, watch: WatchRegistration(kind: .child, path: path, promise: promise))
        return (response.children, response.stat, Watch(future: promise.futureResult))
    }

    private func getChildren2(_ path: String, watch: WatchRegistration?) async throws -> GetChildren2Response {
        do {
            try validate(path)
        } catch {
            watch?.promise?.fail(error)
            throw error
        }
        let reply = try await send(PathWatchRequest(.getChildren2, path: serverPath(path), watch: watch != nil), path: path, watch: watch)
        var body = reply.body
        return try decode(GetChildren2Response.self, from: &body, path: path)
    }

    /// The node's ACL and stat.
    public func getACL(_ path: String) async throws -> (acl: [ACL], stat: Stat) {
        try validate(path)
        let reply = try await send(PathRequest(.getACL, path: serverPath(path)), path: path)
        var body = reply.body
        let response = try decode(GetACLResponse.self, from: &body, path: path)
        return (response.acl, response.stat)
    }

    /// Replaces the node's ACL; `version` is the ACL version (`aversion`), -1 for any.
    @discardableResult
    public func setACL(_ path: String, acl: [ACL], version: Int32 = -1) async throws -> Stat {
        try validate(path)
        if acl.isEmpty {
            throw ZooKeeperError(.invalidACL, path: path, message: "an ACL must have at least one entry")
        }
        let reply = try await send(SetACLRequest(path: serverPath(path), acl: acl, version: version), path: path)
        var body = reply.body
        return try decode(StatResponse.self, from: &body, path: path).stat
    }

    /// Makes the connected server catch up with the leader on `path` before answering later reads.
    public func sync(_ path: String = "/") async throws {
        try validate(path)
        _ = try await send(PathRequest(.sync, path: serverPath(path)), path: path)
    }

    /// Runs the operations as one transaction: all are applied or none is.
    ///
    /// On failure, throws the error of the first failing operation, naming its path and index; the
    /// other operations were rolled back.
    @discardableResult
    public func multi(_ operations: [MultiOperation]) async throws -> [MultiResult] {
        guard !operations.isEmpty else { return [] }
        return try await submit(operations).results()
    }

    /// Reads several nodes in one request (`multiRead`, ZooKeeper 3.6+): one result per operation,
    /// in order. Each read succeeds or fails on its own — a missing node is `.failed(.noNode)` in
    /// its place, not an error of the call. The reads are not a snapshot: writes may land between
    /// them, as between separate reads.
    ///
    /// Servers before 3.6 do not know the request: the call throws `unsupportedByServer`, and the
    /// server closes the connection after refusing it (the session survives; the client
    /// reconnects, and a request sent meanwhile may fail with `connectionLoss`).
    public func multiRead(_ operations: [ReadOperation]) async throws -> [ReadResult] {
        guard !operations.isEmpty else { return [] }
        var mapped: [ReadOperation] = []
        mapped.reserveCapacity(operations.count)
        for operation in operations {
            try validate(operation.path)
            switch operation {
            case .getData(let path): mapped.append(.getData(path: serverPath(path)))
            case .getChildren(let path): mapped.append(.getChildren(path: serverPath(path)))
            }
        }
        let path = operations[0].path
        let reply = try await send(MultiReadRequest(operations: mapped), path: path, allowError: true)
        if reply.header.error == .unimplemented {
            throw ZooKeeperError(.unsupportedByServer, path: path, server: reply.server, message: "multiRead needs ZooKeeper 3.6 or later; this server answered unimplemented and closes the connection (read node by node instead)")
        }
        if reply.header.error != .ok {
            throw ZooKeeperError(reply.header.error, path: path, server: reply.server, message: "the multiRead of \(operations.count) reads was refused")
        }
        var body = reply.body
        let results = try decode(MultiReadResponse.self, from: &body, path: path).results
        guard results.count == operations.count else {
            throw ZooKeeperError(.protocolError, path: path, server: reply.server, message: "the multiRead of \(operations.count) reads returned \(results.count) results")
        }
        return results
    }

    /// Sends `operations` now — one request, a multi transaction if there are several — and returns
    /// a handle to await the outcome later. Requests submitted one after another from one task reach
    /// the server, and are applied, in that order: this is how to pipeline dependent writes (a
    /// parent in one batch, its children in the next) without waiting for each.
    public func submit(_ operations: [MultiOperation]) throws -> Submission {
        precondition(!operations.isEmpty, "submit at least one operation")
        var mapped: [MultiOperation] = []
        mapped.reserveCapacity(operations.count)
        for operation in operations {
            switch operation {
            case .create(var request):
                try validate(request.path, sequential: request.mode.isSequential)
                request.path = serverPath(request.path)
                mapped.append(.create(request))
            case .delete(var request):
                try validate(request.path)
                request.path = serverPath(request.path)
                mapped.append(.delete(request))
            case .setData(var request):
                try validate(request.path)
                request.path = serverPath(request.path)
                mapped.append(.setData(request))
            case .check(var request):
                try validate(request.path)
                request.path = serverPath(request.path)
                mapped.append(.check(request))
            }
        }
        let future: EventLoopFuture<ZooKeeperReply>
        if mapped.count == 1 {
            switch mapped[0] {
            case .create(let request): future = try enqueue(request, path: operations[0].path)
            case .delete(let request): future = try enqueue(request, path: operations[0].path)
            case .setData(let request): future = try enqueue(request, path: operations[0].path)
            case .check(let request): future = try enqueue(request, path: operations[0].path)
            }
        } else {
            future = try enqueue(MultiRequest(operations: mapped), path: operations[0].path)
        }
        return Submission(operations: operations, kind: mapped.count == 1 ? .single(operations[0]) : .multi, future: future, core: core, chroot: configuration.connectionString)
    }

    /// Sends a `setACL` now; await `results()` for the outcome (see `submit(_:)` for ordering).
    public func submitSetACL(_ path: String, acl: [ACL], version: Int32 = -1) throws -> Submission {
        try validate(path)
        let future = try enqueue(SetACLRequest(path: serverPath(path), acl: acl, version: version), path: path)
        return Submission(operations: [], kind: .setACL(path: path), future: future, core: core, chroot: configuration.connectionString)
    }

    /// Adds credentials to the session (e.g. `digest` with `user:password`). They are sent again on
    /// every reconnection.
    public func addAuth(scheme: String, credentials: [UInt8]) async throws {
        let core = self.core
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { core.addAuthentication(scheme: scheme, credentials: credentials, promise: promise) }
        try await promise.futureResult.get()
    }

    /// Authenticates with the `digest` scheme.
    public func addDigestAuth(user: String, password: String) async throws {
        try await addAuth(scheme: "digest", credentials: DigestAuth.credentials(user: user, password: password))
    }

    /// The ensemble's dynamic configuration (`/zookeeper/config`, 3.5+), ignoring any chroot.
    public func getConfig() async throws -> (config: String, stat: Stat) {
        let reply = try await send(PathWatchRequest(.getData, path: "/zookeeper/config", watch: false), path: "/zookeeper/config")
        var body = reply.body
        let response = try decode(GetDataResponse.self, from: &body, path: "/zookeeper/config")
        return (String(decoding: response.data, as: UTF8.self), response.stat)
    }

    /// Changes the ensemble's membership (3.5+ with `reconfigEnabled=true`). Incremental: pass
    /// `joining` (`server.N=host:quorum:election[:role];[clientHost:]clientPort`, comma separated)
    /// and/or `leaving` (ids, comma separated); bulk: pass `newMembers`. `fromConfig` is the config
    /// version the change is based on (`-1` for any). Returns the new configuration.
    @discardableResult
    public func reconfig(joining: String? = nil, leaving: String? = nil, newMembers: String? = nil, fromConfig: Int64 = -1) async throws -> (config: String, stat: Stat) {
        if joining == nil && leaving == nil && newMembers == nil {
            throw ZooKeeperError(.badArguments, message: "reconfig needs joining, leaving or newMembers")
        }
        if newMembers != nil && (joining != nil || leaving != nil) {
            throw ZooKeeperError(.badArguments, message: "reconfig is either incremental (joining/leaving) or bulk (newMembers), not both")
        }
        let request = ReconfigRequest(joiningServers: joining, leavingServers: leaving, newMembers: newMembers, currentConfigID: fromConfig)
        let reply = try await send(request, path: "/zookeeper/config")
        var body = reply.body
        let response = try decode(GetDataResponse.self, from: &body, path: "/zookeeper/config")
        return (String(decoding: response.data, as: UTF8.self), response.stat)
    }

    // MARK: - Plumbing

    private func validate(_ path: String, sequential: Bool = false) throws(ZooKeeperError) {
        if let problem = ZooKeeperPath.problem(with: path, sequential: sequential) {
            throw ZooKeeperError(.invalidPath, path: path, message: problem)
        }
    }

    private func serverPath(_ path: String) -> String { configuration.connectionString.serverPath(path) }
    private func clientPath(_ path: String) -> String { configuration.connectionString.clientPath(path) }

    private func decode<Response: ZooKeeperResponseRecord>(_ type: Response.Type, from body: inout ByteBuffer, path: String) throws(ZooKeeperError) -> Response {
        do {
            return try Response.decode(from: &body)
        } catch {
            throw ZooKeeperError(.protocolError, path: path, message: error.description)
        }
    }

    /// Encodes, sends and awaits one request. Throws the server's error unless `allowError`.
    func send(_ record: some ZooKeeperRequestRecord, path: String?, watch: WatchRegistration? = nil, allowError: Bool = false) async throws -> ZooKeeperReply {
        // A caller already cancelled sends nothing (checked before the reply's promise exists).
        if Task.isCancelled {
            watch?.promise?.fail(CancellationError())
            throw CancellationError()
        }
        let reply = try await core.send(request(record, path: path, watch: watch))
        if reply.header.error != .ok && !allowError {
            throw ZooKeeperError(reply.header.error, path: path, server: reply.server)
        }
        return reply
    }

    /// Encodes a request and hands it to the event loop at once, in call order.
    func enqueue(_ record: some ZooKeeperRequestRecord, path: String?, watch: WatchRegistration? = nil) throws(ZooKeeperError) -> EventLoopFuture<ZooKeeperReply> {
        let request = try request(record, path: path, watch: watch)
        let future = request.promise.futureResult
        core.handOver(request)
        return future
    }

    /// Encodes a request (its xid is written when it is sent).
    private func request(_ record: some ZooKeeperRequestRecord, path: String?, watch: WatchRegistration?) throws(ZooKeeperError) -> PendingRequest {
        // Room for a create with a few hundred bytes of data and an ACL without growing.
        var frame = ByteBufferAllocator().buffer(capacity: 256)
        frame.writeZooKeeperFrame { buffer in
            RequestHeader(xid: 0, opCode: record.opCode).encode(into: &buffer)
            record.encode(into: &buffer)
        }
        let size = frame.readableBytes - 4
        if size > configuration.maximumRequestSize {
            let error = ZooKeeperError(.requestTooLarge, path: path, message: "the \(record.opCode) request is \(size) bytes; the limit is \(configuration.maximumRequestSize) bytes")
            watch?.promise?.fail(error)
            throw error
        }
        let promise = eventLoop.makePromise(of: ZooKeeperReply.self)
        return PendingRequest(opCode: record.opCode, path: path, frame: frame, promise: promise, watch: watch)
    }
}

extension ClientCore {
    /// Hands a request to the event loop and awaits its reply. The caller is resumed by the event
    /// loop straight from the request's promise: awaiting costs no second hop to the loop (as
    /// `EventLoopFuture.get()` from another thread would, to register its callback).
    ///
    /// A cancelled caller gets `CancellationError` at once: a request not yet sent is dropped; one
    /// already sent keeps its place so later replies still match (a write's outcome is then
    /// unknown), and its reply is discarded.
    func send(_ request: consuming PendingRequest) async throws -> ZooKeeperReply {
        let future = request.promise.futureResult
        // Moved, not copied, into the queue: the loop then holds the frame's only reference and
        // writes the xid into it without copying it.
        var unsent: PendingRequest? = consume request
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (waiter: UnsafeContinuation<ZooKeeperReply, any Error>) in
                var request = unsent.take()!  // the body runs once
                request.waiter = waiter
                handOver(request)
                // A cancellation that came after the check above but before the request was handed
                // over found nothing to cancel on the loop: ask again, now that it is queued (a
                // second cancel of the same request does nothing).
                if Task.isCancelled { eventLoop.execute { self.cancel(future) } }
            }
        } onCancel: {
            eventLoop.execute { self.cancel(future) }
        }
    }

    /// Awaits the reply to a request already handed over (`ZooKeeperClient.enqueue`), with the
    /// same cancellation as `send(_:)`.
    func reply(to future: EventLoopFuture<ZooKeeperReply>) async throws -> ZooKeeperReply {
        try await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            eventLoop.execute { self.cancel(future) }
        }
    }
}

/// Requests already sent; `results()` waits for their outcome.
public struct Submission: Sendable {
    /// The operations of `submit(_:)`; empty for `submitSetACL`, which is not a multi operation.
    public let operations: [MultiOperation]
    /// What was sent, which decides how the reply is read.
    enum Kind: Sendable {
        /// One operation, sent as itself rather than as a multi.
        case single(MultiOperation)
        /// A multi transaction of `operations`.
        case multi
        /// A `setACL` of the client path.
        case setACL(path: String)
    }
    let kind: Kind
    let future: EventLoopFuture<ZooKeeperReply>
    let core: ClientCore
    let chroot: ConnectionString

    /// One result per operation (for `submitSetACL`, one `.dataSet` with the new stat). Throws the
    /// first failing operation's error (naming its path and position); for a multi, the other
    /// operations were rolled back. A cancelled caller gets `CancellationError` at once; the
    /// requests were sent, so whether the server applied them is then unknown.
    public func results() async throws -> [MultiResult] {
        let reply = try await core.reply(to: future)
        var body = reply.body
        switch kind {
        case .setACL(let path):
            if reply.header.error != .ok {
                throw ZooKeeperError(reply.header.error, path: path, server: reply.server)
            }
            do {
                return [.dataSet(try StatResponse.decode(from: &body).stat)]
            } catch {
                throw ZooKeeperError(.protocolError, path: path, message: error.description)
            }
        case .single(let operation):
            if reply.header.error != .ok {
                throw ZooKeeperError(reply.header.error, path: operation.path, server: reply.server)
            }
            do {
                switch operation {
                case .create(let request):
                    if request.respondsWithStat {
                        let response = try Create2Response.decode(from: &body)
                        return [.created(path: chroot.clientPath(response.path), stat: response.stat)]
                    }
                    return [.created(path: chroot.clientPath(try PathResponse.decode(from: &body).path), stat: nil)]
                case .delete: return [.deleted]
                case .setData: return [.dataSet(try StatResponse.decode(from: &body).stat)]
                case .check: return [.checked]
                }
            } catch {
                throw ZooKeeperError(.protocolError, path: operation.path, message: error.description)
            }
        case .multi:
            break
        }
        if reply.header.error != .ok && body.readableBytes == 0 {
            throw ZooKeeperError(reply.header.error, path: operations[0].path, server: reply.server, message: "the transaction was refused")
        }
        let response: MultiResponse
        do {
            response = try MultiResponse.decode(from: &body)
        } catch {
            throw ZooKeeperError(.protocolError, path: operations[0].path, message: error.description)
        }
        let results = response.results.map { result -> MultiResult in
            if case .created(let path, let stat) = result { return .created(path: chroot.clientPath(path), stat: stat) }
            return result
        }
        if let index = results.firstIndex(where: { $0.error != nil && $0.error != .runtimeInconsistency && $0.error != .ok }),
           case .failed(let code) = results[index]
        {
            throw ZooKeeperError(code, path: operations[index].path, server: reply.server, message: "operation \(index + 1) of \(operations.count) (\(operations[index].opCode)) failed; the transaction was rolled back")
        }
        if reply.header.error != .ok {
            throw ZooKeeperError(reply.header.error, path: operations[0].path, server: reply.server, message: "the transaction failed")
        }
        return results
    }
}

/// A one-shot watch: `event()` returns when it fires, or throws if the session expires or the
/// client closes first.
public struct Watch: Sendable {
    let future: EventLoopFuture<WatchedEvent>

    /// The event, once the watch fires.
    ///
    /// A cancelled caller gets `CancellationError` at once; the watch stays armed, and a later
    /// `event()` still returns its event.
    public func event() async throws -> WatchedEvent {
        let waiter = future.eventLoop.makePromise(of: WatchedEvent.self)
        future.cascade(to: waiter)
        return try await withTaskCancellationHandler {
            try await waiter.futureResult.get()
        } onCancel: {
            // Whichever of this and the event comes second completes nothing (NIO ignores it).
            waiter.fail(CancellationError())
        }
    }

    /// The event, or nil if the watch has not fired within `timeout` (it stays armed).
    public func event(within timeout: Duration) async throws -> WatchedEvent? {
        let loop = future.eventLoop
        let promise = loop.makePromise(of: WatchedEvent?.self)
        // Both callbacks run on `loop`; whichever comes second completes nothing (NIO ignores it).
        let timer = loop.scheduleTask(in: timeAmount(timeout)) { promise.succeed(nil) }
        future.whenComplete { result in
            timer.cancel()
            promise.completeWith(result.map { Optional($0) })
        }
        return try await promise.futureResult.get()
    }
}
