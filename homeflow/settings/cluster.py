"""`cluster`: several homeflow sharing one PostgreSQL journal, each owning some routines by lease
(`homeflow.leases`). `instance` names this one, `peers` every one (this one among them); `on_takeover`
says what the one that takes a routine over does with a run left going (`resume` it at the step that
was playing, or `interrupt` it; with `resume` a clean stop leaves its runs going for another live
instance to go on with), `lease` how long in seconds a lease lasts unrenewed."""

from __future__ import annotations

import re
from pathlib import Path

from homeflow.settings.checks import Checker, too_long
from homeflow.settings.model import Cluster, Database
from homeflow.settings.problems import index, quote
from homeflow.settings.yamlnodes import Node

_KEYS = ("instance", "peers", "on_takeover", "lease")
TAKEOVER = ("resume", "interrupt")
LEASE_S = (1.0, 60.0)  # renewed five times a lease: often enough, and at most 5 statements a second
# A name becomes a topic level, part of the MQTT client id and a row in the journal: short and plain.
MAX_INSTANCE_CHARS = 32
MAX_PEERS = 64
INSTANCE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def parse_cluster(ch: Checker, node: Node | None, journal: Path | Database) -> Cluster | None:
    if node is None:
        return None
    f = ch.fields(node, "cluster", _KEYS, required=("instance", "peers"))
    if not isinstance(journal, Database):
        ch.report(
            node,
            "cluster",
            "a cluster needs a PostgreSQL journal (journal: postgresql://…): its instances share it",
        )
    instance = _name(ch, f.get("instance"), "cluster.instance")
    peers: list[str] = []
    items = ch.items(f.get("peers"), "cluster.peers") or []
    if len(items) > MAX_PEERS:
        ch.report(f["peers"], "cluster.peers", f"too many ({len(items)}; at most {MAX_PEERS})")
        return None
    for position, item in enumerate(items):
        peer = _name(ch, item, index("cluster.peers", position))
        if peer is not None and peer in peers:
            ch.report(item, index("cluster.peers", position), f"{quote(peer)} is listed twice")
        elif peer is not None:
            peers.append(peer)
    on_takeover = ch.choice(f.get("on_takeover"), "cluster.on_takeover", "resume", TAKEOVER, "choice")
    lo, hi = LEASE_S
    lease_s = ch.number(f.get("lease"), "cluster.lease", None, lo=lo, hi=hi)
    if instance is None or "peers" not in f:
        return None
    if peers and instance not in peers:
        among = f"is not among cluster.peers ({', '.join(peers)})"
        ch.report(f["instance"], "cluster.instance", f"{quote(instance)} {among}")
    return Cluster(instance, tuple(peers), on_takeover, lease_s)


def _name(ch: Checker, node: Node | None, path: str) -> str | None:
    text = ch.text(node, path)
    if node is None or text is None:
        return None
    if len(text) > MAX_INSTANCE_CHARS:
        ch.report(node, path, too_long(len(text), MAX_INSTANCE_CHARS))
        return None
    if not INSTANCE.fullmatch(text):
        ch.report(
            node,
            path,
            f"{quote(text)} must be 1 to {MAX_INSTANCE_CHARS} lowercase letters, digits and - (it becomes"
            " an MQTT topic level and part of the client id)",
        )
        return None
    return text
