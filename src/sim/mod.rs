//! The deterministic kernel. It knows nothing about partitions: it runs
//! processes (sans-IO state machines) on virtual time, delivers their messages
//! through a faulty simulated network, and gives each a simulated disk.

#![warn(missing_docs)]

pub mod clock;
pub mod disk;
pub mod net;
pub mod observer;
pub mod probe;
pub mod process;
pub mod queue;
pub mod rng;
pub mod time;
pub mod world;

pub use clock::Clock;
pub use disk::{Disk, DiskFaults};
pub use net::{DropReason, NetConfig};
pub use observer::ObserverId;
pub use probe::Probes;
pub use process::{
    AppEvent, Event, EventKind, Message, MsgClass, NoEvent, Observer, ProcessId, Stamp, TimerKind,
    Violation,
};
pub use time::{SimDuration, SimTime};
pub use world::{Cx, PauseMode, Process, Status, TimerId, World};
