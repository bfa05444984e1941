import Foundation
import Testing

@testable import Reports

@Suite struct HTMLReportTests {
    @Test func sampleIsWellFormedXHTMLWithTheVerdictFirst() throws {
        let html = renderHTML(SampleReports.mitosisRehearsal())
        let root = try parseXML(html)
        #expect(root.name == "html")
        #expect(root.attributes["xmlns"] == "http://www.w3.org/1999/xhtml")
        let svg = try #require(root.elements("svg").first)
        #expect(svg.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        let header = try #require(root.elements("header").first)
        #expect(header.classes.contains("passed"))
        #expect(header.allText.contains("PASSED"))
        // The header comes before the timeline.
        let order = root.all.map(\.name)
        #expect(try #require(order.firstIndex(of: "header")) < #require(order.firstIndex(of: "svg")))
        // Every verdict item, step and event is in a table.
        let cells = Set(root.elements("td").map(\.allText))
        #expect(cells.isSuperset(of: ["acknowledged writes lost", "split-firewall", "dst-5 elected (epoch 1)"]))

        // Written out for a person to look at, when asked (with the other renderings beside it).
        if let path = ProcessInfo.processInfo.environment["MITOSIS_SAMPLE_REPORT"] {
            let url = URL(fileURLWithPath: path)
            try Data(html.utf8).write(to: url)
            let base = url.deletingPathExtension()
            try SampleReports.mitosisRehearsal().jsonData().write(to: base.appendingPathExtension("json"))
            try Data(renderTerminalSummary(SampleReports.mitosisRehearsal()).utf8).write(to: base.appendingPathExtension("txt"))
        }
    }

    @Test func isSelfContained() throws {
        let html = renderHTML(SampleReports.mitosisRehearsal())
        #expect(!html.lowercased().contains("<script"))
        let namespaces = ["http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg"]
        var rest = html
        for namespace in namespaces { rest = rest.replacingOccurrences(of: "\"\(namespace)\"", with: "\"\"") }
        #expect(!rest.contains("http://"))
        #expect(!rest.contains("https://"))
        #expect(!rest.contains("@import"))
        #expect(!rest.contains(" src="))
        #expect(!rest.contains(" href="))
        // Only references to the document's own patterns.
        #expect(rest.components(separatedBy: "url(").dropFirst().allSatisfy { $0.hasPrefix("#") })
    }

    @Test func stepIsDrawnAtItsProportionalPosition() throws {
        let report = RunReport(
            title: "t", kind: .run, strategy: "copy", startedAt: SampleReports.start, duration: 100,
            steps: [
                StepSpan(id: "first", title: "", start: 0, end: 10, outcome: .succeeded),
                StepSpan(id: "copy", title: "Copy the tree", start: 10, end: 20, outcome: .succeeded),
            ])
        let root = try parseXML(renderHTML(report))
        let ticks = root.elements("line", class: "tick")
        let x0 = try #require(ticks.first { $0.attributes["data-t"] == "0" }?.number("x1"))
        let x100 = try #require(ticks.first { $0.attributes["data-t"] == "100" }?.number("x1"))
        let bar = try #require(root.elements("rect", class: "step").first { $0.attributes["data-step"] == "copy" })
        let x = try #require(bar.number("x"))
        let width = try #require(bar.number("width"))
        #expect(abs((x - x0) / (x100 - x0) - 0.1) < 0.001)
        #expect(abs((x + width - x0) / (x100 - x0) - 0.2) < 0.001)
        // The tick labels read in seconds.
        #expect(root.elements("text", class: "tick-label").map(\.allText).contains("50 s"))
    }

