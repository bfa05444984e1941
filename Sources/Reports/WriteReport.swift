public import Foundation

/// Where ``writeReport(_:to:)`` put the renderings of a report.
public struct WrittenReport: Sendable, Hashable {
    /// `report.html`: the page to open in a browser.
    public var html: URL
    /// `report.json`: the model itself, for tools.
    public var json: URL
    /// `summary.txt`: the terminal summary without colours.
    public var summary: URL

    public var all: [URL] { [html, json, summary] }
}

/// Why a report could not be written.
public struct ReportWriteError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "cannot write the report to \(path): \(reason)" }
}

/// Writes `report.html`, `report.json` and `summary.txt` into `directory`, creating it if
/// needed and replacing earlier files of the same names. Each file is written atomically, so a
/// reader never sees half a report.
@discardableResult
public func writeReport(_ report: RunReport, to directory: URL) throws -> WrittenReport {
    let written = WrittenReport(
        html: directory.appendingPathComponent("report.html"),
        json: directory.appendingPathComponent("report.json"),
        summary: directory.appendingPathComponent("summary.txt"))
    let json: Data
    do {
        json = try report.jsonData(pretty: true)
    } catch {
        throw ReportWriteError(
            path: written.json.path,
            reason: "the report holds a number JSON cannot carry (NaN or infinity): \(error)")
    }
    // Everything is rendered before anything is written: a report that cannot be encoded
    // leaves no files behind.
    let contents: [(URL, Data)] = [
        (written.html, Data(renderHTML(report).utf8)),
        (written.json, json),
        (written.summary, Data(renderTerminalSummary(report, colors: false).utf8)),
    ]
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw ReportWriteError(
            path: directory.path, reason: "the directory cannot be created (\(error.localizedDescription)); choose another")
    }
    for (url, data) in contents {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw ReportWriteError(path: url.path, reason: error.localizedDescription)
        }
    }
    return written
}
