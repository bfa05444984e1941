import ArgumentParser

@main
struct Mitosis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mitosis",
        abstract: "Plan, prove, rehearse and run ZooKeeper ensemble migrations without downtime.",
        subcommands: [
            ListChildren.self, GetData.self, SetData.self, CreateNode.self, RemoveNode.self, StatNode.self,
            SmoketestCommand.self, WatchCommand.self, DiffCommand.self, CopyCommand.self, FourLetterWordCommand.self, StatusCommand.self, KafkaCommand.self,
        ]
    )
}
