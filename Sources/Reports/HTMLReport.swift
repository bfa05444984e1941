import Foundation

/// The report as one self-contained XHTML page: the verdict first, then the timeline (inline
/// SVG), then the tables. No script, no external style sheet, font or image; it opens the same
/// from a CI artefact, an e-mail attachment or a laptop without a network.
public func renderHTML(_ report: RunReport) -> String {
    var m = Markup()
    m.raw("<!DOCTYPE html>\n")
    m.start("html", ["xmlns": "http://www.w3.org/1999/xhtml", "lang": "en"])
    m.start("head")
    m.empty("meta", ["charset": "utf-8"])
    m.empty("meta", ["name": "viewport", "content": "width=device-width, initial-scale=1"])
    m.element("title", text: "\(report.title) — \(report.outcome.headline)")
    m.raw("<style>" + pageStyle + "</style>")
    m.close()
    m.start("body")
    m.start("main")

    header(report, into: &m)
    verdictCards(report, into: &m)

    m.start("section", ["class": "panel"])
    m.element("h2", text: "Timeline")
    m.start("figure", ["class": "timeline"])
    TimelineSVG(report).render(into: &m)
    m.close()
    m.close()

    if !report.clientGroups.isEmpty { clientGroupTable(report, into: &m) }
    if !report.steps.isEmpty { stepTable(report, into: &m) }
    if !report.events.isEmpty { eventTable(report, into: &m) }
    if !report.verdict.isEmpty { verdictTable(report, into: &m) }
    if let servers = report.servers, !servers.isEmpty { serverTable(servers, into: &m) }
    if !report.notes.isEmpty {
        m.start("section", ["class": "panel"])
        m.element("h2", text: "Notes")
        m.start("ul", ["class": "notes"])
        for note in report.notes { m.element("li", text: note) }
        m.close()
        m.close()
    }
    m.element(
        "footer",
        text:
            "Mitosis \(report.kind) report, format \(report.format). Times are seconds since the start, \(displayDate(report.startedAt)).")
    m.close()
    m.close()
    m.close()
    m.raw("\n")
    assert(m.isBalanced, "the page leaves an element open")
    return m.text
}

extension VerdictItem.Outcome {
    var headline: String {
        switch self {
        case .passed: "PASSED"
        case .failed: "FAILED"
        case .undecided: "NO VERDICT"
        }
    }

    var mark: String {
        switch self {
        case .passed: "✓"
        case .failed: "✗"
        case .undecided: "·"
        }
    }
}

private func header(_ report: RunReport, into m: inout Markup) {
    let outcome = report.outcome
    m.start("header", ["class": "verdict \(outcome.rawValue)"])
    m.element("div", ["class": "badge"], text: outcome == .undecided ? outcome.headline : "\(outcome.mark) \(outcome.headline)")
    m.start("div", ["class": "headline"])
    m.element("h1", text: report.title)
    m.element(
        "p", ["class": "meta"],
        text:
            "\(report.kind) · strategy \(report.strategy) · started \(displayDate(report.startedAt)) · \(Format.length(report.duration))"
    )
    var glance: [String] = []
    let judged = report.verdict.filter { $0.passed != nil }
    if !judged.isEmpty {
        glance.append("\(judged.filter { $0.passed == true }.count) of \(judged.count) checks passed")
    }
    glance.append(report.steps.count == 1 ? "1 step" : "\(report.steps.count) steps")
    let unfinished = report.steps.filter { $0.outcome == .failed || $0.outcome == .interrupted }
    if !unfinished.isEmpty {
        glance.append(unfinished.map { "\($0.id) \($0.outcome)" }.joined(separator: ", "))
    }
    if let longest = longestStall(report) {
        glance.append("longest stall \(Format.length(longest.stall.length)) (\(longest.group))")
    }
    let elections = report.events.filter { $0.kind == .leaderElection }.count
    if elections > 0 { glance.append(elections == 1 ? "1 leader election" : "\(elections) leader elections") }
    m.element("p", ["class": "glance"], text: glance.joined(separator: " · "))
    m.close()
    m.close()
}

private func verdictCards(_ report: RunReport, into m: inout Markup) {
    guard !report.verdict.isEmpty else { return }
    m.start("section", ["class": "cards"])
    for item in report.verdict {
        m.start("div", ["class": "card \(item.outcome.rawValue)"])
        m.start("div", ["class": "card-name"])
        m.element("span", ["class": "mark"], text: item.outcome.mark)
        m.write(" " + item.name)
        m.close()
        m.element("div", ["class": "card-value"], text: item.value)
        if let detail = item.detail, !detail.isEmpty { m.element("div", ["class": "card-detail"], text: detail) }
        m.close()
    }
    m.close()
}

