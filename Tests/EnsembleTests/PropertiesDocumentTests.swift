import Testing

@testable import Ensemble

/// The lines of `after` that differ from `before` (same line count assumed), as (line, text).
func changedLines(_ before: String, _ after: String) -> [String] {
    let old = PropertiesDocument.physicalLines(before)
    let new = PropertiesDocument.physicalLines(after)
    var changes: [String] = []
    for index in 0..<max(old.count, new.count) {
        let a = index < old.count ? old[index] : nil
        let b = index < new.count ? new[index] : nil
        if a != b { changes.append("\(index + 1): \(a ?? "<none>") -> \(b ?? "<none>")") }
    }
    return changes
}

@Suite("Java properties documents")
struct PropertiesDocumentTests {
    @Test("unmodified documents render byte for byte", arguments: [
        Fixtures.zooSample34, Fixtures.static35, Fixtures.dynamic35, Fixtures.configZnode,
        Fixtures.kafkaServerProperties,
        "a=1\r\nb=2\r\n# comment\r\n\r\n",
        "no.final.newline=true",
        "  indented = value with trailing blanks   \n\t\ttabbed:\tvalue\n",
        "continued=one,\\\n    two,\\\n    three\n",
        "",
        "\n\n\n",
        "mac=1\rclassic=2\r",
    ])
    func roundTrip(text: String) {
        #expect(PropertiesDocument(text).rendered == text)
    }

    @Test("keys and values are decoded as java.util.Properties does")
    func javaRules() {
        let document = PropertiesDocument("""
            equals=1
            colon:2
            spaced   =   3
            whitespace.separator 4
            both :  = 5
            escaped\\=key=6
            tab=a\\tb
            unicode=caf\\u00e9
            trailing=x   \n\
            continued=alpha,\\
                beta
            # comment ending in a backslash does not continue \\
            next=7
            ! bang comment
            empty=
            bare
            dup=first
            dup=second
            """)
        #expect(document.value(forKey: "equals") == "1")
        #expect(document.value(forKey: "colon") == "2")
        #expect(document.value(forKey: "spaced") == "3")
        #expect(document.value(forKey: "whitespace.separator") == "4")
        #expect(document.value(forKey: "both") == "= 5")
        #expect(document.value(forKey: "escaped=key") == "6")
        #expect(document.value(forKey: "tab") == "a\tb")
        #expect(document.value(forKey: "unicode") == "café")
        #expect(document.value(forKey: "trailing") == "x   ")
        #expect(document.value(forKey: "continued") == "alpha,beta")
        #expect(document.value(forKey: "next") == "7")
        #expect(document.value(forKey: "empty") == "")
        #expect(document.value(forKey: "bare") == "")
        #expect(document.value(forKey: "dup") == "second")
        #expect(document.entries.filter { $0.key == "dup" }.count == 2)
        #expect(document.entry(forKey: "next")?.line == 13)
    }

    @Test("setting a value rewrites only its line, keeping key spelling and separator")
    func minimalEdit() {
        let text = "# header\na = 1\nb:2\nc=3\n"
        var document = PropertiesDocument(text)
        document.setValue("20", forKey: "b")
        #expect(document.rendered == "# header\na = 1\nb:20\nc=3\n")
        document.setValue("10", forKey: "a")
        #expect(document.rendered == "# header\na = 10\nb:20\nc=3\n")
    }

    @Test("setting the same value changes nothing")
    func noOpEdit() {
        var document = PropertiesDocument("a = 1   \n")
        document.setValue("1   ", forKey: "a")
        #expect(document.rendered == "a = 1   \n")
    }

    @Test("a continued value is replaced by one line, keeping the CRLF ending")
    func continuationEdit() {
        var document = PropertiesDocument("x=1\r\nlist=a,\\\r\n  b\r\ny=2\r\n")
        document.setValue("c", forKey: "list")
        #expect(document.rendered == "x=1\r\nlist=c\r\ny=2\r\n")
    }

    @Test("only the effective (last) duplicate is rewritten")
    func duplicateEdit() {
        var document = PropertiesDocument("k=1\nk=2\n")
        document.setValue("3", forKey: "k")
        #expect(document.rendered == "k=1\nk=3\n")
    }

    @Test("new keys go after their group, or at the end, with the file's line ending")
    func appending() {
        var document = PropertiesDocument("server.1=a:1:2\r\nserver.2=b:1:2\r\n\r\nother=x")
        document.setValue("c:1:2", forKey: "server.3", groupPrefix: "server.")
        #expect(document.rendered == "server.1=a:1:2\r\nserver.2=b:1:2\r\nserver.3=c:1:2\r\n\r\nother=x")
        document.setValue("y", forKey: "new")
        #expect(document.rendered == "server.1=a:1:2\r\nserver.2=b:1:2\r\nserver.3=c:1:2\r\n\r\nother=x\r\nnew=y\r\n")
    }

    @Test("written values read back identically, whatever characters they hold", arguments: [
        " leading blank", "=starts with equals", ":colon", "back\\slash", "tab\there", "new\nline",
        "naïve ünïcode", "emoji 🦒", "trailing  ", "#not a comment", "",
    ])
    func escaping(value: String) {
        var document = PropertiesDocument("before=1\n")
        document.setValue(value, forKey: "key with spaces")
        let reparsed = PropertiesDocument(document.rendered)
        #expect(reparsed.value(forKey: "key with spaces") == value)
        #expect(reparsed.value(forKey: "before") == "1")
        #expect(document.rendered.unicodeScalars.allSatisfy { $0.value < 0x80 })
    }

    @Test("ISO-8859-1 bytes round-trip exactly")
    func latin1() {
        let bytes: [UInt8] = Array("name=caf".utf8) + [0xE9] + Array("\n# \u{7F}\n".utf8) + [0xFF, 0x0A]
        let document = PropertiesDocument(latin1Bytes: bytes)
        #expect(document.value(forKey: "name") == "café")
        #expect(document.latin1Bytes() == bytes)
    }

    @Test("removing a key removes every occurrence and nothing else")
    func removal() {
        var document = PropertiesDocument("a=1\nb=2\na=3\n")
        let removedA = document.removeValue(forKey: "a")
        #expect(removedA)
        #expect(document.rendered == "b=2\n")
        let removedMissing = document.removeValue(forKey: "missing")
        #expect(!removedMissing)
    }
}
