public import Ensemble

// Latin1, ServiceState, PeerBlock and shellQuoted live in Ensemble, since plans and runbooks name
// them too and planning does not depend on Hosts. Their names stay visible to code that imports
// only Hosts (the drivers, their users); new code may import Ensemble instead.
public typealias Latin1 = Ensemble.Latin1
public typealias ServiceState = Ensemble.ServiceState
public typealias PeerBlock = Ensemble.PeerBlock

/// Quotes a string for `sh` (``Ensemble/shellQuoted(_:)``; disfavoured, so that a file importing
/// both modules calls that one without ambiguity).
@_disfavoredOverload
public func shellQuoted(_ text: String) -> String { Ensemble.shellQuoted(text) }
