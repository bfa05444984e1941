import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSH
import ZooKeeper

/// One SSH connection to a host, opened when a command first needs it and again when it has
/// dropped. Every command runs on its own session channel of this connection.
actor SSHConnection {
    let configuration: SSHHostConfiguration
    let group: any EventLoopGroup
    let logger: Logger
    private var channel: (any Channel)?
    /// The connection being opened, which every caller that arrives meanwhile waits for.
    private var opening: EventLoopFuture<any Channel>?

    init(configuration: SSHHostConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// The open, authenticated connection; opens one when there is none or it dropped.
    func activeChannel() async throws -> any Channel {
        if let channel, channel.isActive { return channel }
        channel = nil
        if let opening { return try await opening.get() }
        let future = try open()
        opening = future
        defer { opening = nil }
        let opened = try await future.get()
        channel = opened
        return opened
    }

    /// Forgets `stale` (a connection a command found closing), so the next command opens another.
    func discard(_ stale: any Channel) {
        if let channel, channel === stale { self.channel = nil }
        stale.close(promise: nil)
    }

    /// Closes the connection (a later command opens a new one).
    func close() async {
        if let opening { _ = try? await opening.get() }
        guard let channel else { return }
        self.channel = nil
        try? await channel.close()
    }

    private var endpoint: String { "\(configuration.address):\(configuration.port)" }

    private func open() throws -> EventLoopFuture<any Channel> {
        let configuration = configuration
        let identity: SSHIdentity
        do {
            identity = try SSHIdentity(contentsOfFile: configuration.identityFile)
        } catch let error as SSHKeyError {
            throw HostError(.invalidRequest, host: configuration.host, operation: "connect over SSH to \(endpoint)", error.description)
        }
        let knownHosts: SSHKnownHosts
        do {
            knownHosts = try SSHKnownHosts(contentsOfFile: configuration.knownHostsFile)
        } catch var error as HostError {
            error.host = configuration.host
            throw error
        }
        if !knownHosts.malformedLines.isEmpty {
            logger.warning(
                "ignoring unreadable known_hosts lines",
                metadata: ["file": "\(configuration.knownHostsFile)", "lines": "\(knownHosts.malformedLines)"])
        }
        logger.debug("opening SSH connection", metadata: ["host": "\(configuration.host)", "endpoint": "\(endpoint)", "user": "\(configuration.user)", "key": "\(identity)"])
        let loop = group.next()
        let ready = loop.makePromise(of: Void.self)
        let logger = logger
        let endpoint = endpoint
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let client = SSHClientConfiguration(
                        userAuthDelegate: SSHKeyAuthenticator(configuration: configuration, identity: identity),
                        serverAuthDelegate: SSHKnownHostsValidator(configuration: configuration, knownHosts: knownHosts))
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSHHandler(role: .client(client), allocator: channel.allocator, inboundChildChannelInitializer: nil))
                    try sync.addHandler(
                        SSHConnectionHandler(
                            ready: ready, handshakeTimeout: TimeAmount(configuration.connectTimeout), host: configuration.host, endpoint: endpoint,
                            logger: logger))
                }
            }
        return SandboxAddressGuard.check(configuration.address, on: loop)
            .flatMap { bootstrap.connect(host: configuration.address, port: configuration.port) }
            .flatMapError { error in
                let failure = HostError(
                    .unreachable, host: configuration.host, operation: "connect over SSH to \(endpoint)",
                    "\(error); is the address right, the host up and sshd listening on port \(configuration.port)?")
                ready.fail(failure)
                return loop.makeFailedFuture(failure)
            }
            .flatMap { channel in
                ready.futureResult.map { channel }.flatMapError { error in
                    channel.close(promise: nil)
                    return loop.makeFailedFuture(error)
                }
            }
    }

    /// Runs `command` with `sh` (and `sudo` when configured) on a new session channel, feeding it
    /// `input` on standard input. Retries once on a new connection when the old one turns out to
    /// be closing before the command was sent. After `timeout`, or when the task is cancelled, the
    /// command's whole session is killed on the host before this returns.
    nonisolated func execute(_ command: String, input: ByteBuffer?, timeout: Duration, operation: String) async throws -> SSHCommandOutput {
        let line = SSHCommandLine.exec(command, sudo: configuration.sudo, timeout: timeout, backstopGrace: configuration.backstopGrace)
        var attempt = 0
        while true {
            attempt += 1
            let channel = try await activeChannel()
            do {
                let (result, child) = run(line, on: channel, input: input, timeout: timeout, operation: operation)
                return try await withTaskCancellationHandler {
                    try await result.get()
                } onCancel: {
                    child.whenSuccess { childChannel in
                        childChannel.eventLoop.execute {
                            (try? childChannel.pipeline.syncOperations.handler(type: SSHCommandHandler.self))?.cancel()
                        }
                    }
                }
            } catch let error as SSHCommandNotStarted {
                if channel.isActive {
                    // The server refused the channel on a working connection; other commands may
                    // be running on it, so it stays.
                    throw HostError(
                        .unreachable, host: configuration.host, operation: operation,
                        "the SSH server refused a session channel (\(error.underlying)); sshd's MaxSessions (default 10) limits the commands running at once on one connection")
                }
                await discard(channel)
                guard attempt < 2 else {
                    throw HostError(.unreachable, host: configuration.host, operation: operation, "could not open an SSH session channel: \(error.underlying)")
                }
                logger.debug("retrying on a new SSH connection", metadata: ["host": "\(configuration.host)", "reason": "\(error.underlying)"])
            } catch let abandoned as SSHCommandAbandoned {
                let killed = abandoned.started ? await kill(abandoned.session, on: channel) : true
                if abandoned.cancelled { throw CancellationError() }
                let outcome =
                    !abandoned.started
                    ? "the SSH server did not even open a channel for it"
                    : killed
                        ? "killed (SIGKILL to every process of its session), its SSH channel closed"
                        : "its SSH channel closed, but it could not be killed (\(abandoned.session == nil ? "it had not reported its session yet" : "the kill command failed")): it may still run on the host"
                throw HostError(.timeout, host: configuration.host, operation: operation, "did not finish within \(timeout); \(outcome)")
            }
        }
    }

    /// Kills every process of a session the driver gave up on; whether that worked.
    private nonisolated func kill(_ session: Int?, on channel: any Channel) async -> Bool {
        guard let session else { return false }
        let line = SSHCommandLine.kill(session: session, sudo: configuration.sudo)
        logger.debug("killing an abandoned command", metadata: ["host": "\(configuration.host)", "session": "\(session)"])
        // Not cancellable: it cleans up after a cancelled command too.
        let result = try? await run(line, on: channel, input: nil, timeout: .seconds(5), operation: "kill session \(session)", markerExpected: false).result.get()
        return result != nil
    }

    /// Opens a session channel on `channel` and runs `line` as the exec request.
    private nonisolated func run(
        _ line: String, on channel: any Channel, input: ByteBuffer?, timeout: Duration, operation: String, markerExpected: Bool = true
    ) -> (result: EventLoopFuture<SSHCommandOutput>, child: EventLoopFuture<any Channel>) {
        let loop = channel.eventLoop
        let result = loop.makePromise(of: SSHCommandOutput.self)
        let child = loop.makePromise(of: Channel.self)
        let host = configuration.host
        loop.execute {
            let handler = SSHCommandHandler(
                command: line, input: input, timeout: timeout, host: host, operation: operation, markerExpected: markerExpected, result: result)
            child.futureResult.assumeIsolated().whenFailure { error in handler.failIfPending(SSHCommandNotStarted(underlying: error)) }
            do {
                let ssh = try channel.pipeline.syncOperations.handler(type: NIOSSHHandler.self)
                ssh.createChannel(child, channelType: .session) { childChannel, _ in
                    childChannel.eventLoop.makeCompletedFuture { try childChannel.pipeline.syncOperations.addHandler(handler) }
                }
            } catch {
                child.fail(error)
            }
        }
        return (result.futureResult, child.futureResult)
    }
}

