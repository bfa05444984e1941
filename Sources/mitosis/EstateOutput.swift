import ArgumentParser
import Ensemble
import Foundation
import Migration
import MigrationPlanning

/// `mitosis plan --show-estate`: what discovery read, as a table (or JSON), and the problems.
enum EstateOutput {
    struct Shown: Encodable {
        var estate: ObservedEstate
        var fingerprint: String
        var problems: [EstateProblem]
    }

    static func show(_ estate: ObservedEstate, inventory: Inventory, source: String, destination: String, strategy: StrategyKind, json: Bool, destinationHoldsData: Bool) throws {
        let ensembles = [source, destination].compactMap(inventory.ensemble(named:))
        guard ensembles.count == 2 else {
            throw ValidationError("the inventory has no ensemble named '\(inventory.ensemble(named: source) == nil ? source : destination)'; it has \(inventory.ensembles.map(\.name).joined(separator: ", "))")
        }
        let problems = EstateValidation.problems(
            source: Planner.planEnsemble(ensembles[0], data: .holdsData, running: true),
            destination: Planner.planEnsemble(ensembles[1], data: destinationHoldsData ? .holdsData : .empty, running: false),
            estate: estate, destinationHoldsData: destinationHoldsData, strategy: strategy)
        if json {
            try Output.json(Shown(estate: estate, fingerprint: estate.fingerprint, problems: problems))
        } else {
            Output.line(table(estate))
            Output.line("fingerprint: \(estate.fingerprint)")
        }
        if !problems.isEmpty {
            Output.error(EstateError(problems: problems).description)
            throw ExitCode.failure
        }
    }

    static func table(_ estate: ObservedEstate) -> String {
        var servers = Table(["ENSEMBLE", "ID", "HOST", "ZOO.CFG", "DYNAMIC", "MYID", "DATA", "SERVICE", "SERVES"])
        for server in estate.servers {
            let myid = server.myid.text.map { $0.split(whereSeparator: \.isNewline).first.map(String.init) ?? "(empty)" } ?? "missing"
            let data = [server.dataDir, server.dataLogDir].compactMap { $0 }.map { directory -> String in
                guard directory.exists else { return "\(directory.path) missing" }
                if directory.isEmpty { return "\(directory.path) empty" }
                return "\(directory.path) \(directory.dataFiles.count) files" + (directory.newestSnapshotZxid.map { ", snapshot \($0)" } ?? "")
            }.joined(separator: "; ")
            let mode = server.srvr.flatMap { answer in
                answer.split(separator: "\n").first { $0.hasPrefix("Mode:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) }
            }
            servers.add([
                server.ensemble, "\(server.id)", server.host, file(server.config), server.dynamicConfig.map(file) ?? "-", myid, data,
                server.service?.rawValue ?? "no status command", server.readErrors.isEmpty ? (mode ?? "no") : "unreadable",
            ])
        }
        var text = servers.render()
        if !estate.clientConfigs.isEmpty {
            var clients = Table(["GROUP", "MEMBER", "HOST", "CONFIG"])
            for client in estate.clientConfigs { clients.add([client.group, client.member, client.host, file(client.file)]) }
            text += "\n\n" + clients.render()
        }
        return text
    }

    static func file(_ file: ObservedFile) -> String {
        guard let text = file.text, let hash = file.sha256 else { return "\(file.path) missing" }
        return "\(file.path) (\(text.unicodeScalars.count) bytes, sha256 \(hash.prefix(12)))"
    }
}
