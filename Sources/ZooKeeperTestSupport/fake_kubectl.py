#!/usr/bin/env python3
"""A stand-in for kubectl against a cluster that cannot run on this machine.

It keeps one namespace's Services, Endpoints, ConfigMaps, StatefulSets, pods and volume claims
in a JSON file, accepts only the commands Mitosis sends (anything else exits 2 naming it), and
plays the controllers that matter:
  - the StatefulSet controller: a StatefulSet of one replica has a pod <name>-0 (and a volume
    claim data-<name>-0, which outlives it);
  - the kubelet: with FAKE_KUBECTL_PODS=processes a pod is a real process (the container's
    command, run with the ConfigMap's keys written into its mount directory and PATH starting
    with FAKE_KUBECTL_PATH); otherwise a pod is a record that runs as soon as it exists;
  - the endpoints controller: a Service with a selector gets the selected pods' addresses.
Every call is logged to FAKE_KUBECTL_LOG. FAKE_KUBECTL_DENY lists "verb:resource" pairs that
`auth can-i` refuses; FAKE_KUBECTL_POD_PROBLEM makes new pods wait with that reason;
FAKE_KUBECTL_BUMP_CONFIGMAPS_ON_GET changes a ConfigMap's resourceVersion after each read of it
(someone else's edit); FAKE_KUBECTL_IGNORE_PATCHES accepts Endpoints patches without applying them.
"""
import fcntl, json, os, signal, sys, time
# base64, subprocess and uuid are imported where they are used: every kubectl call starts this
# script anew, and the tests make hundreds.

STATE = os.environ["FAKE_KUBECTL_STATE"]
LOG = os.environ["FAKE_KUBECTL_LOG"]
MODE = os.environ.get("FAKE_KUBECTL_PODS", "records")
LABEL = "zookeeper.mitosis/server-id"


def fail(message, code=2):
    print("fake kubectl: " + message, file=sys.stderr)
    sys.exit(code)


def load():
    with open(STATE) as f:
        state = json.load(f)
    for kind in ("services", "endpoints", "configmaps", "statefulsets", "pods", "pvcs"):
        state.setdefault(kind, {})
    state.setdefault("version", 1)
    state.setdefault("nextIP", 10)
    return state


def save(state):
    with open(STATE + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(STATE + ".tmp", STATE)


def bump(state, obj):
    state["version"] += 1
    obj.setdefault("metadata", {})["resourceVersion"] = str(state["version"])


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def kill_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def start_container(state, pod, sts):
    """The kubelet: mounts the ConfigMap and the data volume, runs the container's command."""
    spec = sts["spec"]["template"]["spec"]
    container = spec["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    config_map = next(v["configMap"]["name"] for v in spec["volumes"] if v["name"] == "config")
    cm = state["configmaps"].get(config_map)
    if cm is None:
        pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CreateContainerConfigError", "message": 'configmap "%s" not found' % config_map}}
        return
    if MODE != "processes":
        pod["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": "now"}}
        return
    conf = mounts["config"]
    os.makedirs(conf, exist_ok=True)
    for name in os.listdir(conf):
        os.remove(os.path.join(conf, name))
    for key, text in cm.get("data", {}).items():
        with open(os.path.join(conf, key), "wb") as f:
            f.write(text.encode())
    import base64, subprocess
    for key, encoded in cm.get("binaryData", {}).items():
        with open(os.path.join(conf, key), "wb") as f:
            f.write(base64.b64decode(encoded))
    os.makedirs(mounts["data"], exist_ok=True)
    environment = dict(os.environ)
    environment["PATH"] = os.environ.get("FAKE_KUBECTL_PATH", "") + ":" + environment.get("PATH", "")
    log = open(os.path.join(os.path.dirname(STATE), pod["metadata"]["name"] + ".log"), "ab")
    process = subprocess.Popen(container["command"], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=environment, start_new_session=True)
    pod["metadata"].setdefault("annotations", {})["fake/pid"] = str(process.pid)
    pod["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": "now"}}


