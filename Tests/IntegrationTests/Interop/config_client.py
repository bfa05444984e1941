#!/usr/bin/python3
"""A real ZooKeeper client that reads its connection string from its own config file, the way
Patroni (YAML), HBase (Hadoop XML) or Solr (solr.in.sh) do, connects with kazoo and stays
connected until it is stopped. It writes one numbered znode per second under /acked/NAME and logs
each acknowledged number, so a test can check no acknowledged write was lost.

usage: config_client.py FORMAT FILE KEY NAME LOG
"""
import re
import sys
import time
import xml.etree.ElementTree as ET

import yaml
from kazoo.client import KazooClient


def read(fmt, path, key):
    text = open(path).read()
    if fmt == "yaml":
        value = yaml.safe_load(text)
        for part in key.split("."):
            value = value[part]
        return ",".join(value) if isinstance(value, list) else value
    if fmt == "xml":
        for prop in ET.fromstring(text).iter("property"):
            if prop.findtext("name").strip() == key:
                return prop.findtext("value").strip()
    if fmt == "env":
        for line in text.splitlines():
            match = re.match(r'\s*(?:export\s+)?' + re.escape(key) + r'=["\']?([^"\'\s]*)', line)
            if match:
                return match.group(1)
    if fmt == "properties":
        for line in text.splitlines():
            if line.strip().startswith(key):
                return line.split("=", 1)[1].strip()
    raise SystemExit("no %s in %s" % (key, path))


def main():
    fmt, path, key, name, log = sys.argv[1:6]
    hosts = read(fmt, path, key)
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=30)
    zk.ensure_path("/acked/" + name)
    with open(log, "a") as out:
        out.write("connected %s\n" % hosts)
        out.flush()
        while True:
            try:
                created = zk.create("/acked/%s/n-" % name, b"", sequence=True)
                out.write("acked %s\n" % created.rsplit("/", 1)[1])
                out.flush()
            except Exception as error:  # a write that failed is not acknowledged
                out.write("failed %s\n" % error)
                out.flush()
            time.sleep(0.3)


main()
