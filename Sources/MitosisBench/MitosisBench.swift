import ArgumentParser

@main
struct MitosisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "MitosisBench",
        abstract: "Benchmarks, each measured against a peer in the same run. Results go to BENCHMARKS.md.",
        subcommands: [ClientBenchmark.self, CopyBenchmark.self, StallBenchmark.self, KafkaPlanBenchmark.self]
    )
}
