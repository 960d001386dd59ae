"""`homeflow check --probe` on a local speaker plays a moment of silence through its player: a machine
without a sound device says so, a player that hangs is given up on."""

from __future__ import annotations

import time
import wave
from pathlib import Path

from homeflow.probe import PROBE_TIMEOUT_S, probe
from homeflow.settings import load

from .harness import write_settings
from .mosquitto import Broker, free_port


def player(folder: Path, name: str, body: str) -> Path:
    script = folder / f"{name}.sh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


async def test_a_local_speaker_answers_only_when_its_player_plays(tmp_path: Path) -> None:
    played = tmp_path / "played"
    plays = player(tmp_path, "plays", f'cp "$1" {played}')
    # What aplay says on a machine without a sound card.
    no_card = "aplay: main:831: audio open error: No such file or directory"
    deaf = player(tmp_path, "deaf", f"echo '{no_card}' >&2; exit 1")
    hangs = player(tmp_path, "hangs", "exec sleep 60")
    config = write_settings(
        tmp_path,
        Broker("127.0.0.1", free_port()),
        "probe",
        f"speakers:\n  here: {{local: {{player: {plays}}}}}\n  deaf: {{local: {{player: {deaf}}}}}\n"
        f"  stuck: {{local: {{player: {hangs}}}}}\n",
    )
    started = time.monotonic()
    answers = {a.name: a for a in await probe(load(config))}
    assert time.monotonic() - started < PROBE_TIMEOUT_S + 2

    assert answers["here"].ok, answers["here"]
    with wave.open(str(played)) as clip:  # the player was given a real WAV file: silence
        assert clip.getnframes() > 0
        assert set(clip.readframes(clip.getnframes())) == {0}
    assert str(answers["deaf"]) == f"speaker deaf: no answer (player `{deaf}` failed: {no_card})"
    assert str(answers["stuck"]) == (
        f"speaker stuck: no answer (player `{hangs}` did not play a moment of silence within "
        f"{PROBE_TIMEOUT_S:g} s)"
    )
