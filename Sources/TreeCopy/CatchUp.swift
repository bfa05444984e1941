import Probes
import ZooKeeper

/// What a catch-up check found: whether the destination has applied every source transaction up
/// to the watermark, and what it still lacks.
public struct CatchUpReport: Sendable, Codable, Hashable {
    /// The source's last zxid when the check began.
    public var watermark: Zxid
    /// Persistent nodes compared on the source side.
    public var nodesCompared = 0
    /// Differences explained by source changes after the watermark (they are still to come).
    public var newer = 0
    /// ACL differences left to the final catch-up (ACL changes fire no watch, so a follower cannot
    /// apply them as they happen).
    public var aclsLeftToFinalCatchUp = 0
    /// Differences from transactions at or before the watermark: the destination lags behind them.
    public var behind: [TreeDifference] = []
    public var moreBehind = 0

    public var caughtUp: Bool { behind.isEmpty && moreBehind == 0 }

    public var summary: String {
        var parts: [String] = []
        if caughtUp {
            parts.append("every source change up to \(watermark) is applied (\(nodesCompared) znodes)")
        } else {
            parts.append("\(behind.count + moreBehind) difference\(behind.count + moreBehind == 1 ? "" : "s") from changes up to \(watermark) not applied yet, e.g. \(behind.prefix(3).map(\.description).joined(separator: "; "))")
        }
        if newer > 0 { parts.append("\(newer) newer change\(newer == 1 ? "" : "s") on their way") }
        if aclsLeftToFinalCatchUp > 0 { parts.append("\(aclsLeftToFinalCatchUp) ACL difference\(aclsLeftToFinalCatchUp == 1 ? "" : "s") left to the final catch-up") }
        return parts.joined(separator: "; ")
    }
}

/// Checks that a copy has caught up with a live source: it takes the source's last zxid (the
/// watermark), compares the subtrees, and excuses each difference that a source transaction after
/// the watermark explains (the node was changed, created or deleted since). What remains are
/// changes the destination has not applied although the source made them before the check began.
///
/// Ephemeral nodes are left out (a copy skips them), and so are child versions (a copy reproduces
/// them only in full passes). With `acceptACLDifferences`, ACL differences are counted but not held
/// against the copy: a follower cannot see ACL changes, its final catch-up copies them.
public struct CatchUpCheck: Sendable {
    public let source: TreeLocation
    public let destination: TreeLocation
    public let acceptACLDifferences: Bool
    public let maximumReported: Int

    public init(source: TreeLocation, destination: TreeLocation, acceptACLDifferences: Bool = false, maximumReported: Int = 50) {
        self.source = source
        self.destination = destination
        self.acceptACLDifferences = acceptACLDifferences
        self.maximumReported = maximumReported
    }

    public func run() async throws -> CatchUpReport {
        // Every reply carries the zxid the answering server had processed; after a sync that is
        // at least the leader's at the time of the sync.
        try await source.client.sync(source.root)
        _ = try await source.client.exists(source.root)
        let watermark = await source.client.lastZxidSeen

        var options = TreeDiffOptions()
        options.ignoreEphemeralNodes = true
        options.compareEphemeralFlag = false
        options.compareSequence = false
        let diff = try await TreeDiff(left: source, right: destination, options: options).run()
        var report = CatchUpReport(watermark: watermark)
        report.nodesCompared = diff.nodesLeft
        if diff.moreDifferences > 0 {
            // Too many to look at one by one: the copy is far behind.
            report.behind = Array(diff.differences.prefix(maximumReported))
            report.moreBehind = diff.differences.count - report.behind.count + diff.moreDifferences
            return report
        }
        for difference in diff.differences {
            let node = try await source.client.exists(source.path(difference.path))
            var ancestor: Stat?
            if node == nil && difference.kind == .onlyRight {
                ancestor = try await nearestAncestor(of: difference.path)
            }
            switch Self.verdict(difference, node: node, nearestAncestor: ancestor, watermark: watermark, acceptACLDifferences: acceptACLDifferences) {
            case .newer: report.newer += 1
            case .aclLeftToFinalCatchUp: report.aclsLeftToFinalCatchUp += 1
            case .behind:
                if report.behind.count < maximumReported { report.behind.append(difference) } else { report.moreBehind += 1 }
            }
        }
        return report
    }

    /// The stat of the nearest ancestor of `relative` that exists on the source.
    func nearestAncestor(of relative: String) async throws -> Stat? {
        var path = relative
        while path != "/" {
            path = ZooKeeperPath.parent(of: path)
            if let stat = try await source.client.exists(source.path(path)) { return stat }
        }
        return nil
    }

    public enum Verdict: Sendable, Hashable {
        /// A source change after the watermark explains it.
        case newer
        case aclLeftToFinalCatchUp
        /// The destination has not applied a change the source made by the watermark.
        case behind
    }

    /// Judges one difference from the source node as read after the comparison (nil: it is gone)
    /// and, for a node only the destination has, the nearest source ancestor that exists.
    public static func verdict(
        _ difference: TreeDifference, node: Stat?, nearestAncestor: Stat?, watermark: Zxid, acceptACLDifferences: Bool
    ) -> Verdict {
        switch difference.kind {
        case .acl:
            // An ACL change records no zxid, so it cannot be dated.
            return acceptACLDifferences ? .aclLeftToFinalCatchUp : .behind
        case .onlyRight:
            // The source does not have it: created since the comparison read it (then its creation
            // is newer), or deleted, which changed the pzxid of the nearest remaining ancestor.
            if let node { return node.czxid > watermark ? .newer : .behind }
            if let nearestAncestor, nearestAncestor.pzxid > watermark { return .newer }
            return .behind
        case .onlyLeft:
            // Missing on the destination: fine only if created after the watermark (or deleted
            // since the comparison read it, which also came after the watermark).
            guard let node else { return .newer }
            return node.czxid > watermark ? .newer : .behind
        case .data, .ephemeral, .sequence, .version:
            guard let node else { return .newer }
            return node.mzxid > watermark ? .newer : .behind
        }
    }
}
