import Ensemble
import Foundation
import Hosts
import NIOEmbedded
import Synchronization
import Testing

@testable import Migration
@testable import MigrationPlanning

final class OperationLog: Sendable {
    let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

/// A host driver that only records what it was asked to do with addresses.
struct AddressRecordingDriver: HostDriver {
    let host: String
    let log: OperationLog

    init(host: String, log: OperationLog) {
        self.host = host
        self.log = log
    }

    func run(_ command: String, timeout: Duration) async throws -> CommandResult { CommandResult(status: 1, output: "") }
    func readFile(_ path: String) async throws -> String? { nil }
    func writeFile(_ path: String, contents: String) async throws -> HostChange { HostChange(host: host, changed: true, summary: "wrote \(path)") }

    func attachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        log.append("\(host): attach \(address)/\(prefixLength) dev \(device)")
        return HostChange(host: host, changed: true, summary: "attached \(address)")
    }

    func detachAddress(_ address: String, prefixLength: Int, device: String) async throws -> HostChange {
        log.append("\(host): detach \(address)/\(prefixLength) dev \(device)")
        return HostChange(host: host, changed: true, summary: "detached \(address)")
    }
}

/// A host driver that records the commands it runs; every one succeeds.
struct CommandRecordingDriver: HostDriver {
    let host: String
    let log: OperationLog

    func run(_ command: String, timeout: Duration) async throws -> CommandResult {
        log.append("\(host): \(command)")
        return CommandResult(status: 0, output: "")
    }
    func readFile(_ path: String) async throws -> String? { nil }
    func writeFile(_ path: String, contents: String) async throws -> HostChange { HostChange(host: host, changed: true, summary: "wrote \(path)") }
}

final class CommandRecordingDirectory: HostDirectory {
    let log = OperationLog()
    func driver(for host: String) throws -> any HostDriver { CommandRecordingDriver(host: host, log: log) }
}

final class RecordingDirectory: HostDirectory {
    let log = OperationLog()
    func driver(for host: String) throws -> any HostDriver { AddressRecordingDriver(host: host, log: log) }
}

@Suite struct AddressMoves {
    let plan: Plan
    let move: AddressMove

    init() throws {
        plan = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        guard case .moveAddress(let move)? = plan.step("replace-2-move-address")?.actions.first else {
            throw ProverError(message: "the plan moves no address for server 2")
        }
        self.move = move
    }

