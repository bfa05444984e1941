import Foundation

/// The timeline of a run as one inline SVG: events on top, then the steps, then one lane per
/// client group (throughput, failures, stalls, planned restarts), the time axis and a legend.
/// Every mark carries a `<title>`, which browsers show as a tooltip; no script is needed.
struct TimelineSVG {
    static let width = 1200.0
    static let labelColumn = 16.0
    static let plotLeft = 176.0
    static let plotRight = width - 30
    /// Steps overlapping in time get rows of their own, up to this many.
    static let maxStepRows = 6

    let report: RunReport
    let axis: TimeAxis

    init(_ report: RunReport) {
        self.report = report
        self.axis = TimeAxis(covering: report, left: Self.plotLeft, right: Self.plotRight)
    }

    /// The declared impact windows, as spans of time: the steps that declare one.
    var impactWindows: [(step: StepSpan, start: Double, end: Double)] {
        report.steps.compactMap { step in
            guard step.impactWindow != nil else { return nil }
            return (step, step.start, drawnEnd(step))
        }
    }

    /// Where a step's bar ends: at its end, or for a step that never finished, when mitosis was
    /// killed during it, or else at the end of the run.
    func drawnEnd(_ step: StepSpan) -> Double {
        if let end = step.end { return end }
        return killTime(during: step) ?? axis.end
    }

    func killTime(during step: StepSpan) -> Double? {
        report.events.filter { $0.kind == .toolKilled && $0.time >= step.start }.map(\.time).min()
    }

    func render(into m: inout Markup) {
        var body = Markup()
        var y = 8.0
        let chartTop = y
        let windows = impactWindows

        // Lanes are laid out first (their heights depend on the data), drawn into `body`;
        // backgrounds and grid go underneath, so they are collected separately.
        var underlay = Markup()
        var overlay = Markup()

        if !report.events.isEmpty {
            y = drawEvents(top: y, into: &body)
        }
        let stepsTop = y
        y = drawSteps(top: y, windows: windows, into: &body)
        var laneBands: [(top: Double, bottom: Double)] = [(stepsTop, y)]
        for group in report.clientGroups {
            let top = y
            y = drawGroup(group, top: top, windows: windows, into: &body)
            laneBands.append((top, y))
        }
        if report.steps.isEmpty && report.clientGroups.isEmpty && report.events.isEmpty {
            body.element(
                "text",
                ["class": "lane-note", "x": n((axis.left + axis.right) / 2), "y": n(stepsTop + 30), "text-anchor": "middle"],
                text: "nothing was recorded in this run")
        }
        let chartBottom = y

        // Underlay: alternating lane backgrounds, impact windows, grid lines.
        for (index, band) in laneBands.enumerated() where index % 2 == 1 {
            underlay.empty(
                "rect",
                [
                    "class": "lane-bg", "x": n(axis.left), "y": n(band.top), "width": n(axis.width),
                    "height": n(band.bottom - band.top),
                ])
        }
        for window in windows {
            let x0 = axis.x(window.start)
            let x1 = max(axis.x(window.end), x0 + 2)
            underlay.titled(
                "rect",
                [
                    "class": "window", "x": n(x0), "y": n(stepsTop), "width": n(x1 - x0),
                    "height": n(chartBottom - stepsTop),
                ], title: windowDescription(window.step))
        }
        let ticks = axis.ticks(maxTicks: 12)
        for time in ticks.times {
            let x = axis.x(time)
            underlay.empty("line", ["class": "grid", "x1": n(x), "y1": n(chartTop), "x2": n(x), "y2": n(chartBottom)])
        }

        // Event lines run through every lane, above the data.
        let eventLaneBottom = stepsTop
        for event in report.events where Self.isLandmark(event.kind) {
            let x = axis.x(event.time)
            overlay.titled(
                "line",
                [
                    "class": "event-line \(Self.cssClass(event.kind))", "x1": n(x), "y1": n(eventLaneBottom - 4),
                    "x2": n(x), "y2": n(chartBottom),
                ], title: eventDescription(event))
        }

        // The axis.
        var axisMarkup = Markup()
        axisMarkup.empty(
            "line", ["class": "axis", "x1": n(axis.left), "y1": n(chartBottom), "x2": n(axis.right), "y2": n(chartBottom)])
        for time in ticks.times {
            let x = axis.x(time)
            axisMarkup.empty(
                "line",
                [
                    "class": "tick", "data-t": Format.coordinate(time), "x1": n(x), "y1": n(chartBottom),
                    "x2": n(x), "y2": n(chartBottom + 5),
                ])
            axisMarkup.element(
                "text", ["class": "tick-label", "x": n(x), "y": n(chartBottom + 18), "text-anchor": "middle"],
                text: Format.tick(time, step: ticks.step))
        }
        axisMarkup.element(
            "text", ["class": "lane-note", "x": n(Self.labelColumn), "y": n(chartBottom + 18)],
            text: "seconds since start")
        y = chartBottom + 34

        var legend = Markup()
        y = drawLegend(top: y, into: &legend)
        let height = y + 6

        m.start(
            "svg",
            [
                "xmlns": "http://www.w3.org/2000/svg", "class": "timeline", "viewBox": "0 0 \(n(Self.width)) \(n(height))",
                "width": n(Self.width), "height": n(height), "role": "img",
                "aria-label": "Timeline of the \(report.kind) over \(Format.length(report.duration))",
                "font-family": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
            ])
        m.raw(Self.style)
        m.raw(Self.definitions)
        m.empty("rect", ["class": "canvas", "x": "0", "y": "0", "width": n(Self.width), "height": n(height)])
        m.raw(underlay.text)
        m.raw(body.text)
        m.raw(overlay.text)
        m.raw(axisMarkup.text)
        m.raw(legend.text)
        m.close()
    }

