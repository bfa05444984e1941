import Foundation
import Glibc
import Histogram
import NIOCore
import ZooKeeper
import ZooKeeperProtocol

/// The least work a client can do for pipelined requests: the servers' ceiling for a window.
///
/// One TCP connection per server it uses, a session handshake, then request frames encoded before
/// the clock starts, written in a pipelined window. Replies are counted by reading the frame
/// length, the xid (to check the order) and the error code; nothing else of a reply is decoded and
/// nothing is allocated per request. One thread drives every connection with `poll`. Whatever
/// throughput a real client reaches with the same window on the same servers, it is at most this.
struct RawCeilingClient {
    /// Request frames, back to back; request `i` carries xid `i + 1` and spans `offsets[i]..<offsets[i + 1]`.
    struct Frames: Sendable {
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        var count: Int { offsets.count - 1 }
        var largest = 0

        init<Record: ZooKeeperRequestRecord>(count: Int, _ record: (Int) -> Record) {
            var buffer = ByteBufferAllocator().buffer(capacity: count * 64)
            for index in 0..<count {
                let start = buffer.writerIndex
                let request = record(index)
                buffer.writeZooKeeperFrame { frame in
                    RequestHeader(xid: Int32(index + 1), opCode: request.opCode).encode(into: &frame)
                    request.encode(into: &frame)
                }
                offsets.append(buffer.writerIndex)
                largest = max(largest, buffer.writerIndex - start)
            }
            bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        }
    }

    struct Outcome: Sendable {
        var seconds: Double
        var usage: ProcessUsage
        var errors: Int
        var histogram: Histogram<UInt64>
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let servers: [ConnectionString.Server]
    let window: Int

