import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs programs on this machine: the sandbox's `ip`, `iptables` and service scripts.
public enum LocalCommand {
    /// Runs `arguments` (no shell) in its own process group, killed with the whole group after
    /// `timeout`. Returns the exit status and output (stdout and stderr).
    public static func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let path = NSTemporaryDirectory() + "mitosis-command-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child: ChildProcess
        do {
            child = try ChildProcess(arguments, outputPath: path)
        } catch {
            throw HostError(.commandFailed, host: "localhost", operation: arguments.joined(separator: " "), "\(error)")
        }
        let deadline = ContinuousClock.now + timeout
        while child.isRunning {
            if ContinuousClock.now > deadline {
                _ = Glibc.kill(-child.pid, SIGKILL)
                _ = try? await child.waitForExit(timeout: .seconds(5))
                throw HostError(.timeout, host: "localhost", operation: arguments.joined(separator: " "), "did not finish within \(timeout); killed")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return CommandResult(status: child.exitCode ?? -1, output: output)
    }

    /// Runs `arguments` and throws unless it exits 0; returns the output.
    @discardableResult
    public static func check(_ arguments: [String], timeout: Duration = .seconds(60), what: String? = nil) async throws -> String {
        let result = try await run(arguments, timeout: timeout)
        guard result.succeeded else {
            throw HostError(
                .commandFailed, host: "localhost", operation: what ?? arguments.joined(separator: " "),
                "exited with status \(result.status): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines).suffix(2000))")
        }
        return result.output
    }
}
