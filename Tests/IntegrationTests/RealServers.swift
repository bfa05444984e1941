import Testing

/// Every test that starts real ZooKeeper servers lives under this suite, which runs one test at a
/// time: two cores cannot host several ensembles at once without distorting every measurement.
@Suite(.serialized) enum RealServers {}
