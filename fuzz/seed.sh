#!/bin/sh
# Seeds the fuzz corpora from the repository: every scenario (scenarios/ and
# tests/malformed/) for the scenario target, short traces that partsim
# writes for the trace target, and the client histories of the data
# scenarios (`partsim history`, EDN and JSON) for the lincheck target. Run from the repository root after
# `cargo build --release`.
set -e
mkdir -p fuzz/corpus/scenario fuzz/corpus/trace fuzz/corpus/lincheck
cp scenarios/*.toml tests/malformed/*.toml fuzz/corpus/scenario/
for s in raft-elect quickstart node-crash-recover impostor-join; do
    t="fuzz/corpus/trace/$s.jsonl"
    target/release/partsim run "scenarios/$s.toml" --duration 400ms --trace "$t" >/dev/null || true
    # Small seeds keep the executions fast: the first 150 lines and the footer.
    { head -n 150 "$t"; tail -n 1 "$t"; } > "$t.short" && mv "$t.short" "$t"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in move-under-load primary-crash-under-load primary-partitioned primary-paused \
    skewed-clocks-reads replica-disk-loss chaos; do
    target/release/partsim run "scenarios/$s.toml" --duration 3s --trace "$tmp/$s.jsonl" >/dev/null || true
    for f in edn json; do
        h="fuzz/corpus/lincheck/$s.$f"
        target/release/partsim history "$tmp/$s.jsonl" --format "$f" > "$h" || true
        # Short seeds: 150 lines keep each execution fast.
        head -n 150 "$h" > "$h.short" && mv "$h.short" "$h"
    done
done
