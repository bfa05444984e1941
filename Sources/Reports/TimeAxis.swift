import Foundation

/// The time axis of the timeline: which span it covers, where ticks go and how a time maps to x.
struct TimeAxis: Sendable, Hashable {
    /// The covered span is `0...end` seconds; `end` is never 0, so a zero-length run still draws.
    var end: Double
    /// The x of time 0 and of `end`, in SVG user units.
    var left: Double
    var right: Double

    init(end: Double, left: Double, right: Double) {
        self.end = end.isFinite && end > 0 ? end : 1
        self.left = left
        self.right = right
    }

    /// The span a report needs: its duration, stretched to anything recorded after it.
    init(covering report: RunReport, left: Double, right: Double) {
        var end = Format.finite(report.duration)
        for step in report.steps { end = max(end, Format.finite(step.end ?? step.start)) }
        for event in report.events { end = max(end, Format.finite(event.time)) }
        for group in report.clientGroups {
            if let last = group.buckets.last { end = max(end, Format.finite(last.end)) }
            for stall in group.stalls { end = max(end, Format.finite(stall.end)) }
            for restart in group.restarts { end = max(end, Format.finite(restart.end)) }
        }
        self.init(end: end, left: left, right: right)
    }

    var width: Double { right - left }

    /// The x of a moment; moments outside the span are drawn at its edges.
    func x(_ time: Double) -> Double {
        let clamped = min(max(Format.finite(time), 0), end)
        return left + clamped / end * width
    }

    /// Tick positions from 0 to `end`, at most about `maxTicks` of them, at a nice step.
    func ticks(maxTicks: Int) -> (step: Double, times: [Double]) {
        let step = Self.niceStep(span: end, maxTicks: maxTicks)
        var times: [Double] = []
        var i = 0.0
        while i * step <= end * (1 + 1e-9) {
            times.append(i * step)
            i += 1
        }
        return (step, times)
    }

    /// The smallest step of the form 1, 2 or 5 × 10^k seconds that divides `span` into at most
    /// `maxTicks` intervals.
    static func niceStep(span: Double, maxTicks: Int) -> Double {
        let span = span.isFinite && span > 0 ? span : 1
        let raw = span / Double(max(1, maxTicks))
        var power = pow(10, floor(log10(raw)))
        // log10 of an exact power of ten may land a hair below the integer.
        if power * 10 <= raw { power *= 10 }
        for multiple in [1.0, 2, 5] where multiple * power >= raw * (1 - 1e-12) {
            return multiple * power
        }
        return 10 * power
    }
}

extension ThroughputBucket {
    /// The buckets merged so that at most `columns` remain, one per equal slice of `0...end`:
    /// each bucket goes to the slice holding its middle, so every success and failure is kept;
    /// the merged bucket spans its buckets and keeps the slowest latency. Buckets that already
    /// fit are returned as they are, in time order.
    public static func aggregate(_ buckets: [ThroughputBucket], columns: Int, end: Double) -> [ThroughputBucket] {
        let sorted = buckets.sorted { $0.start < $1.start }
        let columns = max(1, columns)
        guard sorted.count > columns else { return sorted }
        let end = end.isFinite && end > 0 ? end : 1
        let sliceWidth = end / Double(columns)
        var merged: [ThroughputBucket?] = Array(repeating: nil, count: columns)
        for bucket in sorted {
            let middle = Format.finite((bucket.start + bucket.end) / 2)
            let index = min(columns - 1, max(0, Int((middle / sliceWidth).rounded(.down))))
            if var existing = merged[index] {
                existing.start = min(existing.start, bucket.start)
                existing.end = max(existing.end, bucket.end)
                existing.successes += bucket.successes
                existing.failures += bucket.failures
                existing.maxLatencyMs = max(existing.maxLatencyMs, bucket.maxLatencyMs)
                merged[index] = existing
            } else {
                merged[index] = bucket
            }
        }
        return merged.compactMap { $0 }
    }

    /// Successes per second over the bucket (a bucket of no length counts as one millisecond).
    var successRate: Double { Double(successes) / max(length, 0.001) }
    var failureRate: Double { Double(failures) / max(length, 0.001) }
}

/// Places text labels in a few rows so that none overlaps another: a label goes to the first
/// row where it fits, and is left out (its mark keeps its tooltip) where it fits in none.
struct LabelRows {
    /// Estimated width of one character at the timeline's label size; generous, so real text
    /// rarely touches its neighbour.
    static let characterWidth = 6.4

    private(set) var rows: [[ClosedRange<Double>]]
    let minX: Double
    let maxX: Double
    let gap: Double

    init(rows: Int, minX: Double, maxX: Double, gap: Double = 6) {
        self.rows = Array(repeating: [], count: max(1, rows))
        self.minX = minX
        self.maxX = maxX
        self.gap = gap
    }

    static func width(of text: String) -> Double { Double(text.count) * characterWidth }

    enum Anchor { case start, middle }

    /// Where a label of `width` anchored at `x` goes: its row and the left edge of its extent
    /// (moved inside `minX...maxX` when it would stick out), or `nil` when it fits nowhere.
    mutating func place(x: Double, width: Double, anchor: Anchor) -> (row: Int, left: Double)? {
        var left = anchor == .start ? x : x - width / 2
        left = min(max(left, minX), max(minX, maxX - width))
        let extent = (left - gap / 2)...(left + width + gap / 2)
        for row in rows.indices where !rows[row].contains(where: { $0.overlaps(extent) }) {
            rows[row].append(extent)
            return (row, left)
        }
        return nil
    }

    /// Like ``place(x:width:anchor:)`` for a label that starts at `x`; where the whole text fits
    /// in no row, the row with the most room takes as much of it as fits (ending in `…`), if
    /// that is at least `minimumCharacters`.
    mutating func placeTruncating(_ text: String, x: Double, minimumCharacters: Int = 6) -> (
        row: Int, left: Double, text: String
    )? {
        if let placed = place(x: x, width: Self.width(of: text), anchor: .start) {
            return (placed.row, placed.left, text)
        }
        let left = min(max(x, minX), maxX)
        var best: (row: Int, room: Double)?
        for row in rows.indices {
            let extents = rows[row]
            if extents.contains(where: { $0.contains(left - gap / 2) }) { continue }
            let next = extents.map(\.lowerBound).filter { $0 > left }.min() ?? maxX + gap / 2
            let room = next - left - gap
            if room > (best?.room ?? 0) { best = (row, room) }
        }
        guard let best else { return nil }
        let characters = Int((best.room / Self.characterWidth).rounded(.down))
        guard characters >= minimumCharacters, characters < text.count else { return nil }
        let cut = text.truncated(to: characters)
        rows[best.row].append((left - gap / 2)...(left + Self.width(of: cut) + gap / 2))
        return (best.row, left, cut)
    }
}
