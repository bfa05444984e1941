import Foundation
import ZooKeeper

/// Data to stdout, people's messages to stderr.
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func raw(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    /// A message for the person at the terminal.
    @Sendable static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("error: " + text + "\n").utf8))
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
