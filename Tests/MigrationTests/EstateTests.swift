import Ensemble
import Foundation
import Hosts
import NIOPosix
import Testing
import ZooKeeperProtocol

@testable import Migration
@testable import MigrationPlanning

/// Bad estates on real files (local driver, files under a temporary directory): each is refused
/// at plan time with its host, file and line, and every host file is byte for byte as before,
/// with no service started, stopped or restarted.
@Suite struct BadEstates {
    /// One bad estate: how to spoil the good one, and what the refusal must name.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var strategy: StrategyKind = .mitosis
        var spoil: @Sendable (inout EstateFixture) throws -> Void
        /// Each must be the host, file (a suffix of the path) and line of one problem, and a phrase of its message.
        var expected: [(host: String, file: String?, line: Int?, says: String)]
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "destination zoo.cfg on a source host pointing at the source's dataDir and clientPort",
            spoil: { estate in
                estate.hostOf[4] = "h1"
                estate.addressOf[4] = "127.0.0.11"
                estate.quorumPortOf[4] = 20001
                try estate.put(
                    estate.configPath(4),
                    "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=\(estate.dataDir(1))\nclientPort=22001\n")
            },
            expected: [
                ("h1", "zk4/conf/zoo.cfg", 4, "src server 1's dataDir"),
                ("h1", "zk4/conf/zoo.cfg", 5, "client port on this host"),
                ("h1", nil, nil, "quorum port 127.0.0.11:20001"),
            ]),
        Case(
            name: "server.2 listed twice",
            spoil: { estate in
                try estate.edit(estate.configPath(1), appending: "server.2=127.0.0.99:20002:21002\n")
            },
            expected: [("h1", "zk1/conf/zoo.cfg", 12, "listed twice")]),
        Case(
            name: "myid missing on one server, wrong on another",
            spoil: { estate in
                try FileManager.default.removeItem(atPath: estate.myidPath(2))
                try estate.put(estate.myidPath(3), "7\n")
            },
            expected: [("h2", "zk2/data/myid", nil, "missing"), ("h3", "zk3/data/myid", 1, "myid says 7")]),
        Case(
            name: "an observer without peerType=observer in its own file",
            strategy: .mitosisObservers,
            spoil: { estate in
                estate.roleOf[3] = .observer
                try estate.write(sourceFiles: [1, 2, 3])
                try estate.edit(estate.configPath(3), replacing: "peerType=observer\n", with: "")
            },
            expected: [("h3", "zk3/conf/zoo.cfg", nil, "peerType=observer")]),
        Case(
            name: "garbage values: tickTime=abc, a port that is not a number",
            spoil: { estate in
                try estate.edit(estate.configPath(1), replacing: "tickTime=2000", with: "tickTime=abc")
                try estate.put(estate.configPath(5), "tickTime=2000\ninitLimit=ten\nsyncLimit=5\ndataDir=\(estate.dataDir(5))\nclientPort=21a1\n")
            },
            expected: [("h1", "zk1/conf/zoo.cfg", 2, "tickTime=abc"), ("h5", "zk5/conf/zoo.cfg", 2, "initLimit=ten"), ("h5", "zk5/conf/zoo.cfg", 5, "clientPort=21a1")]),
        Case(
            name: "a 3.5 dynamic config given to a 3.4 ensemble",
            spoil: { estate in
                estate.version = .v3_4_13
                estate.destinationVersion = .v3_4_13
                estate.dynamicConfigPathOf[1] = estate.configPath(1) + ".dynamic.100000000"
                try estate.put(estate.dynamicConfigPathOf[1]!, "server.1=127.0.0.11:20001:21001:participant;0.0.0.0:22001\nserver.2=127.0.0.12:20002:21002:participant;0.0.0.0:22002\n")
                // 3.4 does not know the whitelist either.
                for id in Int64(1)...3 { try estate.edit(estate.configPath(id), replacing: "4lw.commands.whitelist=*\n", with: "") }
            },
            expected: [("h1", "zoo.cfg.dynamic.100000000", 1, "3.4 ignores it")]),
        Case(
            name: "two hosts sharing one address",
            spoil: { estate in estate.addressOf[5] = estate.addressOf[4]! },
            expected: [("h5", nil, nil, "share the address 127.0.0.14")]),
        Case(
            name: "a destination that holds data",
            spoil: { estate in try estate.put("\(estate.dataDir(6))/version-2/snapshot.200000003", "snapshot") },
            expected: [("h6", "zk6/data", nil, "holds data")]),
        Case(
            name: "a source server's config file not where the inventory says",
            spoil: { estate in try FileManager.default.removeItem(atPath: estate.configPath(2)) },
            expected: [("h2", "zk2/conf/zoo.cfg", nil, "no config file")]),
        Case(
            name: "a source server that is not running",
            spoil: { estate in try FileManager.default.removeItem(atPath: estate.marker(3, "running")) },
            expected: [("h3", nil, nil, "src server 3 is not running")]),
        Case(
            name: "a source server list that disagrees with the inventory",
            spoil: { estate in
                try estate.edit(estate.configPath(2), replacing: "server.3=127.0.0.13:20003:21003", with: "server.3=127.0.0.13:20009:21003")
            },
            expected: [("h2", "zk2/conf/zoo.cfg", 11, "differs from the inventory")]),
    ]

    @Test(arguments: cases)
    func refusedWithNothingChanged(_ badCase: Case) async throws {
        var estate = try EstateFixture()
        defer { estate.remove() }
        try badCase.spoil(&estate)
        let before = try estate.snapshot()
        do {
            _ = try await estate.plan(badCase.strategy)
            Issue.record("\(badCase.name): planned, but should have been refused")
        } catch let error as PlanningError {
            #expect(error.code == .estateRefused, "\(badCase.name): \(error)")
            for expected in badCase.expected {
                let found = error.estateProblems.contains { problem in
                    problem.host == expected.host && problem.message.contains(expected.says)
                        && (expected.file.map { problem.file?.hasSuffix($0) == true } ?? true)
                        && (expected.line.map { problem.line == $0 } ?? true)
                }
                #expect(found, "\(badCase.name): no problem at \(expected.host) \(expected.file ?? "") line \(expected.line.map(String.init) ?? "-") saying '\(expected.says)'; got:\n\(error.estateProblems.map(\.description).joined(separator: "\n"))")
            }
        }
        #expect(try estate.snapshot() == before, "\(badCase.name): a host file changed")
        for id in Int64(1)...6 {
            for marker in ["started", "stopped", "restarted"] {
                #expect(!FileManager.default.fileExists(atPath: estate.marker(id, marker)), "\(badCase.name): server \(id) was \(marker)")
            }
        }
    }

    /// The good estate plans, and `--show-estate`'s value says what is there.
    @Test func goodEstatePlansFromTheRealFiles() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        let observed = await estate.discover()
        let one = try #require(observed.server(ensemble: "src", id: 1))
        #expect(one.service == .running)
        #expect(one.myid.text == "1\n")
        #expect(one.dataDir?.newestSnapshotZxid == "0x100000000")
        #expect(one.srvr == nil, "nothing listens on 127.0.0.11")
        #expect(observed.server(ensemble: "dst", id: 4)?.config.exists == false)
        #expect(observed.clientConfigs.first?.file.text?.contains("zookeeper.connect=") == true)
        let plan = try Planner.plan(.mitosis, inventory: estate.inventory, source: "src", destination: "dst", estate: observed)
        #expect(plan.estateFingerprint == observed.fingerprint)
        let write = try #require(plan.steps.flatMap(\.writes).first { $0.server.id == 1 })
        #expect(write.previousText == observed.server(ensemble: "src", id: 1)?.config.text, "the diff is against the real file")
        #expect(write.text.contains("# managed by hand\n"), "comments stay")
        #expect(write.text.contains("autopurge.snapRetainCount=5\n"), "extra keys stay")
        #expect(write.text.contains("4lw.commands.whitelist=*\n"), "* stays *")
        #expect(write.settings[ZooKeeperConfig.Key.fourLetterWordWhitelist] == nil, "the operator's * is not touched")
        let runbook = Runbook.render(plan)
        #expect(runbook.contains("change \(estate.configPath(1)):\n"), "the runbook's diff is against the real file")
        #expect(runbook.contains("write \(estate.configPath(4)):\n"), "a destination without a zoo.cfg gets a new one, not a diff against an assumed file")
    }

    /// A whitelist that lacks words Mitosis asks gets only those words, and the runbook shows it.
    @Test func narrowWhitelistGetsOnlyTheMissingWords() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        for id in Int64(1)...3 { try estate.edit(estate.configPath(id), replacing: "4lw.commands.whitelist=*", with: "4lw.commands.whitelist=ruok, envi,srvr") }
        let plan = try await estate.plan()
        let write = try #require(plan.steps.flatMap(\.writes).first { $0.server.id == 2 })
        #expect(write.settings[ZooKeeperConfig.Key.fourLetterWordWhitelist] == .some("ruok,envi,srvr,mntr,conf,isro,stat,cons"))
        #expect(Runbook.render(plan).contains("+4lw.commands.whitelist=ruok,envi,srvr,mntr,conf,isro,stat,cons"))
    }
}

