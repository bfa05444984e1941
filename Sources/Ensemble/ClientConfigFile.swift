internal import Yams

/// How a client keeps its ZooKeeper connection string, and so how Mitosis reads and rewrites it.
public enum ClientConfigFormat: String, Sendable, Hashable, Codable, CaseIterable {
    /// A Java `.properties` file (Kafka's `server.properties`): `key=host:port,…/chroot`.
    case properties
    /// A YAML file with a dotted key path (Patroni's `zookeeper.hosts`): the value is a
    /// comma-separated string or a list of `host:port`.
    case yaml
    /// A Hadoop-style XML file of `<property><name>…</name><value>…</value></property>` (HBase's
    /// `hbase.zookeeper.quorum` in hbase-site.xml). The value is written as `host:port,…`: HBase
    /// uses a port given with a host and `hbase.zookeeper.property.clientPort` only for hosts
    /// without one, so the port property is left as it is. The chroot is not part of the value
    /// (HBase keeps it in `zookeeper.znode.parent`, which does not change in a move).
    case xml
    /// A shell file of `KEY="…"` lines (Solr's `ZK_HOST` in solr.in.sh, chroot included).
    case env
    /// No file: the operator's own switch command, given the new connection string as its last
    /// argument, and a verify command that exits 0 when the client uses the string it is given.
    case command

    /// The key a member of this format uses when the inventory names none.
    public var defaultKey: String? {
        switch self {
        case .properties: "zookeeper.connect"
        case .yaml: "zookeeper.hosts"
        case .xml: "hbase.zookeeper.quorum"
        case .env: "ZK_HOST"
        case .command: nil
        }
    }

    /// What the file holds under the key for a client that uses `connectionString`.
    public func storedValue(for connectionString: String) -> String {
        self == .xml ? ClientConfigFile.withoutChroot(connectionString) : connectionString
    }
}

/// Why a client's config file cannot be read or edited: the key and, where known, the line.
public struct ClientConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var key: String
    /// The 1-based line the problem is on, when there is one.
    public var line: Int?
    public var problem: String

    public init(key: String, line: Int? = nil, _ problem: String) {
        self.key = key
        self.line = line
        self.problem = problem
    }

    public var description: String { (line.map { "line \($0): " } ?? "") + problem }
}

/// Reads and rewrites the connection string in a client's config file, changing only the value:
/// every other byte, comment, quoting style and indentation stays. Each edit is parsed again and
/// checked before it is returned.
public enum ClientConfigFile {
    /// The value the file holds under `key` (for a YAML list, its items joined with commas).
    /// Throws when the file cannot be parsed, or the key is missing or appears more than once.
    public static func value(in text: String, format: ClientConfigFormat, key: String) throws(ClientConfigError) -> String {
        switch format {
        case .properties: return try propertiesEntry(text, key: key).value
        case .yaml: return try YAMLValue(text, key: key).value
        case .xml: return try XMLValue(text, key: key).value
        case .env: return try EnvValue(text, key: key).value
        case .command: throw ClientConfigError(key: key, "a member with format command has no file to read")
        }
    }

    /// `text` with the value under `key` replaced by what a client of `connectionString` needs
    /// (see ``ClientConfigFormat/storedValue(for:)``), checked by parsing the result again.
    public static func replacingValue(in text: String, format: ClientConfigFormat, key: String, with connectionString: String) throws(ClientConfigError) -> String {
        let wanted = format.storedValue(for: connectionString)
        let edited: String
        switch format {
        case .properties:
            let entry = try propertiesEntry(text, key: key)
            var document = PropertiesDocument(text)
            document.setValue(wanted, forKey: entry.key)
            edited = document.rendered
        case .yaml: edited = try YAMLValue(text, key: key).replaced(with: wanted)
        case .xml: edited = try XMLValue(text, key: key).replaced(with: wanted)
        case .env: edited = try EnvValue(text, key: key).replaced(with: wanted)
        case .command: throw ClientConfigError(key: key, "a member with format command has no file to edit")
        }
        let reread = try value(in: edited, format: format, key: key)
        guard reread == wanted else {
            throw ClientConfigError(key: key, "after the edit the file reads '\(reread)' instead of '\(wanted)'; the file was not written")
        }
        return edited
    }

