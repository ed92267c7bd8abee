//! The events of whoever drives a run — a scenario runner's fault steps and
//! its notes — as they are traced beside the kernel's and the processes'
//! own. The kernel only numbers them (`World::emit_outside`); their kinds
//! belong to the trace format (DESIGN §6), not to the kernel.

use serde::Serialize;

/// Whether a fault begins or ends.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The fault starts.
    Begin,
    /// The fault ends.
    End,
}

impl Phase {
    /// The name used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Begin => "begin",
            Phase::End => "end",
        }
    }
}

/// An event of the run's driver. Serialized as the rest of its trace line:
/// `{"ev":"fault","fault":3,"kind":"crash","phase":"begin","detail":"n3"}`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum StepEvent<'a> {
    /// A step of the fault timeline began or ended (`kind` names the action).
    Fault {
        /// The step's number, shared by its begin and end.
        fault: u32,
        /// The action, e.g. `"crash"`.
        kind: &'a str,
        /// Begin or end.
        phase: Phase,
        /// What it acted on, readable.
        detail: &'a str,
    },
    /// Something worth reading in the trace (e.g. a selector that matched nobody).
    Note {
        /// The text.
        text: &'a str,
    },
}

impl StepEvent<'_> {
    /// The `"ev"` name of this event in the trace.
    pub fn kind(&self) -> &'static str {
        match self {
            StepEvent::Fault { .. } => "fault",
            StepEvent::Note { .. } => "note",
        }
    }
}
