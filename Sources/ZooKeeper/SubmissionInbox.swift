import NIOCore
import Synchronization

/// Requests on their way from the callers' threads to the client's event loop.
///
/// A request goes into the inbox; only the one that finds it empty schedules a hop to the loop,
/// and that hop submits everything in the inbox by then, in the order it arrived. Under load many
/// requests share one hop (one lock round and at most one wake-up of the loop) instead of each
/// taking its own. A caller that awaits the reply is attached to it in the same hop, on the loop:
/// awaiting the reply's future from another thread (`EventLoopFuture.get()`) would cost a second
/// hop per request just to register the callback.
///
/// Order: requests from one task reach `ClientCore.submit` in the order they were handed in, and
/// before anything the same task hands to the loop afterwards with `eventLoop.execute` (close,
/// addAuth): the hop that will carry a request is scheduled no later than the request is added.
final class SubmissionInbox: Sendable {
    struct Entry: Sendable {
        var request: PendingRequest
        var frame: ByteBuffer
        /// Resumed with the reply (or the request's failure); nil when the caller holds the future.
        var continuation: UnsafeContinuation<ZooKeeperReply, any Error>?
    }

    private let core: ClientCore
    private let entries = Mutex<[Entry]>([])

    init(core: ClientCore) {
        self.core = core
    }

    func submit(_ entry: Entry) {
        let scheduleHop = entries.withLock { entries in
            entries.append(entry)
            return entries.count == 1
        }
        if scheduleHop {
            core.eventLoop.execute { [self] in submitAll() }
        }
    }

    /// On the event loop: hands everything in the inbox to the core, oldest first.
    private func submitAll() {
        let batch = entries.withLock { entries in
            var batch: [Entry] = []
            batch.reserveCapacity(entries.count)
            swap(&batch, &entries)
            return batch
        }
        for entry in batch {
            if let continuation = entry.continuation {
                entry.request.promise.futureResult.whenComplete { continuation.resume(with: $0) }
            }
            core.submit(entry.request, frame: entry.frame)
        }
    }
}
