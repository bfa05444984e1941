import Foundation
import ZooKeeper

#if canImport(Glibc)
import Glibc
#endif

/// Data to stdout, people's messages to stderr.
///
/// A reader that goes away (`mitosis kafka plan … | head -1`) ends the tool quietly: SIGPIPE is
/// ignored (``ignoreBrokenPipes()``, at start), so a write to the closed pipe fails with EPIPE,
/// and that ends the process with status 0 instead of a crash in `FileHandle.write(_:)`.
enum Output {
    static func line(_ text: String) {
        write(Data((text + "\n").utf8), to: FileHandle.standardOutput)
    }

    static func raw(_ bytes: [UInt8]) {
        write(Data(bytes), to: FileHandle.standardOutput)
    }

    /// A message for the person at the terminal.
    @Sendable static func note(_ text: String) {
        write(Data((text + "\n").utf8), to: FileHandle.standardError)
    }

    static func error(_ text: String) {
        write(Data(("error: " + text + "\n").utf8), to: FileHandle.standardError)
    }

    /// EPIPE, as Foundation reports it: a POSIX error, or a file-write error wrapping one.
    static func isBrokenPipe(_ error: any Error) -> Bool {
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain && error.code == Int(EPIPE) { return true }
        guard let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError else { return false }
        return isBrokenPipe(underlying)
    }

    /// Writes are reported as EPIPE instead of killing the process with SIGPIPE.
    static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    private static func write(_ data: Data, to handle: FileHandle) {
        do {
            try handle.write(contentsOf: data)
        } catch where isBrokenPipe(error) {
            // Whoever read the output has all they wanted; nothing is left to say to them.
            exit(0)
        } catch {
            // Stdout on a full disk or a revoked terminal: say so where it can still be seen.
            if handle !== FileHandle.standardError { try? FileHandle.standardError.write(contentsOf: Data("error: cannot write the output: \(error)\n".utf8)) }
            exit(1)
        }
    }

    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// A stat as JSON, with zxids in ZooKeeper's hex notation.
struct StatJSON: Encodable {
    var czxid: String
    var mzxid: String
    var pzxid: String
    var ctime: Int64
    var mtime: Int64
    var version: Int32
    var cversion: Int32
    var aversion: Int32
    var ephemeralOwner: String
    var dataLength: Int32
    var numChildren: Int32

    init(_ stat: Stat) {
        czxid = stat.czxid.description
        mzxid = stat.mzxid.description
        pzxid = stat.pzxid.description
        ctime = stat.ctime
        mtime = stat.mtime
        version = stat.version
        cversion = stat.cversion
        aversion = stat.aversion
        ephemeralOwner = "0x" + String(UInt64(bitPattern: stat.ephemeralOwner), radix: 16)
        dataLength = stat.dataLength
        numChildren = stat.numChildren
    }

    /// `zkCli.sh stat` style lines.
    var lines: [String] {
        [
            "cZxid = \(czxid)", "ctime = \(Self.time(ctime))", "mZxid = \(mzxid)", "mtime = \(Self.time(mtime))",
            "pZxid = \(pzxid)", "cversion = \(cversion)", "dataVersion = \(version)", "aclVersion = \(aversion)",
            "ephemeralOwner = \(ephemeralOwner)", "dataLength = \(dataLength)", "numChildren = \(numChildren)",
        ]
    }

    static func time(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