    @Test func stallIsHighlightedAndLabelledWithItsLength() throws {
        let report = SampleReports.mitosisRehearsal()
        let root = try parseXML(renderHTML(report))
        let kafka = try #require(root.elements("g", class: "group").first { $0.attributes["data-group"] == "kafka" })
        let stall = try #require(kafka.elements("rect", class: "stall").first)
        #expect(stall.classes.contains("expected"))
        #expect(stall.allText.contains("kafka stalled 1.4 s"))
        #expect(stall.allText.contains("split window"))
        let label = try #require(kafka.elements("text", class: "stall-label").first)
        #expect(label.allText == "1.4 s")
        // The label sits over the stall.
        let (x, width, labelX) = try (#require(stall.number("x")), #require(stall.number("width")), #require(label.number("x")))
        let labelWidth = LabelRows.width(of: "1.4 s")
        #expect(labelX <= x + width && labelX + labelWidth >= x)
        // The stall's width is its share of the axis.
        let axis = TimeAxis(covering: report, left: TimelineSVG.plotLeft, right: TimelineSVG.plotRight)
        #expect(abs(width - 1.4 / 90 * axis.width) < 0.05)

        // A stall outside any declared window is marked as unexpected.
        let billing = try #require(root.elements("g", class: "group").first { $0.attributes["data-group"] == "billing-service" })
        #expect(try #require(billing.elements("rect", class: "stall").first).classes.contains("expected"))
        var unwindowed = report
        unwindowed.steps = unwindowed.steps.map { step in
            var step = step
            step.impactWindow = nil
            return step
        }
        let bare = try parseXML(renderHTML(unwindowed))
        #expect(bare.elements("rect", class: "stall").allSatisfy { $0.classes.contains("unexpected") })
    }

    @Test func plannedRestartsAndEventsAreMarked() throws {
        let root = try parseXML(renderHTML(SampleReports.mitosisRehearsal()))
        let restarts = root.elements("rect", class: "restart")
        #expect(restarts.count == 3)
        #expect(restarts.map(\.allText).contains { $0.contains("planned restart of broker-2") })
        #expect(root.elements("g", class: "election").count == 2)
        #expect(root.elements("line", class: "event-line").contains { $0.classes.contains("split") })
        #expect(root.elements("text", class: "event-label").map(\.allText).contains("dst-5 elected (epoch 1)"))
        #expect(root.elements("rect", class: "window").count == 2)
    }

    @Test func hostileTextIsEscaped() throws {
        let hostile = #"<script>alert("x")</script> & 'q' ]]> <!--"#
        var report = SampleReports.mitosisRehearsal()
        report.title = hostile
        report.strategy = "\"><svg onload=alert(1)>"
        report.steps[0].id = hostile
        report.steps[1].title = "nul\u{0} esc\u{1B}[31m bell\u{7}"
        report.events[0].label = hostile
        report.clientGroups[0].name = "</g></svg><b>"
        report.verdict[0].detail = hostile
        report.notes.append(hostile)
        report.servers?.append(ServerRow(name: hostile, ensemble: "&amp;", finalMode: "<leader>"))

        let html = renderHTML(report)
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("<svg onload"))
        #expect(!html.contains("<b>"))
        let root = try parseXML(html)
        // The parser gives the text back exactly as the user wrote it.
        #expect(try #require(root.elements("h1").first).allText == hostile)
        #expect(root.elements("li").map(\.allText).contains(hostile))
        #expect(root.elements("td").map(\.allText).contains("&amp;"))
        #expect(root.elements("td").map(\.allText).contains("nul\u{FFFD} esc\u{FFFD}[31m bell\u{FFFD}"))

        let summary = renderTerminalSummary(report)
        #expect(!summary.contains("\u{1B}"))
        #expect(!summary.contains("\u{0}"))
    }

    @Test(arguments: ["failed", "long", "empty"])
    func awkwardReportsAreWellFormed(_ name: String) throws {
        let report =
            switch name {
            case "failed": SampleReports.failedRehearsal()
            case "long": SampleReports.longRun()
            default: RunReport(title: "empty", kind: .run, strategy: "copy", startedAt: SampleReports.start, duration: 0)
            }
        let html = renderHTML(report)
        let root = try parseXML(html)
        #expect(try #require(root.elements("header").first).classes.contains(report.outcome.rawValue))
        if let directory = ProcessInfo.processInfo.environment["MITOSIS_REPORT_GALLERY"] {
            try Data(html.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("\(name).html"))
        }
    }

