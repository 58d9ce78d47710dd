"""The log's Merkle tree: checkpoints from scratch and incrementally, proofs per second.

Run: ``.venv/bin/python -m bench.merkle [--leaves 1000000] [--events 22000]``. Lines:

- tree in memory: the tree over ``--leaves`` synthesised event hashes (SHA-256 of a counter),
  from scratch (``ledger.audit.merkle.Frontier``: every complete subtree's node made), then
  ``+1,000`` leaves on its right edge; the hashes each needed;
- store, synthesised: the same leaves written to a SQLite store's ``merkle_leaves`` and
  ``merkle_nodes`` a page of 2,000 a transaction as ``LogTree.extend`` writes them (leaf hashes
  and nodes, without reading events), a signed checkpoint of it, then ``+1,000``;
- inclusion and consistency proofs per second from that store (random leaf and sizes, each
  proof's nodes in one query), and from the nodes in memory;
- store, real: a SQLite store filled with claim lifecycles (``--events``), ``LogTree.extend``
  over its log from scratch (reading the events with their hashes), then ``+1,000`` events.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.replay_rate import EVENTS_PER_CLAIM, populate
from ledger.audit import merkle
from ledger.audit.checkpoints import Checkpoints
from ledger.audit.notes import Signer
from ledger.audit.tree import Leaf, LogTree
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.workload import bench_catalog

PAGE = 2000
MORE = 1000
PROOFS = 3000


def synthetic(count: int, start: int = 0) -> list[bytes]:
    return [hashlib.sha256(b"event %d" % i).digest() for i in range(start, start + count)]


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    found = run()
    return found, time.perf_counter() - started


def in_memory(leaves: int) -> tuple[dict[merkle.NodeKey, bytes], merkle.Frontier]:
    hashes = synthetic(leaves)
    edge, nodes = merkle.Frontier(), {}

    def build() -> bytes:
        for h in hashes:
            for level, index, node in edge.append(merkle.leaf_hash(h)):
                nodes[(level, index)] = node
        return edge.root()

    _, seconds = timed(build)
    inner = len(nodes) - leaves
    print(
        f"tree in memory, {leaves:,} leaves from scratch: {seconds:.2f} s "
        f"({leaves / seconds:,.0f} leaves/s; {leaves:,} leaf + {inner:,} node hashes)"
    )
    more = synthetic(MORE, leaves)
    grown = merkle.Frontier(edge.size, list(edge.edge))
    made, seconds = timed(
        lambda: [n for h in more for n in grown.append(merkle.leaf_hash(h))] + [grown.root()]
    )
    print(
        f"tree in memory, +{MORE:,} leaves: {seconds * 1000:.1f} ms "
        f"({len(made) - 1:,} nodes made, leaves included, then the root from "
        f"{grown.size.bit_count()} edge nodes)"
    )
    return nodes, edge


def write_synthetic(tree: LogTree, start: int, count: int) -> None:
    """Leaves ``start`` to ``start + count - 1`` written as ``LogTree.extend`` writes them."""
    size = start
    for first in range(start, start + count, PAGE):
        hashes = synthetic(min(PAGE, start + count - first), first)
        edge = merkle.Frontier(size, list(tree.root_nodes(size).values()))
        leaves = [
            Leaf(size + i, size + i + 1, size + i + 1, f"e{size + i}") for i in range(len(hashes))
        ]
        nodes = [n for h in hashes for n in edge.append(merkle.leaf_hash(h))]
        assert tree.tables.append(leaves, nodes)
        size += len(hashes)


def in_store(ledger: Ledger, leaves: int) -> LogTree:
    tree = LogTree.of(ledger)
    checkpoints, signer = Checkpoints(tree.tables), Signer.generate("bench.example/ledger")
    _, seconds = timed(lambda: write_synthetic(tree, 0, leaves))
    print(
        f"store (SQLite), {leaves:,} synthesised leaves from scratch: {seconds:.1f} s "
        f"({leaves / seconds:,.0f} leaves/s, leaves and nodes written)"
    )
    _, signed = timed(lambda: checkpoints.publish(tree, signer, "bench.example/ledger", _now()))
    print(
        f"  checkpoint of {tree.size():,} (root from the stored edge, signed, kept): "
        f"{signed * 1000:.1f} ms"
    )
    _, seconds = timed(lambda: write_synthetic(tree, leaves, MORE))
    _, signed = timed(lambda: checkpoints.publish(tree, signer, "bench.example/ledger", _now()))
    print(
        f"store (SQLite), +{MORE:,} leaves: {seconds * 1000:.1f} ms, then its checkpoint "
        f"{signed * 1000:.1f} ms"
    )
    return tree


def _now() -> datetime:
    return datetime.now(UTC)


def proof_rates(
    label: str,
    inclusion: Callable[[int, int], Any],
    consistency: Callable[[int, int], Any],
    size: int,
) -> None:
    rng = random.Random(7)
    pairs = [sorted((rng.randint(1, size), rng.randint(1, size))) for _ in range(PROOFS)]
    _, seconds = timed(lambda: [inclusion(a - 1, b) for a, b in pairs])
    _, consistent = timed(lambda: [consistency(a, b) for a, b in pairs])
    print(
        f"{label}, tree of {size:,}: inclusion {PROOFS / seconds:,.0f} proofs/s, "
        f"consistency {PROOFS / consistent:,.0f} proofs/s"
    )


def memory_proofs(nodes: dict[merkle.NodeKey, bytes], size: int) -> None:
    def inclusion(index: int, at: int) -> list[bytes]:
        return merkle.roots_of(merkle.inclusion_ranges(index, at), nodes)

    def consistency(old: int, new: int) -> list[bytes]:
        return merkle.roots_of(merkle.consistency_ranges(old, new), nodes)

    proof_rates("proofs from the nodes in memory", inclusion, consistency, size)


def real_store(directory: Path, events: int) -> None:
    claims = max(1, (events + MORE) // EVENTS_PER_CLAIM)
    settings = Settings(database_url=f"sqlite:///{directory / 'real.sqlite3'}")
    ledger = open_ledger(settings, bench_catalog(claims))
    try:
        written = populate(ledger, claims)
        tree = LogTree(ledger.event_log, LogTree.of(ledger).tables, page_size=MORE)
        size, seconds = timed(lambda: tree.extend(max_events=written - MORE))
        print(
            f"store (SQLite), real log, tree from scratch over {size:,} events: {seconds:.2f} s "
            f"({size / seconds:,.0f} events/s, reading the events with their hashes)"
        )
        grown, seconds = timed(tree.extend)
        print(f"store (SQLite), real log +{grown - size:,} events: {seconds * 1000:.1f} ms")
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=22_000)
    args = parser.parse_args()
    nodes, edge = in_memory(args.leaves)
    memory_proofs(nodes, edge.size)
    del nodes
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'synthetic.sqlite3'}")
        ledger = open_ledger(settings, bench_catalog(1))
        try:
            tree = in_store(ledger, args.leaves)
            proof_rates("proofs from the store", tree.inclusion, tree.consistency, tree.size())
        finally:
            ledger.close()
        real_store(Path(folder), args.events)


if __name__ == "__main__":
    main()