    /// Whether a file can be switched to `connectionString`: nil when it can, else why not (the
    /// plan-time check; the edit itself is tried, nothing is written).
    public static func problem(in text: String, format: ClientConfigFormat, key: String, switchingTo connectionString: String) -> ClientConfigError? {
        do {
            _ = try replacingValue(in: text, format: format, key: key, with: connectionString)
            return nil
        } catch {
            return error
        }
    }

    static func withoutChroot(_ connectionString: String) -> String {
        connectionString.firstIndex(of: "/").map { String(connectionString[..<$0]) } ?? connectionString
    }

    static func propertiesEntry(_ text: String, key: String) throws(ClientConfigError) -> PropertiesDocument.Entry {
        let entries = PropertiesDocument(text).entries.filter { $0.key == key }
        guard let last = entries.last else { throw ClientConfigError(key: key, "no \(key)= line") }
        guard entries.count == 1 else {
            throw ClientConfigError(key: key, line: last.line, "\(key) is set \(entries.count) times (lines \(entries.map { String($0.line) }.joined(separator: ", "))); keep one")
        }
        return last
    }
}

// MARK: - Text positions

/// A text as Unicode scalars with the offsets its lines start at, so that a (line, column) mark
/// from libyaml (which counts scalars) becomes an offset, and a span can be replaced exactly.
struct ScalarText {
    var scalars: [Unicode.Scalar]
    var lineStarts: [Int]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        lineStarts = [0]
        for (index, scalar) in scalars.enumerated() where scalar == "\n" { lineStarts.append(index + 1) }
    }

    func offset(line: Int, column: Int) -> Int { lineStarts[line - 1] + column - 1 }

    func line(of offset: Int) -> Int { (lineStarts.lastIndex { $0 <= offset } ?? 0) + 1 }

    /// The offset of the end of the line holding `offset` (its `\r\n` or `\n`, or the end).
    func endOfLine(_ offset: Int) -> Int {
        var end = offset
        while end < scalars.count, scalars[end] != "\n", scalars[end] != "\r" { end += 1 }
        return end
    }

    /// Whether the character at a libyaml mark is `character` (e.g. the `[` of a flow list).
    func opens(at mark: Mark?, with character: Unicode.Scalar) -> Bool {
        guard let mark, mark.line <= lineStarts.count else { return false }
        let offset = offset(line: mark.line, column: mark.column)
        return offset < scalars.count && scalars[offset] == character
    }

    func string(_ range: Range<Int>) -> String {
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[range])
        return String(result)
    }

    func replacingSpan(_ range: Range<Int>, with text: String) -> String {
        string(0..<range.lowerBound) + text + string(range.upperBound..<scalars.count)
    }
}

// MARK: - YAML

/// The value under a dotted key path of a YAML file, located through libyaml's marks.
struct YAMLValue {
    let key: String
    let text: ScalarText
    let node: Node
    /// Whether the value sits inside a flow collection (`{…}` / `[…]`), where `,` ends a plain scalar.
    let inFlow: Bool

