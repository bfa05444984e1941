public import Ensemble

extension StrategyKind {
    /// What the strategy asks of the source's and the destination's releases.
    public var versionNeeds: Set<VersionPairNeed> {
        switch self {
        // The destination's servers join the source's ensemble (as voters, as observers, or in
        // place of a source server), so servers of both releases elect and replicate together.
        // Mitosis joins by reconfig only where both releases have it and the source's own files
        // enable it (``SourceReconfig/observe(source:destination:estate:)``), by rolling restarts
        // otherwise (3.4): reconfig is a way it takes, never a need.
        case .mitosis, .mitosisObservers, .replace: return [.sharedQuorum]
        case .reconfig: return [.sharedQuorum, .reconfigOnEveryServer]
        // Block & copy reads the source and writes the destination as a client: the two ensembles
        // never share a server, whatever their releases.
        case .copy: return []
        }
    }
}

extension Planner {
    /// Whether `strategy` can move an ensemble of `source` onto servers of `destination`.
    public static func versionVerdict(
        _ strategy: StrategyKind, source: ZooKeeperVersion, destination: ZooKeeperVersion
    ) -> VersionPairVerdict {
        ZooKeeperVersion.pair(source, destination, needs: strategy.versionNeeds)
    }

    /// The strategies whose version needs `source` → `destination` meets (always at least copy).
    public static func possibleStrategies(source: ZooKeeperVersion, destination: ZooKeeperVersion) -> [StrategyKind] {
        StrategyKind.allCases.filter { versionVerdict($0, source: source, destination: destination).isPossible }
    }

    /// Why `strategy` cannot move `source` onto `destination`, with the rule's sources and the
    /// strategies that are possible for the pair; nil when it can.
    public static func versionRefusal(_ strategy: StrategyKind, source: ZooKeeperVersion, destination: ZooKeeperVersion) -> String? {
        guard let rule = versionVerdict(strategy, source: source, destination: destination).refusals.first else { return nil }
        let possible = possibleStrategies(source: source, destination: destination)
        return "\(rule.description). Strategies possible for \(source) → \(destination): \(possible.map(\.rawValue).joined(separator: ", "))"
    }

    /// Refuses a strategy the two ensembles' releases do not allow.
    static func checkVersionPair(
        _ strategy: StrategyKind, source: PlanEnsemble, destination: PlanEnsemble
    ) throws(PlanningError) {
        guard let refusal = versionRefusal(strategy, source: source.version, destination: destination.version) else { return }
        throw PlanningError(
            .unsupportedVersion, strategy: strategy,
            "ensemble '\(source.name)' runs ZooKeeper \(source.version) and '\(destination.name)' \(destination.version): \(refusal)")
    }
}
