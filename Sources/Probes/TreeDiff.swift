import Foundation
import ZooKeeper

/// One side of a comparison: a client and the subtree's root on it.
public struct TreeLocation: Sendable {
    public var client: ZooKeeperClient
    public var root: String

    public init(client: ZooKeeperClient, root: String) {
        self.client = client
        self.root = root
    }

    /// The absolute path of `relative` ("/" is the root itself) under this location's root.
    public func path(_ relative: String) -> String {
        relative == "/" ? root : (root == "/" ? relative : root + relative)
    }

    /// The path relative to the root, or nil for a path outside it.
    public func relative(_ path: String) -> String? {
        if root == "/" { return path }
        if path == root { return "/" }
        if path.hasPrefix(root + "/") { return String(path.dropFirst(root.count)) }
        return nil
    }
}

extension Stat {
    /// The suffix the node's next sequential child gets: the server counts child creates
    /// (`StatPersisted.cversion`) and hands that count out as the suffix, but shows clients
    /// `2 × creates − children` (`DataNode.copyStat`), so the count is (cversion + children) / 2.
    /// Equal visible cversions do not mean equal next suffixes when the children differ.
    public var nextSequenceSuffix: Int {
        (Int(cversion) + Int(numChildren)) / 2
    }
}

/// A difference between two trees, at a path relative to both roots ("/" is the roots themselves).
public struct TreeDifference: Sendable, Codable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// The node exists only on the left (source) side.
        case onlyLeft
        /// The node exists only on the right (destination) side.
        case onlyRight
        case data
        case acl
        /// One side is ephemeral, the other is not (or, on one ensemble, the owners differ).
        case ephemeral
        /// The next sequential child gets a different suffix (the parents' create counts differ).
        case sequence
        /// The data versions differ: conditional writes and version counters would go wrong.
        case version
    }

    public var path: String
    public var kind: Kind
    public var left: String?
    public var right: String?

    public init(path: String, kind: Kind, left: String? = nil, right: String? = nil) {
        self.path = path
        self.kind = kind
        self.left = left
        self.right = right
    }

    public var description: String {
        switch kind {
        case .onlyLeft: "only in left:  \(path)"
        case .onlyRight: "only in right: \(path)"
        default: "\(kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(path): \(left ?? "-") ≠ \(right ?? "-")"
        }
    }
}

public struct TreeDiffOptions: Sendable {
    public var compareData = true
    public var compareACLs = true
    public var compareEphemeralOwners = false
    /// Compare the suffix each parent hands its next sequential child.
    public var compareSequence = true
    /// Compare data versions (`setData` with an expected version, counters kept in versions).
    public var compareVersions = true
    /// Compare whether nodes are ephemeral (off when ephemerals were deliberately not copied).
    public var compareEphemeralFlag = true
    /// Leave ephemeral nodes (and their absence on the other side) out of the comparison, as a
    /// copy that skips ephemerals does.
    public var ignoreEphemeralNodes = false
    /// Requests in flight per side.
    public var concurrency = 64
    /// Paths (relative) whose subtrees are skipped, e.g. "/zookeeper".
    public var exclude: Set<String> = ["/zookeeper"]

    public init() {}
}

public struct TreeDiffReport: Sendable, Codable, Hashable {
    public var nodesLeft = 0
    public var nodesRight = 0
    public var differences: [TreeDifference] = []
    /// Differences found beyond `differences` (kept bounded).
    public var moreDifferences = 0
    /// Nodes whose ACLs could be compared only in part: the server hid a digest's hash (`user:x`)
    /// from a session without ADMIN permission on the node, so a changed password is not seen.
    public var aclsPartlyHidden = 0
    /// The first such nodes (relative paths), to say where credentials are missing.
    public var aclsPartlyHiddenExamples: [String] = []
    /// SHA-1 over each side's subtree content (paths, data, ACLs, ephemeral flag, next sequence
    /// suffixes, data versions):
    /// equal digests mean equal trees.
    public var leftDigest = ""
    public var rightDigest = ""
    /// Digests of each top-level subtree, per side, to see where two trees part.
    public var subtreeDigests: [String: [String]] = [:]
    public var identical: Bool { differences.isEmpty && moreDifferences == 0 }

