#!/usr/bin/python3
"""Reads znodes with kazoo (an independent client) and prints one JSON line:
{path: {"data": text or null, "ephemeralOwner": n, "version": n}} (null for an absent path).

usage: kraft_znodes.py CONNECT PATH...
"""
import json
import sys

from kazoo.client import KazooClient


def main():
    zk = KazooClient(hosts=sys.argv[1])
    zk.start(timeout=15)
    result = {}
    for path in sys.argv[2:]:
        if zk.exists(path) is None:
            result[path] = None
            continue
        data, stat = zk.get(path)
        result[path] = {"data": None if data is None else data.decode("utf-8"),
                        "ephemeralOwner": stat.ephemeralOwner, "version": stat.version}
    zk.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
