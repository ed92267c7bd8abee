//! Raft checkers: election_safety, log_matching, leader_elected (being written).
