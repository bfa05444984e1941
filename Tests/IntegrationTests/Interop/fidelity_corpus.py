"""A fidelity corpus written and checked by kazoo, a client independent of Mitosis.

  fidelity_corpus.py build HOSTS ROOT [--extended]
      Writes the corpus under ROOT (as digest user dave:pw), prints READY and holds its
      ephemeral nodes (locks, an election, a broker registration) until SIGTERM.
      --extended adds container and TTL nodes (3.5.3+ with extendedTypesEnabled).
  fidelity_corpus.py compare SOURCE_HOSTS SOURCE_ROOT DEST_HOSTS DEST_ROOT [--auth=U:P]
      Walks both trees and prints JSON {"nodes": N, "mismatches": [...]}: every source node that
      is not ephemeral (a default copy skips those) must exist on the destination with the same
      data, ACL, data version, next sequential suffix and visible node type.
  fidelity_corpus.py next-suffix SOURCE_HOSTS SOURCE_ROOT DEST_HOSTS DEST_ROOT [--auth=U:P]
      Creates one more sequential child under every persistent source node and its destination
      counterpart and prints JSON {"parents": N, "denied": N, "mismatches": [...]}: the
      destination's suffix must equal the source's (a lower one would hand a suffix out twice).
"""
import hashlib
import json
import os
import signal
import struct
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.protocol.serialization import Create2
from kazoo.security import ACL, Id, make_digest_acl_credential

ALL, READ, WRITE, CREATE, DELETE, ADMIN = 31, 1, 2, 4, 8, 16


class CreateContainer(Create2):
    type = 19


class CreateTTL(Create2):
    type = 21

    def __new__(cls, path, data, acl, flags, ttl):
        self = super().__new__(cls, path, data, acl, flags)
        self.ttl = ttl
        return self

    def serialize(self):
        return super().serialize() + bytearray(struct.pack("!q", self.ttl))


def connect(hosts, auth):
    zk = KazooClient(hosts=hosts, auth_data=[("digest", auth)] if auth else None, timeout=10)
    zk.start(timeout=15)
    return zk


def call(zk, request):
    result = zk.handler.async_result()
    zk._call(request, result)
    return result.get(timeout=10)


def build(hosts, root, extended):
    zk = connect(hosts, "dave:pw")
    dave = Id("digest", make_digest_acl_credential("dave", "pw"))
    world = Id("world", "anyone")
    c = lambda path, value=b"", acl=None, **kw: zk.create(root + path, value, acl=acl, **kw)
    c("", b"corpus")
    # ACLs: world, digest only, digest with world read, ip.
    c("/acl")
    c("/acl/world", b"w")
    c("/acl/digest-only", b"d", acl=[ACL(ALL, dave)])
    c("/acl/digest-mixed", b"m", acl=[ACL(ALL, dave), ACL(READ, world)])
    c("/acl/ip", b"i", acl=[ACL(ALL, Id("ip", "127.0.0.1")), ACL(READ, world)])
    # Parents made READ-only after their children existed.
    c("/open")
    c("/open/readonly", b"r")
    c("/open/readonly/child", b"c")
    c("/open/readonly/child/grandchild", b"g")
    zk.set_acls(root + "/open/readonly/child", [ACL(READ, world)])
    zk.set_acls(root + "/open/readonly", [ACL(READ, world)])
    c("/readonly-digest", b"rd")
    c("/readonly-digest/child", b"c", acl=[ACL(ALL, dave)])
    zk.set_acls(root + "/readonly-digest", [ACL(READ | ADMIN, dave)])
    # Lock parents with live ephemeral children, an election with a persistent member too, a
    # broker registration; sequential children with gaps.
    c("/open/locks")
    c("/open/locks/lock-a")
    for _ in range(5):
        c("/open/locks/lock-a/lock-", ephemeral=True, sequence=True)
    c("/open/locks/lock-b")
    for _ in range(3):
        c("/open/locks/lock-b/lock-", ephemeral=True, sequence=True)
    zk.delete(root + "/open/locks/lock-b/lock-0000000001")
    c("/election")
    c("/election/n_", b"p", sequence=True)
    c("/election/n_", ephemeral=True, sequence=True)
    c("/election/n_", b"p", sequence=True)
    c("/brokers")
    c("/brokers/ids")
    c("/brokers/ids/1", b'{"host":"a"}', ephemeral=True)
    c("/brokers/seqid")
    for _ in range(3):
        zk.set(root + "/brokers/seqid", b"")
    c("/queue")
    for _ in range(7):
        c("/queue/item-", b"q", sequence=True)
    for gap in ("0000000002", "0000000005"):
        zk.delete(root + "/queue/item-" + gap)
    c("/emptied")
    for _ in range(4):
        c("/emptied/x-", sequence=True)
    for child in zk.get_children(root + "/emptied"):
        zk.delete(root + "/emptied/" + child)
    # Data: binary with NULs, about 1 MB, unicode names, depth 40, a version in the hundreds.
    c("/binary", bytes(range(256)) + b"\0\0\0")
    c("/large", bytes([0xAB, 0x00]) * 500_000)
    c("/ünïcödé", "ünïcödé".encode())
    c("/ünïcödé/日本語", b"\0")
    c("/ünïcödé/€ − Ω", b"euro")  # ZooKeeper refuses surrogates (emoji) in paths
    path = "/deep"
    for level in range(40):
        c(path, bytes([level]))
        path += "/d"
    c("/counter", b"0")
    for value in range(1, 301):
        zk.set(root + "/counter", str(value).encode())
    if extended:
        acl = [ACL(ALL, world)]
        call(zk, CreateContainer(root + "/container", b"box", acl, 4))
        c("/container/item", b"i")
        call(zk, CreateTTL(root + "/ttl", b"t", acl, 5, 3_600_000))
        call(zk, CreateTTL(root + "/ttl-parent", b"tp", acl, 5, 3_600_000))
        c("/ttl-parent/child", b"c")
    print("READY", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (zk.stop(), zk.close(), sys.exit(0)))
    # Hold the ephemerals until stopped, or until the test that started us is gone (a crashed
    # test must not leave a client retrying against a server that no longer exists).
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    zk.stop()
    zk.close()