/// A zoo.cfg as Java reads it: ISO-8859-1 with CRLF line endings, planned and rewritten with every
/// byte the plan does not change intact.
@Suite struct Latin1Configs {
    @Test func latin1AndCRLFSurviveAPlannedWrite() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        // "für" with ü as the single byte 0xFC, as an editor on a Latin-1 system saves it.
        let original = String(decoding: estate.bytes(estate.configPath(1))!, as: UTF8.self)
            .replacingOccurrences(of: "# managed by hand\n", with: "# Zookeeper f\u{FC}r Kafka\n")
        let crlf = original.replacingOccurrences(of: "\n", with: "\r\n")
        let bytes = crlf.unicodeScalars.map { UInt8($0.value) }
        #expect(bytes.contains(0xFC) && String(bytes: bytes, encoding: .utf8) == nil, "the file is not UTF-8")
        try estate.put(estate.configPath(1), bytes: bytes)

        let plan = try await estate.plan()
        let step = try #require(plan.steps.first { $0.writes.contains { $0.server.id == 1 } })
        let write = try #require(step.writes.first { $0.server.id == 1 })
        #expect(write.previousText == Latin1.decode(bytes))
        #expect(write.text.contains("# Zookeeper f\u{FC}r Kafka\r\n"))

        let executor = MigrationExecutor(
            plan: try Prover.prove(plan), hosts: estate.hosts, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            journal: Journal(path: estate.root + "/journal"))
        _ = try await executor.apply(write)
        let after = try #require(estate.bytes(estate.configPath(1)))
        #expect(after == (try Latin1.encode(write.text)), "the file is what the runbook showed, byte for byte")
        // Every line the plan does not change is there, byte for byte, and every line ends in CRLF.
        let lines = { (bytes: [UInt8]) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init) }
        let kept = lines(bytes).filter { !$0.starts(with: Array("server.".utf8)) }
        for line in kept { #expect(lines(after).contains(line), "line \(Latin1.decode(line)) is gone") }
        #expect(lines(after).dropLast().allSatisfy { $0.last == 0x0D }, "a line lost its CR")
        #expect(after.contains(0xFC))
    }
}

