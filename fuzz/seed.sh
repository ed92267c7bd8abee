#!/bin/sh
# Seeds the fuzz corpora from the repository: every scenario (scenarios/ and
# tests/malformed/) for the scenario target, and short traces that partsim
# writes for the trace target. Run from the repository root after
# `cargo build --release`.
set -e
mkdir -p fuzz/corpus/scenario fuzz/corpus/trace
cp scenarios/*.toml tests/malformed/*.toml fuzz/corpus/scenario/
for s in raft-elect quickstart node-crash-recover impostor-join; do
    t="fuzz/corpus/trace/$s.jsonl"
    target/release/partsim run "scenarios/$s.toml" --duration 400ms --trace "$t" >/dev/null || true
    # Small seeds keep the executions fast: the first 150 lines and the footer.
    { head -n 150 "$t"; tail -n 1 "$t"; } > "$t.short" && mv "$t.short" "$t"
done
