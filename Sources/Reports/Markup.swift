/// Writes XHTML and SVG that an XML parser accepts: every element closed, every text and
/// attribute escaped. Labels come from users and from servers, so nothing is written raw
/// except the fixed markup of the renderers themselves.
struct Markup {
    private(set) var text = ""
    private var open: [String] = []

    /// Starts `<name attributes…>`; close it with ``close()``.
    mutating func start(_ name: String, _ attributes: KeyValuePairs<String, String> = [:]) {
        text += "<" + name + Self.attributes(attributes) + ">"
        open.append(name)
    }

    /// Closes the innermost open element.
    mutating func close() {
        let name = open.removeLast()
        text += "</" + name + ">"
    }

    /// `<name attributes…/>`.
    mutating func empty(_ name: String, _ attributes: KeyValuePairs<String, String> = [:]) {
        text += "<" + name + Self.attributes(attributes) + "/>"
    }

    /// `<name attributes…>text</name>`. Attributes with an empty value are left out.
    mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String> = [:], text content: String) {
        text += "<" + name + Self.attributes(attributes) + ">" + Self.escape(content) + "</" + name + ">"
    }

    /// An SVG element with a `<title>` child: browsers show it as a tooltip.
    mutating func titled(_ name: String, _ attributes: KeyValuePairs<String, String>, title: String) {
        text += "<" + name + Self.attributes(attributes) + "><title>" + Self.escape(title) + "</title></" + name + ">"
    }

    /// Escaped character data.
    mutating func write(_ content: String) { text += Self.escape(content) }

    /// Markup written by the renderer itself (fixed strings only, never user text).
    mutating func raw(_ markup: String) { text += markup }

    var isBalanced: Bool { open.isEmpty }

    private static func attributes(_ attributes: KeyValuePairs<String, String>) -> String {
        var out = ""
        for (key, value) in attributes where !value.isEmpty {
            out += " " + key + "=\"" + escape(value) + "\""
        }
        return out
    }

    /// Escapes text for both character data and attribute values. Characters XML 1.0 does not
    /// allow at all (control characters other than tab and newline, U+FFFE, U+FFFF) become
    /// U+FFFD: even a character reference to them would make the document ill-formed.
    static func escape(_ string: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(string.unicodeScalars.count)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case "\r": out += "&#13;"
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out.unicodeScalars.append("\u{FFFD}")
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

extension String {
    /// At most `limit` characters, the last one `…` when something was cut.
    func truncated(to limit: Int) -> String {
        guard count > limit, limit > 0 else { return self }
        return String(prefix(limit - 1)) + "…"
    }
}