/// A config changed by hand between plan and run stops the run before anything changes.
@Suite struct Drift {
    @Test func handEditBetweenPlanAndRunStopsTheRun() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        let plan = try await estate.plan()
        let path = estate.configPath(2)
        try estate.edit(path, appending: "maxClientCnxns=10\n")
        try await expectDriftRefusal(plan, on: estate, host: "h2", path: path, diffLine: "+maxClientCnxns=10")
    }
}

extension Drift {
    /// Runs `plan` on the estate; expects the drift refusal naming `host:path` with `diffLine`, and
    /// every host file, the journal and the services as they were.
    func expectDriftRefusal(_ plan: Plan, on estate: EstateFixture, host: String, path: String, diffLine: String) async throws {
        let before = try estate.snapshot()
        let executor = MigrationExecutor(
            plan: try Prover.prove(plan), hosts: estate.hosts, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            journal: Journal(path: estate.root + ".journal"))
        defer { try? FileManager.default.removeItem(atPath: executor.journal.path) }
        await #expect {
            _ = try await executor.run()
        } throws: { error in
            guard let error = error as? ExecutionError, error.code == .drift else { return false }
            return error.message.contains("\(host):\(path)") && error.message.contains(diffLine)
        }
        #expect(try estate.snapshot() == before, "nothing changed")
        #expect(try executor.journal.load().events.isEmpty, "the run did not start")
        for id in Int64(1)...6 {
            for marker in ["started", "stopped", "restarted"] { #expect(!FileManager.default.fileExists(atPath: estate.marker(id, marker))) }
        }
    }