    // MARK: Events

    private func drawEvents(top: Double, into m: inout Markup) -> Double {
        let labelRows = 3
        let rowHeight = 13.0
        let markerY = top + Double(labelRows) * rowHeight + 8
        laneTitle("events", subtitle: "\(report.events.count) recorded", top: top + 14, into: &m)

        var rows = LabelRows(rows: labelRows, minX: axis.left - 20, maxX: Self.width - 4)
        // Landmarks claim label room first; routine events take what is left.
        let ordered = report.events.enumerated().sorted { a, b in
            let (pa, pb) = (Self.isLandmark(a.element.kind), Self.isLandmark(b.element.kind))
            if pa != pb { return pa }
            return a.element.time < b.element.time
        }
        var labels = Markup()
        var markers: [String] = []
        for (_, event) in ordered {
            let x = axis.x(event.time)
            // Landmarks come first here but are drawn last, on top of routine markers.
            var marker = Markup()
            marker.start("g", ["class": "event \(Self.cssClass(event.kind))"])
            marker.element("title", text: eventDescription(event))
            marker.raw(Self.marker(event.kind, x: x, y: markerY))
            marker.close()
            markers.append(marker.text)
            let text = event.label.truncated(to: 26)
            if let placed = rows.place(x: x, width: LabelRows.width(of: text), anchor: .middle) {
                let baseline = markerY - 11 - Double(placed.row) * rowHeight
                labels.element(
                    "text",
                    [
                        "class": Self.isLandmark(event.kind) ? "event-label landmark" : "event-label",
                        "x": n(placed.left), "y": n(baseline),
                    ], text: text)
            }
        }
        m.raw(markers.reversed().joined())
        m.raw(labels.text)
        return markerY + 10
    }

    // MARK: Steps

