import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid.
///
/// Foundation's `Process` notices a child's exit through its own SIGCHLD machinery, which does not
/// fire reliably inside test runners; this type polls `waitpid(WNOHANG)` instead. The child starts
/// with an empty signal mask and default signal handlers (whatever the parent blocked), in its own
/// process group, with stdin from /dev/null and stdout+stderr appended to `outputPath`.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let exitStatus = Mutex<Int32?>(nil)

    public init(_ arguments: [String], outputPath: String, environment: [String: String]? = nil) throws {
        precondition(!arguments.isEmpty)
        // A child starts in its parent thread's network namespace: never in a sandbox's by accident.
        NetworkNamespace.returnToProcessNamespace()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let environmentList = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = environmentList.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, &envp)
        guard result == 0 else {
            throw ChildProcessError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// Reaps the child if it has exited; true while it runs.
    public var isRunning: Bool {
        exitStatus.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            let reaped = waitpid(pid, &raw, WNOHANG)
            if reaped == pid || (reaped < 0 && errno == ECHILD) {
                status = raw
                return false
            }
            return true
        }
    }

    /// The exit code, or 128+signal for a child killed by a signal; nil while it runs.
    public var exitCode: Int32? {
        guard !isRunning, let raw = exitStatus.withLock({ $0 }) else { return nil }
        let signal = raw & 0x7F
        return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
    }

    public func signal(_ number: Int32) {
        if isRunning { _ = Glibc.kill(pid, number) }
    }

    /// Waits (polling, without blocking a thread) until the child exits; returns its exit code.
    @discardableResult
    public func waitForExit(timeout: Duration? = nil) async throws -> Int32 {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while isRunning {
            if let deadline, ContinuousClock.now > deadline {
                throw ChildProcessError("process \(pid) did not exit within \(timeout!)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return exitCode ?? -1
    }

    /// Runs a command to completion and returns its exit code and output (stdout and stderr).
    public static func run(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (status: Int32, output: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-run-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child = try ChildProcess(arguments, outputPath: path)
        let status: Int32
        do {
            status = try await child.waitForExit(timeout: timeout)
        } catch {
            child.signal(SIGKILL)
            _ = try? await child.waitForExit(timeout: .seconds(5))
            throw error
        }
        return (status, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }
}

/// A child process that could not be started, or did not exit in time.
public struct ChildProcessError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
