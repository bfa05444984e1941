import Foundation
import Hosts
import Migration
import MigrationPlanning
import NIOPosix
import Testing
import ZooKeeperTestSupport

/// Every regular file under the hosts' directories, by path.
func hostFiles(_ sandboxes: [Sandbox]) -> [String: Data] {
    var files: [String: Data] = [:]
    for host in sandboxes.flatMap(\.hosts) {
        guard let walker = FileManager.default.enumerator(atPath: host.directory) else { continue }
        for case let relative as String in walker {
            let path = host.directory + "/" + relative
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = FileManager.default.contents(atPath: path)
            }
        }
    }
    return files
}

extension RealServers {
    @Suite struct ProvenPlanCommands {
        /// `mitosis plan --out` writes a plan with its proof; the same plan altered three ways (a
        /// step removed, two steps swapped, a gate deleted) is refused by `run`, `run --resume` and
        /// `rollback` before any host is reached: every file on every host is as it was, and no
        /// journal is written. The source runs only while the plan is made; nothing may start a server
        /// afterwards.
        @Test func alteredPlansAreRefusedByRunResumeAndRollbackWithNoHostChanged() async throws {
            try await withSandboxNetwork("proof") { manager, _ in
                let source = try await manager.up(.init(name: "src", servers: 3, start: false))
                let destination = try await manager.up(.init(name: "dst", servers: 3, start: false))
                let directory = NSTemporaryDirectory() + "mitosis-proof-\(getpid())"
                try? FileManager.default.removeItem(atPath: directory)
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let inventory = SandboxInventory.inventory([source, destination])
                let fixture = MigrationFixture(
                    manager: manager, source: source, destination: destination, inventory: inventory,
                    plan: try Planner.plan(.mitosis, inventory: inventory, source: "src", destination: "dst"), directory: directory)
                let inventoryPath = directory + "/inv.yaml"
                try SandboxInventory.yaml(fixture.inventory).write(toFile: inventoryPath, atomically: true, encoding: .utf8)
                let planPath = directory + "/plan.json"
                // `mitosis plan` plans from the hosts as they are, and only from a running source:
                // it runs while the plan is made, and is stopped again before anything is hashed.
                try await manager.start(source)
                let planned = try await runMitosis(
                    ["plan", "--inventory", inventoryPath, "--source", "src", "--destination", "dst", "--pause", "1", "--out", planPath], fixture: fixture)
                for host in source.hosts { _ = try await manager.hostDriver(for: host.name).stopService(source.zookeeperService(on: host)) }
                try #require(planned.status == 0, "\(planned.output)")
                let written = try Plan(jsonData: Data(contentsOf: URL(fileURLWithPath: planPath)))
                let proof = try #require(written.proof, "mitosis plan --out wrote no proof record")
                #expect(proof.safe && proof.digest == written.canonicalDigest && proof.proverVersion == Prover.version)

                var removed = written
                removed.steps.remove(at: 1)
                var swapped = written
                let start = try #require(swapped.index(of: "join-4-start")), synced = try #require(swapped.index(of: "join-4-synced"))
                swapped.steps.swapAt(start, synced)
                var gateless = written
                let gated = try #require(gateless.steps.firstIndex { !$0.gatesAfter.isEmpty })
                gateless.steps[gated].gatesAfter.removeFirst()
                let variants: [(String, Plan, String)] = [
                    ("removed", removed, "step removed: \(written.steps[1].id)"),
                    ("swapped", swapped, "steps in another order"),
                    ("gate-deleted", gateless, "step \(written.steps[gated].id) changed"),
                ]

                let before = hostFiles([source, destination])
                #expect(!before.isEmpty)
                for (name, plan, expected) in variants {
                    let path = directory + "/\(name).json"
                    try plan.jsonData().write(to: URL(fileURLWithPath: path))
                    for command in [["run", path], ["run", path, "--resume"], ["rollback", path]] {
                        let result = try await runMitosis(command + ["--inventory", inventoryPath], fixture: fixture)
                        #expect(result.status == 1, "\(command): \(result.output)")
                        #expect(result.output.contains("\(path) is not the plan that was proved"), "\(command): \(result.output)")
                        #expect(result.output.contains(expected), "\(command): \(result.output)")
                        #expect(result.output.contains("mitosis plan"), "\(command) does not say to plan again: \(result.output)")
                        #expect(!result.output.contains("Usage:"), "\(command) printed a usage banner: \(result.output)")
                    }
                    #expect(!FileManager.default.fileExists(atPath: path + ".journal"), "a refused run wrote a journal")
                    #expect(!FileManager.default.fileExists(atPath: path + ".journal.rollback"), "a refused rollback wrote a journal")
                }
                #expect(hostFiles([source, destination]) == before, "a refused plan changed a file on a host")
                for sandbox in [source, destination] {
                    for host in sandbox.hosts { #expect(try await fixture.serviceState(host) == .stopped, "\(host.name) was started") }
                }

                // The plan as written is accepted; with an empty journal, rollback says there is
                // nothing to undo (exit 1, no usage banner).
                let nothing = try await runMitosis(["rollback", planPath, "--inventory", inventoryPath], fixture: fixture)
                #expect(nothing.status == 1, "\(nothing.output)")
                #expect(nothing.output.contains("nothing to undo") && !nothing.output.contains("Usage:"), "\(nothing.output)")
            }
        }
    }
}