    /// Sends every frame, spread round-robin over `servers` (request `i` to server `i % n`), with at
    /// most `window` requests in flight in all (split evenly over the connections), and waits for
    /// every reply. Runs on a thread of its own: it blocks in `poll`.
    func run(_ frames: Frames) async throws -> Outcome {
        let servers = self.servers
        let window = self.window
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try Self.drive(servers: servers, window: window, frames: frames) })
            }
            thread.name = "raw-ceiling-client"
            thread.start()
        }
    }

    private static func drive(servers: [ConnectionString.Server], window: Int, frames: Frames) throws -> Outcome {
        precondition(!servers.isEmpty && window > 0)
        let connectionCount = min(servers.count, window)
        var connections: [Connection] = []
        defer { for connection in connections { connection.close() } }
        for index in 0..<connectionCount {
            let share = window / connectionCount + (index < window % connectionCount ? 1 : 0)
            connections.append(try Connection(to: servers[index], window: share, largestFrame: frames.largest))
        }
        for (index, connection) in connections.enumerated() {
            connection.requests = Array(stride(from: index, to: frames.count, by: connectionCount))
        }

        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var sentAt = [UInt64](repeating: 0, count: frames.count)
        var remaining = frames.count
        var errors = 0
        var descriptors = connections.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
        let usageBegan = ProcessUsage.now()
        let began = monotonicNanoseconds()
        try frames.bytes.withUnsafeBytes { bytes in
            try sentAt.withUnsafeMutableBufferPointer { sentAt in
                var now = began
                for connection in connections { try connection.fillWindow(frames: bytes, offsets: frames.offsets, sentAt: sentAt, now: now) }
                while remaining > 0 {
                    for (index, connection) in connections.enumerated() {
                        descriptors[index].events = Int16(POLLIN) | (connection.hasUnsentBytes ? Int16(POLLOUT) : 0)
                        descriptors[index].revents = 0
                    }
                    let ready = poll(&descriptors, nfds_t(descriptors.count), 30_000)
                    if ready < 0 {
                        if errno == EINTR { continue }
                        throw Failure(description: "poll failed: errno \(errno)")
                    }
                    guard ready > 0 else { throw Failure(description: "no reply for 30 s with \(remaining) requests outstanding") }
                    now = monotonicNanoseconds()
                    for (index, connection) in connections.enumerated() {
                        let events = descriptors[index].revents
                        if events & Int16(POLLOUT) != 0 { try connection.writeUnsent() }
                        if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                            try connection.readReplies { xid, error in
                                let request = Int(xid) - 1
                                histogram.record((now &- sentAt[request]) / 1000)
                                if error != 0 { errors += 1 }
                                remaining -= 1
                            }
                            try connection.fillWindow(frames: bytes, offsets: frames.offsets, sentAt: sentAt, now: now)
                        }
                    }
                }
            }
        }
        let seconds = Double(monotonicNanoseconds() - began) / 1e9
        let usage = ProcessUsage.now() - usageBegan
        for connection in connections { connection.closeSession() }
        return Outcome(seconds: seconds, usage: usage, errors: errors, histogram: histogram)
    }

    /// One server's connection: a non-blocking socket, a send buffer and a ring of the requests in
    /// flight (the server answers them in order).
    final class Connection {
        let descriptor: Int32
        let server: ConnectionString.Server
        let window: Int
        /// Indices into the frames that go to this server, in order.
        var requests: [Int] = []
        private var nextRequest = 0
        private var inFlight: [Int]
        private var inFlightHead = 0
        private var inFlightCount = 0
        private let sendBuffer: UnsafeMutableRawBufferPointer
        private var sendStart = 0
        private var sendEnd = 0
        private let receiveBuffer: UnsafeMutableRawBufferPointer
        private var receiveStart = 0
        private var receiveEnd = 0
        private var open = true

        init(to server: ConnectionString.Server, window: Int, largestFrame: Int) throws {
            self.server = server
            self.window = window
            self.inFlight = [Int](repeating: 0, count: window)
            sendBuffer = .allocate(byteCount: max(window * largestFrame, 4096), alignment: 8)
            receiveBuffer = .allocate(byteCount: 4 << 20, alignment: 8)
            descriptor = try Self.connect(to: server)
            do {
                try handshake()
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            } catch {
                // Every property is set by now, so deinit runs and frees the buffers.
                close()
                throw error
            }
        }

        deinit {
            sendBuffer.deallocate()
            receiveBuffer.deallocate()
        }

        var hasUnsentBytes: Bool { sendEnd > sendStart }

        private static func connect(to server: ConnectionString.Server) throws -> Int32 {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(server.host, String(server.port), &hints, &list) == 0, let first = list else {
                throw Failure(description: "cannot resolve \(server)")
            }
            defer { freeaddrinfo(list) }
            let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
            guard descriptor >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
            guard Glibc.connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
                let code = errno
                Glibc.close(descriptor)
                throw Failure(description: "cannot connect to \(server): errno \(code)")
            }
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return descriptor
        }

        /// A new session, on the still blocking socket.
        private func handshake() throws {
            var buffer = ByteBufferAllocator().buffer(capacity: 64)
            buffer.writeZooKeeperFrame {
                ConnectRequest(lastZxidSeen: .zero, timeout: 10_000, sessionID: 0, password: [], readOnly: false).encode(into: &$0)
            }
            try buffer.readableBytesView.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    guard written > 0 else { throw Failure(description: "cannot send the connect request to \(server): errno \(errno)") }
                    offset += written
                }
            }
            var received = 0
            func frameLength() -> Int? {
                received >= 4 ? Int(UInt32(bigEndian: receiveBuffer.loadUnaligned(fromByteOffset: 0, as: UInt32.self))) : nil
            }
            while frameLength().map({ received < 4 + $0 }) ?? true {
                let count = read(descriptor, receiveBuffer.baseAddress! + received, receiveBuffer.count - received)
                guard count > 0 else { throw Failure(description: "\(server) closed the connection during the handshake") }
                received += count
            }
            var frame = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: receiveBuffer[4..<(4 + frameLength()!)]))
            let response = try ConnectResponse.decode(from: &frame)
            guard response.sessionID != 0, response.timeout > 0 else {
                throw Failure(description: "\(server) refused the session")
            }
            guard received == 4 + frameLength()! else { throw Failure(description: "\(server) sent bytes after the connect response") }
        }

        /// Copies the next frames into the send buffer until the window is full, then writes.
        func fillWindow(frames: UnsafeRawBufferPointer, offsets: [Int], sentAt: UnsafeMutableBufferPointer<UInt64>, now: UInt64) throws {
            guard inFlightCount < window, nextRequest < requests.count else { return }
            if sendStart == sendEnd { sendStart = 0; sendEnd = 0 }
            while inFlightCount < window, nextRequest < requests.count {
                let request = requests[nextRequest]
                let start = offsets[request]
                let length = offsets[request + 1] - start
                if sendEnd + length > sendBuffer.count {
                    // Only reached while earlier bytes wait for the socket: move them to the front.
                    let pending = sendEnd - sendStart
                    sendBuffer.baseAddress!.copyMemory(from: sendBuffer.baseAddress! + sendStart, byteCount: pending)
                    sendStart = 0
                    sendEnd = pending
                    if sendEnd + length > sendBuffer.count { break }
                }
                (sendBuffer.baseAddress! + sendEnd).copyMemory(from: frames.baseAddress! + start, byteCount: length)
                sendEnd += length
                sentAt[request] = now
                inFlight[(inFlightHead + inFlightCount) % window] = request
                inFlightCount += 1
                nextRequest += 1
            }
            try writeUnsent()
        }

        func writeUnsent() throws {
            while sendEnd > sendStart {
                let written = write(descriptor, sendBuffer.baseAddress! + sendStart, sendEnd - sendStart)
                if written < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK { return }
                    if errno == EINTR { continue }
                    throw Failure(description: "cannot write to \(server): errno \(errno)")
                }
                sendStart += written
            }
        }

        /// Reads what the socket has (one read unless it fills the buffer) and reports each whole
        /// reply's xid and error code.
        func readReplies(_ reply: (Int32, Int32) -> Void) throws {
            while true {
                if receiveEnd == receiveBuffer.count {
                    let pending = receiveEnd - receiveStart
                    receiveBuffer.baseAddress!.copyMemory(from: receiveBuffer.baseAddress! + receiveStart, byteCount: pending)
                    receiveStart = 0
                    receiveEnd = pending
                }
                let count = read(descriptor, receiveBuffer.baseAddress! + receiveEnd, receiveBuffer.count - receiveEnd)
                if count < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK { return }
                    if errno == EINTR { continue }
                    throw Failure(description: "cannot read from \(server): errno \(errno)")
                }
                guard count > 0 else { throw Failure(description: "\(server) closed the connection") }
                let filled = receiveEnd + count == receiveBuffer.count
                receiveEnd += count
                while receiveEnd - receiveStart >= 4 {
                    let length = Int(UInt32(bigEndian: receiveBuffer.loadUnaligned(fromByteOffset: receiveStart, as: UInt32.self)))
                    guard length >= 16, length <= receiveBuffer.count - 4 else { throw Failure(description: "\(server) sent a frame of \(length) bytes") }
                    guard receiveEnd - receiveStart >= 4 + length else { break }
                    let xid = Int32(bitPattern: UInt32(bigEndian: receiveBuffer.loadUnaligned(fromByteOffset: receiveStart + 4, as: UInt32.self)))
                    let error = Int32(bitPattern: UInt32(bigEndian: receiveBuffer.loadUnaligned(fromByteOffset: receiveStart + 16, as: UInt32.self)))
                    guard inFlightCount > 0, xid == Int32(inFlight[inFlightHead] + 1) else {
                        throw Failure(description: "\(server) answered xid \(xid) out of order")
                    }
                    inFlightHead = (inFlightHead + 1) % window
                    inFlightCount -= 1
                    receiveStart += 4 + length
                    reply(xid, error)
                }
                if receiveStart == receiveEnd { receiveStart = 0; receiveEnd = 0 }
                // A short read took everything the socket had: no second read just to hear EAGAIN.
                if !filled { return }
            }
        }

        /// Ends the session so the servers do not keep it until it times out; best effort.
        func closeSession() {
            guard open else { return }
            var buffer = ByteBufferAllocator().buffer(capacity: 16)
            buffer.writeZooKeeperFrame { RequestHeader(xid: Int32.max, opCode: .closeSession).encode(into: &$0) }
            buffer.readableBytesView.withUnsafeBytes { bytes in
                _ = write(descriptor, bytes.baseAddress!, bytes.count)
            }
            // Wait briefly for the server's answer (or its close) so the session is gone.
            var answer = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&answer, 1, 2_000)
            close()
        }

        func close() {
            guard open else { return }
            open = false
            Glibc.close(descriptor)
        }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