private func clientGroupTable(_ report: RunReport, into m: inout Markup) {
    m.start("section", ["class": "panel"])
    m.element("h2", text: "Client groups")
    m.start("table")
    headerRow(["group", "plan", "succeeded", "failed", "stalls", "longest stall", "slowest request", "planned restarts"], numeric: [2, 3, 4, 5, 6, 7], into: &m)
    m.start("tbody")
    for group in report.clientGroups {
        m.start("tr")
        m.element("td", ["class": "name"], text: group.name)
        m.element("td", text: group.moves ? "moves to destination" : "stays on source")
        m.element("td", ["class": "num"], text: Format.count(group.totalSuccesses))
        m.element("td", ["class": group.totalFailures > 0 ? "num bad" : "num"], text: Format.count(group.totalFailures))
        m.element("td", ["class": "num"], text: String(group.stalls.count))
        m.element(
            "td", ["class": "num"],
            text: group.longestStall.map { "\(Format.length($0.length)) at \(Format.offset($0.start))" } ?? "none")
        m.element("td", ["class": "num"], text: group.maxLatencyMs.map(Format.milliseconds) ?? "—")
        m.element("td", ["class": "num"], text: String(group.restarts.count))
        m.close()
    }
    m.close()
    m.close()
    m.close()
}

private func stepTable(_ report: RunReport, into m: inout Markup) {
    m.start("section", ["class": "panel"])
    // A long plan's table starts folded; the timeline already shows its shape.
    if report.steps.count > 40 { m.start("details") } else { m.start("details", ["open": "open"]) }
    m.element("summary", text: "Steps (\(report.steps.count))")
    m.start("table")
    headerRow(["#", "step", "what it does", "start", "length", "outcome", "impact window"], numeric: [0, 3, 4], into: &m)
    m.start("tbody")
    for (index, step) in report.steps.enumerated() {
        m.start("tr")
        m.element("td", ["class": "num"], text: String(index + 1))
        m.element("td", ["class": "name"], text: step.id)
        m.element("td", text: step.title)
        m.element("td", ["class": "num"], text: Format.offset(step.start))
        m.element("td", ["class": "num"], text: step.length.map { Format.length($0) } ?? "unfinished")
        m.start("td")
        m.element("span", ["class": "pill \(step.outcome.rawValue)"], text: step.outcome.rawValue)
        m.close()
        var window = step.impactWindow ?? ""
        if step.impactWindow != nil, let expected = step.expectedWindowLength {
            window += ", expected ≤ \(Format.length(expected, trimmed: true))"
        }
        m.element("td", text: window)
        m.close()
    }
    m.close()
    m.close()
    m.close()
    m.close()
}

private func eventTable(_ report: RunReport, into m: inout Markup) {
    m.start("section", ["class": "panel"])
    if report.events.count > 60 { m.start("details") } else { m.start("details", ["open": "open"]) }
    m.element("summary", text: "Events (\(report.events.count))")
    m.start("table")
    headerRow(["time", "event", "subject", "what happened"], numeric: [0], into: &m)
    m.start("tbody")
    for event in report.events.sorted(by: { $0.time < $1.time }) {
        m.start("tr")
        m.element("td", ["class": "num"], text: Format.offset(event.time))
        m.start("td")
        m.element("span", ["class": "kind \(TimelineSVG.cssClass(event.kind))"], text: event.kind.displayName)
        m.close()
        m.element("td", ["class": "name"], text: event.subject ?? "")
        m.element("td", text: event.label)
        m.close()
    }
    m.close()
    m.close()
    m.close()
    m.close()
}

private func verdictTable(_ report: RunReport, into m: inout Markup) {
    m.start("section", ["class": "panel"])
    m.element("h2", text: "Verdict")
    m.start("table")
    headerRow(["", "check", "value", "detail"], numeric: [], into: &m)
    m.start("tbody")
    for item in report.verdict {
        m.start("tr", ["class": item.outcome.rawValue])
        m.element("td", ["class": "mark"], text: item.outcome.mark)
        m.element("td", ["class": "name"], text: item.name)
        m.element("td", text: item.value)
        m.element("td", text: item.detail ?? "")
        m.close()
    }
    m.close()
    m.close()
    m.close()
}

private func serverTable(_ servers: [ServerRow], into m: inout Markup) {
    m.start("section", ["class": "panel"])
    m.element("h2", text: "Servers at the end")
    m.start("table")
    headerRow(["server", "ensemble", "mode"], numeric: [], into: &m)
    m.start("tbody")
    for server in servers {
        m.start("tr")
        m.element("td", ["class": "name"], text: server.name)
        m.element("td", text: server.ensemble)
        m.element("td", text: server.finalMode)
        m.close()
    }
    m.close()
    m.close()
    m.close()
}

