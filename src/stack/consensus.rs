//! ConsensusManager: Raft over the cluster-map log (being written).
