import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Linux network namespaces, as `ip netns` names them (`/run/netns/NAME`).
///
/// A process talks into a namespace through threads that joined it: a socket belongs to the
/// namespace of the thread that created it. ``eventLoopGroup(joining:threads:)`` makes an event
/// loop group whose threads live in the namespace, so every ZooKeeper client, four-letter word
/// and copy that runs on it reaches the sandbox's addresses, while the rest of the process stays
/// where it was.
public enum NetworkNamespace {
    /// The directory where `ip netns` keeps its names.
    public static let directory = "/run/netns"

    public static func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(directory)/\(name)")
    }

    /// The names of every namespace `ip netns` knows.
    public static func all() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// Moves the calling thread into the namespace. Only for threads this process owns for good
    /// (an event loop's thread): a thread borrowed from a pool would carry the namespace away.
    static func enterOnCurrentThread(_ name: String) throws {
        let descriptor = open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw HostError(.unreachable, host: name, operation: "enter network namespace", "cannot open \(directory)/\(name): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard let setns = setnsFunction else {
            throw HostError(.invalidRequest, host: name, operation: "enter network namespace", "this C library has no setns(2)")
        }
        guard setns(descriptor, cloneNewNet) == 0 else {
            let reason = String(cString: strerror(errno))
            throw HostError(.permissionDenied, host: name, operation: "enter network namespace", "setns failed: \(reason); run as root")
        }
    }

    /// An event loop group whose threads all run inside the namespace. Shut it down when done.
    public static func eventLoopGroup(joining name: String, threads: Int = 1) async throws -> MultiThreadedEventLoopGroup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            for loop in group.makeIterator() {
                try await loop.submit { try enterOnCurrentThread(name) }.get()
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        return group
    }

    private static let cloneNewNet: Int32 = 0x4000_0000

    private typealias SetNS = @convention(c) (Int32, Int32) -> Int32

    /// `setns(2)` from the C library (the Swift Glibc module does not export it).
    private static let setnsFunction: SetNS? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "setns") else { return nil }
        return unsafeBitCast(symbol, to: SetNS.self)
    }()
}