def walk(zk, path):
    yield path
    for child in sorted(zk.get_children(path)):
        yield from walk(zk, path.rstrip("/") + "/" + child)


def view(zk, path):
    data, stat = zk.get(path)
    acls, _ = zk.get_acls(path)
    return {
        "data": data.hex() if len(data) < 64 else "%d bytes sha1 %s" % (len(data), hashlib.sha1(data).hexdigest()),
        "acl": sorted((a.perms, a.id.scheme, a.id.id) for a in acls),
        "version": stat.version,
        "next_suffix": (stat.cversion + stat.numChildren) // 2,
        "ephemeral": stat.ephemeralOwner != 0,
    }


def compare(source, source_root, destination, destination_root):
    nodes, mismatches = 0, []
    for path in walk(source, source_root):
        left = view(source, path)
        if left["ephemeral"]:
            continue
        nodes += 1
        target = destination_root + path[len(source_root):]
        if not destination.exists(target):
            mismatches.append({"path": path, "field": "missing on the destination"})
            continue
        right = view(destination, target)
        for key in left:
            if left[key] != right[key]:
                mismatches.append({"path": path, "field": key, "source": str(left[key]), "destination": str(right[key])})
    return {"nodes": nodes, "mismatches": mismatches}


def next_suffix(source, source_root, destination, destination_root):
    parents, denied, mismatches = 0, 0, []
    for path in list(walk(source, source_root)):
        if source.exists(path).ephemeralOwner != 0:
            continue
        parents += 1
        target = destination_root + path[len(source_root):]
        try:
            left = source.create(path.rstrip("/") + "/probe-", sequence=True)
        except NoAuthError:
            left = None
        try:
            right = destination.create(target.rstrip("/") + "/probe-", sequence=True)
        except NoAuthError:
            right = None
        if left is None or right is None:
            denied += 1
            if (left is None) != (right is None):
                mismatches.append({"path": path, "source": str(left), "destination": str(right), "why": "denied on one side only"})
            continue
        if left[-10:] != right[-10:]:
            mismatches.append({"path": path, "source": left[-10:], "destination": right[-10:]})
    return {"parents": parents, "denied": denied, "mismatches": mismatches}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    auth = next((f[len("--auth="):] for f in flags if f.startswith("--auth=")), None)
    command = args[0]
    if command == "build":
        build(args[1], args[2], "--extended" in flags)
        return
    source, destination = connect(args[1], auth), connect(args[3], auth)
    try:
        check = compare if command == "compare" else next_suffix
        print(json.dumps(check(source, args[2], destination, args[4]), sort_keys=True))
    finally:
        for zk in (source, destination):
            zk.stop()
            zk.close()


if __name__ == "__main__":
    main()