    init(_ source: String, key: String) throws(ClientConfigError) {
        self.key = key
        text = ScalarText(source)
        let root: Node?
        do {
            root = try Yams.compose(yaml: source)
        } catch let error as YamlError {
            throw ClientConfigError(key: key, line: Self.line(of: error), "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw ClientConfigError(key: key, "not valid YAML: \(error)")
        }
        guard let root else { throw ClientConfigError(key: key, "the file is empty; it has no \(key)") }
        var found: [(Node, Bool)] = []
        Self.find(key.split(separator: ".").map(String.init), in: root, inFlow: false, text: text, into: &found)
        guard let first = found.first else { throw ClientConfigError(key: key, "no key path \(key) (each dot is one level of mapping)") }
        guard found.count == 1 else {
            throw ClientConfigError(key: key, "\(key) is ambiguous: it names \(found.count) values (lines \(found.compactMap { $0.0.mark.map { String($0.line) } }.joined(separator: ", "))); keep one")
        }
        (node, inFlow) = first
    }

    /// Every value the path names, trying a key with dots (`a.b: x`) as well as nested keys.
    static func find(_ path: [String], in node: Node, inFlow: Bool, text: ScalarText, into found: inout [(Node, Bool)]) {
        guard !path.isEmpty else {
            found.append((node, inFlow))
            return
        }
        guard case .mapping(let mapping) = node else { return }
        let flow = inFlow || text.opens(at: mapping.mark, with: "{")
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else { continue }
            for count in 1...path.count where path[0..<count].joined(separator: ".") == scalar.string {
                find(Array(path[count...]), in: value, inFlow: flow, text: text, into: &found)
            }
        }
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(error)"
        }
    }

    var line: Int? { node.mark?.line }

    var value: String {
        get throws(ClientConfigError) {
            switch node {
            case .scalar(let scalar): return scalar.string
            case .sequence(let sequence):
                return try sequence.map { item throws(ClientConfigError) in
                    guard case .scalar(let scalar) = item else { throw ClientConfigError(key: key, line: item.mark?.line, "\(key) lists something other than host:port text") }
                    return scalar.string
                }.joined(separator: ",")
            default: throw ClientConfigError(key: key, line: line, "\(key) is a mapping; it must be a host:port,… string or a list of host:port")
            }
        }
    }

    func replaced(with wanted: String) throws(ClientConfigError) -> String {
        switch node {
        case .scalar(let scalar):
            let span = try scalarSpan(scalar, inFlow: inFlow)
            return text.replacingSpan(span, with: Self.render(wanted, like: scalar.style, inFlow: inFlow))
        case .sequence(let sequence):
            guard !wanted.contains("/") else {
                throw ClientConfigError(key: key, line: line, "\(key) is a list of host:port, which cannot hold the chroot of '\(wanted)'; write it as one string instead")
            }
            let items = wanted.split(separator: ",").map(String.init)
            var scalars: [Node.Scalar] = []
            for item in sequence {
                guard case .scalar(let scalar) = item else { throw ClientConfigError(key: key, line: item.mark?.line, "\(key) lists something other than host:port text") }
                scalars.append(scalar)
            }
            guard let first = scalars.first, let firstMark = first.mark, let sequenceMark = sequence.mark else {
                throw ClientConfigError(key: key, line: line, "\(key) is an empty list; write its servers in by hand once")
            }
            // (Yams 6.2 reports a collection's style from its end event, so the text is asked.)
            if text.opens(at: sequence.mark, with: "[") {
                let open = text.offset(line: sequenceMark.line, column: sequenceMark.column)
                guard let close = try flowEnd(from: open) else {
                    throw ClientConfigError(key: key, line: sequenceMark.line, "cannot find the ] that ends \(key)")
                }
                let rendered = items.map { Self.render($0, like: first.style, inFlow: true) }.joined(separator: ", ")
                return text.replacingSpan(open..<(close + 1), with: "[" + rendered + "]")
            }
            // A block list: the lines from the first item to the last are the value.
            let firstLine = firstMark.line
            let lastLine = scalars.last?.mark?.line ?? firstLine
            let itemLines = Set(scalars.compactMap { $0.mark?.line })
            guard itemLines.count == scalars.count, (firstLine...lastLine).allSatisfy(itemLines.contains) else {
                throw ClientConfigError(key: key, line: firstLine, "\(key)'s list has lines between its items (comments or items over several lines); put one host:port per line")
            }
            let lineStart = text.lineStarts[firstLine - 1]
            let indent = text.string(lineStart..<text.offset(line: firstLine, column: firstMark.column))
            let lastEnd = text.endOfLine(try scalarSpan(scalars[scalars.count - 1], inFlow: false).upperBound)
            let ending = source(of: lastEnd)
            let lines = items.map { indent + Self.render($0, like: first.style, inFlow: false) }
            return text.replacingSpan(lineStart..<lastEnd, with: lines.joined(separator: ending))
        default:
            throw ClientConfigError(key: key, line: line, "\(key) is a mapping; it must be a host:port,… string or a list of host:port")
        }
    }

    /// The line ending used at `offset` ("\n" at the end of the file).
    func source(of offset: Int) -> String {
        guard offset < text.scalars.count else { return "\n" }
        return text.scalars[offset] == "\r" ? "\r\n" : "\n"
    }

    /// Where a one-line scalar's text (quotes included) starts and ends.
    func scalarSpan(_ scalar: Node.Scalar, inFlow: Bool) throws(ClientConfigError) -> Range<Int> {
        guard let mark = scalar.mark else { throw ClientConfigError(key: key, "\(key) has no position in the file") }
        let start = text.offset(line: mark.line, column: mark.column)
        let lineEnd = text.endOfLine(start)
        let s = text.scalars
        switch scalar.style {
        case .doubleQuoted:
            var index = start + 1
            while index < lineEnd {
                if s[index] == "\\" { index += 2; continue }
                if s[index] == "\"" { return start..<(index + 1) }
                index += 1
            }
        case .singleQuoted:
            var index = start + 1
            while index < lineEnd {
                if s[index] == "'" {
                    if index + 1 < lineEnd, s[index + 1] == "'" { index += 2; continue }
                    return start..<(index + 1)
                }
                index += 1
            }
        case .plain, .any:
            var end = start
            while end < lineEnd {
                if s[end] == "#", end > start, s[end - 1] == " " || s[end - 1] == "\t" { break }
                if inFlow, s[end] == "," || s[end] == "]" || s[end] == "}" { break }
                end += 1
            }
            while end > start, s[end - 1] == " " || s[end - 1] == "\t" { end -= 1 }
            if text.string(start..<end) == scalar.string { return start..<end }
        default:
            break
        }
        throw ClientConfigError(key: key, line: mark.line, "\(key)'s value spans several lines or is a block scalar; write it on one line")
    }

    /// The offset of the `]` that closes the flow list opened at `open`.
    func flowEnd(from open: Int) throws(ClientConfigError) -> Int? {
        var depth = 0
        var quote: Unicode.Scalar?
        var index = open
        let s = text.scalars
        while index < s.count {
            let c = s[index]
            if let q = quote {
                if c == "\\" && q == "\"" { index += 2; continue }
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "[" || c == "{" {
                depth += 1
            } else if c == "]" || c == "}" {
                depth -= 1
                if depth == 0 { return index }
            } else if c == "#" {
                throw ClientConfigError(key: key, line: text.line(of: index), "\(key)'s list has a comment inside it; move the comment out of the list")
            }
            index += 1
        }
        return nil
    }

    /// `value` written in the quoting style the file used for the old value.
    static func render(_ value: String, like style: Node.Scalar.Style, inFlow: Bool) -> String {
        switch style {
        case .singleQuoted: return "'" + value.replacing("'", with: "''") + "'"
        case .doubleQuoted: return "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
        default:
            let plainSafe = value.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil || ".:-_/".unicodeScalars.contains($0) || (!inFlow && $0 == ",") }
            return plainSafe && !value.isEmpty ? value : render(value, like: .doubleQuoted, inFlow: inFlow)
        }
    }
}

