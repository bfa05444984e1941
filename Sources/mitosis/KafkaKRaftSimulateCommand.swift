import ArgumentParser
import Foundation
import Kafka

/// `mitosis kafka kraft simulate`: runs one *simulated* Kafka node — a broker or a one-process
/// KRaft controller quorum — from a real server.properties, against real ZooKeeper, until SIGTERM
/// or Ctrl-C. Meant for a host's start command in a rehearsal: the node does to ZooKeeper what
/// Kafka's code does (KRAFT.md); it speaks no Kafka protocol and replicates nothing.
struct KafkaKRaftSimulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a simulated Kafka broker or KRaft controller (ZooKeeper writes as Kafka makes them) until stopped."
    )

    enum Role: String, ExpressibleByArgument { case broker, controller }

    @Option(help: "broker or controller.") var role: Role
    @Option(help: "The node's server.properties, read once at start (restart the node to apply a change).") var config: String
    @Option(help: "The node's data directory (the controller keeps its metadata log and epoch here).") var data: String
    @Option(help: "The directory through which brokers tell the controller their mode (shared by all nodes; default: <data>/../kraft-channel).")
    var channel: String?
    @Flag(help: "Brokers: serve produce-style appends (one text line per request, not Kafka's protocol) on the first PLAINTEXT listener, persisted under <data>/appends.")
    var serveAppends = false
    @Option(help: "Milliseconds between the controller's metadata-log appends (Kafka: metadata.max.idle.interval.ms).") var tickMs: Int = 500

    func validate() throws {
        if tickMs <= 0 { throw ValidationError("--tick-ms must be positive") }
    }

    func run() async throws {
        guard let bytes = FileManager.default.contents(atPath: config) else {
            Output.error("cannot read \(config): no such file or not readable; give the node's server.properties with --config")
            throw ExitCode.failure
        }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let file = KafkaNodeFile(source: config, role: role == .broker ? .broker : .controller, text: String(decoding: bytes, as: UTF8.self))
        let channel = SimulatedRegistrationChannel(directory: channel ?? URL(fileURLWithPath: data).deletingLastPathComponent().appendingPathComponent("kraft-channel").path)
        let tick = Duration.milliseconds(tickMs)
        let role = self.role, appends = serveAppends ? data : nil
        let outcome: Result<Void, any Error> = await runUntilInterrupted(duration: nil) {
            do {
                switch role {
                case .broker: try await SimulatedBroker(file: file, channel: channel, appendsDirectory: appends, log: Output.note).run()
                case .controller: try await SimulatedKRaftController(file: file, dataDirectory: data, channel: channel, tick: tick, log: Output.note).run()
                }
                return .success(())
            } catch is CancellationError {
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = outcome {
            Output.error("simulated \(role.rawValue) (\(config)) stopped: \(error)")
            throw ExitCode.failure
        }
    }
}