    /// Why the ACL comparison was partial, or nil when every ACL was compared in full.
    public var aclWarning: String? {
        guard aclsPartlyHidden > 0 else { return nil }
        let examples = aclsPartlyHiddenExamples.prefix(3).joined(separator: ", ")
        return "the ACL comparison was partial: on \(aclsPartlyHidden) node\(aclsPartlyHidden == 1 ? "" : "s") (e.g. \(examples)) the server hid digest hashes (user:x) because the session lacks ADMIN permission there, so a changed password would not show; authenticate as an identity with ADMIN on them (--auth, --left-auth, --right-auth) or as the super user"
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case nodesLeft, nodesRight, differences, moreDifferences, aclsPartlyHidden, aclsPartlyHiddenExamples
        case leftDigest, rightDigest, subtreeDigests, identical, aclWarning
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        nodesLeft = try container.decode(Int.self, forKey: .nodesLeft)
        nodesRight = try container.decode(Int.self, forKey: .nodesRight)
        differences = try container.decode([TreeDifference].self, forKey: .differences)
        moreDifferences = try container.decode(Int.self, forKey: .moreDifferences)
        aclsPartlyHidden = try container.decodeIfPresent(Int.self, forKey: .aclsPartlyHidden) ?? 0
        aclsPartlyHiddenExamples = try container.decodeIfPresent([String].self, forKey: .aclsPartlyHiddenExamples) ?? []
        leftDigest = try container.decode(String.self, forKey: .leftDigest)
        rightDigest = try container.decode(String.self, forKey: .rightDigest)
        subtreeDigests = try container.decode([String: [String]].self, forKey: .subtreeDigests)
    }

    /// Also writes the derived `identical` and `aclWarning`, which JSON readers look for.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(nodesLeft, forKey: .nodesLeft)
        try container.encode(nodesRight, forKey: .nodesRight)
        try container.encode(differences, forKey: .differences)
        try container.encode(moreDifferences, forKey: .moreDifferences)
        try container.encode(aclsPartlyHidden, forKey: .aclsPartlyHidden)
        try container.encode(aclsPartlyHiddenExamples, forKey: .aclsPartlyHiddenExamples)
        try container.encode(leftDigest, forKey: .leftDigest)
        try container.encode(rightDigest, forKey: .rightDigest)
        try container.encode(subtreeDigests, forKey: .subtreeDigests)
        try container.encode(identical, forKey: .identical)
        try container.encodeIfPresent(aclWarning, forKey: .aclWarning)
    }
}

/// Compares two trees, streaming: it walks both depth first, one directory at a time, so memory
/// grows with depth and fan-out, not with the size of the tree.
public struct TreeDiff: Sendable {
    public let left: TreeLocation
    public let right: TreeLocation
    public let options: TreeDiffOptions
    /// At most this many differences are kept in the report; the rest are counted.
    public let maximumReported: Int

    public init(left: TreeLocation, right: TreeLocation, options: TreeDiffOptions = TreeDiffOptions(), maximumReported: Int = 10_000) {
        self.left = left
        self.right = right
        self.options = options
        self.maximumReported = maximumReported
    }

    struct Node: Sendable {
        var data: [UInt8]
        var stat: Stat
        var acl: [ACL]
        var children: [String]
    }

    public func run(onDifference: @Sendable (TreeDifference) -> Void = { _ in }) async throws -> TreeDiffReport {
        var report = TreeDiffReport()
        let leftRoot = try await fetch(left, relative: "/")
        let rightRoot = try await fetch(right, relative: "/")
        let (leftDigest, rightDigest) = try await compare(relative: "/", leftRoot, rightRoot, report: &report, onDifference: onDifference, topLevel: true)
        report.leftDigest = hex(leftDigest ?? [])
        report.rightDigest = hex(rightDigest ?? [])
        return report
    }