    /// Server 4's myid was missing when planned; someone wrote one with another id since.
    @Test func aMyidWrittenByHandSincePlanningStopsTheRun() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        let plan = try await estate.plan()
        #expect(plan.steps.flatMap(\.writes).contains { $0.myidPath == estate.myidPath(4) && $0.previousMyidText == nil })
        try estate.put(estate.myidPath(4), "7\n")
        try await expectDriftRefusal(plan, on: estate, host: "h4", path: estate.myidPath(4), diffLine: "+7")
    }

    /// The reconfig plan writes joiner 4's dynamic file, which was missing when planned; someone
    /// has written one since.
    @Test func aDynamicFileThatAppearedSincePlanningStopsTheRun() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        let plan = try await estate.plan(.reconfig)
        let write = try #require(plan.steps.flatMap(\.writes).first { $0.server.id == 4 && $0.dynamicConfigPath != nil })
        let path = try #require(write.dynamicConfigPath)
        try estate.put(path, "server.9=127.0.0.99:2888:3888:participant;2181\n")
        try await expectDriftRefusal(plan, on: estate, host: "h4", path: path, diffLine: "+server.9=127.0.0.99")
    }
}

/// Rollback restores only what the journal says the run changed, byte for byte.
@Suite struct RollbackRestores {
    @Test func fileTheRunNeverTouchedIsNotRewritten() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        // Server 1's file is Latin-1: the restore must give back its bytes exactly.
        let latin1 = String(decoding: estate.bytes(estate.configPath(1))!, as: UTF8.self).replacingOccurrences(of: "# managed by hand", with: "# gr\u{FC}n")
        let originalOne = latin1.unicodeScalars.map { UInt8($0.value) }
        try estate.put(estate.configPath(1), bytes: originalOne)
        let plan = try await estate.plan()
        let step = try #require(plan.steps.first { step in step.writes.contains { $0.server.id == 1 } && step.writes.contains { $0.server.id == 2 } })
        let executor = MigrationExecutor(
            plan: try Prover.prove(plan), hosts: estate.hosts, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, journal: Journal(path: estate.root + "/journal"))
        // The run wrote server 1's file; server 2's host refused us before its write began.
        let one = try #require(step.actions.firstIndex { if case .writeConfig(let write) = $0 { write.server.id == 1 } else { false } })
        let two = try #require(step.actions.firstIndex { if case .writeConfig(let write) = $0 { write.server.id == 2 } else { false } })
        guard case .writeConfig(let writeOne) = step.actions[one] else { return }
        let before = try await executor.currentContents(of: writeOne)
        let previous = try await executor.apply(writeOne).previous
        #expect(estate.bytes(estate.configPath(1)) != originalOne)
        let twoBefore = estate.bytes(estate.configPath(2))
        let journal = JournalState(events: [
            ExecutionEvent(kind: .planStarted, summary: "test", plan: try Journal.fingerprint(of: plan)),
            ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title),
            ExecutionEvent(kind: .actionStarted, step: step.id, action: one, summary: "write 1", previousContents: before),
            ExecutionEvent(kind: .actionFinished, step: step.id, action: one, summary: "wrote 1", changed: true, previousContents: previous),
            ExecutionEvent(kind: .actionStarted, step: step.id, action: two, summary: "write 2"),
            ExecutionEvent(kind: .failed, step: step.id, summary: "h2: refused: host key changed"),
        ])
        let back = try Rollback.plan(for: Prover.prove(plan), journal: journal)
        let restores = back.steps.flatMap(\.writes)
        #expect(restores.map(\.server.id) == [1], "only the file the run changed is restored; got \(restores.map(\.server))")
        for write in restores { _ = try await executor.apply(write) }
        #expect(estate.bytes(estate.configPath(1)) == originalOne, "restored byte for byte")
        #expect(estate.bytes(estate.configPath(2)) == twoBefore, "server 2's file is left alone")
    }
}

