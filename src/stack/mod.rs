//! The system under test: the partition manager's components, each a sans-IO
//! struct in its own file (DESIGN §3), and the process types that host them.

pub mod client;
pub mod cluster;
pub mod consensus;
pub mod coordinator;
pub mod demo;
pub mod distribution;
pub mod encoding;
pub mod events;
pub mod grid;
pub mod health;
pub mod host;
pub mod members;
pub mod network;
pub mod node;
pub mod node_id;
pub mod plan;
pub mod planted;
pub mod points;
pub mod rank;
pub mod recovery;
pub mod replication;
pub mod storage;
pub mod workload;
