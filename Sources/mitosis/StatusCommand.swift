import ArgumentParser
import Foundation
import Migration
import MigrationPlanning
import NIOPosix
import Probes
import ZooKeeper

struct FourLetterWordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "4lw", abstract: "Send a four-letter word (srvr, mntr, conf, ruok, isro, cons, stat, envi) to each server and print the answers.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The word.") var word: String = "srvr"

    func run() async throws {
        for server in try connection.connectionString().servers {
            do {
                let answer = try await FourLetterWords.send(word, to: server, timeout: .milliseconds(Int64(connection.connectTimeout * 1000)))
                Output.line("== \(server)")
                Output.line(answer)
            } catch {
                Output.error(error.description)
            }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "One row per server: mode, version, zxid, followers, latency, znodes; warns on no leader, two leaders, lag, membership disagreement. Exit code 1 on a warning.",
        discussion: "With --inventory, it also lists every session on the servers (cons) by the client group member it belongs to, and the unknown ones (the census the run takes before the split)."
    )

    /// With `--inventory`, it also lists every session on these servers (cons) by the client group
    /// member it belongs to, and the unknown ones.
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let servers = try connection.connectionString().servers
        let report = await EnsembleStatus.collect(servers, timeout: .milliseconds(Int64(connection.connectTimeout * 1000)))
        var censusJSON: CensusJSON?
        if let inventory = connection.inventory {
            // The same sampling as the census gate before the split (CensusPolicy's defaults).
            let policy = CensusPolicy()
            let census = await SessionCensus.sample(rounds: policy.rounds, interval: policy.interval) {
                await SessionCensus.read(servers, timeout: .milliseconds(Int64(connection.connectTimeout * 1000)), group: MultiThreadedEventLoopGroup.singleton)
            }
            let owners = SessionOwner.members(of: try loadInventory(inventory))
            let (owned, unknown) = census.classified(by: owners)
            if connection.json {
                censusJSON = CensusJSON(owned: owned.map { .init(owner: $0.owner, sessions: $0.sessions) }, unknown: unknown, unanswered: census.unanswered)
            } else {
                var table = Table(["client", "address", "session", "server"])
                for (owner, sessions) in owned {
                    for session in sessions { table.add([owner, session.clientAddress + (session.clientPort.map { ":\($0)" } ?? ""), session.sessionID, session.server]) }
                }
                for session in unknown { table.add(["UNKNOWN", session.clientAddress + (session.clientPort.map { ":\($0)" } ?? ""), session.sessionID, session.server]) }
                Output.line(table.render())
                if !unknown.isEmpty { Output.note("warning: sessions from clients the inventory does not know: \(SessionCensus.describeUnknown(unknown))") }
                let verdict = census.judge(ensemble: connection.ensemble ?? "the ensemble", servers: servers.map(\.description), owners: owners)
                if !verdict.passed, unknown.isEmpty { Output.note("warning: \(verdict.detail)") }
            }
        }
        if connection.json {
            // One document: the servers' status, and with --inventory the census beside it.
            if let censusJSON {
                struct StatusWithCensus: Encodable { var status: EnsembleStatusReport; var census: CensusJSON }
                try Output.json(StatusWithCensus(status: report, census: censusJSON))
            } else {
                try Output.json(report)
            }
        } else {
            var table = Table(["server", "mode", "version", "zxid", "epoch", "followers", "synced", "outstanding", "avg ms", "znodes", "ephemerals", "conns"])
            for row in report.servers {
                let cells: [String?] = [
                    row.server, row.mode ?? "DOWN", row.version, row.zxid, row.epoch.map(String.init), row.followers.map(String.init),
                    row.syncedFollowers.map(String.init), row.outstandingRequests.map(String.init), row.averageLatency.map { String(format: "%.2f", $0) },
                    row.znodes.map(String.init), row.ephemerals.map(String.init), row.connections.map(String.init),
                ]
                table.add(cells.map { $0 ?? "-" })
            }
            Output.line(table.render())
            for warning in report.warnings { Output.note("warning: \(warning)") }
        }
        if !report.healthy { throw ExitCode.failure }
    }
}

/// `mitosis status --inventory --json`: the census of the sessions.
struct CensusJSON: Encodable {
    struct Owned: Encodable {
        var owner: String
        var sessions: [ServerSession]
    }

    var owned: [Owned]
    var unknown: [ServerSession]
    var unanswered: [String: String]
}
