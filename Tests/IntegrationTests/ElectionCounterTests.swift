import Testing

import Migration
import MigrationPlanning

/// Elections counted from `srvr` leaders and their epochs: the first leader seen is not one, a
/// leader seen again after a missed poll is not one, and after a split each ensemble's own
/// election counts once.
@Suite struct ElectionCounterTests {
    func next(_ counter: inout ElectionCounter, ensemble: String, epoch: UInt32) -> Bool {
        counter.leader(ensemble: ensemble, epoch: epoch)
    }

    @Test func countsNewEpochsPerEnsembleAfterTheFirstLeader() {
        var counter = ElectionCounter()
        #expect(!next(&counter, ensemble: "src", epoch: 1), "the leader found at the start was elected before the watch")
        #expect(!next(&counter, ensemble: "src", epoch: 1), "the same leader polled again")
        #expect(next(&counter, ensemble: "dst", epoch: 2), "a destination server leads the joined ensemble: an election")
        #expect(!next(&counter, ensemble: "dst", epoch: 2))
        // The split: each ensemble elects its own leader, possibly with the same epoch number.
        #expect(next(&counter, ensemble: "src", epoch: 3))
        #expect(next(&counter, ensemble: "dst", epoch: 3))
        // Polls that alternate between the two ensembles' leaders add nothing.
        for _ in 0..<3 {
            #expect(!next(&counter, ensemble: "src", epoch: 3))
            #expect(!next(&counter, ensemble: "dst", epoch: 3))
        }
    }
}