/// What a command wrote and how it ended.
struct SSHCommandOutput: Sendable {
    /// The exit status, or 128 + the signal's number for a command killed by a signal.
    var status: Int32 = -1
    var standardOutput = ByteBuffer()
    var standardError = ByteBuffer()
    /// Both, in the order they arrived.
    var combined = ByteBuffer()
}

/// The command never reached the server (its channel could not be opened), so it is safe to retry.
struct SSHCommandNotStarted: Error {
    var underlying: any Error
}

/// The driver gave up on a command (its timeout passed, or its task was cancelled) and closed its
/// channel; `session` is the command's session on the host, when it was reported.
struct SSHCommandAbandoned: Error {
    /// Whether the exec request had gone out.
    var started: Bool
    var session: Int?
    var cancelled: Bool
}

/// Offers the identity once; a second call means the server refused it.
final class SSHKeyAuthenticator: NIOSSHClientUserAuthenticationDelegate {
    let configuration: SSHHostConfiguration
    let identity: SSHIdentity
    private var offered = false

    init(configuration: SSHHostConfiguration, identity: SSHIdentity) {
        self.configuration = configuration
        self.identity = identity
    }

    func nextAuthenticationType(
        availableMethods: NIOSSHAvailableUserAuthenticationMethods, nextChallengePromise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>
    ) {
        let operation = "log in over SSH to \(configuration.address):\(configuration.port) as \(configuration.user)"
        guard availableMethods.contains(.publicKey) else {
            nextChallengePromise.fail(
                HostError(.refused, host: configuration.host, operation: operation, "the server does not accept public-key authentication; enable PubkeyAuthentication in its sshd_config"))
            return
        }
        guard !offered else {
            nextChallengePromise.fail(
                HostError(
                    .refused, host: configuration.host, operation: operation,
                    "the server refused the key \(identity.publicKey.fingerprint) (\(configuration.identityFile)): add its public key (`ssh-keygen -y -f \(configuration.identityFile)`) to ~\(configuration.user)/.ssh/authorized_keys on the host, or use the key that is there"
                        + (configuration.user == "root" ? "; for root, sshd must also allow it (PermitRootLogin prohibit-password)" : "")))
            return
        }
        offered = true
        nextChallengePromise.succeed(
            NIOSSHUserAuthenticationOffer(username: configuration.user, serviceName: "", offer: .privateKey(.init(privateKey: identity.privateKey))))
    }
}

