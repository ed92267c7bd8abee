//! Chrome Trace Event export (being written).
