"""The `http` section: defaults, a token from secrets, and located problems for unsafe or bad values."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from homeflow.settings import SettingsError, load
from homeflow.settings.http import is_loopback
from homeflow.settings.model import HttpSettings

TOKEN = "s3cr3t-t0ken-0123456789"


def config(folder: Path, text: str) -> Path:
    path = folder / "homeflow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(path)
    return [str(problem) for problem in caught.value.problems]


def test_no_section_means_loopback_without_token(tmp_path: Path) -> None:
    assert load(config(tmp_path, "{}\n")).http == HttpSettings("127.0.0.1", 8765, None, None)


def test_full_section_with_secret_token(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text(f"http_token: {TOKEN}\n")
    path = config(
        tmp_path,
        """\
        http:
          bind: 0.0.0.0
          port: 8080
          token: !secret http_token
          public_url: http://192.168.1.20:8080/
        """,
    )
    http = load(path).http
    assert http == HttpSettings("0.0.0.0", 8080, TOKEN, "http://192.168.1.20:8080")
    assert TOKEN not in repr(http)  # settings get logged; the token must not be


def test_loopback_needs_no_token_and_port_zero_is_any_port(tmp_path: Path) -> None:
    http = load(config(tmp_path, "http: {bind: '::1', port: 0}\n")).http
    assert (http.bind, http.port, http.token) == ("::1", 0, None)


def test_every_mistake_is_one_located_line(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        """\
        http:
          bind: 0.0.0.0
          port: 70000
          public_url: ftp://speakers
          tokn: x
        """,
    )
    assert problems(path) == [
        f'{path}:2:9: http.bind: "0.0.0.0" is reachable from other machines: '
        "set http.token (e.g. token: !secret http_token)",
        f"{path}:3:9: http.port: must be between 0 and 65535, got 70000",
        f'{path}:4:15: http.public_url: expected http://HOST[:PORT][/PATH], got "ftp://speakers"',
        f'{path}:5:3: http.tokn: unknown key "tokn"; did you mean "token"?',
    ]


def test_weak_or_unsendable_tokens_are_refused(tmp_path: Path) -> None:
    path = config(tmp_path, "http:\n  token: short\n")
    assert problems(path) == [
        f"{path}:2:10: http.token: too short (5 characters); use at least 16, e.g. `openssl rand -hex 16`"
    ]
    # A bad token off loopback is one problem, not also a "set http.token" one.
    path = config(tmp_path, "http:\n  bind: 0.0.0.0\n  token: short\n")
    assert problems(path) == [
        f"{path}:3:10: http.token: too short (5 characters); use at least 16, e.g. `openssl rand -hex 16`"
    ]
    path = config(tmp_path, "http: {token: 'has spaces in the token value'}\n")
    assert problems(path) == [
        f"{path}:1:15: http.token: use only letters, digits and punctuation (no spaces)"
    ]
    path = config(tmp_path, "http: {public_url: 'http://host:99999'}\n")
    assert problems(path) == [f"{path}:1:20: http.public_url: not a URL: Port out of range 0-65535"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True), ("LOCALHOST", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.2", False), ("homeflow.lan", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
