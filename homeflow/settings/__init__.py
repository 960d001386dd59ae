"""Settings: `homeflow.yaml` and its routine files, loaded into typed, validated dataclasses."""

from homeflow.settings.loader import load, summary
from homeflow.settings.problems import Problem, SettingsError

__all__ = ["Problem", "SettingsError", "load", "summary"]