extension RollbackRestores {
    /// The run writes every configuration of the steps before the point of no return, through the
    /// executor (journaled as a run journals them): the destination's zoo.cfg and myid files are
    /// new. The rollback removes exactly those and restores the rest: every file on every host
    /// hashes as it did before the run.
    @Test func filesTheRunCreatedAreRemovedAndEveryFileHashesAsBefore() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        let plan = try await estate.plan()
        let before = try estate.snapshot()
        let executor = try await writeUpToThePointOfNoReturn(plan, on: estate)
        defer { try? FileManager.default.removeItem(atPath: executor.journal.path) }
        let created = Set((Int64(4)...6).flatMap { [estate.configPath($0), estate.myidPath($0)] }.filter { estate.bytes($0) != nil })
        #expect(created.isSuperset(of: [estate.configPath(4), estate.myidPath(4)]), "the run created server 4's files")
        #expect(try estate.snapshot() != before, "the run changed files")

        let back = try Rollback.plan(for: executor.proven, journal: try executor.journal.load())
        let removed = Set(back.steps.flatMap(\.writes).flatMap { $0.removes ?? [] })
        #expect(removed == created, "only files the run created are removed")
        #expect(Runbook.render(back).contains("$ rm -- \(estate.myidPath(4))"), "the runbook shows the removal")
        for write in back.steps.flatMap(\.writes) { _ = try await executor.apply(write) }
        #expect(try estate.snapshot() == before, "every host file as before the run, byte for byte; none left behind")
    }

    /// Runs the configuration writes of the steps before the point of no return through the
    /// executor, journaled as a run journals them; gives the executor.
    func writeUpToThePointOfNoReturn(_ plan: Plan, on estate: EstateFixture) async throws -> MigrationExecutor {
        let executor = MigrationExecutor(
            plan: try Prover.prove(plan), hosts: estate.hosts, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            journal: Journal(path: estate.root + ".journal"))
        let point = try #require(plan.pointOfNoReturn.flatMap { plan.index(of: $0) })
        try executor.record(ExecutionEvent(kind: .planStarted, summary: "test", plan: try Journal.fingerprint(of: plan)))
        for step in plan.steps[..<point] {
            try executor.record(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
            for (index, action) in step.actions.enumerated() {
                if case .writeConfig = action { try await executor.perform(action, index: index, in: step) }
            }
            try executor.record(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
        }
        return executor
    }

    /// The destination's conf and data directories did not exist before the run; writing its
    /// zoo.cfg and myid created them, and the journal says so. The rollback removes the files the
    /// run created, then each directory the run created that is empty: server 4's and 6's are gone,
    /// as they were; server 5's data directory, which now holds a snapshot (as a started server's
    /// does), stays with it, and so do the directories above it. No `rm -r`.
    @Test func directoriesTheRunCreatedAreRemovedOnlyWhenEmpty() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        let plan = try await estate.plan()
        let directoriesBefore = estate.directories()
        #expect(!directoriesBefore.contains("h4"), "server 4's host has no directory before the run")
        let executor = try await writeUpToThePointOfNoReturn(plan, on: estate)
        defer { try? FileManager.default.removeItem(atPath: executor.journal.path) }
        let journal = try executor.journal.load()
        let recorded = Set(journal.events.filter { $0.kind == .actionFinished }.flatMap { $0.createdDirectories ?? [] })
        #expect(recorded.isSuperset(of: ["\(estate.root)/h4", "\(estate.root)/h4/zk4", estate.dataDir(4), "\(estate.directory(4))/conf"]), "\(recorded.sorted())")
        #expect(recorded.allSatisfy { !directoriesBefore.contains(String($0.dropFirst(estate.root.count + 1))) }, "only directories that were missing")
        let snapshot = "\(estate.dataDir(5))/version-2/snapshot.100000000"
        try #require(estate.bytes(estate.myidPath(5)) != nil, "the run wrote server 5's myid")
        try estate.put(snapshot, "data the server wrote")

        let back = try Rollback.plan(for: executor.proven, journal: journal)
        #expect(Set(back.steps.flatMap(\.writes).flatMap { $0.removesDirectories ?? [] }) == recorded)
        for write in back.steps.flatMap(\.writes) { _ = try await executor.apply(write) }
        let expected = directoriesBefore.union(["h5", "h5/zk5", "h5/zk5/data", "h5/zk5/data/version-2"])
        #expect(estate.bytes(snapshot) == Array("data the server wrote".utf8), "what a directory held stays")
        #expect(estate.bytes(estate.myidPath(5)) == nil && estate.bytes(estate.configPath(5)) == nil, "the files the run created are gone")
        #expect(estate.directories() == expected, "left: \(estate.directories().subtracting(expected).sorted()), lost: \(expected.subtracting(estate.directories()).sorted())")
    }
}

