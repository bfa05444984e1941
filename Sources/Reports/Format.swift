import Foundation

/// How numbers and times are written in every rendering, so the terminal, the tables and the
/// timeline say the same thing the same way.
enum Format {
    /// A length of time for a person: `0 s`, `340 ms`, `1.4 s`, `12.0 s`, `2 min 05 s`, `1 h 02 min`.
    /// `trimmed` drops a `.0` (`10 s`), for limits people write as whole numbers.
    static func length(_ seconds: Double, trimmed: Bool = false) -> String {
        let s = finite(seconds)
        if s <= 0 { return "0 s" }
        if s < 1 {
            let ms = Int((s * 1000).rounded())
            if ms >= 1000 { return trimmed ? "1 s" : "1.0 s" }
            return "\(max(ms, 1)) ms"
        }
        if s < 60 {
            let tenths = Int((s * 10).rounded())
            if tenths >= 600 { return "1 min 00 s" }
            return trimmed && tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
        }
        let whole = Int(s.rounded())
        if whole < 3600 { return "\(whole / 60) min \(twoDigits(whole % 60)) s" }
        let minutes = whole / 60
        return "\(minutes / 60) h \(twoDigits(minutes % 60)) min"
    }

    /// A moment of the run, in seconds since its start with one decimal: `61.2 s`.
    static func offset(_ seconds: Double) -> String {
        let tenths = Int((finite(seconds) * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = abs(tenths)
        return "\(sign)\(magnitude / 10).\(magnitude % 10) s"
    }

    /// A tick label on the time axis: as many decimals as the tick step needs (`0.5 s`, `10 s`).
    static func tick(_ seconds: Double, step: Double) -> String {
        let decimals = step >= 1 ? 0 : min(6, Int((-log10(step)).rounded(.up)))
        return fixed(seconds, decimals: decimals) + " s"
    }

    /// A count with thousands separated: `12,345`.
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A request rate: `850/s`, `1.2k/s`, `35k/s`.
    static func rate(_ perSecond: Double) -> String {
        let r = finite(perSecond)
        if r < 10 { return fixed(r, decimals: r == r.rounded() ? 0 : 1) + "/s" }
        if r < 1000 { return "\(Int(r.rounded()))/s" }
        if r < 10_000 { return fixed(r / 1000, decimals: 1) + "k/s" }
        if r < 1_000_000 { return "\(Int((r / 1000).rounded()))k/s" }
        return fixed(r / 1_000_000, decimals: 1) + "M/s"
    }

    /// Milliseconds for latencies: `12 ms`, `1,350 ms`.
    static func milliseconds(_ ms: Double) -> String {
        let m = finite(ms)
        if m < 10 { return fixed(m, decimals: 1) + " ms" }
        return count(Int(m.rounded())) + " ms"
    }

    /// A coordinate in SVG: at most two decimals, no exponent, no `-0`.
    static func coordinate(_ value: Double) -> String {
        let hundredths = Int((finite(value) * 100).rounded())
        if hundredths % 100 == 0 { return String(hundredths / 100) }
        return fixed(Double(hundredths) / 100, decimals: hundredths % 10 == 0 ? 1 : 2)
    }

    /// `value` with exactly `decimals` decimals, without Foundation's locale-dependent formatting.
    static func fixed(_ value: Double, decimals: Int) -> String {
        let v = finite(value)
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((abs(v) * Double(scale)).rounded())
        let sign = v < 0 && scaled != 0 ? "-" : ""
        guard decimals > 0 else { return sign + String(scaled) }
        var fraction = String(scaled % scale)
        while fraction.count < decimals { fraction = "0" + fraction }
        return "\(sign)\(scaled / scale).\(fraction)"
    }

    /// NaN and infinities become 0: a broken number in the input must not break the drawing.
    static func finite(_ value: Double) -> Double { value.isFinite ? value : 0 }

    private static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
