import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The entry point: with MITOSIS_NETNS set, the whole tool runs inside that network namespace
/// (e.g. a sandbox's control namespace), re-executed through `ip netns exec`.
@main
enum Entry {
    static func main() async {
        Output.ignoreBrokenPipes()
        let environment = ProcessInfo.processInfo.environment
        if let namespace = environment["MITOSIS_NETNS"], !namespace.isEmpty, environment["MITOSIS_IN_NETNS"] != namespace {
            setenv("MITOSIS_IN_NETNS", namespace, 1)
            do {
                // Resolved now: inside `ip netns exec`, /proc/self/exe would name `ip`.
                let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
                try execIntoNamespace(namespace, [executable] + CommandLine.arguments.dropFirst())
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                exit(1)
            }
        }
        await Mitosis.main()
    }
}

struct Mitosis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mitosis",
        abstract: "Plan, prove, rehearse and run ZooKeeper ensemble migrations without downtime.",
        subcommands: [
            ListChildren.self, GetData.self, SetData.self, CreateNode.self, RemoveNode.self, StatNode.self,
            SmoketestCommand.self, WatchCommand.self, DiffCommand.self, CopyCommand.self, FourLetterWordCommand.self, StatusCommand.self, KafkaCommand.self,
            RehearseCommand.self, PlanCommand.self, RunCommand.self, RollbackCommand.self, SandboxCommand.self,
        ]
    )
}
