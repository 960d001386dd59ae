"""What the README tells a newcomer to type works as written: the MQTT examples, `homeflow init` then
`homeflow run` in that folder, the curl examples with the token where `init` put it, and the test
command that `.ci/run` runs."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeflow.defaults import BUNDLED, settings_file

from .conftest import REPO
from .harness import collecting
from .mosquitto import Broker, free_port
from .process import HOMEFLOW, Homeflow, start_homeflow

README = (REPO / "README.md").read_text()


def readme_lines(start: str) -> list[str]:
    """The README's shell lines that begin with `start`."""
    return [line for line in README.splitlines() if line.startswith(start)]


def section(title: str) -> str:
    body = README.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


@pytest.fixture
def started() -> Iterator[list[Homeflow]]:
    processes: list[Homeflow] = []
    yield processes
    for homeflow in processes:
        homeflow.kill()


def test_the_readme_mqtt_examples_start_the_routine(tmp_path: Path, started: list[Homeflow]) -> None:
    # What `bash scripts/run` runs: config/homeflow.yaml, its routines where it says.
    settings = tmp_path / "homeflow.yaml"
    example = (REPO / "config" / "homeflow.yaml").read_text()
    routines = str(REPO / "homeflow" / "defaults" / "routines")
    settings.write_text(example.replace("../homeflow/defaults/routines/", routines))
    port = free_port()
    homeflow = start_homeflow(tmp_path / "home", port, "", args=("-c", str(settings)))
    started.append(homeflow)
    homeflow.wait_healthy()

    examples = readme_lines("mosquitto_pub ")
    assert len(examples) == 2
    for example in examples:
        assert "-h 127.0.0.1 -p 1883 " in example, example  # the broker `scripts/run` uses, said
    button, command = (e.replace("-p 1883 ", f"-p {port} ") for e in examples)

    async def press() -> None:
        state = "homeflow/back-massage/state"
        async with collecting(Broker("127.0.0.1", port), "watcher", state) as seen:
            for example in (button, command):
                await seen.wait_for(state, lambda m: m.json["state"] == "idle")
                since = len(seen.messages)
                typed = await asyncio.create_subprocess_exec("bash", "-c", example)
                assert await asyncio.wait_for(typed.wait(), 10) == 0
                await seen.wait_for(state, lambda m: m.json["state"] == "running", since=since)
                await seen.client.publish("homeflow/back-massage/set", "cancel", qos=1)
                await seen.wait_for(state, lambda m: m.json["state"] == "idle", since=since)

    asyncio.run(press())
    assert homeflow.terminate() == 0


def test_init_then_run_in_that_folder_and_the_readme_curl_examples(
    tmp_path: Path, started: list[Homeflow]
) -> None:
    folder = tmp_path / "mine"
    subprocess.run([*HOMEFLOW, "init", str(folder)], check=True, capture_output=True, timeout=30)
    # `homeflow run` in the folder, no -c: its homeflow.yaml, not the bundled settings.
    homeflow = start_homeflow(tmp_path / "home", free_port(), "", cwd=folder)
    started.append(homeflow)
    homeflow.wait_healthy()
    assert "bundled settings" not in homeflow.log()

    block = section("HTTP API").split("```sh\n", 1)[1].split("```", 1)[0]
    token, *calls = (line for line in block.splitlines() if line.strip())
    assert token.startswith("TOKEN=")
    here = f"127.0.0.1:{homeflow.http_port}"
    answers = []
    for typed in calls:
        # The events are followed for good: two seconds of them are enough.
        call = typed.replace("127.0.0.1:8765", here).replace("curl -sN ", "curl -sN --max-time 2 ")
        done = subprocess.run(["bash", "-c", f"{token}\n{call}"], cwd=folder, capture_output=True, text=True)
        assert done.returncode in (0, 28), (call, done.stderr)  # 28: --max-time ran out
        answers.append(done.stdout)
    health, routines, start, runs, events = answers
    assert json.loads(health)["status"] == "ok"
    assert [r["id"] for r in json.loads(routines)["routines"]] == ["back-massage", "back-massage-de"]
    assert json.loads(start)["result"] == "started by web"
    assert "runs" in json.loads(runs)
    assert "event: state" in events
    assert homeflow.terminate() == 0
    assert (folder / "homeflow.db").is_file()  # the journal beside its settings
    assert not (homeflow.home / "data" / "homeflow").exists()


def test_ci_runs_the_readme_test_command_in_a_venv() -> None:
    command = re.search(r"The test command is `([^`]+)`", README)
    assert command is not None
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and line[0] != "#"]
    assert ci[-1] == command[1]  # exactly what the README says
    # Debian's Python refuses a system-wide pip install: every pip runs in the venv.
    for line in ci:
        if "pip install" in line:
            assert shlex.split(line)[0] == ".venv/bin/python", line


def test_what_the_setup_section_types_is_installed_by_the_scripts() -> None:
    setup = section("Set-up: two commands")
    # After `bash scripts/run`, homeflow is in the venv, not on PATH.
    for command in re.findall(r"`([^`]*\bhomeflow (?:run|init|check)[^`]*)`", setup):
        assert command.startswith(".venv/bin/homeflow "), command
    # mosquitto_pub comes with mosquitto-clients, which both scripts install.
    assert "mosquitto_pub" in setup
    for script in ("scripts/run", ".ci/run"):
        text = (REPO / script).read_text()
        assert "mosquitto-clients" in text, script


def test_settings_file_is_option_environment_here_config_then_bundled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOMEFLOW_CONFIG", raising=False)
    assert settings_file(None) == BUNDLED
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "homeflow.yaml").write_text("")
    assert settings_file(None) == Path("config/homeflow.yaml")
    (tmp_path / "homeflow.yaml").write_text("")  # what `homeflow init .` writes
    assert settings_file(None) == Path("homeflow.yaml")
    monkeypatch.setenv("HOMEFLOW_CONFIG", "/elsewhere.yaml")
    assert settings_file(None) == Path("/elsewhere.yaml")
    assert settings_file(Path("given.yaml")) == Path("given.yaml")
    # The README says so, in this order.
    said = " ".join(README.split())
    assert "`-c` defaults to `$HOMEFLOW_CONFIG`, then `homeflow.yaml` in the working directory, then" in said
    assert "in the working directory, then `config/homeflow.yaml` if it exists, then the settings" in said
