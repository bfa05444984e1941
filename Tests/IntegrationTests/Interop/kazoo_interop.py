"""Independent reader/writer for interop tests: kazoo, the Python ZooKeeper client.

  kazoo_interop.py dump HOSTS PATH...          -> JSON {path: node} on stdout
  kazoo_interop.py write HOSTS < spec.json     spec: [{"path","data_hex","acl":[{"perms","scheme","id"}],"auth":[user,password]?}]

A node is {"data_hex", "acl": [{"perms","scheme","id"}], "stat": {...}}.
"""
import json
import sys

from kazoo.client import KazooClient
from kazoo.security import ACL, Id


def stat_json(stat):
    return {
        "czxid": stat.czxid, "mzxid": stat.mzxid, "ctime": stat.ctime, "mtime": stat.mtime,
        "version": stat.version, "cversion": stat.cversion, "aversion": stat.aversion,
        "ephemeralOwner": stat.ephemeralOwner, "dataLength": stat.dataLength,
        "numChildren": stat.numChildren, "pzxid": stat.pzxid,
    }


def main():
    command, hosts = sys.argv[1], sys.argv[2]
    auth = []
    if len(sys.argv) > 3 and sys.argv[3].startswith("--auth="):
        auth = [("digest", sys.argv[3][len("--auth="):])]
        paths = sys.argv[4:]
    else:
        paths = sys.argv[3:]
    zk = KazooClient(hosts=hosts, auth_data=auth or None, timeout=10)
    zk.start(timeout=15)
    try:
        if command == "dump":
            out = {}
            for path in paths:
                data, stat = zk.get(path)
                acls, _ = zk.get_acls(path)
                out[path] = {
                    "data_hex": data.hex(),
                    "acl": [{"perms": a.perms, "scheme": a.id.scheme, "id": a.id.id} for a in acls],
                    "stat": stat_json(stat),
                }
            json.dump(out, sys.stdout, sort_keys=True)
        elif command == "write":
            for node in json.load(sys.stdin):
                acl = [ACL(a["perms"], Id(a["scheme"], a["id"])) for a in node["acl"]]
                zk.create(node["path"], bytes.fromhex(node["data_hex"]), acl=acl)
            print("ok")
        else:
            raise SystemExit("unknown command " + command)
    finally:
        zk.stop()
        zk.close()


if __name__ == "__main__":
    main()
