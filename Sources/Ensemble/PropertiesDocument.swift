/// A Java `.properties` file held losslessly: every comment, blank line, separator, escape and
/// line ending is kept, so rendering an unmodified document gives back the exact input and
/// changing one value rewrites only the lines that hold it.
///
/// `zoo.cfg`, ZooKeeper's dynamic configuration files and Kafka's `server.properties` are all read
/// by `java.util.Properties.load`, so they share these rules:
/// - a line whose first non-blank character is `#` or `!` is a comment (it never continues);
/// - a line ending in an odd number of backslashes continues on the next line, whose leading
///   blanks are dropped;
/// - the key ends at the first unescaped `=`, `:` or blank; blanks, then one `=` or `:`, then
///   blanks separate it from the value;
/// - `\t`, `\n`, `\r`, `\f`, `\uXXXX` are escapes, and `\x` stands for `x`;
/// - when a key appears twice, the last occurrence wins.
///
/// Java reads these files as ISO-8859-1; use ``init(latin1Bytes:)`` and ``latin1Bytes()`` to
/// keep byte-exact round trips of files with non-ASCII bytes.
public struct PropertiesDocument: Sendable, Hashable, CustomStringConvertible {
    /// One logical unit of the file: a blank line, a comment, or a property (which may span
    /// several physical lines through continuations).
    public struct Unit: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            case blank
            case comment
            case property(key: String, value: String)
        }

        /// The exact text of the unit, including every line terminator it had.
        public internal(set) var text: String
        public internal(set) var kind: Kind
        /// How many physical lines the unit spans.
        public internal(set) var physicalLineCount: Int

        /// The key, when this unit is a property.
        public var key: String? {
            if case .property(let key, _) = kind { return key }
            return nil
        }

        /// The decoded value, when this unit is a property.
        public var value: String? {
            if case .property(_, let value) = kind { return value }
            return nil
        }
    }

    /// A property with the 1-based line on which it starts.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: String
        public var line: Int
        /// Index of the unit in ``PropertiesDocument/units``.
        public var unitIndex: Int
    }

    public private(set) var units: [Unit]

    /// Parses properties text. Parsing never fails: anything Java would accept is accepted.
    public init(_ text: String) {
        units = Self.parseUnits(text)
    }

    /// Parses the bytes of a file the way Java does (ISO-8859-1: every byte is one character).
    public init(latin1Bytes bytes: [UInt8]) {
        var text = ""
        text.unicodeScalars.reserveCapacity(bytes.count)
        for byte in bytes { text.unicodeScalars.append(Unicode.Scalar(byte)) }
        self.init(text)
    }

    /// The document as text: for an unmodified document, exactly the parsed input.
    public var rendered: String { units.map(\.text).joined() }

    public var description: String { rendered }

    /// The document as ISO-8859-1 bytes. Characters beyond U+00FF cannot occur in text written
    /// by this type (it escapes them as `\uXXXX`); if parsed text contained them they are
    /// written as `?`, which is what Java's `Properties.store` cannot avoid either.
    public func latin1Bytes() -> [UInt8] {
        rendered.unicodeScalars.map { $0.value <= 0xFF ? UInt8($0.value) : UInt8(ascii: "?") }
    }

    /// Every property in file order, duplicates included.
    public var entries: [Entry] {
        var result: [Entry] = []
        var line = 1
        for (index, unit) in units.enumerated() {
            if case .property(let key, let value) = unit.kind {
                result.append(Entry(key: key, value: value, line: line, unitIndex: index))
            }
            line += unit.physicalLineCount
        }
        return result
    }

    /// The effective value of `key` (the last occurrence, as Java's `Properties` keeps it).
    public func value(forKey key: String) -> String? {
        entry(forKey: key)?.value
    }

    /// The effective entry for `key` (its last occurrence).
    public func entry(forKey key: String) -> Entry? {
        entries.last { $0.key == key }
    }

    /// The 1-based line on which the unit at `unitIndex` starts.
    public func line(ofUnit unitIndex: Int) -> Int {
        1 + units[..<unitIndex].reduce(0) { $0 + $1.physicalLineCount }
    }

    /// Sets `key` to `value`.
    ///
    /// When the key exists, only its effective (last) occurrence is rewritten, keeping the
    /// original key spelling, separator and line ending. Otherwise a new line is added after the
    /// last property whose key starts with `groupPrefix` (when given and present), else at the end.
    public mutating func setValue(_ value: String, forKey key: String, groupPrefix: String? = nil) {
        if let existing = entry(forKey: key) {
            let unit = units[existing.unitIndex]
            if unit.value == value { return }
            let prefix = Self.keyAndSeparatorText(of: unit.text)
            units[existing.unitIndex] = Unit(
                text: prefix + Self.escapeValue(value) + Self.lineEnding(of: unit.text),
                kind: .property(key: key, value: value),
                physicalLineCount: 1
            )
            return
        }
        let newUnit = Unit(
            text: Self.escapeKey(key) + "=" + Self.escapeValue(value) + dominantLineEnding,
            kind: .property(key: key, value: value),
            physicalLineCount: 1
        )
        if let groupPrefix, let last = entries.last(where: { $0.key.hasPrefix(groupPrefix) }) {
            ensureTerminated(unitAt: last.unitIndex)
            units.insert(newUnit, at: last.unitIndex + 1)
        } else {
            if let lastIndex = units.indices.last { ensureTerminated(unitAt: lastIndex) }
            units.append(newUnit)
        }
    }

    /// Removes every occurrence of `key`. Returns whether anything was removed.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> Bool {
        let before = units.count
        units.removeAll { $0.key == key }
        return units.count != before
    }

    // MARK: - Line endings

    /// The line ending most of the file uses ("\n" for a file without any).
    var dominantLineEnding: String {
        var crlf = 0
        var lf = 0
        var cr = 0
        for unit in units {
            switch Self.lineEnding(of: unit.text) {
            case "\r\n": crlf += 1
            case "\r": cr += 1
            case "\n": lf += 1
            default: break
            }
        }
        if crlf > lf && crlf >= cr { return "\r\n" }
        if cr > lf && cr > crlf { return "\r" }
        return "\n"
    }

    private mutating func ensureTerminated(unitAt index: Int) {
        if Self.lineEnding(of: units[index].text).isEmpty {
            units[index].text += dominantLineEnding
        }
    }

    static func lineEnding(of text: String) -> String {
        let scalars = text.unicodeScalars
        guard let last = scalars.last else { return "" }
        if last == "\n" {
            let beforeLast = scalars.index(before: scalars.endIndex)
            if beforeLast > scalars.startIndex, scalars[scalars.index(before: beforeLast)] == "\r" {
                return "\r\n"
            }
            return "\n"
        }
        if last == "\r" { return "\r" }
        return ""
    }

    // MARK: - Parsing

    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\u{0C}"
    }

    /// Splits text into physical lines, each keeping its terminator.
    static func physicalLines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            current.append(scalar)
            if scalar == "\n" {
                lines.append(String(current))
                current = String.UnicodeScalarView()
            } else if scalar == "\r" {
                if index + 1 < scalars.count, scalars[index + 1] == "\n" {
                    current.append("\n")
                    index += 1
                }
                lines.append(String(current))
                current = String.UnicodeScalarView()
            }
            index += 1
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    /// A physical line without its terminator.
    private static func content(_ line: String) -> [Unicode.Scalar] {
        var scalars = Array(line.unicodeScalars)
        while let last = scalars.last, last == "\n" || last == "\r" { scalars.removeLast() }
        return scalars
    }

    private static func endsWithContinuation(_ scalars: [Unicode.Scalar]) -> Bool {
        var backslashes = 0
        for scalar in scalars.reversed() {
            if scalar == "\\" { backslashes += 1 } else { break }
        }
        return backslashes % 2 == 1
    }

    static func parseUnits(_ text: String) -> [Unit] {
        let lines = physicalLines(text)
        var units: [Unit] = []
        var index = 0
        while index < lines.count {
            let first = content(lines[index])
            let firstNonBlank = first.firstIndex { !isBlank($0) }
            guard let start = firstNonBlank else {
                units.append(Unit(text: lines[index], kind: .blank, physicalLineCount: 1))
                index += 1
                continue
            }
            if first[start] == "#" || first[start] == "!" {
                units.append(Unit(text: lines[index], kind: .comment, physicalLineCount: 1))
                index += 1
                continue
            }
            // Gather the logical line: strip the continuation backslash, and the leading blanks of
            // each continued line.
            var logical = Array(first[start...])
            var rawText = lines[index]
            var count = 1
            while endsWithContinuation(logical), index + count < lines.count {
                logical.removeLast()
                let next = content(lines[index + count])
                let nextStart = next.firstIndex { !isBlank($0) } ?? next.endIndex
                logical.append(contentsOf: next[nextStart...])
                rawText += lines[index + count]
                count += 1
            }
            if endsWithContinuation(logical) { logical.removeLast() }
            let (key, value) = splitKeyValue(logical)
            units.append(Unit(text: rawText, kind: .property(key: key, value: value), physicalLineCount: count))
            index += count
        }
        return units
    }

    /// Splits a logical line (leading blanks removed, continuations joined) into decoded key and value.
    private static func splitKeyValue(_ line: [Unicode.Scalar]) -> (String, String) {
        var keyEnd = 0
        var escaped = false
        while keyEnd < line.count {
            let scalar = line[keyEnd]
            if escaped {
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "=" || scalar == ":" || isBlank(scalar) {
                break
            }
            keyEnd += 1
        }
        var valueStart = keyEnd
        while valueStart < line.count, isBlank(line[valueStart]) { valueStart += 1 }
        if valueStart < line.count, line[valueStart] == "=" || line[valueStart] == ":" {
            valueStart += 1
            while valueStart < line.count, isBlank(line[valueStart]) { valueStart += 1 }
        }
        return (unescape(line[0..<keyEnd]), unescape(line[valueStart...]))
    }

    private static func unescape(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var result = String.UnicodeScalarView()
        var iterator = scalars.makeIterator()
        var pendingHighSurrogate: UInt32?
        while let scalar = iterator.next() {
            guard scalar == "\\" else {
                result.append(scalar)
                continue
            }
            guard let escaped = iterator.next() else { break }
            switch escaped {
            case "t": result.append("\t")
            case "n": result.append("\n")
            case "r": result.append("\r")
            case "f": result.append("\u{0C}")
            case "u":
                var hex = ""
                for _ in 0..<4 {
                    if let digit = iterator.next() { hex.unicodeScalars.append(digit) }
                }
                // Java throws on a malformed \u escape; we keep the text as written instead.
                guard hex.count == 4, let code = UInt32(hex, radix: 16) else {
                    result.append(contentsOf: "\\u\(hex)".unicodeScalars)
                    continue
                }
                if (0xD800...0xDBFF).contains(code) {
                    pendingHighSurrogate = code
                } else if (0xDC00...0xDFFF).contains(code), let high = pendingHighSurrogate {
                    let combined = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
                    if let joined = Unicode.Scalar(combined) { result.append(joined) }
                    pendingHighSurrogate = nil
                } else if let decoded = Unicode.Scalar(code) {
                    result.append(decoded)
                }
            default: result.append(escaped)
            }
        }
        return String(result)
    }

    // MARK: - Writing

    /// The raw key and separator of a property unit (e.g. `server.1 = `), without its value.
    static func keyAndSeparatorText(of unitText: String) -> String {
        let scalars = Array(unitText.unicodeScalars)
        var index = scalars.firstIndex { !isBlank($0) } ?? 0
        var escaped = false
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\n" || scalar == "\r" { break }
            if escaped {
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "=" || scalar == ":" || isBlank(scalar) {
                break
            }
            index += 1
        }
        // Blanks, one separator, blanks.
        while index < scalars.count, isBlank(scalars[index]) { index += 1 }
        if index < scalars.count, scalars[index] == "=" || scalars[index] == ":" {
            index += 1
            while index < scalars.count, isBlank(scalars[index]) { index += 1 }
        }
        var prefix = String.UnicodeScalarView()
        prefix.append(contentsOf: scalars[0..<index])
        let text = String(prefix)
        // A key with no separator at all ("key" alone) needs one before a value can follow.
        if !text.contains("=") && !text.contains(":") && !(text.last.map { $0 == " " || $0 == "\t" } ?? false) {
            return text + "="
        }
        return text
    }

    static func escapeKey(_ key: String) -> String {
        var result = ""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "=", ":", " ", "#", "!": result += "\\" + String(scalar)
            default: result += escapeCommon(scalar)
            }
        }
        return result
    }

    static func escapeValue(_ value: String) -> String {
        var result = ""
        var leading = true
        for scalar in value.unicodeScalars {
            // Leading blanks and a leading separator would be taken as part of the separator.
            if leading && (scalar == " " || scalar == "=" || scalar == ":") {
                result += "\\" + String(scalar)
                continue
            }
            leading = false
            result += escapeCommon(scalar)
        }
        return result
    }

    private static func escapeCommon(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\\": return "\\\\"
        case "\t": return "\\t"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\u{0C}": return "\\f"
        default:
            if scalar.value < 0x20 || scalar.value > 0x7E {
                return String(scalar).utf16.map { unit in
                    let hex = String(unit, radix: 16, uppercase: true)
                    return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }.joined()
            }
            return String(scalar)
        }
    }
}
