import ArgumentParser
import Foundation
import ZooKeeper

struct ListChildren: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a znode's children.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The znode path.") var path: String = "/"
    @Flag(name: .shortAndLong, help: "List the whole subtree, depth first.") var recursive = false

    func run() async throws {
        let recursive = self.recursive
        let path = self.path
        let paths: [String] = try await connection.withClient { zk in
            if !recursive { return try await zk.getChildren(path).sorted() }
            var found: [String] = []
            var stack = [path]
            while let next = stack.popLast() {
                let children = try await zk.getChildren(next).sorted()
                for child in children.reversed() { stack.append(ZooKeeperPath.join(next, child)) }
                if next != path { found.append(next) }
            }
            return found
        }
        if connection.json {
            try Output.json(ChildrenJSON(path: path, children: paths))
        } else {
            for child in paths { Output.line(child) }
        }
    }
}

struct GetData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a znode's data (raw bytes; --json gives base64 and the stat).")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The znode path.") var path: String

    func run() async throws {
        let path = self.path
        let (data, stat) = try await connection.withClient { try await $0.getData(path) }
        if connection.json {
            try Output.json(NodeJSON(path: path, data: data, stat: stat))
        } else {
            Output.raw(data)
            if !data.isEmpty, data.last != UInt8(ascii: "\n"), isatty(STDOUT_FILENO) != 0 { Output.line("") }
        }
    }
}

struct SetData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Replace a znode's data.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The znode path.") var path: String
    @Argument(help: "The data (UTF-8); omit and pass --stdin to read bytes from standard input.") var data: String?
    @Flag(help: "Read the data from standard input.") var stdin = false
    @Option(help: "Only write if the node's data version is this (optimistic locking).") var version: Int32 = -1

    func validate() throws {
        if (data == nil) == !stdin { throw ValidationError("give the data as an argument or pass --stdin, not both") }
    }

    func run() async throws {
        let bytes = stdin ? [UInt8](FileHandle.standardInput.readDataToEndOfFile()) : Array((data ?? "").utf8)
        let (path, version) = (self.path, self.version)
        let stat = try await connection.withClient { try await $0.setData(path, data: bytes, version: version) }
        if connection.json {
            try Output.json(NodeJSON(path: path, data: nil, stat: stat))
        } else {
            StatJSON(stat).lines.forEach(Output.note)
        }
    }
}

struct CreateNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a znode.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The znode path.") var path: String
    @Argument(help: "The data (UTF-8).") var data: String = ""
    @Flag(name: .shortAndLong, help: "Ephemeral: deleted when this command's session ends (mostly useful for tests).") var ephemeral = false
    @Flag(help: "Sequential: the server appends a 10-digit counter.") var sequential = false
    @Flag(name: .shortAndLong, help: "Container (3.5+): deleted by the server once its last child is gone.") var container = false
    @Option(help: "Time to live in milliseconds (3.5.3+ with zookeeper.extendedTypesEnabled).") var ttl: Int64?
    @Flag(name: .shortAndLong, help: "Create missing parents as empty persistent nodes.") var parents = false

    func validate() throws {
        if container && (ephemeral || sequential || ttl != nil) { throw ValidationError("--container cannot be combined with --ephemeral, --sequential or --ttl") }
        if ttl != nil && ephemeral { throw ValidationError("--ttl applies to persistent nodes only") }
        if let ttl, ttl <= 0 { throw ValidationError("--ttl must be a positive number of milliseconds") }
    }

    func run() async throws {
        let mode = CreateMode(ephemeral: ephemeral, sequential: sequential, container: container, ttl: ttl.map { .milliseconds($0) })
        let (path, bytes, parents) = (self.path, Array(data.utf8), self.parents)
        let created = try await connection.withClient { zk in
            if parents {
                var prefix = ""
                for segment in ZooKeeperPath.parent(of: path).split(separator: "/") {
                    prefix += "/" + segment
                    do { try await zk.create(prefix) } catch let error as ZooKeeperError where error.code == .nodeExists {}
                }
            }
            return try await zk.create(path, data: bytes, mode: mode)
        }
        if connection.json {
            try Output.json(CreatedJSON(path: created))
        } else {
            Output.line(created)
        }
    }
}

struct RemoveNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a znode (with --recursive, its subtree).")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The znode path.") var path: String
    @Flag(name: .shortAndLong, help: "Delete the whole subtree, children first.") var recursive = false
    @Option(help: "Only delete if the node's data version is this.") var version: Int32 = -1

    func validate() throws {
        if path == "/" || path.hasPrefix("/zookeeper") && (path == "/zookeeper" || path.hasPrefix("/zookeeper/")) {
            throw ValidationError("refusing to delete \(path): it belongs to ZooKeeper itself")
        }
        if recursive && version != -1 { throw ValidationError("--version applies to a single node, not --recursive") }
    }

    func run() async throws {
        let (path, recursive, version) = (self.path, self.recursive, self.version)
        let deleted = try await connection.withClient { zk in
            guard recursive else {
                try await zk.delete(path, version: version)
                return [path]
            }
            let deleted = try await zk.deleteRecursively(path)
            if deleted.isEmpty { throw ZooKeeperError(.noNode, path: path) }
            return deleted
        }
        if connection.json {
            try Output.json(DeletedJSON(deleted: deleted))
        } else {
            for node in deleted { Output.note("deleted \(node)") }
        }
    }
}

struct StatNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "Print a znode's stat and ACL.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The znode path.") var path: String

    func run() async throws {
        let path = self.path
        let (acl, stat) = try await connection.withClient { try await $0.getACL(path) }
        if connection.json {
            try Output.json(NodeJSON(path: path, data: nil, stat: stat, acl: acl))
        } else {
            StatJSON(stat).lines.forEach(Output.line)
            for entry in acl { Output.line("acl = \(entry)") }
        }
    }
}

/// A znode as JSON: data as base64 (binary-safe) and as UTF-8 when it is valid text.
struct NodeJSON: Encodable {
    var path: String
    var dataBase64: String?
    var dataUTF8: String?
    var stat: StatJSON
    var acl: [String]?

    init(path: String, data: [UInt8]?, stat: Stat, acl: [ACL]? = nil) {
        self.path = path
        if let data {
            dataBase64 = Data(data).base64EncodedString()
            dataUTF8 = String(validating: data, as: UTF8.self)
        }
        self.stat = StatJSON(stat)
        self.acl = acl?.map(\.description)
    }

    enum CodingKeys: String, CodingKey {
        case path, stat, acl
        case dataBase64 = "data_base64"
        case dataUTF8 = "data_utf8"
    }
}

struct ChildrenJSON: Encodable {
    var path: String
    var children: [String]
}

struct CreatedJSON: Encodable {
    var path: String
}

struct DeletedJSON: Encodable {
    var deleted: [String]
}
