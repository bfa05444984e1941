import ArgumentParser
import NIOCore
import NIOPosix

@main
struct MitosisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "MitosisBench",
        abstract: "Benchmarks, each measured against a peer in the same run. Results go to BENCHMARKS.md.",
        subcommands: [ClientBenchmark.self, CopyBenchmark.self, StallBenchmark.self, KafkaPlanBenchmark.self]
    )

    static func main() async {
        // `client --nio-executor` must take over the global executor before any task runs, so it
        // is done here, before the arguments are parsed and the command's task starts.
        if CommandLine.arguments.dropFirst().first == "client", CommandLine.arguments.contains("--nio-executor") {
            guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
                exit(withError: ValidationError("--nio-executor: NIO could not take over Swift concurrency's global executor here"))
            }
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