// MARK: - Hadoop XML

/// The `<value>` of the `<property>` whose `<name>` is the key, in a Hadoop-style configuration.
struct XMLValue {
    let key: String
    let text: String
    /// The value's text inside `<value>…</value>`, without surrounding blanks.
    let range: Range<String.Index>
    let line: Int

    init(_ source: String, key: String) throws(ClientConfigError) {
        self.key = key
        text = source
        let elements = try XMLScanner(source, key: key).properties()
        let matching = elements.filter { $0.name == key }
        guard let first = matching.first else { throw ClientConfigError(key: key, "no <property> named \(key)") }
        guard matching.count == 1 else {
            throw ClientConfigError(key: key, line: first.line, "\(matching.count) <property> elements are named \(key) (lines \(matching.map { String($0.line) }.joined(separator: ", "))); keep one")
        }
        guard let range = first.valueRange else { throw ClientConfigError(key: key, line: first.line, "the <property> named \(key) has no <value>") }
        self.range = range
        line = first.line
    }

    var value: String { XMLScanner.unescape(String(text[range])) }

    func replaced(with wanted: String) -> String {
        let escaped = wanted.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
        var edited = text
        edited.replaceSubrange(range, with: escaped)
        return edited
    }
}

/// Just enough of XML to read Hadoop configuration files: checks that tags nest and close, skips
/// comments, processing instructions and DOCTYPE, and finds each `<property>`'s name and value.
struct XMLScanner {
    struct Property {
        var name: String
        var line: Int
        var valueRange: Range<String.Index>?
    }