    /// Compares one node pair and, recursively, their children; returns each side's subtree digest.
    private func compare(
        relative: String, _ a: Node?, _ b: Node?, report: inout TreeDiffReport,
        onDifference: @Sendable (TreeDifference) -> Void, topLevel: Bool = false
    ) async throws -> ([UInt8]?, [UInt8]?) {
        func note(_ difference: TreeDifference) {
            if report.differences.count < maximumReported {
                report.differences.append(difference)
            } else {
                report.moreDifferences += 1
            }
            onDifference(difference)
        }
        var a = a
        var b = b
        if options.ignoreEphemeralNodes {
            if a?.stat.isEphemeral == true { a = nil }
            if b?.stat.isEphemeral == true { b = nil }
        }
        if a != nil { report.nodesLeft += 1 }
        if b != nil { report.nodesRight += 1 }
        switch (a, b) {
        case (.some, .none): note(TreeDifference(path: relative, kind: .onlyLeft))
        case (.none, .some): note(TreeDifference(path: relative, kind: .onlyRight))
        case (.some(let a), .some(let b)):
            if options.compareData && a.data != b.data {
                note(TreeDifference(path: relative, kind: .data, left: describe(a.data), right: describe(b.data)))
            }
            if options.compareACLs && (a.acl.contains(where: \.hidesDigest) || b.acl.contains(where: \.hidesDigest)) {
                report.aclsPartlyHidden += 1
                if report.aclsPartlyHiddenExamples.count < 10 { report.aclsPartlyHiddenExamples.append(relative) }
            }
            if options.compareACLs && a.acl != b.acl {
                note(TreeDifference(path: relative, kind: .acl, left: a.acl.map(\.description).joined(separator: ","), right: b.acl.map(\.description).joined(separator: ",")))
            }
            let ephemeralDiffers = options.compareEphemeralOwners ? a.stat.ephemeralOwner != b.stat.ephemeralOwner : a.stat.isEphemeral != b.stat.isEphemeral
            if ephemeralDiffers && options.compareEphemeralFlag {
                note(TreeDifference(path: relative, kind: .ephemeral, left: ownerText(a.stat), right: ownerText(b.stat)))
            }
            if options.compareSequence && a.stat.nextSequenceSuffix != b.stat.nextSequenceSuffix {
                note(TreeDifference(path: relative, kind: .sequence, left: "next suffix \(a.stat.nextSequenceSuffix)", right: "next suffix \(b.stat.nextSequenceSuffix)"))
            }
            if options.compareVersions && a.stat.version != b.stat.version {
                note(TreeDifference(path: relative, kind: .version, left: "data version \(a.stat.version)", right: "data version \(b.stat.version)"))
            }
        case (.none, .none): break
        }

        // Children, in name order, fetched in batches on both sides at once.
        let names = Array(Set((a?.children ?? []) + (b?.children ?? []))).sorted()
            .filter { !options.exclude.contains(ZooKeeperPath.join(relative, $0)) }
        var leftChildDigests: [[UInt8]] = []
        var rightChildDigests: [[UInt8]] = []
        let leftNames = Set(a?.children ?? [])
        let rightNames = Set(b?.children ?? [])
        var start = 0
        while start < names.count {
            let batch = Array(names[start..<min(start + options.concurrency, names.count)])
            start += batch.count
            let fetched = try await withThrowingTaskGroup(of: (Int, Node?, Node?).self) { group in
                for (index, name) in batch.enumerated() {
                    let child = ZooKeeperPath.join(relative, name)
                    let inLeft = leftNames.contains(name)
                    let inRight = rightNames.contains(name)
                    group.addTask {
                        async let l = inLeft ? fetch(left, relative: child) : nil
                        async let r = inRight ? fetch(right, relative: child) : nil
                        return (index, try await l, try await r)
                    }
                }
                var results = [(Node?, Node?)](repeating: (nil, nil), count: batch.count)
                for try await (index, l, r) in group { results[index] = (l, r) }
                return results
            }
            for (name, pair) in zip(batch, fetched) {
                let child = ZooKeeperPath.join(relative, name)
                let (l, r) = try await compare(relative: child, pair.0, pair.1, report: &report, onDifference: onDifference)
                if let l { leftChildDigests.append(Array(name.utf8) + l) }
                if let r { rightChildDigests.append(Array(name.utf8) + r) }
                if topLevel {
                    report.subtreeDigests[child] = [hex(l ?? []), hex(r ?? [])]
                }
            }
        }
        return (a.map { digest($0, children: leftChildDigests) }, b.map { digest($0, children: rightChildDigests) })
    }

    /// A node that vanished between listing and reading counts as absent.
    private func fetch(_ location: TreeLocation, relative: String) async throws -> Node? {
        let path = location.path(relative)
        do {
            async let data = location.client.getData(path)
            async let acl = location.client.getACL(path)
            async let children = location.client.getChildren(path)
            let (bytes, stat) = try await data
            return Node(data: bytes, stat: stat, acl: try await acl.acl, children: try await children)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    private func digest(_ node: Node, children: [[UInt8]]) -> [UInt8] {
        var content: [UInt8] = []
        content += withUnsafeBytes(of: Int64(node.data.count).bigEndian, Array.init) + node.data
        for entry in node.acl { content += Array(entry.description.utf8) + [0] }
        content.append(node.stat.isEphemeral ? 1 : 0)
        if options.compareSequence { content += withUnsafeBytes(of: Int64(node.stat.nextSequenceSuffix).bigEndian, Array.init) }
        if options.compareVersions { content += withUnsafeBytes(of: node.stat.version.bigEndian, Array.init) }
        for child in children { content += child }
        return SHA1.hash(content)
    }

    private func describe(_ data: [UInt8]) -> String {
        if let text = String(validating: data, as: UTF8.self), text.count <= 40, !text.contains(where: \.isNewline) {
            return "\"\(text)\" (\(data.count) bytes)"
        }
        return "\(data.count) bytes sha1 \(hex(SHA1.hash(data)).prefix(12))"
    }

    private func ownerText(_ stat: Stat) -> String {
        stat.isEphemeral ? "ephemeral 0x\(String(UInt64(bitPattern: stat.ephemeralOwner), radix: 16))" : "persistent"
    }
}

extension ACL {
    /// The server masked this digest entry's hash (CVE-2019-0201): the session may not see it.
    public var hidesDigest: Bool { identity.scheme == "digest" && identity.id.hasSuffix(":x") }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
