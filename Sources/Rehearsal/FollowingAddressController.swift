import Foundation
import Hosts
import Migration
import MigrationPlanning
import Reports

/// Plays the platform behind addresses that follow their servers by themselves (strategy replace
/// with `stableAddress: {kind: follows}`): a Kubernetes Service whose selector picks the server's
/// pod, with `publishNotReadyAddresses` (the Endpoints controller adds the pod as soon as it
/// exists and removes it when it ends), or a DNS name the platform keeps up to date.
///
/// It runs beside the executor, started and stopped by the rehearsal, never by the executor: the
/// executor sees only the effect. Every `interval` it looks, in each candidate host's network
/// namespace, for a listener on the server's client port (read from `/proc`, no process started),
/// and rewrites the sandbox's service rules (kube-proxy's DNAT rules in every namespace) to point
/// the address at the one host whose server exists; at none when no server exists (its traffic
/// is rejected, as kube-proxy does for a Service without endpoints). When both servers exist it
/// leaves the address where it is: a real platform would send each connection to either, which
/// the prover refuses in a plan. Each change is an event of the report's timeline.
struct FollowingAddressController: Sendable {
    struct Address: Sendable {
        var address: String
        var port: Int
        /// The hosts whose server the address may reach (the old and the new one), by name and namespace.
        var hosts: [(name: String, namespace: String)]
    }

    var manager: SandboxManager
    var addresses: [Address]
    var timeline: TimelineRecorder
    var interval: Duration = .milliseconds(200)

    /// The addresses of a plan's servers that follow them, with the sandbox hosts behind each.
    static func addresses(of plan: Plan, sandboxes: [Sandbox]) -> [Address] {
        let hosts = Dictionary(sandboxes.flatMap { $0.hosts.map { ($0.name, $0.namespace) } }, uniquingKeysWith: { first, _ in first })
        var result: [Address] = []
        for server in plan.source.servers + plan.destination.servers where server.stableAddress?.kind == .follows {
            guard let namespace = hosts[server.host] else { continue }
            if let index = result.firstIndex(where: { $0.address == server.address }) {
                result[index].hosts.append((server.host, namespace))
            } else {
                result.append(Address(address: server.address, port: server.clientPort, hosts: [(server.host, namespace)]))
            }
        }
        return result
    }

    /// Until cancelled.
    func run() async {
        var current = (try? manager.serviceBackends()) ?? [:]
        let namespaces = addresses.flatMap { $0.hosts.map(\.namespace) }
        while !Task.isCancelled {
            let listening = NetworkNamespace.listeningPorts(in: namespaces)
            for address in addresses {
                let existing = address.hosts.filter { listening[$0.namespace]?.contains(address.port) == true }.map(\.name)
                let backend = current[address.address]
                // Both servers exist: a platform would send connections to either; stay where it points.
                if existing.count > 1 || existing.first == backend { continue }
                do {
                    // A re-point rewrites the rules of every namespace, one after another, and the
                    // control namespace's may be done (the executor's gate then passes, and the run
                    // may end) before the rest: it runs to its end unaffected by the rehearsal
                    // cancelling this loop, so that its event is recorded and no namespace is left
                    // half re-pointed.
                    let manager = manager
                    if let target = existing.first {
                        _ = try await Task { try await manager.pointService(address.address, at: target) }.value
                        current[address.address] = target
                        timeline.event(.addressFollowed, "platform re-pointed \(address.address) to \(target)", subject: target)
                    } else {
                        _ = try await Task { try await manager.pointServiceNowhere(address.address) }.value
                        current[address.address] = nil
                        timeline.event(.addressFollowed, "platform: no server behind \(address.address) (\(backend ?? "none") has none); it points nowhere", subject: backend)
                    }
                } catch {
                    timeline.event(.note, "platform could not re-point \(address.address): \(error)")
                }
            }
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
        }
    }
}
