"""The web side: the dashboard, the JSON API and its live events, served by aiohttp."""

from homeflow.web.app import build_app
from homeflow.web.server import WebError, run_web

__all__ = ["WebError", "build_app", "run_web"]
