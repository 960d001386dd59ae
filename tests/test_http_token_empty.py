"""An empty http.token is a mistake, never "no token": `check` refuses it wherever it comes from, and
the web server refuses to start with one."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web

from homeflow.settings.model import HttpSettings
from homeflow.web.server import WebError, run_web

from .conftest import REPO

LINE = re.compile(r"^homeflow\.yaml:\d+:\d+: http\.token: .*16 characters")


def check(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homeflow.cli", "check", "-c", "homeflow.yaml"],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


@pytest.mark.parametrize(
    ("settings", "secrets", "env"),
    [
        ("http: {bind: 0.0.0.0, token: }", None, {}),
        ("http: {bind: 0.0.0.0, token: ~}", None, {}),
        ("http:\n  bind: 0.0.0.0\n  token:\n", None, {}),
        ("http: {bind: 0.0.0.0, token: !secret http_token}", "http_token:\n", {}),
        ("http: {bind: 0.0.0.0, token: !secret http_token}", "http_token: ~\n", {}),
        ("http: {bind: 0.0.0.0, token: !env HOMEFLOW_HTTP_TOKEN}", None, {"HOMEFLOW_HTTP_TOKEN": ""}),
        # On loopback too: a token was meant, and an empty one is as weak as a short one.
        ("http: {token: !env HOMEFLOW_HTTP_TOKEN}", None, {"HOMEFLOW_HTTP_TOKEN": ""}),
        ("http: {token: }", None, {}),
    ],
)
def test_an_empty_token_is_one_located_error(
    tmp_path: Path, settings: str, secrets: str | None, env: dict[str, str]
) -> None:
    (tmp_path / "homeflow.yaml").write_text(textwrap.dedent(settings) + "\n")
    if secrets is not None:
        (tmp_path / "secrets.yaml").write_text(secrets)
    result = check(tmp_path, env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and LINE.match(lines[0]), lines
    assert "Traceback" not in result.stderr


def test_an_empty_secret_is_named_but_never_shown(tmp_path: Path) -> None:
    (tmp_path / "homeflow.yaml").write_text("http: {bind: 0.0.0.0, token: !secret http_token}\n")
    (tmp_path / "secrets.yaml").write_text("http_token:\n")
    lines = check(tmp_path, {}).stderr.strip().splitlines()
    assert lines == [
        "homeflow.yaml:1:30: http.token: !secret http_token is empty; "
        "use at least 16 characters, e.g. `openssl rand -hex 16`"
    ]


@pytest.mark.parametrize(
    ("bind", "token"),
    [
        ("0.0.0.0", None),
        ("0.0.0.0", ""),
        ("127.0.0.1", ""),
        ("::", "short"),
        ("127.0.0.1", "has a space 0123"),
    ],
)
def test_the_server_refuses_a_token_the_settings_would_refuse(bind: str, token: str | None) -> None:
    async def serve() -> None:
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_web(web.Application(), HttpSettings(bind, 0, token), ready))
        try:
            await asyncio.wait_for(asyncio.shield(ready), 5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    with pytest.raises(WebError, match="http"):
        asyncio.run(serve())
