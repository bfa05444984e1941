import Ensemble
import Foundation
import Hosts
import NIOCore
import NIOPosix
import Testing
import ZooKeeper

import Migration
import MigrationPlanning

/// The execution module runs only proven plans, and no module but the planning one can make a
/// proven plan. (Plain imports, not `@testable`: this file sees what the CLI and the rehearsal see.)
@Suite struct ProvenPlanBoundary {
    /// The executor (a run, a `--resume`, a rollback's run) and the rollback planner are named here
    /// with the types they must have: were any of them to take a `Plan`, this file would not
    /// compile. Then each is used with a proven plan.
    @Test func theExecutorAndRollbackTakeOnlyAProvenPlan() throws {
        typealias MakeExecutor = (
            ProvenPlan, any HostDirectory, (any ClientGroupController)?, any EventLoopGroup, Journal, ExecutionOptions,
            @escaping @Sendable (ExecutionEvent) -> Void
        ) -> MigrationExecutor
        let makeExecutor: MakeExecutor = MigrationExecutor.init(plan:hosts:clients:eventLoopGroup:journal:options:onEvent:)
        let rollback: (ProvenPlan, JournalState) throws -> Plan = Rollback.plan(for:journal:)
        let proveRollback: (Plan, ProvenPlan, JournalState, ProverOptions) throws(PlanRefusal) -> ProvenPlan = Prover.prove(rollback:of:journal:options:)

        let proven = try Prover.prove(Fixtures.plan(.mitosis, 3, 3, staying: false))
        let hosts = InventoryHostDirectory(inventory: Inventory(ensembles: [], hosts: [], clientGroups: []), eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let executor = makeExecutor(
            proven, hosts, nil, MultiThreadedEventLoopGroup.singleton, Journal(path: "/nonexistent/journal"), ExecutionOptions(resume: true), { _ in })
        #expect(executor.plan == proven.plan)
        let state = JournalState(events: [
            ExecutionEvent(kind: .planStarted, summary: "test"),
            ExecutionEvent(kind: .stepStarted, step: proven.plan.steps[0].id, summary: "test"),
            ExecutionEvent(kind: .stepFinished, step: proven.plan.steps[0].id, summary: "test"),
        ])
        let back = try proveRollback(try rollback(proven, state), proven, state, ProverOptions())
        #expect(back.proof.isSafe)
    }

    /// The same for the KRaft migration: its run (and `--resume`) and its rollback take only a
    /// `ProvenKRaftPlan`. (Named, not called: they need a ZooKeeper session.)
    @Test func theKRaftExecutorAndRollbackTakeOnlyAProvenKRaftPlan() {
        typealias MakeRun = (ProvenKRaftPlan, ZooKeeperClient, [KRaftNodeAccess], Journal, KRaftExecutor.Options) -> KRaftExecutor
        typealias MakeRollback = (ProvenKRaftPlan, ZooKeeperClient, [KRaftNodeAccess], Journal, KRaftExecutor.Options) -> KRaftRollback
        let run: MakeRun = KRaftExecutor.init(plan:zookeeper:nodes:journal:options:)
        let rollback: MakeRollback = KRaftRollback.init(plan:zookeeper:nodes:journal:options:)
        let prove: (KRaftPlan) throws(KRaftPlanRefusal) -> ProvenKRaftPlan = KRaftProver.prove
        let verify: (KRaftPlan, String) throws(KRaftPlanRefusal) -> ProvenKRaftPlan = KRaftProver.verify(_:source:)
        _ = (run, rollback, prove, verify)
    }

    /// Forging a proven plan (a ZooKeeper plan's or a KRaft plan's) outside the planning module does
    /// not compile: a small file that imports both modules, type-checked by the compiler against the
    /// modules this test was built with, is refused because each initialiser is private to its
    /// prover's file. (One compiler run for both:
    /// each costs seconds of both cores while the rest of the suite runs. A compiler that cannot
    /// read the modules fails with another message, so the test cannot pass by accident.)
    @Test func noModuleButThePlanningOneCanMakeAProvenPlan() async throws {
        let build = try BuildProducts.locate()
        let forge = try await build.typecheck(
            "import MigrationPlanning\nimport Migration\nfunc forged(_ plan: Plan, _ proof: ProofResult) -> ProvenPlan { ProvenPlan(plan: plan, proof: proof) }\n"
                + "func forgedKRaft(_ plan: KRaftPlan) -> ProvenKRaftPlan { ProvenKRaftPlan(plan: plan) }\n")
        #expect(forge.status != 0, "a ProvenPlan was made outside the prover")
        #expect(
            forge.output.contains("'ProvenKRaftPlan' initializer is inaccessible due to 'fileprivate'")
                || forge.output.contains("'ProvenKRaftPlan' initializer is inaccessible due to 'private'"), "\(forge.output)")
        // Private to the prover's file: not `internal` (which `@testable` opens) nor `package`
        // (which the executor and the CLI, in this package, would see).
        #expect(
            forge.output.contains("'ProvenPlan' initializer is inaccessible due to 'fileprivate'")
                || forge.output.contains("'ProvenPlan' initializer is inaccessible due to 'private'"), "\(forge.output)")
    }
}

/// This test run's build products: the Swift modules and the C module maps the compiler needs to
/// import Mitosis's modules (found from the test binary's own folder).
struct BuildProducts {
    var products: URL
    var checkouts: URL

    static func locate() throws -> BuildProducts {
        let binary = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = binary.deletingLastPathComponent()
        while folder.path != "/" {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Modules/MigrationPlanning.swiftmodule").path) { break }
            folder = folder.deletingLastPathComponent()
        }
        var checkouts = folder
        while checkouts.path != "/" && !FileManager.default.fileExists(atPath: checkouts.appendingPathComponent("checkouts").path) {
            checkouts = checkouts.deletingLastPathComponent()
        }
        guard folder.path != "/", checkouts.path != "/" else {
            throw BoundaryTestError(message: "no Modules/MigrationPlanning.swiftmodule and checkouts/ above the test binary \(binary.path): build with `swift build --build-tests`")
        }
        return BuildProducts(products: folder, checkouts: checkouts.appendingPathComponent("checkouts"))
    }

    func moduleMaps() throws -> [String] {
        let fileManager = FileManager.default
        var maps = try fileManager.contentsOfDirectory(atPath: products.path).filter { $0.hasSuffix(".build") }
            .map { products.appendingPathComponent($0).appendingPathComponent("module.modulemap").path }
            .filter { fileManager.fileExists(atPath: $0) }
        if let walker = fileManager.enumerator(atPath: checkouts.path) {
            for case let relative as String in walker where relative.hasSuffix("/include/module.modulemap") {
                maps.append(checkouts.appendingPathComponent(relative).path)
            }
        }
        return maps
    }

    /// Type-checks `source` with `swiftc -typecheck` on a thread of its own (the suite's other tests
    /// keep the two cooperative threads while the compiler runs); gives the exit status and what
    /// it printed.
    func typecheck(_ source: String) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try typecheckBlocking(source) }) }.start()
        }
    }

    private func typecheckBlocking(_ source: String) throws -> (status: Int32, output: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-boundary-\(UUID().uuidString).swift")
        try Data(source.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["swiftc", "-typecheck", "-I", products.appendingPathComponent("Modules").path]
            + (try moduleMaps()).flatMap { ["-Xcc", "-fmodule-map-file=\($0)"] } + [file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

struct BoundaryTestError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
