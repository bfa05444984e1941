import ZooKeeperProtocol

// The client's API speaks in these protocol types, so a program that imports ZooKeeper can name
// them without importing ZooKeeperProtocol. They are the whole public surface of
// ZooKeeperProtocol: the codec (frames, headers, reserved xids, opcodes, Jute, the wire-only
// records) is `package`, for Mitosis's own modules and tests only, and is not re-exported.

/// A node's metadata: its zxids, times, versions, owner, data length and child count.
public typealias Stat = ZooKeeperProtocol.Stat
/// Whether a node is persistent, ephemeral, a container or has a TTL (from its ``Stat``).
public typealias NodeKind = ZooKeeperProtocol.NodeKind
/// A ZooKeeper transaction id: epoch and counter.
public typealias Zxid = ZooKeeperProtocol.Zxid
/// One access control entry: permissions for an identity.
public typealias ACL = ZooKeeperProtocol.ACL
/// The identity an ``ACL`` applies to (`world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`, …).
public typealias ACLIdentity = ZooKeeperProtocol.ACLIdentity
/// Read, write, create, delete and admin.
public typealias Permissions = ZooKeeperProtocol.Permissions
/// Persistent, ephemeral, sequential, container or TTL.
public typealias CreateMode = ZooKeeperProtocol.CreateMode
/// Servers and an optional chroot, as in `host1:2181,host2:2181/app`.
public typealias ConnectionString = ZooKeeperProtocol.ConnectionString
/// A connection string that cannot be parsed, and why.
public typealias ConnectionStringError = ZooKeeperProtocol.ConnectionStringError
/// Path checks and joins, as the server applies them.
public typealias ZooKeeperPath = ZooKeeperProtocol.ZooKeeperPath
/// What failed (an opaque ``ZooKeeperError/Code``), where and what to do.
public typealias ZooKeeperError = ZooKeeperProtocol.ZooKeeperError
/// The type of a watch event: created, deleted, data or children changed, watch removed.
public typealias WatchEventType = ZooKeeperProtocol.WatchEventType
/// The session state a watch event reports.
public typealias KeeperState = ZooKeeperProtocol.KeeperState
/// One operation of a ``ZooKeeperClient/multi(_:)`` transaction.
public typealias MultiOperation = ZooKeeperProtocol.MultiOperation
/// The result of one operation of a transaction.
public typealias MultiResult = ZooKeeperProtocol.MultiResult
/// One read of ``ZooKeeperClient/multiRead(_:)``.
public typealias ReadOperation = ZooKeeperProtocol.ReadOperation
/// The result of one read of ``ZooKeeperClient/multiRead(_:)``.
public typealias ReadResult = ZooKeeperProtocol.ReadResult
/// Create a node, in a transaction (``MultiOperation/create(_:)``).
public typealias CreateRequest = ZooKeeperProtocol.CreateRequest
/// Delete a node, in a transaction.
public typealias DeleteRequest = ZooKeeperProtocol.DeleteRequest
/// Set a node's data, in a transaction.
public typealias SetDataRequest = ZooKeeperProtocol.SetDataRequest
/// Require a node's version, in a transaction.
public typealias CheckVersionRequest = ZooKeeperProtocol.CheckVersionRequest
