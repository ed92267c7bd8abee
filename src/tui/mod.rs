//! The replay TUI (being written).
