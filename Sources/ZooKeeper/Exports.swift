// The client's API speaks in the protocol's types (Stat, ACL, Zxid, ConnectionString, errors):
// a program that imports ZooKeeper gets them too.
@_exported import ZooKeeperProtocol