    @Test func zeroLengthRunAndUnfinishedStepStillDraw() throws {
        let empty = RunReport(title: "nothing", kind: .run, strategy: "mitosis", startedAt: SampleReports.start, duration: 0)
        let root = try parseXML(renderHTML(empty))
        #expect(try #require(root.elements("header").first).classes.contains("undecided"))
        #expect(!root.elements("line", class: "tick").isEmpty)

        let interrupted = RunReport(
            title: "killed", kind: .rehearsal, strategy: "mitosis", startedAt: SampleReports.start, duration: 40,
            steps: [
                StepSpan(id: "join-4", title: "", start: 0, end: 12, outcome: .succeeded),
                StepSpan(id: "join-5", title: "", start: 12, end: nil, outcome: .interrupted),
            ],
            events: [TimelineEvent(time: 30, kind: .toolKilled, label: "mitosis killed (SIGKILL)")])
        let drawn = try parseXML(renderHTML(interrupted))
        let ticks = drawn.elements("line", class: "tick")
        let x30 = try #require(ticks.first { $0.attributes["data-t"] == "30" }?.number("x1"))
        let x40 = try #require(ticks.first { $0.attributes["data-t"] == "40" }?.number("x1"))
        let bar = try #require(drawn.elements("rect", class: "step").first { $0.attributes["data-step"] == "join-5" })
        #expect(bar.classes.contains("interrupted"))
        #expect(bar.allText.contains("mitosis was killed at 30.0 s"))
        // It runs until mitosis was killed...
        #expect(try abs(#require(bar.number("x")) + #require(bar.number("width")) - x30) < 0.01)
        #expect(drawn.elements("td").contains { $0.allText == "unfinished" })
        // ...or, when nothing says when it stopped, to the end of the run.
        var unexplained = interrupted
        unexplained.events = []
        let open = try #require(
            try parseXML(renderHTML(unexplained)).elements("rect", class: "step").first {
                $0.attributes["data-step"] == "join-5"
            })
        #expect(try abs(#require(open.number("x")) + #require(open.number("width")) - x40) < 0.01)
    }

    @Test func longRunIsAggregatedToThePixelColumns() throws {
        var random = SplitMix(seed: 7)
        let buckets = SampleReports.buckets(rate: 500, until: 3600, random: &random) { t in
            (t.truncatingRemainder(dividingBy: 600) < 2 ? 0 : 1, t.truncatingRemainder(dividingBy: 600) < 1 ? 3 : 0)
        }
        #expect(buckets.count == 36_000)
        let report = RunReport(
            title: "an hour", kind: .run, strategy: "copy", startedAt: SampleReports.start, duration: 3600,
            clientGroups: [ClientGroupTimeline(name: "service", moves: true, buckets: buckets)])
        let html = renderHTML(report)
        let root = try parseXML(html)
        let path = try #require(root.elements("path", class: "throughput").first?.attributes["d"])
        let axis = TimeAxis(covering: report, left: TimelineSVG.plotLeft, right: TimelineSVG.plotRight)
        // Two corners per bucket, and at most one bucket per pixel column.
        let corners = path.filter { $0 == "L" }.count
        #expect(corners <= 2 * Int(axis.width) + 2 * 8 + 2)
        #expect(html.utf8.count < 400_000)
        #expect(root.elements("text", class: "tick-label").map(\.allText).contains("3000 s"))
    }

    @Test func hundredsOfStepsDoNotPileUpTheirLabels() throws {
        let steps = (0..<300).map { index in
            StepSpan(
                id: "rolling-restart-server-\(index)", title: "Restart server \(index)", start: Double(index),
                end: Double(index) + 0.9, outcome: index == 150 ? .failed : .succeeded)
        }
        let report = RunReport(
            title: "many", kind: .run, strategy: "replace", startedAt: SampleReports.start, duration: 300, steps: steps)
        let root = try parseXML(renderHTML(report))
        #expect(root.elements("rect", class: "step").count == 300)
        let labels = root.elements("text", class: "step-label")
        #expect(!labels.isEmpty && labels.count < 300)
        var byRow: [Double: [ClosedRange<Double>]] = [:]
        for label in labels {
            let x = try #require(label.number("x"))
            let y = try #require(label.number("y"))
            let extent = x...(x + LabelRows.width(of: label.allText))
            #expect(!(byRow[y] ?? []).contains { $0.overlaps(extent) }, "label \(label.allText) overlaps another")
            byRow[y, default: []].append(extent)
            #expect(x + LabelRows.width(of: label.allText) <= TimelineSVG.width)
        }
        // A long plan's step table starts folded.
        #expect(root.elements("details").first?.attributes["open"] == nil)
    }
}

