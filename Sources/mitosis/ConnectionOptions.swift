import ArgumentParser
import Ensemble
import Foundation
import Logging
import ZooKeeper

/// Options every command that talks to an ensemble shares.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.short, .customLong("server"), .customLong("zookeeper")], help: "Connection string: host:port[,host:port...][/chroot]. Default: $MITOSIS_ZOOKEEPER or 127.0.0.1:2181.")
    var server: String?

    @Option(help: "An inventory file (YAML); with --ensemble, connect to that ensemble's servers.")
    var inventory: String?

    @Option(help: "The ensemble of --inventory to connect to (default: the only one).")
    var ensemble: String?

    @Option(help: "Session timeout in seconds.")
    var sessionTimeout: Double = 10

    @Option(help: "Seconds to wait for a session before giving up.")
    var connectTimeout: Double = 10

    @Option(help: "Digest credentials user:password, sent before any request.")
    var auth: String?

    @Flag(help: "Print JSON on stdout instead of text.")
    var json = false

    @Flag(help: "Log the client's connection events to stderr.")
    var verbose = false

    func validate() throws {
        _ = try connectionString()
        if sessionTimeout <= 0 || connectTimeout <= 0 {
            throw ValidationError("timeouts must be positive numbers of seconds")
        }
        if let auth, !auth.contains(":") {
            throw ValidationError("--auth takes user:password")
        }
    }

    func connectionString() throws -> ConnectionString {
        if let inventory {
            if server != nil { throw ValidationError("give --server or --inventory, not both") }
            let text: String
            do {
                text = try String(contentsOfFile: inventory, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read the inventory \(inventory): \(error.localizedDescription)")
            }
            let parsed: Inventory
            do {
                parsed = try Inventory.parse(yaml: text, fileName: inventory)
            } catch {
                throw ValidationError("the inventory has errors:\n\(error.description)")
            }
            let names = parsed.ensembles.map(\.name)
            guard let chosen = ensemble.map({ parsed.ensemble(named: $0) }) ?? (parsed.ensembles.count == 1 ? parsed.ensembles.first : nil) else {
                throw ValidationError(ensemble == nil ? "the inventory has several ensembles (\(names.joined(separator: ", "))): choose one with --ensemble" : "no ensemble '\(ensemble ?? "")' in the inventory; it has \(names.joined(separator: ", "))")
            }
            return parsed.connectionString(for: chosen)
        }
        if ensemble != nil { throw ValidationError("--ensemble needs --inventory") }
        let text = server ?? ProcessInfo.processInfo.environment["MITOSIS_ZOOKEEPER"] ?? "127.0.0.1:2181"
        do {
            return try ConnectionString(parsing: text)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func configuration() throws -> ZooKeeperConfiguration {
        var logger = Logger(label: "mitosis.zookeeper")
        logger.logLevel = verbose ? .debug : .warning
        var configuration = ZooKeeperConfiguration(connectionString: try connectionString(), sessionTimeout: .milliseconds(Int64(sessionTimeout * 1000)), logger: logger)
        if let auth { configuration.authentication = digestAuthentication(auth) }
        return configuration
    }

    /// Connects, runs `body`, closes; turns ZooKeeper errors into a message on stderr and exit code 1.
    func withClient<T: Sendable>(_ body: (ZooKeeperClient) async throws -> T) async throws -> T {
        do {
            return try await ZooKeeperClient.withClient(try configuration(), timeout: .milliseconds(Int64(connectTimeout * 1000)), body)
        } catch let error as ZooKeeperError {
            Output.error(error.description)
            throw ExitCode.failure
        }
    }
}

/// `user:password` (validated to contain a colon) as digest credentials for a configuration.
func digestAuthentication(_ userColonPassword: String) -> [(scheme: String, credentials: [UInt8])] {
    guard let colon = userColonPassword.firstIndex(of: ":") else { return [] }
    let user = String(userColonPassword[..<colon])
    let password = String(userColonPassword[userColonPassword.index(after: colon)...])
    return [("digest", DigestAuth.credentials(user: user, password: password))]
}
