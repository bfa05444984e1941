#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Mitosis's sandbox addresses (10.200.0.0/16) exist only inside the network namespaces Mitosis
/// makes for its sandboxes. From anywhere else such an address means some other network's host, so
/// nothing is sent to it: a connection to one is refused before any packet leaves, unless the
/// thread that opens it has joined a network namespace (a sandbox's control namespace, through
/// `NetworkNamespace.eventLoopGroup(joining:)`, or the whole tool through `mitosis sandbox exec`).
package struct SandboxAddressRefused: Error, Sendable, Hashable, CustomStringConvertible {
    package var address: String

    package var description: String {
        "\(address) is a Mitosis sandbox address (\(SandboxAddressGuard.network)), which exists only inside the sandbox's network namespaces; "
            + "nothing was sent to it. Reach it from the sandbox's control namespace: `mitosis sandbox exec -- mitosis …` for the tool, "
            + "NetworkNamespace.eventLoopGroup(joining:) for library code"
    }
}

package enum SandboxAddressGuard {
    package static let network = "10.200.0.0/16"

    /// Whether `host` is an IPv4 address in 10.200.0.0/16 (names are not resolved here: the
    /// sandbox's hosts are known by address).
    package static func isSandboxAddress(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }) else { return false }
        return parts[0] == "10" && parts[1] == "200" && parts.allSatisfy { Int($0)! <= 255 }
    }

    /// Whether the calling thread's network namespace is one the sandbox network is attached to:
    /// its routing table (`/proc/thread-self/net/route`, the table of the thread's own namespace)
    /// has a route for 10.200.0.0/16 itself, not merely a default route. Every namespace Mitosis
    /// makes for a sandbox (its hosts and its control namespace) has one; the machine's own
    /// network has none, whatever its default route says.
    package static func callingThreadReachesSandboxNetwork() -> Bool {
        routesReachSandboxNetwork(readProcFile("/proc/thread-self/net/route"))
    }

    /// Whether a `/proc/net/route` table holds a route for 10.200.0.0/16 or a part of it
    /// (addresses and masks are little-endian hex there: 10.200.0.0/16 is `0000C80A`/`0000FFFF`).
    package static func routesReachSandboxNetwork(_ table: String) -> Bool {
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16) else { continue }
            if mask & 0xFFFF == 0xFFFF, destination & 0xFFFF == 0xC80A { return true }
        }
        return false
    }

    static func readProcFile(_ path: String) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "" }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Fails when `host` is a sandbox address and the event loop's thread is not in a namespace
    /// the sandbox network is attached to; runs on that thread, which is the one that opens the
    /// connection (a socket belongs to the namespace of the thread that makes it).
    package static func check(_ host: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard isSandboxAddress(host) else { return eventLoop.makeSucceededVoidFuture() }
        return eventLoop.submit {
            if !callingThreadReachesSandboxNetwork() { throw SandboxAddressRefused(address: host) }
        }
    }
}
