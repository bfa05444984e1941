import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// An element of a parsed document, enough to query what the renderer drew.
final class XMLNode {
    let name: String
    let attributes: [String: String]
    var children: [XMLNode] = []
    var text = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// This element and all below it, in document order.
    var all: [XMLNode] { [self] + children.flatMap(\.all) }

    /// The text of this element and all below it.
    var allText: String { text + children.map(\.allText).joined() }

    var classes: Set<String> { Set((attributes["class"] ?? "").split(separator: " ").map(String.init)) }

    func number(_ attribute: String) -> Double? { attributes[attribute].flatMap(Double.init) }

    /// Like ``all`` but without the timeline's legend, whose swatches look like the marks.
    var drawn: [XMLNode] { classes.contains("key") ? [] : [self] + children.flatMap(\.drawn) }

    /// The elements named `name` (with the class `className`), legend left out.
    func elements(_ name: String, class className: String? = nil) -> [XMLNode] {
        drawn.filter { node in node.name == name && (className.map { node.classes.contains($0) } ?? true) }
    }
}

struct XMLParseFailure: Error, CustomStringConvertible {
    var description: String
}

/// Parses `text` with Foundation's XMLParser (libxml2 on Linux): a document it accepts is
/// well-formed XML.
func parseXML(_ text: String) throws -> XMLNode {
    let parser = XMLParser(data: Data(text.utf8))
    let delegate = TreeBuilder()
    parser.delegate = delegate
    guard parser.parse(), let root = delegate.root else {
        let line = parser.lineNumber
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let context = line > 0 && line <= lines.count ? String(lines[line - 1].prefix(300)) : ""
        throw XMLParseFailure(
            description:
                "not well-formed at line \(line), column \(parser.columnNumber): \(parser.parserError.map { "\($0)" } ?? delegate.error ?? "?")\n\(context)"
        )
    }
    return root
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: XMLNode?
    var stack: [XMLNode] = []
    var error: String?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        let node = XMLNode(name: elementName, attributes: attributes)
        if let parent = stack.last { parent.children.append(node) } else { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        error = "\(parseError)"
    }
}
