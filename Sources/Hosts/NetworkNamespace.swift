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
    ///
    /// A thread a namespace loop creates is born in its namespace too (Linux copies the creating
    /// thread's namespaces). The loop creates threads without asking: resuming a caller's
    /// continuation enqueues a job on Swift's global executor, and libdispatch may start a new
    /// worker thread from the enqueuing thread. Such a worker runs any task later, so
    /// `returnToProcessNamespace()` puts a thread that is not a namespace loop back where the
    /// process is before it starts a child process.
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
        pthread_setspecific(joinedOnPurpose, UnsafeRawPointer(bitPattern: 1))
    }

    /// Set (non-nil) on the threads that joined a namespace on purpose (namespace event loops).
    /// Thread-specific, so it ends with its thread.
    private static let joinedOnPurpose: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static func inode(_ path: String) -> ino_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_ino : nil
    }

    /// The TCP ports something listens on in each of the named namespaces, read without starting
    /// a process: the namespace of each process is `/proc/PID/ns/net` (compared by inode with
    /// `/run/netns/NAME`), and `/proc/PID/net/tcp` and `tcp6` list the sockets of that process's
    /// namespace. A namespace no process is in listens on nothing.
    public static func listeningPorts(in names: [String]) -> [String: Set<Int>] {
        var wanted: [ino_t: String] = [:]
        for name in names {
            if let inode = inode("\(directory)/\(name)") { wanted[inode] = name }
        }
        var result: [String: Set<Int>] = [:]
        for name in names { result[name] = [] }
        guard !wanted.isEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return result }
        var read: Set<String> = []
        for entry in entries where entry.first?.isNumber == true {
            guard let inode = inode("/proc/\(entry)/ns/net"), let name = wanted[inode], read.insert(name).inserted else { continue }
            for table in ["tcp", "tcp6"] {
                guard let text = try? String(contentsOfFile: "/proc/\(entry)/net/\(table)", encoding: .utf8) else { continue }
                result[name, default: []].formUnion(listening(inProcNetTCP: text))
            }
            if read.count == wanted.count { break }
        }
        return result
    }

    /// The local ports of the sockets in state LISTEN (`0A`) of a `/proc/net/tcp` (or `tcp6`) table.
    static func listening(inProcNetTCP text: String) -> Set<Int> {
        var ports: Set<Int> = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3] == "0A", let colon = fields[1].lastIndex(of: ":"),
                let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16)
            else { continue }
            ports.insert(port)
        }
        return ports
    }

    /// Moves the calling thread back into the process's network namespace (its main thread's) when
    /// it is in another one and is not a namespace event loop: a worker thread born to a namespace
    /// loop (see `enterOnCurrentThread`). Call it before starting a child process, which would
    /// otherwise start in that namespace. Returns whether the thread had to move.
    @discardableResult
    public static func returnToProcessNamespace() -> Bool {
        guard let own = inode("/proc/thread-self/ns/net"), let process = inode("/proc/self/ns/net"), own != process else { return false }
        if pthread_getspecific(joinedOnPurpose) != nil { return false }
        let descriptor = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0, let setns = setnsFunction else { return false }
        defer { close(descriptor) }
        return setns(descriptor, cloneNewNet) == 0
    }

    /// An event loop group whose threads all run inside the namespace. Shut it down when done.
    public static func eventLoopGroup(joining name: String, threads: Int = 1) async throws -> MultiThreadedEventLoopGroup {
        // NIO's shared loops and thread pool start on first use, in the namespace of the thread
        // that first uses them: start them here, from a thread in the process's namespace, before
        // any namespace loop exists to lend its namespace to a worker thread.
        returnToProcessNamespace()
        _ = MultiThreadedEventLoopGroup.singleton
        _ = NIOThreadPool.singleton
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
