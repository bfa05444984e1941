/// The report as a few lines for a terminal or a CI log: the verdict as an aligned table with
/// ✓/✗ marks, the steps with their lengths, and the longest stall of each client group.
///
/// - Parameters:
///   - colors: add ANSI colours (for a terminal; leave off for pipes and files).
///   - maxSteps: list at most this many steps; failed, interrupted and resumed steps are always
///     listed, then the longest of the others.
public func renderTerminalSummary(_ report: RunReport, colors: Bool = false, maxSteps: Int = 30) -> String {
    let style = TerminalStyle(enabled: colors)
    var lines: [String] = []
    let outcome = report.outcome
    let outcomeText = "\(outcome.mark) \(outcome.headline)"
    lines.append(
        style.bold(printable(report.title)) + "  "
            + (outcome == .failed ? style.red(outcomeText) : outcome == .passed ? style.green(outcomeText) : outcomeText))
    lines.append(
        "\(report.kind) · strategy \(printable(report.strategy)) · started \(displayDate(report.startedAt)) · \(Format.length(report.duration))"
    )

    if !report.verdict.isEmpty {
        lines.append("")
        lines.append(style.bold("Verdict"))
        let rows = report.verdict.map { item in
            [item.outcome.mark + " " + printable(item.name), printable(item.value), printable(item.detail ?? "")]
        }
        for (item, line) in zip(report.verdict, table(rows, rightAligned: [])) {
            let colored =
                switch item.outcome {
                case .passed: style.green(String(line.prefix(1))) + line.dropFirst()
                case .failed: style.red(line)
                case .undecided: line
                }
            lines.append("  " + colored)
        }
    }

    if !report.steps.isEmpty {
        lines.append("")
        lines.append(style.bold("Steps (\(report.steps.count))"))
        let shown = stepsToShow(report.steps, limit: maxSteps)
        let rows = shown.map { step in
            [
                printable(step.id), Format.offset(step.start), step.length.map { Format.length($0) } ?? "unfinished",
                step.outcome.rawValue, printable(step.title),
            ]
        }
        for (step, line) in zip(shown, table(rows, rightAligned: [1, 2])) {
            lines.append("  " + (step.outcome == .failed || step.outcome == .interrupted ? style.red(line) : line))
        }
        let hidden = report.steps.count - shown.count
        if hidden > 0 { lines.append("  … \(hidden) more steps, all succeeded or skipped") }
    }

    if !report.clientGroups.isEmpty {
        lines.append("")
        lines.append(style.bold("Client groups"))
        let rows = report.clientGroups.map { group in
            [
                printable(group.name), group.moves ? "moves" : "stays", "\(Format.count(group.totalSuccesses)) ok",
                "\(Format.count(group.totalFailures)) failed",
                group.longestStall.map { "longest stall \(Format.length($0.length)) at \(Format.offset($0.start))" }
                    ?? "no stall",
            ]
        }
        for line in table(rows, rightAligned: [2, 3]) { lines.append("  " + line) }
    }

    let landmarks = report.events.filter { TimelineSVG.isLandmark($0.kind) }
    if !landmarks.isEmpty {
        var counts: [(TimelineEvent.Kind, Int)] = []
        for kind in TimelineEvent.Kind.allCases {
            let count = landmarks.filter { $0.kind == kind }.count
            if count > 0 { counts.append((kind, count)) }
        }
        lines.append("")
        lines.append(style.bold("Events") + "  " + counts.map { "\($0.1) × \($0.0.displayName)" }.joined(separator: ", "))
    }
    return lines.joined(separator: "\n") + "\n"
}

/// The steps a short summary lists, in plan order: every step that did not simply succeed,
/// then the longest of the rest.
func stepsToShow(_ steps: [StepSpan], limit: Int) -> [StepSpan] {
    guard steps.count > limit else { return steps }
    let notable = steps.indices.filter { ![.succeeded, .skipped].contains(steps[$0].outcome) }
    let others = steps.indices.filter { [.succeeded, .skipped].contains(steps[$0].outcome) }
        .sorted { (steps[$0].length ?? 0) > (steps[$1].length ?? 0) }
    let chosen = Set(notable).union(others.prefix(max(0, limit - notable.count)))
    return steps.indices.filter(chosen.contains).map { steps[$0] }
}

/// Rows padded to aligned columns (by characters; the terminal is assumed to show each one
/// cell wide). Trailing spaces are dropped.
func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    var widths = Array(repeating: 0, count: columns)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    return rows.map { row in
        var line = ""
        for (index, cell) in row.enumerated() {
            if index > 0 { line += "  " }
            let padding = String(repeating: " ", count: widths[index] - cell.count)
            line += rightAligned.contains(index) ? padding + cell : cell + padding
        }
        while line.last == " " { line.removeLast() }
        return line
    }
}

/// Text from users or servers made safe for a terminal: control characters (escape sequences,
/// newlines) become spaces, so a label cannot move the cursor or recolour the screen.
func printable(_ text: String) -> String {
    String(
        String.UnicodeScalarView(
            text.unicodeScalars.map { scalar in
                scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? " " : scalar
            }))
}

struct TerminalStyle {
    var enabled: Bool

    func bold(_ text: String) -> String { wrap(text, "1") }
    func red(_ text: String) -> String { wrap(text, "31") }
    func green(_ text: String) -> String { wrap(text, "32") }

    private func wrap(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}
