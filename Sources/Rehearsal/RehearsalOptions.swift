import Foundation
public import Ensemble
public import Hosts
public import Migration
public import MigrationPlanning

/// What a rehearsal builds, loads and does. The defaults are `mitosis rehearse` with no
/// arguments: a 3-server 3.8.0 source, an empty 3-server destination, Kafka-shaped load and
/// numbered writers, the mitosis strategy end to end. With strategy copy the destination runs
/// and holds another application's data from the start.
public struct RehearsalOptions: Sendable {
    public var strategy: StrategyKind
    public var sourceVersion: ZooKeeperDistribution
    public var destinationVersion: ZooKeeperDistribution
    public var sourceServers: Int
    public var destinationServers: Int
    /// Znodes in the data set loaded before the migration (under /rehearsal/data).
    public var dataNodes: Int
    /// Simulated Kafka brokers (the client group that moves).
    public var brokers: Int
    /// Numbered writers (a second client group that moves) and their rate each.
    public var writers: Int
    public var writesPerSecond: Double
    /// The pause between restarts of a rolling restart.
    public var rollingRestartPause: Duration
    /// Kill (SIGKILL) a source server when this step starts; a supervisor brings it back after
    /// ``serverDowntime``.
    public var killServerAt: StepID?
    public var serverDowntime: Duration
    /// Stop the executor when this step starts, as if the tool were killed, then resume it from
    /// its journal.
    public var killToolAt: StepID?
    /// The sandbox network (namespace prefix); unique per process by default.
    public var networkID: String
    /// Where the report, the plan and the journal go.
    public var outputDirectory: String
    /// Leave the sandboxes running afterwards (for a look around); `mitosis sandbox down --all` with the network id removes them.
    public var keepSandboxes: Bool
    public var gateTimeout: Duration
    /// The rehearsal's own tick: ZooKeeper's tickTime in the sandbox.
    public var tickTime: Int
    /// Block & copy: how long the plan declares the clients stopped (the block window). The
    /// rehearsal's data set is small, so its window is far shorter than a production plan's.
    public var copyBlockWindow: Duration
    /// Restart the source's first leader before the plan runs, so that another server leads (a
    /// fresh ensemble elects its highest id, which rolling restarts reach last anyway).
    public var moveLeadership: Bool = false
    /// Strategy replace: how the stable addresses follow the servers (interface addresses moved
    /// with `ip addr`, service addresses whose DNAT rules the plan points at the new host, or
    /// addresses that follow the servers by themselves: the same DNAT rules, pointed by a
    /// controller that plays the platform beside the executor).
    public var stableAddressKind: StableAddress.Kind = .interface
    /// Strategy replace with service addresses: start from servers and clients on the hosts' own
    /// addresses (HubSpot before its phases 2 and 3), so that the plan runs all four phases.
    public var fromHostAddresses: Bool = false
    /// The time between the census's `cons` readings (three per census), as `mitosis run` takes them.
    public var censusInterval: Duration = .seconds(1)
    /// How long the census waits after the last step that changed servers (``CensusPolicy/settle``).
    public var censusSettle: Duration = .seconds(5)
    /// Run the source (and the destination) with `reconfigEnabled=true` whatever the strategy:
    /// mitosis then joins the destination by reconfig instead of rolling restarts of the source.
    public var reconfigEnabled: Bool = false

    public init(
        strategy: StrategyKind = .mitosis, sourceVersion: ZooKeeperDistribution = .v3_8_0, destinationVersion: ZooKeeperDistribution? = nil,
        sourceServers: Int = 3, destinationServers: Int = 3, dataNodes: Int = 2000, brokers: Int = 3, writers: Int = 2,
        writesPerSecond: Double = 20, rollingRestartPause: Duration = .seconds(3), killServerAt: StepID? = nil,
        serverDowntime: Duration = .seconds(4), killToolAt: StepID? = nil, networkID: String? = nil, outputDirectory: String? = nil,
        keepSandboxes: Bool = false, gateTimeout: Duration = .seconds(120), tickTime: Int = 1000,
        copyBlockWindow: Duration = .seconds(30)
    ) {
        self.strategy = strategy
        self.sourceVersion = sourceVersion
        self.destinationVersion = destinationVersion ?? sourceVersion
        self.sourceServers = sourceServers
        self.destinationServers = destinationServers
        self.dataNodes = dataNodes
        self.brokers = brokers
        self.writers = writers
        self.writesPerSecond = writesPerSecond
        self.rollingRestartPause = rollingRestartPause
        self.killServerAt = killServerAt
        self.serverDowntime = serverDowntime
        self.killToolAt = killToolAt
        self.networkID = networkID ?? "mr\(ProcessInfo.processInfo.processIdentifier)"
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        self.outputDirectory = outputDirectory ?? "mitosis-rehearsal-\(stamp)"
        self.keepSandboxes = keepSandboxes
        self.gateTimeout = gateTimeout
        self.tickTime = tickTime
        self.copyBlockWindow = copyBlockWindow
    }
}
