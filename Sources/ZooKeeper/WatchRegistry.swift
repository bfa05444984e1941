import ZooKeeperProtocol

/// Which server-side watch a read sets.
public enum WatchKind: Sendable, Hashable {
    /// Set by getData, or by exists on a node that exists.
    case data
    /// Set by exists on a node that does not exist.
    case exist
    /// Set by getChildren.
    case child
}

/// The client's record of armed watches, keyed by client path. Generic over the waiter so the
/// dispatch rules are tested without promises.
///
/// The rules are the Java client's (`ZKWatchManager.materialize`): a created or changed node fires
/// its data and exist watches, a deleted node fires data, exist and child watches, a changed child
/// list fires child watches. Every watch fires once.
struct WatchRegistry<Waiter> {
    private(set) var data: [String: [Waiter]] = [:]
    private(set) var exist: [String: [Waiter]] = [:]
    private(set) var child: [String: [Waiter]] = [:]

    var isEmpty: Bool { data.isEmpty && exist.isEmpty && child.isEmpty }
    var count: Int { data.values.reduce(0) { $0 + $1.count } + exist.values.reduce(0) { $0 + $1.count } + child.values.reduce(0) { $0 + $1.count } }

    mutating func add(_ waiter: Waiter, kind: WatchKind, path: String) {
        switch kind {
        case .data: data[path, default: []].append(waiter)
        case .exist: exist[path, default: []].append(waiter)
        case .child: child[path, default: []].append(waiter)
        }
    }

    /// Removes and returns the waiters an event fires.
    mutating func fire(_ type: WatchEventType, path: String) -> [Waiter] {
        var fired: [Waiter] = []
        switch type {
        case .nodeCreated, .nodeDataChanged:
            fired += data.removeValue(forKey: path) ?? []
            fired += exist.removeValue(forKey: path) ?? []
        case .nodeDeleted:
            fired += data.removeValue(forKey: path) ?? []
            fired += exist.removeValue(forKey: path) ?? []
            fired += child.removeValue(forKey: path) ?? []
        case .nodeChildrenChanged:
            fired += child.removeValue(forKey: path) ?? []
        case .dataWatchRemoved:
            fired += data.removeValue(forKey: path) ?? []
            fired += exist.removeValue(forKey: path) ?? []
        case .childWatchRemoved:
            fired += child.removeValue(forKey: path) ?? []
        default:
            break
        }
        return fired
    }

    /// Removes and returns every waiter (the session expired or the client closed).
    mutating func removeAll() -> [Waiter] {
        let all = data.values.flatMap { $0 } + exist.values.flatMap { $0 } + child.values.flatMap { $0 }
        data = [:]
        exist = [:]
        child = [:]
        return all
    }

    /// The `SetWatches` request that re-arms every watch on a new connection of the same session,
    /// split so no request exceeds `maximumBytes` (the server refuses larger packets).
    func setWatchesRequests(relativeZxid: Zxid, serverPath: (String) -> String, maximumBytes: Int = 128 * 1024) -> [SetWatchesRequest] {
        var requests: [SetWatchesRequest] = []
        var current = SetWatchesRequest(relativeZxid: relativeZxid, dataWatches: [], existWatches: [], childWatches: [])
        var size = 0
        func append(_ path: String, _ keyPath: WritableKeyPath<SetWatchesRequest, [String]>) {
            let cost = path.utf8.count + 4
            if size + cost > maximumBytes && size > 0 {
                requests.append(current)
                current = SetWatchesRequest(relativeZxid: relativeZxid, dataWatches: [], existWatches: [], childWatches: [])
                size = 0
            }
            current[keyPath: keyPath].append(path)
            size += cost
        }
        for path in data.keys.sorted() { append(serverPath(path), \.dataWatches) }
        for path in exist.keys.sorted() { append(serverPath(path), \.existWatches) }
        for path in child.keys.sorted() { append(serverPath(path), \.childWatches) }
        if size > 0 { requests.append(current) }
        return requests
    }
}