    /// The executor detaches on the old host first, then attaches on the new one, through the
    /// host drivers (the sandbox's driver records the new holder as it attaches).
    @Test func executorDetachesThenAttaches() async throws {
        let directory = RecordingDirectory()
        let executor = MigrationExecutor(
            plan: try Prover.prove(plan), hosts: directory, eventLoopGroup: EmbeddedEventLoop(), journal: Journal(path: "/nonexistent/journal.jsonl"))
        let changes = try await executor.perform(.moveAddress(move))
        #expect(directory.log.all == [
            "zk-source-2: detach 10.1.0.2/24 dev eth0",
            "zk-destination-2: attach 10.1.0.2/24 dev eth0",
        ])
        #expect(changes.map(\.host) == ["zk-source-2", "zk-destination-2"])
        #expect(Action.moveAddress(move).runsTogether)
    }

    /// An address moved by the inventory's commands (Zalando's ENIs): detach on the old host,
    /// attach and check on the new one, each told the address and both hosts; the runbook shows them.
    @Test func executorRunsTheInventorysCommands() async throws {
        let commands = AddressCommands(detach: "eni-move detach", attach: "eni-move attach", check: "eni-move check")
        let plan = try Fixtures.plan(.replace, 3, 3, staying: true, addressCommands: commands)
        guard case .moveAddress(let move)? = plan.step("replace-2-move-address")?.actions.first else {
            Issue.record("the plan moves no address for server 2")
            return
        }
        #expect(move.kind == .command && move.commands == commands)
        #expect(try JSONDecoder().decode(AddressMove.self, from: try JSONEncoder().encode(move)) == move)
        let directory = CommandRecordingDirectory()
        let executor = MigrationExecutor(
            plan: try Prover.prove(plan), hosts: directory, eventLoopGroup: EmbeddedEventLoop(), journal: Journal(path: "/nonexistent/journal.jsonl"))
        let changes = try await executor.perform(.moveAddress(move))
        let env = "ADDRESS='10.1.0.2' FROM_HOST='zk-source-2' TO_HOST='zk-destination-2' sh -c"
        #expect(directory.log.all == [
            "zk-source-2: \(env) 'eni-move detach'",
            "zk-destination-2: \(env) 'eni-move attach'",
            "zk-destination-2: \(env) 'eni-move check'",
        ])
        #expect(changes.map(\.host) == ["zk-source-2", "zk-destination-2", "zk-destination-2"])
        let runbook = Runbook.render(plan)
        #expect(runbook.contains("$ \(env) 'eni-move attach'"))
        #expect(!runbook.contains("sudo ip addr"))
    }

    @Test func moveRoundTripsThroughJSONAndReads() throws {
        let action = Action.moveAddress(move)
        let data = try JSONEncoder().encode(action)
        #expect(try JSONDecoder().decode(Action.self, from: data) == action)
        #expect(String(decoding: data, as: UTF8.self).hasPrefix("{\"moveAddress\":"))
        #expect(action.summary == "move 10.1.0.2/24 from zk-source-2 to zk-destination-2 (server 2's stable address)")
        #expect(action.host == "zk-source-2")
        #expect(action.servers.map(\.ensemble) == ["source", "destination"])
        let gate = Gate.serversStopped(servers: [move.from])
        #expect(try JSONDecoder().decode(Gate.self, from: JSONEncoder().encode(gate)) == gate)
    }

    /// A replace that replaced server 2 first (server 1 led) and stopped inside server 1's unit
    /// goes back in the order the run went: server 1's unit is undone first, then server 2's,
    /// and that way back is proved after the steps as they ran.
    @Test func rollbackUndoesTheUnitsInTheOrderTheyRan() throws {
        var events = [ExecutionEvent(kind: .planStarted, summary: "start", plan: "x")]
        let ran = ["preflight"] + ["prepare", "stop-old", "move-address", "start-new"].map { "replace-2-\($0)" } + ["replace-1-prepare", "replace-1-stop-old"]
        for id in ran {
            let step = try #require(plan.step(StepID(id)))
            events.append(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
            for index in step.actions.indices {
                events.append(ExecutionEvent(kind: .actionStarted, step: step.id, action: index, summary: ""))
                // The destination's servers were stopped already: the preflight changed nothing.
                events.append(ExecutionEvent(kind: .actionFinished, step: step.id, action: index, summary: "", changed: id != "preflight"))
            }
            events.append(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
        }
        let journal = JournalState(events: events)
        #expect(journal.inRunOrder(plan.steps).prefix(ran.count).map(\.id.rawValue) == ran)
        let proven = try Prover.prove(plan)
        let rollback = try Rollback.plan(for: proven, journal: journal)
        let ids = rollback.steps.map(\.id.rawValue)
        let startOld1 = try #require(ids.firstIndex(of: "rollback-replace-1-stop-old"))
        let stopNew2 = try #require(ids.firstIndex(of: "rollback-replace-2-start-new"))
        #expect(startOld1 < stopNew2, "\(ids)")
        #expect(throws: Never.self) { try Prover.prove(rollback: rollback, of: proven, journal: journal) }
    }

    /// A replace stopped after server 1's round goes back the mirror way: stop the new server,
    /// move the address back once it is seen stopped, start the old server.
    @Test func rollbackMovesTheAddressBack() throws {
        var events = [ExecutionEvent(kind: .planStarted, summary: "start", plan: "x")]
        for id in ["preflight", "replace-1-prepare", "replace-1-stop-old", "replace-1-move-address", "replace-1-start-new"] {
            let step = try #require(plan.step(StepID(id)))
            events.append(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
            for index in step.actions.indices {
                events.append(ExecutionEvent(kind: .actionStarted, step: step.id, action: index, summary: ""))
                events.append(ExecutionEvent(kind: .actionFinished, step: step.id, action: index, summary: "", changed: true))
            }
            events.append(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
        }
        let rollback = try Rollback.plan(for: Prover.prove(plan), journal: JournalState(events: events))
        let ids = rollback.steps.map(\.id.rawValue)
        let stopNew = try #require(ids.firstIndex(of: "rollback-replace-1-start-new"))
        let moveBack = try #require(ids.firstIndex(of: "rollback-replace-1-move-address"))
        let startOld = try #require(ids.firstIndex(of: "rollback-replace-1-stop-old"))
        #expect(stopNew < moveBack && moveBack < startOld)
        let back = rollback.steps[moveBack]
        let newServer = ServerRef(ensemble: "destination", id: 1, host: "zk-destination-1")
        #expect(back.gatesBefore == [.serversStopped(servers: [newServer])])
        guard case .moveAddress(let reversed)? = back.actions.first else {
            Issue.record("the rollback moves no address")
            return
        }
        #expect(reversed.from == newServer && reversed.to.host == "zk-source-1" && reversed.address == "10.1.0.1")
    }
}
