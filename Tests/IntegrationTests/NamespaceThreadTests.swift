import Foundation
import Hosts
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A thread created by a namespace event loop is born in the loop's network namespace (Linux
/// copies the creating thread's namespaces); libdispatch creates its workers that way when a loop
/// resumes a caller. Such a worker must not start child processes there: a CI run once found a
/// later test's ZooKeeper servers started inside a sandbox's control namespace, unreachable on
/// the machine's loopback, and `sandbox down` finding them there.
@Suite struct NamespaceThreads {
    @Test func aThreadBornToANamespaceLoopStartsItsChildrenInTheProcessNamespace() async throws {
        let name = "mtnsthread\(getpid())"
        _ = try await LocalCommand.check(["ip", "netns", "add", name])
        let group: MultiThreadedEventLoopGroup
        do {
            group = try await NetworkNamespace.eventLoopGroup(joining: name)
        } catch {
            _ = try? await LocalCommand.run(["ip", "netns", "delete", name])
            throw error
        }
        var failure: (any Error)?
        do { try await check(group) } catch { failure = error }
        try? await group.shutdownGracefully()
        _ = try await LocalCommand.check(["ip", "netns", "delete", name])
        if let failure { throw failure }
    }

    func check(_ group: MultiThreadedEventLoopGroup) async throws {
        let processNamespace = try Self.namespace(of: "/proc/self/ns/net")

        // A thread started from the namespace loop, as libdispatch starts its workers.
        let output = NSTemporaryDirectory() + "mitosis-nsthread-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let (bornIn, moved, child) = try await group.next().submit {
            try Self.onNewThread {
                let bornIn = try Self.namespace(of: "/proc/thread-self/ns/net")
                let child = try ChildProcess(["readlink", "/proc/self/ns/net"], outputPath: output)
                let moved = try Self.namespace(of: "/proc/thread-self/ns/net")
                return (bornIn, moved, child)
            }
        }.get()
        #expect(try await child.waitForExit(timeout: .seconds(10)) == 0)
        let childNamespace = try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(bornIn != processNamespace, "the new thread was born in the loop's namespace (the case this guards against)")
        #expect(childNamespace == processNamespace, "its child started in the process's namespace")
        #expect(moved == processNamespace, "and the thread itself is back there")
        // The loop itself stays in its namespace.
        let loopNamespace = try await group.next().submit { try Self.namespace(of: "/proc/thread-self/ns/net") }.get()
        #expect(loopNamespace != processNamespace)
        #expect(NetworkNamespace.returnToProcessNamespace() == false, "a thread in the process namespace does not move")
    }

    /// `net:[inode]`, as `readlink` shows a namespace.
    static func namespace(of path: String) throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    static func onNewThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let result = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            result.withLock { $0 = Result { try body() } }
            done.signal()
        }.start()
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
