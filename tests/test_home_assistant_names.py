"""Home Assistant names a routine's entities in the routine's language: the discovery configs of the
German back massage, as a real broker keeps them, are German; the English one's stay English."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from homeflow.defaults import ROUTINES
from homeflow.language import LANGUAGES
from homeflow.language.entity_names import ENTITY_NAMES, entity_names

from .harness import collecting, retained, serving, write_settings
from .mosquitto import Broker

GERMAN = {
    "button/start": "Starten",
    "button/pause": "Pausieren",
    "button/resume": "Fortsetzen",
    "button/skip": "Schritt überspringen",
    "button/cancel": "Abbrechen",
    "button/good": "Hat gutgetan",
    "button/too_much": "Zu viel",
    "button/hurt": "Hat wehgetan",
    "switch/schedules": "Zeitpläne",
    "number/next_reps": "Wiederholungen beim nächsten Mal",
    "sensor/state": "Zustand",
    "sensor/step": "Aktueller Schritt",
    "sensor/progress": "Fortschritt",
    "sensor/last_completed": "Zuletzt abgeschlossen",
    "sensor/streak": "Serie",
    "sensor/reps": "Wiederholungen",
    "sensor/refused": "Zuletzt abgelehnter Start",
    "event/run": "Durchgang",
    "button/profile_anna_start": "Anna starten",
    "sensor/profile_anna_last_completed": "Anna zuletzt abgeschlossen",
    "sensor/profile_anna_streak": "Anna Serie",
    "sensor/profile_anna_reps": "Anna Wiederholungen",
}


def names_of(
    configs: dict[str, dict[str, object]], prefix: str, node: str, routine: str
) -> dict[str, object]:
    """Each entity's name by `component/key`, of one routine's configs."""
    names = {}
    for topic, config in configs.items():
        component, _, object_id = topic.removeprefix(f"{prefix}/ha/").removesuffix("/config").split("/")
        if object_id.startswith(f"{routine}_") and component != "device_automation":
            names[f"{component}/{object_id.removeprefix(routine + '_')}"] = config["name"]
    return names


async def test_the_german_routines_entities_have_german_names(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    base, node = f"{prefix}/hf", f"{prefix}_hf"
    routines = {name: (ROUTINES / f"{name}.yaml").read_text() for name in ("back-massage", "back-massage-de")}
    config = write_settings(
        tmp_path,
        broker,
        prefix,
        "automations: [{routine: back-massage}, {routine: back-massage-de, profiles: {anna: {}}}]\n",
        routines=routines,
    )
    async with (
        collecting(broker, f"{prefix}-ha", f"{prefix}/ha/#", f"{base}/status") as watch,
        serving(config, watch, base),
    ):
        german_start = f"{prefix}/ha/button/{node}/back-massage-de_start/config"
        await watch.wait_for(german_start)
        await watch.wait_for(f"{prefix}/ha/sensor/{node}/back-massage-de_profile_anna_reps/config")
        kept = {
            topic: json.loads(text)
            for topic, text in (await retained(broker, f"{prefix}-fresh", f"{prefix}/ha/#")).items()
        }
    assert names_of(kept, prefix, node, "back-massage-de") == GERMAN
    german = kept[german_start]
    assert german["device"]["model"] == "Geführte Routine"
    assert kept[f"{prefix}/ha/sensor/{node}/back-massage-de_streak/config"]["unit_of_measurement"] == "Tage"
    english = names_of(kept, prefix, node, "back-massage")
    assert english["button/start"] == "Start" and english["sensor/step"] == "Current step"
    assert english["sensor/last_completed"] == "Last completed" and english["sensor/streak"] == "Streak"
    assert kept[f"{prefix}/ha/sensor/{node}/back-massage_streak/config"]["unit_of_measurement"] == "days"


def test_every_language_has_a_table_of_entity_names() -> None:
    assert ENTITY_NAMES.keys() == LANGUAGES.keys()
    english = ENTITY_NAMES["en"]
    for code, table in ENTITY_NAMES.items():
        if code != "en":  # a table copied from English by mistake names in English
            same = [
                f.name
                for f in dataclasses.fields(table)
                if getattr(table, f.name) == getattr(english, f.name)
            ]
            assert same == [], (code, same)
    assert entity_names("xx") is english  # a language without a table yet: English names