/// Accepts the server only when the known_hosts file holds its key for the address and port.
final class SSHKnownHostsValidator: NIOSSHClientServerAuthenticationDelegate {
    let configuration: SSHHostConfiguration
    let knownHosts: SSHKnownHosts

    init(configuration: SSHHostConfiguration, knownHosts: SSHKnownHosts) {
        self.configuration = configuration
        self.knownHosts = knownHosts
    }

    func validateHostKey(hostKey: NIOSSHPublicKey, validationCompletePromise: EventLoopPromise<Void>) {
        let key = SSHPublicKey(hostKey)
        let name = configuration.hostKeyAlias ?? configuration.address
        if let refusal = Self.refusal(for: knownHosts.verdict(for: key, host: name, port: configuration.port), key: key, configuration: configuration) {
            validationCompletePromise.fail(refusal)
        } else {
            validationCompletePromise.succeed(())
        }
    }

    /// The error that refuses the key, or nil when the file trusts it.
    static func refusal(for verdict: SSHKnownHosts.Verdict, key: SSHPublicKey, configuration: SSHHostConfiguration) -> HostError? {
        let name = configuration.hostKeyAlias ?? configuration.address
        let entryName = SSHKnownHosts.name(host: name, port: configuration.port)
        let file = configuration.knownHostsFile
        let operation = "verify the host key of \(configuration.address):\(configuration.port)"
        let portOption = configuration.port == 22 ? "" : "-p \(configuration.port) "
        let checkOnHost = "compare it with `ssh-keygen -lf /etc/ssh/ssh_host_\(Self.keyFileStem(key.type))_key.pub` run on the host through a channel you trust (its console, its provisioning record)"
        switch verdict {
        case .trusted:
            return nil
        case .unknown:
            return HostError(
                .refused, host: configuration.host, operation: operation,
                "the server's key \(key.type) \(key.fingerprint) is unknown: \(file) has no entry for \(entryName). "
                    + "If that fingerprint is the host's own (\(checkOnHost)), add it: `ssh-keyscan \(portOption)-t \(key.type) \(configuration.address) >> \(file)`"
                    + (configuration.hostKeyAlias == nil ? "" : " and change the name to \(entryName)"))
        case .changed(let knownTypes, let lines):
            return HostError(
                .refused, host: configuration.host, operation: operation,
                "the host key has CHANGED: the server offered \(key.type) \(key.fingerprint), but \(file) holds another key for \(entryName) "
                    + "(\(knownTypes.joined(separator: ", ")), line\(lines.count == 1 ? "" : "s") \(lines.map(String.init).joined(separator: ", "))). "
                    + "Someone may be intercepting the connection, or the host was reinstalled: \(checkOnHost); only if it matches, replace the entry "
                    + "(`ssh-keygen -R '\(entryName)' -f \(file)`, then ssh-keyscan)")
        case .revoked(let line):
            return HostError(
                .refused, host: configuration.host, operation: operation,
                "the server's key \(key.type) \(key.fingerprint) is marked @revoked in \(file) (line \(line)); the host must get a new key")
        }
    }