@Suite struct TimeAxisTests {
    @Test func niceTickSteps() {
        #expect(TimeAxis.niceStep(span: 100, maxTicks: 10) == 10)
        #expect(TimeAxis.niceStep(span: 90, maxTicks: 12) == 10)
        #expect(TimeAxis.niceStep(span: 1000, maxTicks: 10) == 100)
        #expect(TimeAxis.niceStep(span: 20, maxTicks: 10) == 2)
        #expect(TimeAxis.niceStep(span: 7, maxTicks: 10) == 1)
        #expect(TimeAxis.niceStep(span: 3600, maxTicks: 12) == 500)
        #expect(TimeAxis.niceStep(span: 30, maxTicks: 12) == 5)
        #expect(abs(TimeAxis.niceStep(span: 1, maxTicks: 10) - 0.1) < 1e-12)
        #expect(abs(TimeAxis.niceStep(span: 0.35, maxTicks: 7) - 0.05) < 1e-12)
        #expect(TimeAxis.niceStep(span: 0, maxTicks: 10) > 0)

        let axis = TimeAxis(end: 90, left: 0, right: 900)
        let ticks = axis.ticks(maxTicks: 12)
        #expect(ticks.step == 10)
        #expect(ticks.times == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
        #expect(axis.x(45) == 450)
        #expect(axis.x(-5) == 0 && axis.x(1000) == 900)
        #expect(Format.tick(0.5, step: 0.5) == "0.5 s")
        #expect(Format.tick(0.3, step: 0.05) == "0.30 s")
        #expect(Format.tick(20, step: 10) == "20 s")
    }

    @Test func aggregationKeepsEveryRequest() {
        var random = SplitMix(seed: 1)
        let buckets = (0..<10_000).map { index in
            ThroughputBucket(
                start: Double(index) * 0.25, end: Double(index + 1) * 0.25, successes: Int(random.next() % 1000),
                failures: Int(random.next() % 7), maxLatencyMs: Double(random.next() % 5000) / 10)
        }
        let merged = ThroughputBucket.aggregate(buckets.shuffled(), columns: 900, end: 2500)
        #expect(merged.count <= 900)
        #expect(merged.reduce(0) { $0 + $1.successes } == buckets.reduce(0) { $0 + $1.successes })
        #expect(merged.reduce(0) { $0 + $1.failures } == buckets.reduce(0) { $0 + $1.failures })
        #expect(merged.map(\.maxLatencyMs).max() == buckets.map(\.maxLatencyMs).max())
        #expect(zip(merged, merged.dropFirst()).allSatisfy { $0.start < $1.start })
        #expect(merged.first?.start == 0 && merged.last?.end == 2500)

        // Buckets outside the span are kept too, in the edge columns.
        let stray = [
            ThroughputBucket(start: -3, end: -2, successes: 5, failures: 1, maxLatencyMs: 1),
            ThroughputBucket(start: 10, end: 11, successes: 7, failures: 0, maxLatencyMs: 1),
            ThroughputBucket(start: 20, end: 21, successes: 9, failures: 2, maxLatencyMs: 1),
        ]
        let edges = ThroughputBucket.aggregate(stray, columns: 2, end: 12)
        #expect(edges.map(\.successes) == [5, 16])
        #expect(edges.map(\.failures) == [1, 2])

        // Few buckets are left alone.
        #expect(ThroughputBucket.aggregate(Array(buckets.prefix(10)), columns: 900, end: 2500) == Array(buckets.prefix(10)))
    }

    @Test func labelsThatDoNotFitAreLeftOut() {
        var rows = LabelRows(rows: 2, minX: 0, maxX: 100)
        #expect(rows.place(x: 0, width: 40, anchor: .start)?.row == 0)
        #expect(rows.place(x: 10, width: 40, anchor: .start)?.row == 1)
        #expect(rows.place(x: 20, width: 40, anchor: .start) == nil)
        #expect(rows.place(x: 60, width: 30, anchor: .start)?.row == 0)
        // Moved inside the bounds rather than cut off.
        var edge = LabelRows(rows: 1, minX: 0, maxX: 100)
        #expect(edge.place(x: 95, width: 30, anchor: .middle)?.left == 70)
    }
}