def reconcile(state):
    now = time.time()
    # The kubelet: a terminating pod goes once its process is gone (killed after 10 s).
    for name, pod in list(state["pods"].items()):
        pid = int(pod["metadata"].get("annotations", {}).get("fake/pid", "0"))
        if pod["metadata"].get("deletionTimestamp"):
            if pid and alive(pid) and now - pod["metadata"]["deletedAt"] > 10:
                kill_group(pid, signal.SIGKILL)
            if not pid or not alive(pid):
                del state["pods"][name]
            continue
        status = pod["status"]["containerStatuses"][0]
        if pid and "running" in status["state"] and not alive(pid):
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}}
            status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
            status["restartCount"] += 1
    # The StatefulSet controller: one pod per StatefulSet, and its volume claim.
    for name, sts in state["statefulsets"].items():
        pod_name = name + "-0"
        if pod_name in state["pods"]:
            continue
        import uuid
        labels = sts["spec"]["template"]["metadata"]["labels"]
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "uid": str(uuid.uuid4()), "labels": labels, "ownerReferences": [{"kind": "StatefulSet", "name": name}]},
            "status": {"phase": "Running", "podIP": "10.244.0.%d" % state["nextIP"],
                       "containerStatuses": [{"name": "zookeeper", "ready": False, "restartCount": 0, "state": {}}]},
        }
        state["nextIP"] += 1
        claim = "data-" + pod_name
        if claim not in state["pvcs"]:
            state["pvcs"][claim] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim}}
        problem = os.environ.get("FAKE_KUBECTL_POD_PROBLEM")
        if problem:
            pod["status"]["phase"] = "Pending"
            pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": problem, "message": "simulated"}}
        else:
            start_container(state, pod, sts)
        state["pods"][pod_name] = pod
    # The endpoints controller.
    for name, service in state["services"].items():
        selector = service["spec"].get("selector")
        if not selector:
            continue
        addresses = [{"ip": p["status"]["podIP"], "targetRef": {"kind": "Pod", "name": p["metadata"]["name"]}}
                     for p in state["pods"].values() if matches(selector, p["metadata"]["labels"]) and not p["metadata"].get("deletionTimestamp")]
        ports = [{"name": p.get("name"), "port": p.get("targetPort", p["port"]), "protocol": "TCP"} for p in service["spec"].get("ports", [])]
        endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}},
                     "subsets": [{"addresses": addresses, "ports": ports}] if addresses else []}
        old = state["endpoints"].get(name, {})
        if old.get("subsets") != endpoints["subsets"]:
            bump(state, endpoints)
            state["endpoints"][name] = endpoints


def delete_pod(state, name):
    pod = state["pods"].get(name)
    if pod is None or pod["metadata"].get("deletionTimestamp"):
        return
    pod["metadata"]["deletionTimestamp"] = "now"
    pod["metadata"]["deletedAt"] = time.time()
    pid = int(pod["metadata"].get("annotations", {}).get("fake/pid", "0"))
    if pid:
        kill_group(pid, signal.SIGTERM)


KINDS = {"service": "services", "services": "services", "endpoints": "endpoints", "configmap": "configmaps",
         "statefulset": "statefulsets", "persistentvolumeclaim": "pvcs", "pod": "pods"}


def store(state, verb, item):
    kind = item.get("kind")
    name = item["metadata"]["name"]
    if item["metadata"].get("namespace", state["namespace"]) != state["namespace"]:
        fail("object %s names namespace %s" % (name, item["metadata"]["namespace"]))
    table = {"Service": "services", "Endpoints": "endpoints", "ConfigMap": "configmaps", "StatefulSet": "statefulsets"}.get(kind)
    if table is None:
        fail("unexpected kind %r" % kind)
    existing = state[table].get(name)
    if verb == "create" and existing is not None:
        fail('%s "%s" already exists (AlreadyExists)' % (kind.lower(), name), 1)
    if verb == "replace":
        if existing is None:
            fail('%s "%s" not found' % (kind.lower(), name), 1)
        wanted = item["metadata"].get("resourceVersion")
        if wanted and wanted != existing["metadata"].get("resourceVersion"):
            fail('Operation cannot be fulfilled on %s "%s": the object has been modified (Conflict)' % (kind.lower(), name), 1)
    if kind == "Endpoints" and existing is not None and existing["metadata"].get("labels", {}).get("endpoints.kubernetes.io/managed-by"):
        # An apply keeps the controller's label: the object would claim to be the controller's.
        fail("endpoints %s carry the endpoint controller's label: delete them before writing your own" % name)
    if kind == "StatefulSet":
        if item["spec"].get("replicas") != 1:
            fail("a Mitosis StatefulSet has one replica")
        selector = item["spec"]["selector"]["matchLabels"]
        if not matches(selector, item["spec"]["template"]["metadata"]["labels"]):
            fail("selector does not match template labels")
    item.setdefault("metadata", {})
    bump(state, item)
    state[table][name] = item
    print("%s/%s %s" % (kind.lower(), name, "configured" if existing else "created"))


