import Probes
import ZooKeeper

/// What the copier's destination session may do, from the digest credentials it authenticates
/// with, and the temporary ACL under which it writes a subtree whose real ACL shuts it out.
struct DestinationAccess: Sendable {
    /// The digest identities the destination session authenticates as.
    let identities: [ACLIdentity]

    init(configuration: ZooKeeperConfiguration) {
        identities = configuration.authentication.compactMap { scheme, credentials in
            guard scheme == "digest", let text = String(validating: credentials, as: UTF8.self), let colon = text.firstIndex(of: ":") else { return nil }
            return DigestAuth.identity(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
    }

    /// Whether `acl` certainly grants the copier `needed` (world entries and its own digest
    /// identities; an ip entry cannot be judged from here, so it counts as not granting).
    func grants(_ acl: [ACL], _ needed: Permissions) -> Bool {
        if acl.isEmpty || needed.isEmpty { return true }
        var granted: Permissions = []
        for entry in acl where entry.identity == .anyone || identities.contains(entry.identity) {
            granted.formUnion(entry.permissions)
        }
        return granted.isSuperset(of: needed)
    }

    /// The real ACL plus every permission for the copier: its digest identity if it has one,
    /// otherwise anyone (the destination is not in use while it is being copied to).
    func temporary(_ acl: [ACL]) -> [ACL] {
        let copier = identities.first ?? .anyone
        return acl.filter { $0.identity != copier } + [ACL(permissions: .all, identity: copier)]
    }

    /// What the copier still has to do on a node after creating it: create and delete children
    /// (its subtree, sequence pads) and set its data (to carry its data version).
    static func needed(children: Bool, nextSuffix: Int, version: Int32) -> Permissions {
        var needed: Permissions = []
        if children || nextSuffix > 0 { needed.formUnion([.create, .delete]) }
        if version > 0 { needed.insert(.write) }
        return needed
    }
}

enum FidelityWrites {
    /// `setData` operations that raise a node's data version from `current` to `target` and leave
    /// `data` in it; the steps before the last write `intermediate` (what the node holds already,
    /// so a reader never sees anything else). Empty when `target` is not above `current`.
    static func versionSteps(path: String, data: [UInt8], intermediate: [UInt8], from current: Int32, to target: Int32) -> [MultiOperation] {
        guard target > current else { return [] }
        var steps = [MultiOperation](repeating: .setData(SetDataRequest(path: path, data: intermediate)), count: Int(target - current) - 1)
        steps.append(.setData(SetDataRequest(path: path, data: data)))
        return steps
    }

    /// Create-and-delete pairs of a scratch child that raise a parent's next sequential suffix by
    /// `count` (each child create counts once; deletes do not).
    static func sequencePads(parent: String, avoiding children: [String], count: Int) -> [MultiOperation] {
        guard count > 0 else { return [] }
        var name = "mitosis-copy-sequence-pad"
        while children.contains(name) { name += "-" }
        let scratch = ZooKeeperPath.join(parent, name)
        var operations: [MultiOperation] = []
        operations.reserveCapacity(2 * count)
        for _ in 0..<count {
            operations.append(.create(CreateRequest(path: scratch, data: [], acl: ACL.openUnsafe, mode: .persistent)))
            operations.append(.delete(DeleteRequest(path: scratch)))
        }
        return operations
    }
}