    private func drawSteps(top: Double, windows: [(step: StepSpan, start: Double, end: Double)], into m: inout Markup)
        -> Double
    {
        var y = top + 4
        laneTitle(
            "steps", subtitle: report.steps.count == 1 ? "1 step" : "\(report.steps.count) steps", top: top + 18, into: &m)

        // Names of the impact windows, in a row of their own above the bars.
        if !windows.isEmpty {
            var rows = LabelRows(rows: 1, minX: axis.left, maxX: Self.width - 4)
            for window in windows {
                let text = windowLabel(window.step).truncated(to: 30)
                if let placed = rows.place(x: axis.x(window.start) + 2, width: LabelRows.width(of: text), anchor: .start) {
                    m.element("text", ["class": "window-label", "x": n(placed.left), "y": n(y + 10)], text: text)
                }
            }
            y += 15
        }

        // Pack overlapping steps into rows; sequential steps share the first row.
        var rowEnds: [Double] = []
        var assigned: [(step: StepSpan, row: Int)] = []
        for step in report.steps.sorted(by: { $0.start < $1.start }) {
            let end = drawnEnd(step)
            if let row = rowEnds.firstIndex(where: { $0 <= step.start + 1e-9 }) {
                rowEnds[row] = end
                assigned.append((step, row))
            } else if rowEnds.count < Self.maxStepRows {
                rowEnds.append(end)
                assigned.append((step, rowEnds.count - 1))
            } else {
                let row = rowEnds.indices.min { rowEnds[$0] < rowEnds[$1] } ?? 0
                rowEnds[row] = max(rowEnds[row], end)
                assigned.append((step, row))
            }
        }
        let barRows = max(1, rowEnds.count)
        let barHeight = 16.0
        let rowPitch = 20.0
        let labelRowCount = 2
        let labelTop = y + Double(barRows) * rowPitch
        var labelRows = LabelRows(rows: labelRowCount, minX: axis.left, maxX: Self.width - 4)
        var outsideLabels = Markup()

        // Labels that matter claim room first: failed and unfinished steps and those that
        // declare an impact window, then the others from left to right.
        let labelOrder = assigned.indices.sorted { a, b in
            let (pa, pb) = (Self.isNotable(assigned[a].step), Self.isNotable(assigned[b].step))
            if pa != pb { return pa }
            return a < b
        }
        var outsidePlacements: [Int: (row: Int, left: Double, text: String)] = [:]
        for index in labelOrder {
            let step = assigned[index].step
            let x0 = axis.x(step.start)
            let x1 = max(axis.x(drawnEnd(step)), x0 + 1.5)
            let text = step.id.truncated(to: 24)
            if x1 - x0 < LabelRows.width(of: text) + 8, let placed = labelRows.placeTruncating(text, x: x0) {
                outsidePlacements[index] = placed
            }
        }

        for (index, (step, row)) in assigned.enumerated() {
            let x0 = axis.x(step.start)
            let x1 = max(axis.x(drawnEnd(step)), x0 + 1.5)
            let barY = y + Double(row) * rowPitch
            m.titled(
                "rect",
                [
                    "class": "step \(step.outcome.rawValue)", "data-step": step.id, "x": n(x0), "y": n(barY),
                    "width": n(x1 - x0), "height": n(barHeight), "rx": "2",
                ], title: stepDescription(step))
            let text = step.id.truncated(to: 24)
            let textWidth = LabelRows.width(of: text)
            if x1 - x0 >= textWidth + 8 {
                m.element(
                    "text", ["class": "step-label inside \(step.outcome.rawValue)", "x": n(x0 + 4), "y": n(barY + 12)],
                    text: text)
            } else if let placed = outsidePlacements[index] {
                outsideLabels.element(
                    "text",
                    ["class": "step-label", "x": n(placed.left), "y": n(labelTop + 10 + Double(placed.row) * 13)],
                    text: placed.text)
            }
        }
        m.raw(outsideLabels.text)
        return labelTop + Double(labelRowCount) * 13 + 6
    }

    // MARK: Client groups