def main():
    args = sys.argv[1:]
    with open(LOG, "a") as log:
        log.write(" ".join(args) + "\n")
    lock = open(STATE + ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    state = load()
    if args[:2] != ["-n", state["namespace"]]:
        fail("expected -n %s first, got %r" % (state["namespace"], args))
    args = args[2:]
    reconcile(state)
    if args[:2] == ["auth", "can-i"] and len(args) == 4:
        denied = os.environ.get("FAKE_KUBECTL_DENY", "").split()
        if "%s:%s" % (args[2], args[3]) in denied:
            print("no")
            sys.exit(1)
        print("yes")
        return
    if args == ["get", "services", "-o", "json"]:
        print(json.dumps({"kind": "ServiceList", "items": list(state["services"].values())}))
    elif args == ["get", "statefulsets", "-o", "name"]:
        print("\n".join("statefulset.apps/" + n for n in state["statefulsets"]))
    elif len(args) == 6 and args[0] == "get" and args[3:] == ["--ignore-not-found", "-o", "json"] and args[1] in KINDS:
        obj = state[KINDS[args[1]]].get(args[2])
        if obj is not None:
            print(json.dumps(obj))
            # Someone else edits every ConfigMap right after it is read.
            if KINDS[args[1]] == "configmaps" and os.environ.get("FAKE_KUBECTL_BUMP_CONFIGMAPS_ON_GET"):
                bump(state, obj)
    elif len(args) == 6 and args[:3] == ["get", "pods", "-l"] and args[4:] == ["-o", "json"]:
        key, value = args[3].split("=", 1)
        items = [p for p in state["pods"].values() if p["metadata"]["labels"].get(key) == value]
        print(json.dumps({"kind": "PodList", "items": items}))
    elif len(args) == 6 and args[:2] == ["patch", "endpoints"] and args[3] == "--type=json" and args[4] == "-p":
        endpoints = state["endpoints"].get(args[2])
        if endpoints is None:
            fail('endpoints "%s" not found' % args[2], 1)
        for op in json.loads(args[5]):
            if op.get("op") != "replace" or op.get("path") != "/subsets/0/addresses":
                fail("unexpected patch %r" % op)
            if not all(isinstance(a, dict) and set(a) == {"ip"} for a in op["value"]):
                fail("addresses must be [{ip: ...}], got %r" % op["value"])
            if not os.environ.get("FAKE_KUBECTL_IGNORE_PATCHES"):
                endpoints["subsets"][0]["addresses"] = op["value"]
        bump(state, endpoints)
        print("endpoints/%s patched" % args[2])
    elif len(args) == 6 and args[:2] == ["patch", "service"] and args[3] == "--type=json" and args[4] == "-p":
        service = state["services"].get(args[2])
        if service is None:
            fail('services "%s" not found' % args[2], 1)
        for op in json.loads(args[5]):
            if op == {"op": "remove", "path": "/spec/selector"}:
                if "selector" not in service["spec"]:
                    fail("the request is invalid: the server rejected our request due to an error in our request", 1)
                del service["spec"]["selector"]
            elif op.get("op") == "add" and op.get("path") == "/spec/selector":
                service["spec"]["selector"] = op["value"]
            elif op.get("op") == "add" and op.get("path") == "/spec/publishNotReadyAddresses":
                service["spec"]["publishNotReadyAddresses"] = op["value"]
            else:
                fail("unexpected patch %r" % op)
        bump(state, service)
        print("service/%s patched" % args[2])
    elif len(args) == 3 and args[0] in ("apply", "create", "replace") and args[1] == "-f":
        with open(args[2]) as f:
            objects = json.load(f)
        items = objects["items"] if objects.get("kind") == "List" else [objects]
        for item in items:
            if args[0] == "apply" and item["kind"] == "Service" and "selector" in item["spec"] and not os.environ.get("FAKE_KUBECTL_SELECTORS_ON_APPLY"):
                fail("Mitosis applies Services without selector (phase 1); it sets a selector by a patch")
            if args[0] != "apply" and item["kind"] != "ConfigMap":
                fail("%s -f of a %s" % (args[0], item["kind"]))
            store(state, args[0], item)
    elif len(args) == 4 and args[:2] == ["delete", "configmap"] and args[3] == "--ignore-not-found":
        if state["configmaps"].pop(args[2], None) is not None:
            print('configmap "%s" deleted' % args[2])
    elif len(args) == 4 and args[:2] == ["delete", "endpoints"] and args[3] == "--ignore-not-found":
        service = state["services"].get(args[2])
        if service is not None and service["spec"].get("selector"):
            fail("the endpoints controller would make endpoints %s again: the Service still has a selector" % args[2])
        if state["endpoints"].pop(args[2], None) is not None:
            print('endpoints "%s" deleted' % args[2])
    elif len(args) == 5 and args[:2] == ["delete", "statefulset"] and args[3:] == ["--ignore-not-found", "--wait=false"]:
        if state["statefulsets"].pop(args[2], None) is not None:
            for pod in list(state["pods"].values()):
                if any(o.get("name") == args[2] for o in pod["metadata"].get("ownerReferences", [])):
                    delete_pod(state, pod["metadata"]["name"])
            print('statefulset.apps "%s" deleted' % args[2])
    elif len(args) == 6 and args[:3] == ["delete", "pods", "-l"] and args[4:] == ["--ignore-not-found", "--wait=false"]:
        key, value = args[3].split("=", 1)
        for pod in list(state["pods"].values()):
            if pod["metadata"]["labels"].get(key) == value:
                delete_pod(state, pod["metadata"]["name"])
    elif len(args) == 5 and args[:2] == ["delete", "pod"] and args[3:] == ["--ignore-not-found", "--wait=false"]:
        delete_pod(state, args[2])
    elif len(args) >= 7 and args[0] == "exec" and args[2:6] == ["-c", "zookeeper", "--", "sh"] and args[6] == "-c":
        pod = state["pods"].get(args[1])
        if pod is None or "running" not in pod["status"]["containerStatuses"][0]["state"]:
            fail('pod "%s" is not running' % args[1], 1)
        save(state)
        fcntl.flock(lock, fcntl.LOCK_UN)
        import subprocess
        sys.exit(subprocess.call(["sh", "-c", args[7]]))
    else:
        fail("unexpected arguments %r" % args)
    reconcile(state)
    save(state)


main()
