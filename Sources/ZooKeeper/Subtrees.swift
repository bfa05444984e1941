import ZooKeeperProtocol

extension ZooKeeperClient {
    /// `path` and all its descendants, parents before children; empty if `path` does not exist.
    /// Nodes deleted while it walks are left out.
    public func subtree(_ path: String) async throws -> [String] {
        var order: [String] = []
        var pending = [path]
        while let next = pending.popLast() {
            let children: [String]
            do {
                children = try await getChildren(next)
            } catch let error as ZooKeeperError where error.code == .noNode {
                continue
            }
            order.append(next)
            for child in children.sorted().reversed() { pending.append(ZooKeeperPath.join(next, child)) }
        }
        return order
    }

    /// Deletes `path` and all its descendants, deepest first, and returns the paths it deleted.
    /// Nodes that are already gone are skipped; a node that gains a child meanwhile fails with
    /// `notEmpty`.
    @discardableResult
    public func deleteRecursively(_ path: String) async throws -> [String] {
        var deleted: [String] = []
        for node in try await subtree(path).reversed() {
            do {
                try await delete(node)
                deleted.append(node)
            } catch let error as ZooKeeperError where error.code == .noNode {}
        }
        return deleted
    }
}