private func headerRow(_ titles: [String], numeric: Set<Int>, into m: inout Markup) {
    m.start("thead")
    m.start("tr")
    for (index, title) in titles.enumerated() {
        m.element("th", ["class": numeric.contains(index) ? "num" : ""], text: title)
    }
    m.close()
    m.close()
}

func longestStall(_ report: RunReport) -> (group: String, stall: Stall)? {
    report.clientGroups.compactMap { group in group.longestStall.map { (group.name, $0) } }
        .max { $0.1.length < $1.1.length }
}

/// `2024-05-01 12:00:00 UTC`: the start in a form that does not depend on the reader's locale.
func displayDate(_ date: Date) -> String {
    date.formatted(Date.ISO8601FormatStyle(dateTimeSeparator: .space, timeZone: .gmt)).replacingOccurrences(of: "Z", with: " UTC")
}

private let pageStyle = """
    :root { color-scheme: light; }
    * { box-sizing: border-box; }
    body { margin: 0; background: #eef1f5; color: #1f2933;
      font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
    main { max-width: 1260px; margin: 0 auto; padding: 24px 20px 40px; }
    header.verdict { display: flex; gap: 24px; align-items: center; background: #ffffff; border-radius: 12px;
      padding: 20px 24px; border-left: 12px solid #9aa5b1; box-shadow: 0 1px 3px rgba(15, 23, 42, 0.08); }
    header.passed { border-left-color: #2b9348; }
    header.failed { border-left-color: #c62828; }
    .badge { flex: none; font-size: 34px; font-weight: 800; letter-spacing: 0.04em; color: #ffffff;
      padding: 10px 22px; border-radius: 10px; background: #7b8794; white-space: nowrap; }
    .passed .badge { background: #2b9348; }
    .failed .badge { background: #c62828; }
    h1 { margin: 0; font-size: 24px; line-height: 1.2; overflow-wrap: anywhere; }
    h2, summary { margin: 0 0 10px; font-size: 17px; font-weight: 650; }
    summary { cursor: pointer; }
    .meta { margin: 6px 0 0; color: #52606d; }
    .glance { margin: 4px 0 0; color: #323f4b; font-weight: 500; }
    .cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
    .card { flex: 1 1 200px; background: #ffffff; border-radius: 10px; padding: 12px 16px; border-top: 5px solid #9aa5b1;
      box-shadow: 0 1px 3px rgba(15, 23, 42, 0.08); }
    .card.passed { border-top-color: #2b9348; }
    .card.failed { border-top-color: #c62828; background: #fff5f5; }
    .card-name { color: #52606d; font-size: 13px; }
    .card-value { font-size: 26px; font-weight: 700; margin-top: 2px; overflow-wrap: anywhere; }
    .card-detail { color: #52606d; font-size: 12px; margin-top: 4px; overflow-wrap: anywhere; }
    .mark { font-weight: 800; }
    .passed .mark { color: #2b9348; }
    .failed .mark { color: #c62828; }
    .undecided .mark { color: #7b8794; }
    .panel { background: #ffffff; border-radius: 12px; padding: 16px 20px; margin: 16px 0;
      box-shadow: 0 1px 3px rgba(15, 23, 42, 0.08); }
    figure.timeline { margin: 0; overflow-x: auto; }
    figure.timeline svg { display: block; width: 100%; min-width: 960px; height: auto; }
    table { border-collapse: collapse; width: 100%; font-size: 13px; }
    th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #e4e7eb; vertical-align: top;
      overflow-wrap: anywhere; }
    th { color: #52606d; font-weight: 600; background: #f7f9fb; }
    .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    td.name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
    td.bad { color: #c62828; font-weight: 600; }
    tr.failed td { background: #fff5f5; }
    .pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
      background: #e4e7eb; color: #323f4b; }
    .pill.succeeded { background: #e1ebf7; color: #1d4f91; }
    .pill.resumed { background: #d8f1ee; color: #1b6b61; }
    .pill.failed { background: #fde2e2; color: #a61b1b; }
    .pill.interrupted { background: #fdebd3; color: #8a4b00; }
    .pill.skipped { background: #f0f2f5; color: #616e7c; }
    .kind { font-weight: 600; }
    .kind.election { color: #7b2cbf; }
    .kind.expired, .kind.killed, .kind.toolkilled { color: #c62828; }
    .kind.split, .kind.unsplit { color: #c24e00; }
    .kind.moved { color: #0077b6; }
    .kind.started, .kind.gate { color: #2b7a3e; }
    .kind.resumed { color: #1b6b61; }
    ul.notes { margin: 0; padding-left: 20px; }
    footer { color: #616e7c; font-size: 12px; margin-top: 20px; text-align: center; }
    """
