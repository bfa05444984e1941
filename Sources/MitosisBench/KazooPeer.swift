/// The peer measured in the same run: kazoo's async API, pipelined with the same window.
/// Completion times are taken in kazoo's own callbacks (rawlink), not when we get around to them.
enum KazooPeer {
    static let script = #"""
import json, resource, sys, threading, time
from kazoo.client import KazooClient

hosts, prefix, count, window, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
zk = KazooClient(hosts=hosts, timeout=10)
zk.start(timeout=15)
zk.ensure_path(prefix)
payload = b"x" * size

def run(op):
    latencies = []
    slots = threading.Semaphore(window)
    done = threading.Event()
    remaining = [count]
    lock = threading.Lock()
    errors = [0]
    def finished(start):
        def callback(result):
            elapsed = time.perf_counter() - start
            if result.exception is not None:
                errors[0] += 1
            with lock:
                latencies.append(elapsed)
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()
            slots.release()
        return callback
    began = time.perf_counter()
    cpu_began = time.process_time()
    usage_began = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(count):
        slots.acquire()
        path = "%s/k%08d" % (prefix, i)
        start = time.perf_counter()
        result = zk.create_async(path, payload) if op == "create" else zk.get_async(path)
        result.rawlink(finished(start))
    done.wait()
    total = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    switches = (usage.ru_nvcsw + usage.ru_nivcsw) - (usage_began.ru_nvcsw + usage_began.ru_nivcsw)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6
    return {"op": op, "count": count, "seconds": total, "cpu_seconds": cpu, "context_switches": switches, "errors": errors[0],
            "p50_us": pick(0.50), "p99_us": pick(0.99), "p999_us": pick(0.999)}

results = [run("create"), run("get")]
zk.stop()
zk.close()
print(json.dumps(results))
"""#
}