@Suite struct ReportFormatsTests {
    @Test func jsonRoundTrip() throws {
        let report = SampleReports.mitosisRehearsal()
        let data = try report.jsonData()
        let decoded = try RunReport(jsonData: data)
        #expect(decoded == report)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"startedAt\" : \"2024-05-01T12:00:00.250Z\""))
        #expect(try report.jsonData() == data)

        var future = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        future["format"] = 2
        #expect(throws: DecodingError.self) {
            try RunReport(jsonData: JSONSerialization.data(withJSONObject: future))
        }
    }

    @Test func terminalSummaryMarksAFailedCheck() {
        var report = SampleReports.mitosisRehearsal()
        report.verdict[3] = VerdictItem(
            name: "sessions expired", value: "2", passed: false, detail: "billing-service lost 2 sessions at 24.6 s")
        let summary = renderTerminalSummary(report)
        let lines = summary.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("✗ FAILED"))
        let failed = lines.first { $0.contains("sessions expired") }
        #expect(failed?.hasPrefix("  ✗ sessions expired") == true)
        #expect(lines.contains { $0.hasPrefix("  ✓ acknowledged writes lost") })
        #expect(lines.contains { $0.hasPrefix("  · leader elections") })
        // The value column is aligned: mark, name padded to the longest, value.
        let column = "  ✓ ".count + report.verdict.map(\.name.count).max()! + 2
        for item in report.verdict {
            let line = lines.first { $0.contains(item.name) } ?? ""
            #expect(String(line.dropFirst(column)).hasPrefix(item.value + "  "), "\(line)")
        }
        #expect(summary.contains("split-firewall"))
        #expect(summary.contains("longest stall 1.4 s at 62.3 s"))
        #expect(!summary.contains("\u{1B}["))
        #expect(renderTerminalSummary(report, colors: true).contains("\u{1B}[31m"))
    }

    @Test func terminalSummaryOfALongPlanKeepsTheFailedSteps() {
        let steps = (0..<100).map { (index: Int) -> StepSpan in
            let start = Double(index)
            let outcome: StepSpan.Outcome = index == 70 ? .interrupted : index == 40 ? .failed : .succeeded
            return StepSpan(
                id: "step-\(index)", title: "", start: start, end: index == 70 ? nil : start + 1, outcome: outcome)
        }
        let report = RunReport(title: "long", kind: .run, strategy: "replace", startedAt: SampleReports.start, duration: 100, steps: steps)
        let summary = renderTerminalSummary(report, maxSteps: 10)
        #expect(summary.contains("step-40 "))
        #expect(summary.contains("step-70 "))
        #expect(summary.contains("… 90 more steps"))
    }

    @Test func humanLengths() {
        #expect(Format.length(0) == "0 s")
        #expect(Format.length(0.34) == "340 ms")
        #expect(Format.length(1.4) == "1.4 s")
        #expect(Format.length(8) == "8.0 s")
        #expect(Format.length(10, trimmed: true) == "10 s")
        #expect(Format.length(59.99) == "1 min 00 s")
        #expect(Format.length(125) == "2 min 05 s")
        #expect(Format.length(3725) == "1 h 02 min")
        #expect(Format.length(.nan) == "0 s")
        #expect(Format.offset(62.25) == "62.3 s" || Format.offset(62.25) == "62.2 s")
        #expect(Format.count(1_234_567) == "1,234,567")
        #expect(Format.rate(1234) == "1.2k/s")
        #expect(Format.coordinate(-0.001) == "0")
        #expect(Format.coordinate(12.5) == "12.5")
    }

    @Test func writesTheThreeFiles() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mitosis-report-test-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = SampleReports.mitosisRehearsal()
        let written = try writeReport(report, to: directory.appendingPathComponent("nested"))
        #expect(written.all.map(\.lastPathComponent) == ["report.html", "report.json", "summary.txt"])
        #expect(try RunReport(jsonData: Data(contentsOf: written.json)) == report)
        #expect(try String(contentsOf: written.html, encoding: .utf8) == renderHTML(report))
        #expect(try String(contentsOf: written.summary, encoding: .utf8) == renderTerminalSummary(report))

        // A report JSON cannot carry is refused before anything is written.
        var broken = report
        broken.duration = .nan
        let elsewhere = directory.appendingPathComponent("broken")
        let error = try #require(throws: ReportWriteError.self) { try writeReport(broken, to: elsewhere) }
        #expect(error.description.contains("report.json"))
        #expect(!FileManager.default.fileExists(atPath: elsewhere.path))
    }
}
