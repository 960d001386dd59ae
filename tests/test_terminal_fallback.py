"""The terminal fallback: when the local player fails (not installed, no sound device, exits), every
sentence of every run is still printed (`say: …`), with one warning per run, through a real broker and
real espeak-ng clips."""

from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path

import pytest

from homeflow.journal import open_journal
from homeflow.settings import load
from homeflow.speech import engine_problem

from .harness import collecting, serving, write_settings
from .mosquitto import Broker

TALK = """\
name: Talk
steps:
  - title: Begin
    do:
      - say: Settle in.
      - say: Breathe out slowly.
  - title: Close
    do:
      - say: Roll the ball up.
      - say: Done.
"""
SENTENCES = ["Settle in.", "Breathe out slowly.", "Roll the ball up.", "Done."]
# aplay's words when the machine has no sound card.
NO_CARD = "aplay: main:831: audio open error: No such file or directory"


def players(folder: Path) -> dict[str, dict[str, str]]:
    """A local speaker's settings for each way sound fails."""
    exits = folder / "no-card"
    exits.write_text(f"#!/bin/sh\necho {shlex.quote(NO_CARD)} >&2\nexit 1\n")
    exits.chmod(0o755)
    return {
        "missing": {"stream_player": "no-such-player -r {rate}"},
        "no sound device": {"stream_player": str(exits)},
        "file player exits": {"player": str(exits)},
    }


@pytest.mark.skipif(
    engine_problem() is not None, reason="needs espeak-ng: clips are rendered, then not played"
)
@pytest.mark.parametrize("failing", ["missing", "no sound device", "file player exits"])
async def test_every_sentence_of_every_run_is_printed_when_the_player_fails(
    tmp_path: Path,
    broker: Broker,
    prefix: str,
    *,
    speech_cache: Path,
    failing: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = f"{prefix}/hf"
    speakers = {"room": {"local": players(tmp_path)[failing]}}
    body = f"speakers: {json.dumps(speakers)}\nautomations: [{{routine: talk, speakers: [room]}}]\n"
    config = write_settings(tmp_path, broker, prefix, body, {"talk": TALK}, cache=speech_cache)
    runs: list[list[str]] = []
    with caplog.at_level(logging.INFO, logger="homeflow"):
        async with collecting(broker, f"{prefix}-watch", f"{base}/#") as watch, serving(config, watch, base):
            state = f"{base}/talk/state"
            for _ in range(2):
                mark, since = len(caplog.records), len(watch.messages)
                await watch.client.publish(f"{base}/talk/set", "start", qos=1)
                running = await watch.wait_for(state, lambda m: m.json["state"] == "running", since=since)
                ran = watch.messages.index(running)
                await watch.wait_for(state, lambda m: m.json["state"] == "idle", since=ran)
                runs.append([r.getMessage() for r in caplog.records[mark:] if r.levelno >= logging.INFO])
    for messages in runs:
        assert [m.removeprefix("say: ") for m in messages if m.startswith("say: ")] == SENTENCES
        warnings = [m for m in messages if "failed" in m]
        assert len(warnings) == 1, messages
        assert warnings[0].startswith("speaker room: player `") and warnings[0].endswith(
            "; its sentences are printed here (say: …)"
        )
        assert "skipped" not in " ".join(messages)
    if failing != "missing":  # the player's own reason
        assert [
            m
            for m in runs[0]
            if "failed" in m and m.endswith(f"{NO_CARD}; its sentences are printed here (say: …)")
        ]
    with open_journal(load(config).journal) as journal:  # each sentence not heard is written down
        failures = journal.speaker_failures(journal.runs(limit=1)[0].id)
    assert [f["error"].startswith("printed: player `") for f in failures] == [True] * len(SENTENCES)