    static func keyFileStem(_ type: String) -> String {
        switch type {
        case "ssh-ed25519": "ed25519"
        case "ssh-rsa": "rsa"
        default: type.hasPrefix("ecdsa") ? "ecdsa" : "*"
        }
    }
}

/// Completes `ready` when the server accepted us, or fails it with what went wrong in the
/// handshake (host key, authentication, a timeout). Later errors close the connection.
final class SSHConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Any

    private var ready: EventLoopPromise<Void>?
    private var timer: Scheduled<Void>?
    private let handshakeTimeout: TimeAmount
    private let host: String
    private let endpoint: String
    private let logger: Logger

    init(ready: EventLoopPromise<Void>, handshakeTimeout: TimeAmount, host: String, endpoint: String, logger: Logger) {
        self.ready = ready
        self.handshakeTimeout = handshakeTimeout
        self.host = host
        self.endpoint = endpoint
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [self] in
            fail(
                HostError(
                    .timeout, host: host, operation: "connect over SSH to \(endpoint)",
                    "the SSH handshake did not finish within \(handshakeTimeout.nanoseconds / 1_000_000) ms; is that port an SSH server?"))
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(HostError(.unreachable, host: host, operation: "connect over SSH to \(endpoint)", "the connection closed during the SSH handshake"))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is UserAuthSuccessEvent {
            timer?.cancel()
            timer = nil
            ready?.succeed(())
            ready = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if ready != nil {
            fail(
                error as? HostError
                    ?? HostError(.unreachable, host: host, operation: "connect over SSH to \(endpoint)", "the SSH handshake failed: \(error)"))
        } else {
            logger.debug("SSH connection failed", metadata: ["host": "\(host)", "error": "\(error)"])
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(HostError(.unreachable, host: host, operation: "connect over SSH to \(endpoint)", "the server closed the connection during the SSH handshake"))
        context.fireChannelInactive()
    }

    private func fail(_ error: HostError) {
        timer?.cancel()
        timer = nil
        ready?.fail(error)
        ready = nil
    }
}

/// Runs one command on a session channel: sends the exec request, then the input and an end
/// of file, collects standard output and error, and completes with the exit status when the
/// channel closes. Takes the session id the command line reports first on standard error out
/// of the output. After `timeout` it closes the channel and fails with ``SSHCommandAbandoned``
/// (the connection then kills the session).
final class SSHCommandHandler: ChannelInboundHandler {
    typealias InboundIn = SSHChannelData
    typealias OutboundOut = SSHChannelData

    private let command: String
    private let input: ByteBuffer?
    private let timeout: Duration
    private let host: String
    private let operation: String
    private var result: EventLoopPromise<SSHCommandOutput>?
    private var output = SSHCommandOutput()
    private var exitStatus: Int32?
    private var execRequested = false
    private var error: (any Error)?
    private var timer: Scheduled<Void>?
    private weak var context: ChannelHandlerContext?
    /// Standard error held back until its first lines show the session marker.
    private var markerScan: ByteBuffer?
    private var session: Int?
    /// Set while the handler waits for the session marker to give up on the command (whether
    /// it was cancelled).
    private var givingUp: Bool?

    init(
        command: String, input: ByteBuffer?, timeout: Duration, host: String, operation: String, markerExpected: Bool,
        result: EventLoopPromise<SSHCommandOutput>
    ) {
        self.command = command
        self.input = input
        self.timeout = timeout
        self.host = host
        self.operation = operation
        self.markerScan = markerExpected ? ByteBuffer() : nil
        self.result = result
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // SSH closes each direction on its own; without this the channel would close at the
        // server's end of file, before its exit status arrives.
        _ = context.channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) { [self] in
            giveUp(cancelled: false)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        execRequested = true
        context.triggerUserOutboundEvent(SSHChannelRequestEvent.ExecRequest(command: command, wantReply: true), promise: nil)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelSuccessEvent:
            // The command runs: its input, then end of file (a command reading standard input stops there).
            if let input, input.readableBytes > 0 {
                context.write(wrapOutboundOut(SSHChannelData(type: .channel, data: .byteBuffer(input))), promise: nil)
                context.flush()
            }
            context.close(mode: .output, promise: nil)
        case is ChannelFailureEvent:
            error = HostError(.commandFailed, host: host, operation: operation, "the SSH server refused to run the command (exec request failed)")
            context.close(promise: nil)
        case let status as SSHChannelRequestEvent.ExitStatus:
            exitStatus = Int32(truncatingIfNeeded: status.exitStatus)
        case let signal as SSHChannelRequestEvent.ExitSignal:
            exitStatus = 128 + (Self.signalNumbers[signal.signalName] ?? 0)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard case .byteBuffer(var bytes) = message.data else { return }
        switch message.type {
        case .stdErr:
            if markerScan != nil {
                markerScan!.writeBuffer(&bytes)
                scanForMarker(final: false)
            } else {
                append(&bytes, standardError: true)
            }
        default:
            append(&bytes, standardError: false)
        }
    }

    private func append(_ bytes: inout ByteBuffer, standardError: Bool) {
        output.combined.writeImmutableBuffer(bytes)
        if standardError {
            output.standardError.writeBuffer(&bytes)
        } else {
            output.standardOutput.writeBuffer(&bytes)
        }
    }

    /// Takes complete lines of standard error off `markerScan` until the marker line, which sets
    /// `session` and ends the scan; other lines (a login script's chatter) are output.
    private func scanForMarker(final: Bool) {
        guard var scan = markerScan else { return }
        while let newline = scan.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            var line = scan.readSlice(length: newline - scan.readerIndex + 1)!
            let text = String(decoding: line.readableBytesView, as: UTF8.self)
            if text.hasPrefix(SSHCommandLine.sessionMarker) {
                session = Int(text.dropFirst(SSHCommandLine.sessionMarker.count).dropLast())
                markerScan = nil
                if scan.readableBytes > 0 { append(&scan, standardError: true) }
                if let cancelled = givingUp { abandon(cancelled: cancelled) }
                return
            }
            append(&line, standardError: true)
        }
        if final || scan.readableBytes > 4096 {
            if scan.readableBytes > 0 { append(&scan, standardError: true) }
            markerScan = nil
        } else {
            markerScan = scan
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    /// The channel could not be opened.
    func failIfPending(_ error: SSHCommandNotStarted) {
        guard result != nil else { return }
        finish(with: error)
    }

    /// The task awaiting the command was cancelled.
    func cancel() {
        giveUp(cancelled: true)
    }

    /// Gives up on the command (its time is up, or its task was cancelled). When the command
    /// started but has not reported its session yet (a slow login on a loaded host), waits up to
    /// `markerGrace` for it, so the session can be killed.
    private func giveUp(cancelled: Bool) {
        guard result != nil, givingUp == nil else { return }
        guard execRequested, session == nil, markerScan != nil, let context else {
            abandon(cancelled: cancelled)
            return
        }
        givingUp = cancelled
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.markerGrace) { [self] in
            abandon(cancelled: cancelled)
        }
    }

    static let markerGrace = TimeAmount.seconds(3)

    /// Fails with what the connection needs to kill the command, and closes the channel.
    private func abandon(cancelled: Bool) {
        finish(with: SSHCommandAbandoned(started: execRequested, session: session, cancelled: cancelled))
        context?.close(promise: nil)
    }

    private func finish(with failure: (any Error)? = nil) {
        guard let result else { return }
        self.result = nil
        timer?.cancel()
        timer = nil
        scanForMarker(final: true)
        if let failure {
            result.fail(failure)
        } else if let cancelled = givingUp {
            result.fail(SSHCommandAbandoned(started: execRequested, session: session, cancelled: cancelled))
        } else if let exitStatus {
            output.status = exitStatus
            result.succeed(output)
        } else if !execRequested {
            result.fail(SSHCommandNotStarted(underlying: error ?? ChannelError.alreadyClosed))
        } else {
            let reason = error.map { "\($0)" } ?? "the channel closed"
            result.fail(HostError(.unreachable, host: host, operation: operation, "\(reason) before the command reported how it ended; it may or may not have run"))
        }
    }

    /// Linux's numbers for the signal names SSH sends (RFC 4254 §6.10, without the `SIG`).
    static let signalNumbers: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11,
        "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    ]
}