    let text: String
    let key: String

    init(_ text: String, key: String) {
        self.text = text
        self.key = key
    }

    func line(at index: String.Index) -> Int { text[..<index].reduce(1) { $0 + ($1 == "\n" || $1 == "\r\n" ? 1 : 0) } }

    func fail(_ index: String.Index, _ problem: String) -> ClientConfigError {
        ClientConfigError(key: key, line: line(at: index), "not valid XML: \(problem)")
    }

    func properties() throws(ClientConfigError) -> [Property] {
        var stack: [(name: String, contentStart: String.Index, at: String.Index)] = []
        var result: [Property] = []
        var current: Property?
        var currentName: String?
        var index = text.startIndex
        var sawRoot = false
        while let open = text[index...].firstIndex(of: "<") {
            let rest = text[open...]
            for (start, end) in [("<!--", "-->"), ("<?", "?>"), ("<![CDATA[", "]]>"), ("<!", ">")] where rest.hasPrefix(start) {
                guard let close = rest.firstRange(of: end) else { throw fail(open, "\(start) is never closed") }
                index = close.upperBound
                break
            }
            if index > open { continue }
            guard let close = rest.firstIndex(of: ">") else { throw fail(open, "a tag is never closed") }
            let tag = text[text.index(after: open)..<close]
            index = text.index(after: close)
            if tag.hasPrefix("/") {
                let name = String(tag.dropFirst()).trimmingBlanks()
                guard let top = stack.popLast() else { throw fail(open, "</\(name)> closes nothing") }
                guard top.name == name else { throw fail(open, "</\(name)> closes <\(top.name)> (line \(line(at: top.at)))") }
                let content = top.contentStart..<open
                if stack.count == 2, stack.last?.name == "property" {
                    if name == "name" { currentName = Self.unescape(String(text[content])).trimmingBlanks() }
                    if name == "value" { current?.valueRange = Self.trimmed(content, in: text) }
                }
                if name == "property", stack.count == 1, var property = current {
                    property.name = currentName ?? ""
                    result.append(property)
                    current = nil
                }
                continue
            }
            let selfClosing = tag.hasSuffix("/")
            let name = String(tag.prefix { !$0.isWhitespace && $0 != "/" })
            guard !name.isEmpty else { throw fail(open, "a tag without a name") }
            if stack.isEmpty {
                guard !sawRoot else { throw fail(open, "a second top-level element <\(name)>") }
                sawRoot = true
            }
            if name == "property", stack.count == 1 {
                current = Property(name: "", line: line(at: open))
                currentName = nil
            }
            if selfClosing {
                if name == "value", stack.count == 2, stack.last?.name == "property" { current?.valueRange = index..<index }
                continue
            }
            stack.append((name, index, open))
        }
        if let top = stack.last { throw fail(top.at, "<\(top.name)> is never closed") }
        guard sawRoot else { throw ClientConfigError(key: key, "not valid XML: no element at all") }
        return result
    }

