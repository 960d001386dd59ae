"""The settings homeflow runs with when given none, and the starter settings `homeflow init` writes."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from pathlib import Path

from homeflow.errors import HomeflowError
from homeflow.settings import load
from homeflow.settings.model import Settings

log = logging.getLogger(__name__)

FOLDER = Path(__file__).resolve().parent
BUNDLED = FOLDER / "homeflow.yaml"
STARTER = FOLDER / "starter.yaml"
# The one copy of the bundled routines: the repository's example settings point here too.
ROUTINES = FOLDER / "routines"
# Looked for in the working directory, in this order: the settings `homeflow init DIR` wrote (run in
# DIR), then those of a checkout of the repository (its example settings).
HERE = Path("homeflow.yaml")
LOCAL = Path("config/homeflow.yaml")

SECRETS = """\
# Secrets for homeflow.yaml, which reads them with `!secret NAME`. Keep this file to yourself.
http_token: "{token}"   # the dashboard asks for it; API calls send `Authorization: Bearer <it>`
# mqtt_username: homeflow
# mqtt_password: ...
# ha_token: ...         # a Home Assistant long-lived access token (your profile > Security)
"""


class InitError(HomeflowError):
    """`homeflow init` would overwrite a file, or cannot write."""


def data_dir() -> Path:
    """Where the bundled settings keep the journal and the speech cache: `$XDG_DATA_HOME/homeflow`."""
    base = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative path there is invalid and to be ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "homeflow"


def settings_file(given: Path | None) -> Path:
    """`-c`, else `$HOMEFLOW_CONFIG`, else ./homeflow.yaml, else ./config/homeflow.yaml (the first that
    exists), else the bundled file."""
    if given is not None:
        return given
    if env := os.environ.get("HOMEFLOW_CONFIG"):
        return Path(env)
    return next((path for path in (HERE, LOCAL) if path.is_file()), BUNDLED)


def load_settings(given: Path | None) -> Settings:
    """The settings a command runs with (see `settings_file`)."""
    path = settings_file(given)
    settings = load(path)
    if path != BUNDLED:
        return settings
    # Site-packages may be read-only and is replaced on upgrade: the journal belongs to the user.
    data = data_dir()
    log.info("no settings file given: using homeflow's bundled settings, journal in %s", data)
    return dataclasses.replace(settings, journal=data / "homeflow.db", cache_dir=data / "cache")


def init(folder: Path) -> list[Path]:
    """Write starter settings, a secrets file with a fresh token, and the bundled routines into
    `folder`; nothing is written if any of those files exists. Returns the files written."""
    files = {
        folder / "homeflow.yaml": STARTER.read_text(encoding="utf-8"),
        folder / "secrets.yaml": SECRETS.format(token=secrets.token_hex(16)),
        **{
            folder / "routines" / routine.name: routine.read_text(encoding="utf-8")
            for routine in sorted(ROUTINES.glob("*.yaml"))
        },
    }
    for path in files:
        if path.exists() or path.is_symlink():
            raise InitError(f"{path} already exists; not overwriting it (choose another folder or move it)")
    try:
        (folder / "routines").mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            # Exclusive creation: a file that appeared since the check above is still not overwritten.
            mode = 0o600 if path.name == "secrets.yaml" else 0o644
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as out:
                out.write(text)
    except OSError as exc:
        raise InitError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    return list(files)