    private func drawGroup(
        _ group: ClientGroupTimeline, top: Double, windows: [(step: StepSpan, start: Double, end: Double)],
        into m: inout Markup
    ) -> Double {
        let stallLabelY = top + 13
        let areaTop = top + 18
        let areaHeight = 46.0
        let baseline = areaTop + areaHeight
        let failureHeight = 12.0
        let restartTop = baseline + failureHeight + 4
        let restartHeight = 10.0
        let bottom = restartTop + restartHeight + 8

        let buckets = ThroughputBucket.aggregate(group.buckets, columns: Int(axis.width), end: axis.end)
        let peak = buckets.map(\.successRate).max() ?? 0
        let peakFailures = buckets.map(\.failureRate).max() ?? 0

        m.start("g", ["class": "group", "data-group": group.name])
        laneTitle(
            group.name.truncated(to: 19), subtitle: group.moves ? "moves to destination" : "stays on source",
            top: top + 24, into: &m)
        m.element(
            "text", ["class": "lane-note", "x": n(Self.labelColumn), "y": n(top + 52)],
            text: peak > 0 ? "peak \(Format.rate(peak))" : "no requests")
        m.empty(
            "line", ["class": "baseline", "x1": n(axis.left), "y1": n(baseline), "x2": n(axis.right), "y2": n(baseline)])

        // Throughput: one outline over all buckets, dropping to the baseline in gaps.
        if peak > 0 {
            var path = ""
            var lastX: Double?
            for bucket in buckets {
                var x0 = axis.x(bucket.start)
                let x1 = max(axis.x(bucket.end), x0)
                let yTop = baseline - bucket.successRate / peak * areaHeight
                if let last = lastX {
                    x0 = max(x0, last)
                    if x0 > last + 0.5 { path += "L\(n(last)) \(n(baseline))L\(n(x0)) \(n(baseline))" }
                } else {
                    path += "M\(n(x0)) \(n(baseline))"
                }
                path += "L\(n(x0)) \(n(yTop))L\(n(max(x1, x0))) \(n(yTop))"
                lastX = max(x1, x0)
            }
            if let last = lastX { path += "L\(n(last)) \(n(baseline))Z" }
            m.titled(
                "path", ["class": group.moves ? "throughput moves" : "throughput stays", "d": path],
                title:
                    "\(group.name): \(Format.count(group.totalSuccesses)) requests succeeded, \(Format.count(group.totalFailures)) failed; peak \(Format.rate(peak))"
            )
        }

        // Failures hang below the baseline, on their own scale so that a few stand out.
        if peakFailures > 0 {
            for bucket in buckets where bucket.failures > 0 {
                let x0 = axis.x(bucket.start)
                let width = max(axis.x(bucket.end) - x0, 1.5)
                let height = max(2, bucket.failureRate / peakFailures * failureHeight)
                m.titled(
                    "rect",
                    [
                        "class": "failure", "x": n(x0), "y": n(baseline + 1), "width": n(width), "height": n(height),
                    ],
                    title:
                        "\(group.name): \(Format.count(bucket.failures)) failed between \(Format.offset(bucket.start)) and \(Format.offset(bucket.end)); slowest \(Format.milliseconds(bucket.maxLatencyMs))"
                )
            }
        }

        // Planned restarts of the group's members.
        for restart in group.restarts {
            let x0 = axis.x(restart.start)
            let x1 = max(axis.x(restart.end), x0 + 2)
            m.titled(
                "rect",
                [
                    "class": "restart", "x": n(x0), "y": n(restartTop), "width": n(x1 - x0), "height": n(restartHeight),
                ],
                title:
                    "planned restart of \(restart.member): \(Format.offset(restart.start)) → \(Format.offset(restart.end)) (\(Format.length(restart.end - restart.start)))"
            )
            let text = restart.member.truncated(to: 16)
            if x1 - x0 >= Double(text.count) * 5.2 + 6 {
                m.element("text", ["class": "restart-label", "x": n(x0 + 3), "y": n(restartTop + 8)], text: text)
            }
        }

        // Stalls, over the data; the longest claim label room first.
        var rows = LabelRows(rows: 1, minX: axis.left - 20, maxX: Self.width - 4, gap: 4)
        var stallLabels = Markup()
        for stall in group.stalls.sorted(by: { $0.length > $1.length }) {
            let x0 = axis.x(stall.start)
            let x1 = max(axis.x(stall.end), x0 + 2)
            let (window, withinWindow) = judge(stall, windows: windows)
            let text = Format.length(stall.length)
            m.titled(
                "rect",
                [
                    "class": withinWindow ? "stall expected" : "stall unexpected", "data-stall": Format.coordinate(stall.length),
                    "x": n(x0), "y": n(areaTop), "width": n(x1 - x0), "height": n(baseline + failureHeight - areaTop),
                ], title: stallDescription(stall, group: group, window: window))
            if let placed = rows.place(x: (x0 + x1) / 2, width: LabelRows.width(of: text), anchor: .middle) {
                stallLabels.element(
                    "text",
                    [
                        "class": withinWindow ? "stall-label expected" : "stall-label unexpected",
                        "x": n(placed.left), "y": n(stallLabelY),
                    ], text: text)
            }
        }
        m.raw(stallLabels.text)
        m.close()
        return bottom
    }

