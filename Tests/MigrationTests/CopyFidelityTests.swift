import Testing
import ZooKeeper

@testable import TreeCopy

/// The copier's fidelity writes, without servers: version steps, sequence pads, and when a node's
/// ACL shuts the copier out (then it is written under a temporary ACL, the real one set last).
@Suite struct CopyFidelityTests {
    @Test func versionStepsEndWithTheDataAndNeverGoDown() {
        let steps = FidelityWrites.versionSteps(path: "/n", data: [1], intermediate: [0], from: 2, to: 5)
        #expect(steps == [
            .setData(SetDataRequest(path: "/n", data: [0])), .setData(SetDataRequest(path: "/n", data: [0])),
            .setData(SetDataRequest(path: "/n", data: [1])),
        ])
        #expect(FidelityWrites.versionSteps(path: "/n", data: [1], intermediate: [], from: 5, to: 5).isEmpty)
        #expect(FidelityWrites.versionSteps(path: "/n", data: [1], intermediate: [], from: 6, to: 5).isEmpty)
    }

    @Test func sequencePadsCreateAndDeleteAScratchChildTheParentDoesNotHave() {
        let pads = FidelityWrites.sequencePads(parent: "/locks", avoiding: ["mitosis-copy-sequence-pad"], count: 2)
        let scratch = "/locks/mitosis-copy-sequence-pad-"
        let pair: [MultiOperation] = [.create(CreateRequest(path: scratch, data: [], acl: ACL.openUnsafe, mode: .persistent)), .delete(DeleteRequest(path: scratch))]
        #expect(pads == pair + pair)
        #expect(FidelityWrites.sequencePads(parent: "/", avoiding: [], count: 0).isEmpty)
    }

    @Test func aReadOnlyParentShutsTheCopierOutAndGetsATemporaryACL() throws {
        var configuration = try ZooKeeperConfiguration("127.0.0.1:2181")
        let anonymous = DestinationAccess(configuration: configuration)
        configuration.authentication = [("digest", DigestAuth.credentials(user: "dave", password: "pw"))]
        let dave = DestinationAccess(configuration: configuration)
        let daveIdentity = DigestAuth.identity(user: "dave", password: "pw")

        let parent = DestinationAccess.needed(children: true, nextSuffix: 0, version: 0)
        #expect(parent == [.create, .delete])
        #expect(DestinationAccess.needed(children: false, nextSuffix: 0, version: 3) == .write)
        #expect(DestinationAccess.needed(children: false, nextSuffix: 0, version: 0).isEmpty)

        #expect(!anonymous.grants(ACL.readUnsafe, parent))
        #expect(anonymous.grants(ACL.openUnsafe, parent))
        #expect(anonymous.grants(ACL.readUnsafe, []), "a leaf needs nothing after its create")
        #expect(anonymous.temporary(ACL.readUnsafe) == ACL.openUnsafe)

        let readOnlyForDave = [ACL(permissions: [.read, .admin], identity: daveIdentity)]
        #expect(!dave.grants(readOnlyForDave, parent))
        #expect(dave.grants([ACL(permissions: .all, identity: daveIdentity)], parent))
        #expect(dave.temporary(readOnlyForDave) == [ACL(permissions: .all, identity: daveIdentity)])
        #expect(dave.temporary(ACL.readUnsafe) == ACL.readUnsafe + [ACL(permissions: .all, identity: daveIdentity)])
        // An ip entry cannot be judged from the client: the node is written under a temporary ACL.
        #expect(!dave.grants([ACL(permissions: .all, identity: ACLIdentity(scheme: "ip", id: "127.0.0.1"))], parent))
    }
}