/// Drift for files the run itself wrote: before each step and at `--resume`, every file an earlier
/// step wrote must hold exactly the bytes the journal says it wrote.
extension Drift {
    @Test func aHandEditToAFileTheRunWroteStopsTheResumeWithADiff() async throws {
        let estate = try EstateFixture()
        defer { estate.remove() }
        let plan = try await estate.plan()
        // The run wrote the configurations before the point of no return, then stopped (a gate, a crash).
        let executor = try await RollbackRestores().writeUpToThePointOfNoReturn(plan, on: estate)
        defer { try? FileManager.default.removeItem(atPath: executor.journal.path) }
        let written = try executor.journal.load().events.compactMap(\.writtenFiles).reduce(into: [String: String]()) { $0.merge($1) { _, new in new } }
        let path = estate.configPath(1)
        #expect(written[path] == ExecutionEvent.digest(of: String(decoding: estate.bytes(path) ?? [], as: UTF8.self)), "the journal holds the digest of what the run wrote")
        try await executor.checkWrittenFiles()

        // A person edits server 1's zoo.cfg, which the run wrote; then --resume.
        try estate.edit(path, appending: "maxClientCnxns=10\n")
        let before = try estate.snapshot()
        let events = try executor.journal.load().events
        var resume = executor
        resume.options.resume = true
        await #expect {
            _ = try await resume.run()
        } throws: { error in
            guard let error = error as? ExecutionError, error.code == .drift else { return false }
            return error.message.contains("h1:\(path) is not as step") && error.message.contains("+maxClientCnxns=10") && error.message.contains("--resume")
        }
        #expect(try estate.snapshot() == before, "no host file changed")
        #expect(try executor.journal.load().events == events, "nothing journaled")
        for id in Int64(1)...6 {
            for marker in ["started", "stopped", "restarted"] { #expect(!FileManager.default.fileExists(atPath: estate.marker(id, marker))) }
        }
        // Put back as the run wrote it, the check passes again.
        try estate.edit(path, replacing: "maxClientCnxns=10\n", with: "")
        try await executor.checkWrittenFiles()
    }
}

/// An inventory that is not UTF-8 text is refused at its line, without its raw bytes.
@Suite struct InventoryBytes {
    @Test func latin1AndBinaryInventoriesNameTheLine() throws {
        let latin1: [UInt8] = Array("ensembles:\n  - name: caf".utf8) + [0xE9] + Array("\n".utf8)
        #expect {
            _ = try Inventory.text(of: latin1, fileName: "inv.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.contains("inv.yaml:2:14") && text.contains("0xE9") && !text.unicodeScalars.contains { $0.value == 0xE9 }
        }
        let binary: [UInt8] = Array("hosts:\n".utf8) + [0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01]
        #expect {
            _ = try Inventory.text(of: binary, fileName: "inv.yaml")
        } throws: { error in "\(error)".contains("inv.yaml:2:1") }
        #expect(try Inventory.text(of: Array("\u{FEFF}hosts: []\n# café\n".utf8), fileName: "inv.yaml") == "hosts: []\n# café\n")
    }
}
