import Dispatch

/// CPU-heavy test work (a proof of a large plan) on one serial dispatch queue, off Swift's
/// cooperative pool. The pool has one thread per core (two here), and a synchronous proof holds
/// its thread until it ends: a few of them side by side left every async test, the real-server
/// suite's included, waiting for a thread for the first 30–45 s of the suite. On this queue the
/// proofs run one at a time on a thread of their own, and the pool stays free.
enum HeavyWork {
    static let queue = DispatchQueue(label: "mitosis.tests.heavy-work")

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
