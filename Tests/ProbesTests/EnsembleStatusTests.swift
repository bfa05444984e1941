import Probes
import Testing
import ZooKeeper

@Suite struct EnsembleStatusWarningTests {
    func row(_ server: String, _ mode: String?, zxid: String? = "0x100000010", membership: [String]? = nil) -> ServerHealth {
        ServerHealth(server: server, reachable: mode != nil, error: mode == nil ? "refused" : nil, mode: mode, zxid: zxid, membership: membership)
    }

    @Test func aHealthyEnsembleHasNoWarnings() {
        #expect(EnsembleStatus.warnings(for: [row("a", "leader"), row("b", "follower"), row("c", "follower")]).isEmpty)
    }

    @Test func aFollowerThatHasSeenNothingOfANewEpochIsNotLagging() {
        #expect(EnsembleStatus.warnings(for: [row("a", "leader", zxid: "0x200000000"), row("b", "follower", zxid: "0x0")]).isEmpty)
    }

    @Test func noLeaderTwoLeadersDownAndLagging() {
        #expect(EnsembleStatus.warnings(for: [row("a", "follower"), row("b", "follower")]).contains { $0.hasPrefix("no leader") })
        #expect(EnsembleStatus.warnings(for: [row("a", "leader"), row("b", "leader")]).contains { $0.contains("2 leaders") })
        #expect(EnsembleStatus.warnings(for: [row("a", "leader"), row("b", nil)]).contains { $0.hasPrefix("b does not answer") })
        let lagging = EnsembleStatus.warnings(for: [row("a", "leader", zxid: "0x100005000"), row("b", "follower", zxid: "0x100000010")])
        #expect(lagging.contains { $0.hasPrefix("b lags the leader by 20464") })
    }

    @Test func membershipDisagreementIsReported() {
        let warnings = EnsembleStatus.warnings(for: [
            row("a", "leader", membership: ["server.1=x", "server.2=y", "server.3=z"]),
            row("b", "follower", membership: ["server.1=x", "server.2=y", "server.3=z", "server.4=w"]),
        ])
        #expect(warnings.contains { $0.contains("disagree on the membership") })
    }
}
