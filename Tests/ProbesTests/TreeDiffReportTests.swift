import Foundation
import Probes
import Testing
import ZooKeeper

@Suite struct TreeDiffReportTests {
    /// Clients see `cversion = 2 × creates − children`; the next suffix is the creates.
    @Test func theNextSequenceSuffixCountsCreatesNotDeletes() {
        // Five live ephemeral lock children: five creates, the next is lock-0000000005.
        #expect(Stat(cversion: 5, numChildren: 5).nextSequenceSuffix == 5)
        // The same parent copied without them, raised by three create+delete pairs: the next is 3,
        // although its visible cversion (6) is higher than the source's (5).
        #expect(Stat(cversion: 6, numChildren: 0).nextSequenceSuffix == 3)
        // Seven sequential children, two deleted (gaps): the next is 7.
        #expect(Stat(cversion: 9, numChildren: 5).nextSequenceSuffix == 7)
        #expect(Stat().nextSequenceSuffix == 0)
    }

    @Test func jsonCarriesIdenticalAndThePartialACLWarning() throws {
        var report = TreeDiffReport()
        func decoded() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        }
        #expect(try decoded()["identical"] as? Bool == true)
        #expect(try decoded()["aclWarning"] == nil)
        report.differences = [TreeDifference(path: "/queue", kind: .sequence, left: "next suffix 7", right: "next suffix 5")]
        report.aclsPartlyHidden = 2
        report.aclsPartlyHiddenExamples = ["/a", "/b"]
        #expect(try decoded()["identical"] as? Bool == false)
        let warning = try #require(try decoded()["aclWarning"] as? String)
        #expect(warning.contains("partial") && warning.contains("/a, /b") && warning.contains("--auth"))
        // It reads back (the derived fields are ignored).
        let back = try JSONDecoder().decode(TreeDiffReport.self, from: JSONEncoder().encode(report))
        #expect(back == report)
    }

    @Test func aMaskedDigestIsRecognised() {
        #expect(ACL(permissions: .all, identity: ACLIdentity(scheme: "digest", id: "dave:x")).hidesDigest)
        #expect(!ACL(permissions: .all, identity: DigestAuth.identity(user: "dave", password: "pw")).hidesDigest)
        #expect(!ACL(permissions: .read, identity: .anyone).hidesDigest)
    }
}
