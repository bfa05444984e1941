import Foundation

/// Drives this machine itself: commands run here (`sh -c`), files are local. For hosts the
/// inventory marks `via: local`, and for the processes a rehearsal runs on the machine.
public struct LocalHostDriver: HostDriver {
    public let host: String

    public init(host: String = "localhost") {
        self.host = host
    }

    public func run(_ command: String, timeout: Duration) async throws -> CommandResult {
        do {
            return try await LocalCommand.run(["/bin/sh", "-c", command], timeout: timeout)
        } catch var error as HostError {
            error.host = host
            error.operation = command
            throw error
        }
    }

    public func readFile(_ path: String) async throws -> String? {
        try LocalFiles.read(path, host: host)
    }

    public func writeFile(_ path: String, contents: String) async throws -> HostChange {
        try await LocalFiles.write(path, contents: contents, host: host)
    }

    public func readBytes(_ path: String) async throws -> [UInt8]? {
        try LocalFiles.readBytes(path, host: host)
    }

    public func writeBytes(_ path: String, contents: [UInt8]) async throws -> HostChange {
        try LocalFiles.write(path, bytes: contents, host: host)
    }
}

/// Atomic local file writes shared by the drivers whose files are this machine's.
enum LocalFiles {
    static func read(_ path: String, host: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw HostError(.commandFailed, host: host, operation: "read \(path)", "\(error)")
        }
    }

    static func readBytes(_ path: String, host: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HostError(.commandFailed, host: host, operation: "read \(path)", "cannot read it (permissions, or a directory)")
        }
        return Array(data)
    }

    static func write(_ path: String, contents: String, host: String) async throws -> HostChange {
        try write(path, bytes: Array(contents.utf8), host: host)
    }

    static func write(_ path: String, bytes: [UInt8], host: String) throws -> HostChange {
        if FileManager.default.fileExists(atPath: path), FileManager.default.contents(atPath: path).map(Array.init) == bytes {
            return HostChange(host: host, changed: false, summary: "\(path) already up to date")
        }
        do {
            let directory = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // Data.write(.atomic) writes a temporary file next to it and renames it into place.
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw HostError(.commandFailed, host: host, operation: "write \(path)", "\(error)")
        }
        return HostChange(host: host, changed: true, summary: "wrote \(path)")
    }
}
