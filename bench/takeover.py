"""Take-over time: how long after its owner dies another homeflow goes on with a running routine.

Three `homeflow run` processes share one PostgreSQL journal (a throwaway cluster, as the tests start it)
and 10 rooms, each with a routine going and a simulated Zigbee2MQTT lamp; the owner of running routines is
killed with SIGKILL at a random point of the runs and started again, `--kills` times. For each kill: the
time from the SIGKILL until another instance has gone on with the last of the runs the killed one owned.
With `on_takeover: resume` that is when the run's `resumed` event arrives (the taker says "Continuing
with: …" right after); with `interrupt`, when its lamp is given back; a run that had just ended counts
when the journal shows it closed. The cluster, the kills and the measurement are the take-over fault
test's (tests/takeovers.py), which runs them with a lease of 1 s.
Each `--lease` is measured in turn; homeflow's default (3 s) is left out of the settings, as a home has
it. Leases are renewed every lease/5.
Run: `python -m bench.takeover [--kills 20] [--interrupt-kills 10] [--lease 5 4 3]`. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import machine, mosquitto, percentile
from homeflow.leases import LEASE_S, RENEW_S
from tests.mosquitto import Broker
from tests.postgres import Postgres
from tests.takeovers import PEERS, ROOMS, TIME_SCALE, cluster

WITHIN_S = 5.0  # the take-over the figures are held against
SEED = 16


async def measure(
    broker: Broker,
    server: Postgres,
    folder: Path,
    prefix: str,
    *,
    lease_s: float,
    on_takeover: str,
    kills: int,
) -> dict[str, Any]:
    default = lease_s == LEASE_S
    async with cluster(
        folder,
        broker,
        prefix,
        server.database(),
        on_takeover=on_takeover,
        lease_s=None if default else lease_s,
    ) as homes:
        done = await homes.kill_again_and_again(kills, random.Random(SEED), within=2 * lease_s + 10)
    took = [kill.took for kill in done if kill.runs]  # a kill whose runs had all just ended is left out
    waited = [wait for kill in done for wait in kill.waited.values()]
    return {
        "lease_s": lease_s,
        "renew_s": RENEW_S if default else lease_s / 5,
        "default": default,
        "on_takeover": on_takeover,
        "kills": len(took),
        "runs": len(waited),
        "p50_s": round(percentile(took, 50), 2),
        "p90_s": round(percentile(took, 90), 2),
        "max_s": round(max(took), 2),
        "min_s": round(min(took), 2),
        "within_5_s": sum(t <= WITHIN_S for t in took),
        "run_p50_s": round(percentile(waited, 50), 2),
        "run_max_s": round(max(waited), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20, help="kills with `on_takeover: resume`")
    parser.add_argument("--interrupt-kills", type=int, default=10, help="kills with `on_takeover: interrupt`")
    parser.add_argument(
        "--lease", type=float, nargs="+", default=[5.0, 4.0, LEASE_S], help="lease lengths, s"
    )
    args = parser.parse_args()
    measured = datetime.now(UTC)
    rows = []
    with mosquitto() as port, tempfile.TemporaryDirectory() as tmp:
        server = Postgres()
        server.start()
        try:
            for n, (lease_s, on_takeover, kills) in enumerate(
                (lease_s, on_takeover, kills)
                for lease_s in args.lease
                for on_takeover, kills in (("resume", args.kills), ("interrupt", args.interrupt_kills))
                if kills > 0
            ):
                folder = Path(tmp) / str(n)
                broker = Broker("127.0.0.1", port)
                rows.append(
                    await measure(
                        broker,
                        server,
                        folder,
                        f"bench{n}",
                        lease_s=lease_s,
                        on_takeover=on_takeover,
                        kills=kills,
                    )
                )
        finally:
            server.stop()
    report = {
        "measured": f"{measured:%Y-%m-%d %H:%M}",
        "machine": machine(),
        "instances": len(PEERS),
        "rooms": len(ROOMS),
        "time_scale": float(TIME_SCALE),
        "rows": rows,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