    static func trimmed(_ range: Range<String.Index>, in text: String) -> Range<String.Index> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, text[lower].isWhitespace { lower = text.index(after: lower) }
        while upper > lower, text[text.index(before: upper)].isWhitespace { upper = text.index(before: upper) }
        return lower..<upper
    }

    static func unescape(_ text: String) -> String {
        text.replacing("&lt;", with: "<").replacing("&gt;", with: ">")
            .replacing("&quot;", with: "\"").replacing("&apos;", with: "'")
            .replacing("&amp;", with: "&")
    }
}

// MARK: - Shell environment files

/// `KEY=value`, `KEY="value"` or `KEY='value'` (optionally after `export`) in a shell file such as
/// solr.in.sh. A value that uses the shell (`$`, backquotes, escapes) is refused: Mitosis could
/// not know what it means.
struct EnvValue {
    let key: String
    let lines: [Substring]
    let lineIndex: Int
    /// The value's offsets within its line, quotes excluded.
    let valueRange: Range<String.Index>
    let quote: Character?

    init(_ source: String, key: String) throws(ClientConfigError) {
        self.key = key
        lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        var found: [(Int, String.Index)] = []
        var commented: Int?
        for (index, line) in lines.enumerated() {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            let isComment = rest.hasPrefix("#")
            if isComment { rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" } }
            if rest.hasPrefix("export ") { rest = rest.dropFirst(7).drop { $0 == " " || $0 == "\t" } }
            guard rest.hasPrefix(key + "=") else { continue }
            if isComment { commented = commented ?? index + 1 } else { found.append((index, rest.index(rest.startIndex, offsetBy: key.count + 1))) }
        }
        guard let (lineIndex, valueStart) = found.first else {
            let hint = commented.map { "; line \($0) sets it in a comment: uncomment it" } ?? ""
            throw ClientConfigError(key: key, "no \(key)= line\(hint)")
        }
        guard found.count == 1 else {
            throw ClientConfigError(key: key, line: lineIndex + 1, "\(key) is set \(found.count) times (lines \(found.map { String($0.0 + 1) }.joined(separator: ", "))); keep one")
        }
        self.lineIndex = lineIndex
        let line = lines[lineIndex]
        let problem = { (why: String) in ClientConfigError(key: key, line: lineIndex + 1, "\(key)'s value \(why); write it as \(key)=\"host:port,…\"") }
        var end: String.Index
        if let first = line[valueStart...].first, first == "\"" || first == "'" {
            quote = first
            let contentStart = line.index(after: valueStart)
            guard let close = line[contentStart...].firstIndex(of: first) else { throw problem("has no closing \(first)") }
            valueRange = contentStart..<close
            end = line.index(after: close)
        } else {
            quote = nil
            end = line[valueStart...].firstIndex { $0 == " " || $0 == "\t" || $0 == "\r" } ?? line.endIndex
            valueRange = valueStart..<end
        }
        let value = line[valueRange]
        if value.contains(where: { $0 == "$" || $0 == "`" || $0 == "\\" || (quote == nil && ($0 == "\"" || $0 == "'" || $0 == ";")) }) {
            throw problem("uses the shell (\(value))")
        }
        let after = line[end...].drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard after.isEmpty || after.hasPrefix("#") else { throw problem("is followed by more shell (\(after))") }
    }

    var value: String { String(lines[lineIndex][valueRange]) }

    func replaced(with wanted: String) throws(ClientConfigError) -> String {
        if wanted.contains(where: { $0 == "\"" || $0 == "'" || $0 == "$" || $0 == "`" || $0 == "\\" }) {
            throw ClientConfigError(key: key, line: lineIndex + 1, "the connection string '\(wanted)' cannot be written into a shell file safely")
        }
        let line = lines[lineIndex]
        var newLine = String(line[..<valueRange.lowerBound])
        let bareSafe = wanted.allSatisfy { $0.isLetter || $0.isNumber || ".:,-_/".contains($0) }
        if quote == nil && !bareSafe {
            newLine += "\"" + wanted + "\""
        } else {
            newLine += wanted
        }
        newLine += line[valueRange.upperBound...]
        var all = lines.map(String.init)
        all[lineIndex] = newLine
        return all.joined(separator: "\n")
    }
}