    // MARK: Legend

    private func drawLegend(top: Double, into m: inout Markup) -> Double {
        // Only what the drawing shows gets a key.
        let outcomes = Set(report.steps.map(\.outcome))
        let groups = report.clientGroups
        let stalls = groups.flatMap(\.stalls)
        var entries: [(swatch: String, label: String)] = []
        func entry(_ present: Bool, _ swatch: String, _ label: String) {
            if present { entries.append((swatch, label)) }
        }
        entry(
            !report.steps.isEmpty, #"<rect class="step succeeded" x="0" y="-9" width="18" height="10" rx="2"/>"#,
            "step")
        entry(outcomes.contains(.resumed), #"<rect class="step resumed" x="0" y="-9" width="18" height="10" rx="2"/>"#, "resumed step")
        entry(outcomes.contains(.failed), #"<rect class="step failed" x="0" y="-9" width="18" height="10" rx="2"/>"#, "failed step")
        entry(
            outcomes.contains(.interrupted),
            #"<rect class="step interrupted" x="0" y="-9" width="18" height="10" rx="2"/>"#, "interrupted step")
        entry(outcomes.contains(.skipped), #"<rect class="step skipped" x="0" y="-9" width="18" height="10" rx="2"/>"#, "skipped step")
        entry(!impactWindows.isEmpty, #"<rect class="window" x="0" y="-11" width="18" height="14"/>"#, "declared impact window")
        entry(
            groups.contains { $0.moves }, #"<rect class="throughput moves" x="0" y="-9" width="18" height="10"/>"#,
            "requests/s (moving group)")
        entry(
            groups.contains { !$0.moves }, #"<rect class="throughput stays" x="0" y="-9" width="18" height="10"/>"#,
            "requests/s (staying group)")
        entry(
            groups.contains { $0.totalFailures > 0 }, #"<rect class="failure" x="0" y="-5" width="18" height="6"/>"#,
            "failed requests")
        let judged = stalls.map { judge($0, windows: impactWindows).withinWindow }
        entry(
            judged.contains(true), #"<rect class="stall expected" x="0" y="-11" width="18" height="14"/>"#,
            "stall within its window")
        entry(
            judged.contains(false), #"<rect class="stall unexpected" x="0" y="-11" width="18" height="14"/>"#,
            "unexpected stall")
        entry(
            groups.contains { !$0.restarts.isEmpty }, #"<rect class="restart" x="0" y="-9" width="18" height="10"/>"#,
            "planned restart")
        let kinds = TimelineEvent.Kind.allCases.filter { kind in report.events.contains { $0.kind == kind } }
        for kind in kinds {
            entries.append(
                ("<g class=\"event \(Self.cssClass(kind))\">" + Self.marker(kind, x: 9, y: -4) + "</g>", kind.displayName))
        }
        var x = Self.labelColumn
        var y = top
        m.start("g", ["class": "key"])
        for entry in entries {
            let width = 26 + Double(entry.label.count) * 6.2 + 18
            if x + width > Self.width - 8 {
                x = Self.labelColumn
                y += 20
            }
            m.raw("<g transform=\"translate(\(n(x)) \(n(y)))\">" + entry.swatch)
            m.element("text", ["class": "legend", "x": "24", "y": "0"], text: entry.label)
            m.raw("</g>")
            x += width
        }
        m.close()
        return y + 8
    }

    // MARK: Pieces

    private func laneTitle(_ title: String, subtitle: String, top: Double, into m: inout Markup) {
        m.element("text", ["class": "lane-title", "x": n(Self.labelColumn), "y": n(top)], text: title)
        m.element("text", ["class": "lane-note", "x": n(Self.labelColumn), "y": n(top + 14)], text: subtitle)
    }

    private func n(_ value: Double) -> String { Format.coordinate(value) }

    func stepDescription(_ step: StepSpan) -> String {
        var text = step.title.isEmpty ? step.id : "\(step.id) — \(step.title)"
        if let end = step.end {
            text += "\n\(Format.offset(step.start)) → \(Format.offset(end)) (\(Format.length(end - step.start))), \(step.outcome)"
        } else {
            text += "\nfrom \(Format.offset(step.start)), never finished (\(step.outcome))"
            if let killed = killTime(during: step) { text += "; mitosis was killed at \(Format.offset(killed))" }
        }
        if step.impactWindow != nil { text += "\n" + windowDescription(step) }
        return text
    }

    func windowLabel(_ step: StepSpan) -> String {
        let name = step.impactWindow ?? step.id
        if let expected = step.expectedWindowLength { return "\(name) window · ≤ \(Format.length(expected, trimmed: true))" }
        return "\(name) window"
    }

    func windowDescription(_ step: StepSpan) -> String {
        var text = "impact window \(step.impactWindow ?? step.id) declared by step \(step.id)"
        if let expected = step.expectedWindowLength { text += "; clients may stall up to \(Format.length(expected, trimmed: true))" }
        return text
    }

    /// The impact window a stall falls in, and whether it stays within the length the plan
    /// expects there. A stall outside every window, or longer than expected, is unexpected.
    func judge(_ stall: Stall, windows: [(step: StepSpan, start: Double, end: Double)]) -> (
        window: StepSpan?, withinWindow: Bool
    ) {
        guard let window = windows.first(where: { $0.start <= stall.end && stall.start <= $0.end }) else {
            return (nil, false)
        }
        let fits = window.step.expectedWindowLength.map { stall.length <= $0 + 1e-9 } ?? true
        return (window.step, fits)
    }

    func stallDescription(_ stall: Stall, group: ClientGroupTimeline, window: StepSpan?) -> String {
        var text =
            "\(group.name) stalled \(Format.length(stall.length)) (\(Format.offset(stall.start)) → \(Format.offset(stall.end)))"
        if let window {
            text += ", during the \(window.impactWindow ?? window.id) window"
            if let expected = window.expectedWindowLength {
                text += stall.length <= expected + 1e-9 ? " (expected ≤ \(Format.length(expected, trimmed: true)))" : " — longer than the \(Format.length(expected, trimmed: true)) declared"
            }
        } else {
            text += ", outside any declared impact window"
        }
        return text
    }

    func eventDescription(_ event: TimelineEvent) -> String {
        var text = "\(Format.offset(event.time)) · \(event.kind.displayName)"
        if let subject = event.subject, !subject.isEmpty { text += " · \(subject)" }
        if !event.label.isEmpty { text += "\n\(event.label)" }
        return text
    }

    static func isNotable(_ step: StepSpan) -> Bool {
        step.impactWindow != nil || [.failed, .interrupted, .resumed].contains(step.outcome)
    }

    /// Events that matter to availability get a line through every lane.
    static func isLandmark(_ kind: TimelineEvent.Kind) -> Bool {
        switch kind {
        case .leaderElection, .sessionExpired, .serverKilled, .firewallSplit, .firewallRemoved, .addressMoved, .addressFollowed, .toolKilled, .resumed:
            true
        case .serverStarted, .serverStopped, .gate, .note:
            false
        }
    }

    static func cssClass(_ kind: TimelineEvent.Kind) -> String {
        switch kind {
        case .leaderElection: "election"
        case .sessionExpired: "expired"
        case .serverStarted: "started"
        case .serverStopped: "stopped"
        case .serverKilled: "killed"
        case .firewallSplit: "split"
        case .firewallRemoved: "unsplit"
        case .addressMoved, .addressFollowed: "moved"
        case .toolKilled: "toolkilled"
        case .resumed: "resumed"
        case .gate: "gate"
        case .note: "note"
        }
    }

    /// A marker shape per kind of event, centred on (`x`, `y`).
    static func marker(_ kind: TimelineEvent.Kind, x: Double, y: Double) -> String {
        let (cx, cy) = (Format.coordinate(x), Format.coordinate(y))
        func path(_ d: String) -> String { "<path transform=\"translate(\(cx) \(cy))\" d=\"\(d)\"/>" }
        switch kind {
        case .leaderElection: return path("M0 -6L6 0L0 6L-6 0Z")
        case .sessionExpired: return "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"4.5\"/>"
        case .serverStarted: return path("M0 -5L5 4L-5 4Z")
        case .serverStopped: return path("M0 5L5 -4L-5 -4Z")
        case .serverKilled: return path("M-4.5 -4.5L4.5 4.5M4.5 -4.5L-4.5 4.5")
        case .firewallSplit: return path("M-2 -7H2V7H-2Z")
        case .firewallRemoved: return path("M-2 -7H2V7H-2Z")
        case .addressMoved, .addressFollowed: return path("M-6 0H4M1 -4L5 0L1 4")
        case .toolKilled: return path("M-5 -5H5V5H-5Z")
        case .resumed: return path("M-4 -5L5 0L-4 5Z")
        case .gate: return path("M-5 0L-1.5 4L5 -4")
        case .note: return "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"3\"/>"
        }
    }

    static let definitions = """
        <defs>\
        <pattern id="hatch-interrupted" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">\
        <rect width="6" height="6" fill="#f6c177"/><rect width="3" height="6" fill="#d9822b"/></pattern>\
        <pattern id="hatch-restart" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">\
        <rect width="5" height="5" fill="#e4e7eb"/><rect width="2" height="5" fill="#9aa5b1"/></pattern>\
        </defs>
        """

    /// The drawing's own style sheet, inside the SVG so that the SVG alone renders the same.
    /// Inline SVG styles apply to the whole page, so every rule is scoped to `svg.timeline`.
    static let style = "<style>" + scoped(rules) + "</style>"

    static func scoped(_ rules: String) -> String {
        rules.split(separator: "\n").map { line in
            guard let brace = line.firstIndex(of: "{") else { return String(line) }
            let selectors = line[..<brace].split(separator: ",").map { "svg.timeline " + $0.trimmingCharacters(in: .whitespaces) }
            return selectors.joined(separator: ", ") + " " + line[brace...]
        }.joined(separator: "\n")
    }

    private static let rules = """
        .canvas { fill: #ffffff; }
        text { fill: #1f2933; font-size: 11px; }
        .lane-title { font-size: 13px; font-weight: 600; }
        .lane-note, .tick-label, .legend { fill: #616e7c; font-size: 11px; }
        .lane-bg { fill: #f7f9fb; }
        .grid { stroke: #e4e7eb; stroke-width: 1; }
        .axis, .baseline { stroke: #9aa5b1; stroke-width: 1; }
        .tick { stroke: #9aa5b1; }
        .window { fill: #fdf0c9; fill-opacity: 0.75; }
        .window-label { fill: #8a6100; font-size: 11px; font-weight: 600; }
        .step { stroke: #ffffff; stroke-width: 0.75; }
        .step.succeeded { fill: #3d6fb4; }
        .step.resumed { fill: #2a9d8f; }
        .step.failed { fill: #c62828; }
        .step.skipped { fill: #ffffff; stroke: #9aa5b1; stroke-dasharray: 3 2; }
        .step.interrupted { fill: url(#hatch-interrupted); stroke: #b86e00; }
        .step-label { fill: #323f4b; }
        .step-label.inside { fill: #ffffff; font-weight: 600; }
        .step-label.inside.skipped, .step-label.inside.interrupted { fill: #323f4b; }
        .throughput.moves { fill: #2a9d8f; fill-opacity: 0.85; }
        .throughput.stays { fill: #5b7db1; fill-opacity: 0.85; }
        .failure { fill: #d62828; }
        .stall { stroke-width: 1; }
        .stall.expected { fill: #f4a261; fill-opacity: 0.35; stroke: #e76f51; }
        .stall.unexpected { fill: #d62828; fill-opacity: 0.22; stroke: #d62828; }
        .stall-label { font-weight: 700; }
        .stall-label.expected { fill: #b5471f; }
        .stall-label.unexpected { fill: #b71c1c; }
        .restart { fill: url(#hatch-restart); stroke: #7b8794; stroke-width: 0.75; }
        .restart-label { fill: #323f4b; font-size: 9px; }
        .event-label { fill: #7b8794; font-size: 11px; }
        .event-label.landmark { fill: #1f2933; }
        .event-line { stroke-width: 1; stroke-dasharray: 3 3; stroke-opacity: 0.55; }
        .event path, .event circle { stroke-width: 1; }
        .election path, .election circle { fill: #7b2cbf; }
        .event-line.election { stroke: #7b2cbf; }
        .expired circle { fill: #d62828; }
        .event-line.expired { stroke: #d62828; }
        .started path { fill: #2b9348; }
        .stopped path { fill: #7b8794; }
        .killed path { fill: none; stroke: #c62828; stroke-width: 2.5; }
        .event-line.killed { stroke: #c62828; }
        .split path { fill: #e85d04; }
        .event-line.split { stroke: #e85d04; stroke-opacity: 0.8; }
        .unsplit path { fill: #ffffff; stroke: #e85d04; stroke-width: 1.5; }
        .event-line.unsplit { stroke: #e85d04; }
        .moved path { fill: none; stroke: #0077b6; stroke-width: 2; }
        .event-line.moved { stroke: #0077b6; }
        .toolkilled path { fill: #9d0208; }
        .event-line.toolkilled { stroke: #9d0208; }
        .resumed path { fill: #2a9d8f; }
        .event-line.resumed { stroke: #2a9d8f; }
        .gate path { fill: none; stroke: #2b9348; stroke-width: 2; }
        .note circle { fill: #7b8794; }
        """
}

extension TimelineEvent.Kind {
    /// The kind as a person says it.
    var displayName: String {
        switch self {
        case .leaderElection: "leader election"
        case .sessionExpired: "session expired"
        case .serverStarted: "server started"
        case .serverStopped: "server stopped"
        case .serverKilled: "server killed"
        case .firewallSplit: "firewall split"
        case .firewallRemoved: "firewall removed"
        case .addressMoved: "address moved"
        case .addressFollowed: "address re-pointed by the platform"
        case .toolKilled: "mitosis killed"
        case .resumed: "resumed"
        case .gate: "gate"
        case .note: "note"
        }
    }
}
