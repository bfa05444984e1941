import ArgumentParser
import Foundation
import ZooKeeper

struct FourLetterWordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "4lw", abstract: "Send a four-letter word (srvr, mntr, conf, ruok, isro, cons, stat, envi) to each server and print the answers.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The word.") var word: String = "srvr"

    func run() async throws {
        for server in try connection.connectionString().servers {
            do {
                let answer = try await FourLetterWords.send(word, to: server, timeout: .seconds(Int64(connection.connectTimeout)))
                Output.line("== \(server)")
                Output.line(answer)
            } catch {
                Output.error(error.description)
            }
        }
    }
}
