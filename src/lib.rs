//! partsim: a deterministic simulation testbed for a distributed partition manager.
//!
//! One process, one thread, virtual time. [`sim`] is the kernel (time, event
//! queue, seeded randomness, network, disk, the event loop); [`stack`] is the
//! system under test; [`scenario`] reads scenario files; [`trace`] writes and
//! reads JSON Lines traces; [`check`] holds the invariant checkers; [`run`]
//! ties them together for one run of a scenario. With the default features
//! `cli` and `tui` it is also the `partsim` command and its replay UI;
//! `default-features = false` leaves the library without clap, ratatui or
//! crossterm.
//!
//! # Tutorial: your own protocol on the kernel
//!
//! A protocol is a [`Process`](sim::Process): a sans-IO state machine whose
//! inputs are method calls and whose effects (sends, timers, disk writes,
//! trace events) go out through a [`Cx`](sim::Cx). Here a pinger asks a
//! ponger once every 10 ms over a network that loses a message in ten; the
//! world runs a simulated second, the same seed giving the same run.
//!
//! ```
//! use partsim::sim::{
//!     Cx, Message, NetConfig, NoEvent, Process, ProcessId, SimDuration, SimTime, TimerKind,
//!     World,
//! };
//!
//! #[derive(Clone, Debug)]
//! enum Msg {
//!     Ping(u64),
//!     Pong(u64),
//! }
//! impl Message for Msg {
//!     fn name(&self) -> &'static str {
//!         match self {
//!             Msg::Ping(_) => "Ping",
//!             Msg::Pong(_) => "Pong",
//!         }
//!     }
//! }
//!
//! #[derive(Copy, Clone, Debug)]
//! struct Tick;
//! impl TimerKind for Tick {
//!     fn name(&self) -> &'static str {
//!         "Tick"
//!     }
//! }
//!
//! /// Process 0 pings process 1, which answers; both count.
//! #[derive(Default)]
//! struct Peer {
//!     sent: u64,
//!     answered: u64,
//! }
//!
//! impl Process for Peer {
//!     type Msg = Msg;
//!     type Timer = Tick;
//!     type Event = NoEvent;
//!
//!     fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
//!         if cx.me() == ProcessId(0) {
//!             cx.set_timer(SimDuration::from_millis(10), Tick);
//!         }
//!     }
//!     fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: Msg) {
//!         match msg {
//!             Msg::Ping(n) => cx.send(from, Msg::Pong(n)),
//!             Msg::Pong(_) => self.answered += 1,
//!         }
//!     }
//!     fn on_timer(&mut self, cx: &mut Cx<'_, Self>, _: Tick) {
//!         self.sent += 1;
//!         cx.send(ProcessId(1), Msg::Ping(self.sent));
//!         cx.set_timer(SimDuration::from_millis(10), Tick);
//!     }
//! }
//!
//! let run = |seed: u64| {
//!     let net = NetConfig {
//!         drop_probability: 0.1,
//!         ..NetConfig::default()
//!     };
//!     let names = vec!["pinger".to_string(), "ponger".to_string()];
//!     let mut world = World::new(seed, names, net, Box::new(|_, _| Peer::default()));
//!     world.start(ProcessId(0));
//!     world.start(ProcessId(1));
//!     world.run_until(SimTime::ZERO + SimDuration::from_millis(1_000));
//!     let pinger = world.process(ProcessId(0)).expect("the pinger is up");
//!     (pinger.sent, pinger.answered)
//! };
//! let (sent, answered) = run(7);
//! assert_eq!(sent, 99, "ticks at 10, 20, …, 990 ms: run_until stops before its limit");
//! assert!(answered < sent, "a lossy network loses some round trips");
//! assert_eq!(run(7), (sent, answered), "same seed, same run");
//! ```
//!
//! From here: give the process events of its own (an [`AppEvent`](sim::AppEvent)
//! type) and a [`Checker`](check::Checker) over them, install a
//! [`Pipeline`](check::Pipeline) with a [`TraceWriter`](trace::TraceWriter)
//! with [`World::add_observer`](sim::World::add_observer) (its handle gives
//! it back, typed), and crash, pause, partition or skew processes through
//! [`World`](sim::World)'s fault methods — or let a
//! [`Timeline`](run::Timeline) apply a scenario file's faults.
//! `examples/lease_lock` does all of it for a lease-based lock service.

pub mod bench;
pub mod catalog;
pub mod check;
pub mod coverage;
pub mod hunt;
pub mod output;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod stack;
pub mod sweep;
pub mod sweep_merge;
pub mod trace;
#[cfg(feature = "tui")]
pub mod tui;
