import Ensemble
import Foundation
import Hosts
import Migration
import MigrationPlanning
import Rehearsal
import Reports
import Testing
import ZooKeeperTestSupport

extension RealServers {
    /// Every shipped strategy the rehearsal builds, on both ZooKeeper versions, end to end on
    /// real servers with live clients: nothing acknowledged is lost, no moving client's session
    /// expires, the data is identical at the split, and the destination serves on its own.
    @Suite struct Rehearsals {
        static func options(
            _ strategy: StrategyKind, _ version: ZooKeeperDistribution, to destination: ZooKeeperDistribution? = nil, label: String
        ) -> RehearsalOptions {
            var options = RehearsalOptions(
                strategy: strategy, sourceVersion: version, destinationVersion: destination, dataNodes: 200, brokers: 3, writers: 2, writesPerSecond: 10,
                rollingRestartPause: .milliseconds(500), networkID: "mtreh\(label)\(getpid())",
                outputDirectory: NSTemporaryDirectory() + "mitosis-rehearsal-test-\(label)-\(getpid())")
            // The census's readings a quarter second apart, 3 s after the last step that changed
            // servers (the unknown client, kazoo, reconnects with a backoff after an election), to
            // keep the suite short.
            options.censusInterval = .milliseconds(250)
            options.censusSettle = .seconds(3)
            return options
        }

        static func verdict(_ report: RunReport, _ name: String) -> VerdictItem? { report.verdict.first { $0.name == name } }

