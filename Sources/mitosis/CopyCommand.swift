import ArgumentParser
import Foundation
import Logging
import Probes
import TreeCopy
import ZooKeeper

struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a subtree between ensembles: batched, faithful (data, ACLs, sequence counters), resumable.",
        discussion: """
            Locations are zk://HOST:PORT[,HOST:PORT...]/PATH. Running the same command again after a \
            failure finishes the job. For block & copy: a first full pass, then --since with the \
            highest mtime the previous pass printed, during the block window.
            """
    )

    @Argument(help: "Source location.") var source: String
    @Argument(help: "Destination location.") var destination: String
    @Option(help: "Only write nodes changed after this mtime (ms since 1970), as printed by the previous pass.") var since: Int64?
    @Option(help: "What to do with ephemeral nodes: skip or persist.") var ephemerals: String = "skip"
    @Flag(help: "Delete destination nodes the source does not have.") var mirror = false
    @Flag(help: "Show what would be written; write nothing.") var dryRun = false
    @Flag(help: "Compare both trees afterwards (mitosis diff).") var verify = false
    @Flag(help: "After the copy, keep the destination in sync with live changes until Ctrl-C (or --follow-for), then run a final catch-up and report its length (the block window).") var follow = false
    @Option(help: "With --follow: stop following after this many seconds.") var followFor: Double?
    @Flag(help: "Do not reproduce parents' next sequential suffixes.") var noSequence = false
    @Flag(help: "Do not reproduce data versions (they take one setData per version step).") var noVersions = false
    @Option(help: "Digest credentials user:password for the source.") var sourceAuth: String?
    @Option(help: "Digest credentials user:password for the destination.") var destinationAuth: String?
    @Option(help: "Multi transactions in flight.") var batchesInFlight = 8
    @Option(help: "Operations per multi transaction.") var batchOperations = 1000
    @Option(help: "A source server's dataDir, readable here: its snapshot and logs give the container and TTL nodes, which look persistent to clients. Without it they are copied as persistent.") var sourceDataDir: String?
    @Option(help: "With --source-data-dir: the server's dataLogDir, when it keeps its logs apart.") var sourceDataLogDir: String?
    @Flag(help: "Print JSON (progress as JSON lines on stderr, the report on stdout).") var json = false

    func validate() throws {
        _ = try ZooKeeperLocation(parsing: source)
        _ = try ZooKeeperLocation(parsing: destination)
        guard EphemeralPolicy(rawValue: ephemerals) != nil else { throw ValidationError("--ephemerals takes skip or persist") }
        for auth in [sourceAuth, destinationAuth].compactMap({ $0 }) where !auth.contains(":") {
            throw ValidationError("credentials are user:password")
        }
        if batchesInFlight < 1 || batchOperations < 1 { throw ValidationError("--batches-in-flight and --batch-operations must be at least 1") }
    }

    func configuration(_ location: ZooKeeperLocation, auth: String?) -> ZooKeeperConfiguration {
        var logger = Logger(label: "mitosis.copy")
        logger.logLevel = .warning
        var configuration = ZooKeeperConfiguration(connectionString: location.servers, logger: logger)
        if let auth { configuration.authentication = digestAuthentication(auth) }
        return configuration
    }

    func run() async throws {
        let from = try ZooKeeperLocation(parsing: source)
        let to = try ZooKeeperLocation(parsing: destination)
        var options = CopyOptions()
        options.sinceMtime = since
        options.ephemerals = EphemeralPolicy(rawValue: ephemerals) ?? .skip
        options.mirror = mirror
        options.dryRun = dryRun
        options.reproduceSequenceCounters = !noSequence
        options.reproduceDataVersions = !noVersions
        options.batchesInFlight = batchesInFlight
        options.batchOperations = batchOperations
        if let sourceDataDir {
            do {
                options.nodeTypes = try await ServerDataFiles.read(
                    dataDir: sourceDataDir, dataLogDir: sourceDataLogDir, origin: sourceDataDir,
                    list: { directory in
                        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                            throw ServerDataFileError(file: directory, reason: "no such directory here, or it cannot be read")
                        }
                        return names
                    },
                    read: { path in FileManager.default.contents(atPath: path).map { Array($0) } })
            } catch {
                Output.error("\(error); give --source-data-dir the source server's dataDir (the directory holding version-2/), or leave it out to copy containers and TTL nodes as persistent")
                throw ExitCode(2)
            }
        }
        let json = self.json
        let verify = self.verify
        let terminal = isatty(STDERR_FILENO) != 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            let (report, diff) = try await ZooKeeperClient.withClient(configuration(from, auth: sourceAuth)) { sourceClient in
                try await ZooKeeperClient.withClient(configuration(to, auth: destinationAuth)) { destinationClient in
                    let sourceLocation = TreeLocation(client: sourceClient, root: from.path)
                    let destinationLocation = TreeLocation(client: destinationClient, root: to.path)
                    let report: CopyReport
                    if follow {
                        let follower = TreeFollower(source: sourceLocation, destination: destinationLocation, options: options)
                        let (stop, stopNow) = AsyncStream<Void>.makeStream()
                        let followFor = self.followFor
                        Output.note("following \(from.path) → \(to.path); Ctrl-C to stop and run the final catch-up")
                        let followed = try await withThrowingTaskGroup(of: FollowReport?.self) { group in
                            group.addTask {
                                _ = await runUntilInterrupted(duration: followFor) {
                                    await withTaskCancellationHandler {
                                        // Wait until interrupted (cancelled) or the duration passes.
                                        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                                    } onCancel: {}
                                }
                                stopNow.yield()
                                return nil
                            }
                            group.addTask {
                                try await follower.run(stop: stop) { change in if !json { Output.note(change) } }
                            }
                            var result: FollowReport? = nil
                            for try await next in group { if let next { result = next } }
                            return result
                        }
                        guard let followed else { throw ExitCode.failure }
                        Output.note("final catch-up (block window): \(String(format: "%.3f", followed.finalCatchUpSeconds)) s; followed \(followed.events) events: \(followed.created) created, \(followed.updated) updated, \(followed.deleted) deleted")
                        report = followed.finalCatchUp ?? followed.initial
                    } else {
                    let copier = TreeCopier(source: sourceLocation, destination: destinationLocation, options: options)
                    report = try await copier.run { progress in
                        if json {
                            if let data = try? encoder.encode(progress) { Output.note(String(decoding: data, as: UTF8.self)) }
                        } else if terminal {
                            let line = "\u{1B}[2K\r… \(progress.visited) nodes visited, \(progress.written) operations written, \(progress.bytes / 1024) KiB, \(Int(progress.nodesPerSecond)) nodes/s"
                            FileHandle.standardError.write(Data(line.utf8))
                        }
                    }
                    }
                    if terminal && !json { FileHandle.standardError.write(Data("\u{1B}[2K\r".utf8)) }
                    var diff: TreeDiffReport? = nil
                    if verify && !options.dryRun {
                        var diffOptions = TreeDiffOptions()
                        diffOptions.compareSequence = options.reproduceSequenceCounters
                        diffOptions.compareVersions = options.reproduceDataVersions
                        diffOptions.ignoreEphemeralNodes = options.ephemerals == .skip
                        diffOptions.compareEphemeralFlag = options.ephemerals == .skip
                        diff = try await TreeDiff(left: TreeLocation(client: sourceClient, root: from.path), right: TreeLocation(client: destinationClient, root: to.path), options: diffOptions).run()
                    }
                    return (report, diff)
                }
            }
            if json {
                struct Result: Encodable { var copy: CopyReport; var verify: TreeDiffReport? }
                try Output.json(Result(copy: report, verify: diff))
            } else {
                Output.note("\(report.dryRun ? "dry run: would write" : "copied") \(report.visited) nodes in \(String(format: "%.2f", report.seconds)) s (\(Int(Double(report.visited) / max(report.seconds, 0.001))) nodes/s): \(report.created) created, \(report.dataUpdated) data updated, \(report.aclsUpdated) ACLs updated, \(report.deleted) deleted, \(report.unchanged) unchanged, \(report.ephemeralsSkipped) ephemerals skipped, \(report.sequencePads) sequence pads, \(report.versionSteps) version steps, \(report.aclsDeferred) ACLs applied last, \(report.transactions) transactions")
                if let read = report.nodeTypesRead {
                    Output.note("node types: \(read)")
                } else {
                    Output.note("node types: containers and TTL nodes look persistent to clients and were copied as such; --source-data-dir reads them from a source server's files")
                }
                for warning in report.warnings { Output.note("warning: \(warning)") }
                Output.line("highest mtime: \(report.highestMtime)   (next pass: --since \(report.highestMtime))")
                if let diff {
                    Output.note(diff.identical ? "verify: identical" : "verify: \(diff.differences.count + diff.moreDifferences) differences")
                    for difference in diff.differences.prefix(50) { Output.note("  \(difference)") }
                    if let warning = diff.aclWarning { Output.note("warning: \(warning)") }
                }
            }
            if let diff, !diff.identical { throw ExitCode.failure }
        } catch let error as ZooKeeperError {
            Output.error("\(error.description). Nothing is lost: run the same command again to finish the copy.")
            throw ExitCode(2)
        }
    }
}
