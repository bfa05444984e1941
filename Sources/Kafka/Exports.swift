// Kafka's pure values and planners live in `KafkaPlanning` (no NIO client, no hosts), which the
// planning module uses on its own; everything that imports `Kafka` sees them as before.
@_exported import KafkaPlanning