        static func expectClean(_ result: RehearsalResult) {
            let report = result.report
            #expect(result.passed, "\(renderTerminalSummary(report))")
            #expect(verdict(report, "acknowledged writes lost")?.value.hasPrefix("0 of ") == true)
            #expect(verdict(report, "sessions expired (moving clients)")?.value == "0")
            #expect((verdict(report, "data diff at the split") ?? verdict(report, "data diff at the switch"))?.passed == true)
            #expect(verdict(report, "destination serves on its own")?.passed == true)
            if report.strategy == StrategyKind.copy.rawValue {
                // Block & copy: the destination's own data survives, the copied subtrees are
                // identical before the switch, and the clients were stopped no longer than declared.
                #expect(verdict(report, "data diff at the switch")?.value == "0 differences")
                #expect(verdict(report, "unrelated data on the destination")?.passed == true)
                #expect(verdict(report, "block window (clients stopped)")?.passed == true)
            }
            for file in result.files { #expect(FileManager.default.fileExists(atPath: file), "missing \(file)") }
        }

        /// Across the versions operators move between (3.4.13 → 3.8.0, 3.8.0 → 3.9.3), every
        /// strategy once. Three more pairs run with faults or variants below, one rehearsal each:
        /// mitosis 3.4.13 → 3.8.0 with a killed tool and a killed server, block & copy into a 3.4.13
        /// destination with the tool killed while following, and replace 3.4.13 → 3.8.0 behind
        /// service addresses from host addresses. (mitosis-observers 3.8.0 → 3.9.3 is left to
        /// `rehearse`: its 3.9.3 destination is covered by reconfig, copy and replace here.)
        @Test(arguments: [
            (StrategyKind.mitosisObservers, ZooKeeperDistribution.v3_4_13, ZooKeeperDistribution.v3_8_0),
            (.reconfig, .v3_8_0, .v3_9_3), (.copy, .v3_8_0, .v3_9_3), (.replace, .v3_8_0, .v3_9_3),
        ])
        func strategyRehearsesCleanly(_ strategy: StrategyKind, _ version: ZooKeeperDistribution, _ destination: ZooKeeperDistribution) async throws {
            let label = "\(strategy.rawValue.filter(\.isLetter).prefix(4))\(version.version.filter(\.isNumber))\(destination.version.filter(\.isNumber).prefix(2))"
            let options = Self.options(strategy, version, to: destination, label: label)
            let result = try await Rehearsal.run(options)
            Self.expectClean(result)
            if strategy == .copy {
                // Read through the hosts' files: containers and TTL nodes stay what they are
                // where both versions have them (3.4.13 has neither).
                let kinds = Self.verdict(result.report, "container and TTL nodes kept")
                #expect(version.supportsExtendedNodeTypes ? kinds?.passed == true : kinds == nil, "\(kinds.map { "\($0.value): \($0.detail ?? "")" } ?? "none")")
            }
            if strategy == .replace {
                // The clients kept the stable addresses: no switch, every address moved once, and
                // only the new servers run at the end.
                let report = result.report
                #expect(!report.steps.contains { $0.id.hasPrefix("switch-") })
                #expect(report.events.filter { $0.kind == .addressMoved }.count == 3)
                #expect(report.servers?.filter { $0.ensemble == "src" }.allSatisfy { $0.finalMode == "not serving" } == true)
            }
            #expect(try await leftovers(of: SandboxNetwork(id: options.networkID)).isEmpty)
            try? FileManager.default.removeItem(atPath: options.outputDirectory)
        }

        /// HubSpot's path: each server replaced one for one behind its service address, which no
        /// host binds (kube-proxy's DNAT rules in every namespace). The live clients keep their
        /// connection strings: nothing acknowledged is lost, no session expires, and the elections
        /// stay within what the plan declares.
        /// - 3.8.0, the no-move variant (`--stable-addresses follows`): the address follows the
        ///   server by itself. The plan has no retarget step; a controller beside the executor plays
        ///   the platform and points each address at the host whose server exists (none while
        ///   neither runs), and the plan's gates check the effect.
        /// - 3.4.13 → 3.8.0 (HubSpot moved 3.4 ensembles; also the matrix's 3.4.13 → 3.8.0 replace),
        ///   from where HubSpot started: servers and clients on the hosts' own addresses
        ///   (`--from-host-addresses`), so it runs all four phases: services pointed at the hosts,
        ///   every client switched to the service addresses (seen on the client's host), the
        ///   servers' lines switched with quorumListenOnAllIPs by one rolling restart, then the
        ///   replacement, with the plan retargeting each service.
        @Test(arguments: [
            (ZooKeeperDistribution.v3_8_0, ZooKeeperDistribution.v3_8_0, StableAddress.Kind.follows, false), (.v3_4_13, .v3_8_0, .service, true),
        ])
        func replaceBehindServiceAddresses(version: ZooKeeperDistribution, destination: ZooKeeperDistribution, kind: StableAddress.Kind, fromHostAddresses: Bool) async throws {
            let follows = kind == .follows
            var options = Self.options(.replace, version, to: destination, label: follows ? "follows" : "svc\(version.version.filter(\.isNumber))")
            options.stableAddressKind = kind
            options.fromHostAddresses = fromHostAddresses
            let result = try await Rehearsal.run(options)
            Self.expectClean(result)
            let report = result.report
            let switches = report.steps.filter { $0.id.hasPrefix("switch-") }
            #expect(switches.count == (fromHostAddresses ? 5 : 0), "phase 2 switches the 3 brokers, the writers and the YAML client: \(switches.map(\.id))")
            #expect(report.steps.filter { $0.id.hasPrefix("service-") && $0.id.hasSuffix("-create") }.count == (fromHostAddresses ? 3 : 0))
            #expect(report.steps.filter { $0.id.hasPrefix("services-restart-") }.count == (fromHostAddresses ? 3 : 0))
            #expect(report.steps.filter { $0.id.hasSuffix("-retarget-service") }.count == (follows ? 0 : 3))
            #expect(!report.steps.contains { $0.id.hasSuffix("-move-address") })
            #expect(report.events.filter { $0.kind == .addressMoved }.count == (follows ? 0 : fromHostAddresses ? 6 : 3))
            if follows {
                // The platform (the rehearsal's controller) pointed each address at its new host once.
                let repointed = report.events.filter { $0.kind == .addressFollowed && $0.label.hasPrefix("platform re-pointed") }
                #expect(repointed.count == 3, "\(repointed.map(\.label))")
                #expect(Set(repointed.compactMap(\.subject)) == Set(["dst-1", "dst-2", "dst-3"]), "\(repointed.map(\.label))")
            }
            // From host addresses, the census before phase 4 catches the client no inventory lists.
            #expect(Self.verdict(report, "unknown client caught by the census")?.passed == (fromHostAddresses ? true : nil))
            let elections = Int(Self.verdict(report, "ZooKeeper leader elections")?.value ?? "") ?? 0
            // One election per phase that stops the leader: phase 3's rolling restart (the leader
            // restarts last) and phase 4 (the leader's server is replaced last).
            let most = fromHostAddresses ? 2 : 1
            #expect((1...most).contains(elections), "the first election and those the plan declares; counted \(elections)")
            #expect(report.servers?.filter { $0.ensemble == "src" }.allSatisfy { $0.finalMode == "not serving" } == true)
            #expect(try await leftovers(of: SandboxNetwork(id: options.networkID)).isEmpty)
            try? FileManager.default.removeItem(atPath: options.outputDirectory)
        }

        /// The default strategy with both faults: the tool stopped at a random step (resumed from
        /// its journal) and a source server killed while a rolling restart runs; and a leader that
        /// is not the highest id, which the executor restarts last.
        @Test func mitosisSurvivesAKilledToolAndAKilledServer() async throws {
            var options = Self.options(.mitosis, .v3_4_13, to: .v3_8_0, label: "faults")
            options.killToolAt = "random"
            options.killServerAt = "join-5-restart-2"
            options.moveLeadership = true
            let result = try await Rehearsal.run(options)
            Self.expectClean(result)
            let report = result.report
            #expect(Self.verdict(report, "plan completed")?.detail?.contains("resumed from the journal") == true)
            #expect(report.events.contains { $0.kind == .toolKilled })
            #expect(report.events.contains { $0.kind == .serverKilled })
            #expect(report.steps.contains { $0.outcome == .resumed || $0.outcome == .interrupted })
            let html = try String(contentsOfFile: result.directory + "/report.html", encoding: .utf8)
            #expect(html.contains("<svg"))
            try? FileManager.default.removeItem(atPath: options.outputDirectory)
        }

        /// Mitosis on a 3.8.0 source whose zoo.cfg enable reconfig: the destination joins as
        /// observers by reconfig and leaves by reconfig, so no source server restarts, the clients
        /// that stay see no election and the moving ones at most one (the split's); a run stopped
        /// after the split resumes to the end.
        @Test func mitosisJoinsByReconfigWhereTheSourceEnablesIt() async throws {
            var options = Self.options(.mitosis, .v3_8_0, label: "recfg")
            options.reconfigEnabled = true
            // The tool stops after the point of no return, before the source drops the observers;
            // the resumed run removes them.
            options.killToolAt = "split-remove-observers"
            let result = try await Rehearsal.run(options)
            Self.expectClean(result)
            let report = result.report
            #expect(Self.verdict(report, "plan completed")?.detail?.contains("resumed from the journal") == true)
            let ids = report.steps.map(\.id)
            #expect(ids.contains("join-observers") && ids.contains("split-remove-observers"), "\(ids)")
            #expect(!ids.contains { $0.contains("restart") && !$0.hasPrefix("split-restart-destination") }, "no rolling restart: \(ids)")
            #expect(Self.verdict(report, "leader elections on the source")?.value == "0", "\(renderTerminalSummary(report))")
            let moved = Int(Self.verdict(report, "leader elections on the destination")?.value ?? "") ?? -1
            #expect((0...1).contains(moved), "the moving clients see at most the split's election; counted \(moved)")
            #expect(try await leftovers(of: SandboxNetwork(id: options.networkID)).isEmpty)
            try? FileManager.default.removeItem(atPath: options.outputDirectory)
        }

        /// Block & copy with the tool stopped while the followers run (at the block, before the
        /// clients stop): the resumed run starts following again, and nothing is lost.
        @Test func copySurvivesAKilledToolWhileFollowing() async throws {
            var options = Self.options(.copy, .v3_4_13, label: "copykill")
            options.killToolAt = "block"
            let result = try await Rehearsal.run(options)
            Self.expectClean(result)
            #expect(Self.verdict(result.report, "plan completed")?.detail?.contains("resumed from the journal") == true)
            let journal = try String(contentsOfFile: result.directory + "/journal.jsonl", encoding: .utf8)
            // Each resume starts the followers again: after the kill, and again after the census
            // held the split at the same step (the rehearsal's unknown client), so count per path.
            let restarts = journal.split(separator: "\n").filter { $0.contains("\"kind\":\"follow-restarted\"") }
            for path in ["/kafka", "/rehearsal"] {
                #expect(restarts.contains { $0.contains("follow \(path) from src into dst again") }, "the follower of \(path) started again: \(restarts)")
            }
            try? FileManager.default.removeItem(atPath: options.outputDirectory)
        }
    }
}
