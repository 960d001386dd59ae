"""The entities of each profile of a routine, on the routine's device: a start button for that person,
and their streak, last completion and repetitions, read from `<base>/<routine>/stats/<profile>`."""

from __future__ import annotations

from typing import Any

from homeflow.language.entity_names import EntityNames

Config = dict[str, Any]


def profile_entities(
    profile: str, stats: str, commands: str, names: EntityNames
) -> list[tuple[str, str, Config]]:
    """(component, key, config) of one profile's entities, named in `names`' language; `stats` is its
    figures' topic, `commands` the topic Home Assistant's buttons publish on. Keys begin with
    `profile_`, so no profile name can take the key of one of the routine's own entities."""
    who = profile.capitalize()
    at = f"profile_{profile}"
    return [
        (
            "button",
            f"{at}_start",
            {
                "name": names.profile_start.format(who=who),
                "command_topic": commands,
                "qos": 1,
                "payload_press": f"start:{profile}",
                "icon": "mdi:account-arrow-right",
            },
        ),
        (
            "sensor",
            f"{at}_last_completed",
            {
                "name": names.profile_last_completed.format(who=who),
                "state_topic": stats,
                "value_template": "{{ value_json.last_completed }}",
                "device_class": "timestamp",
            },
        ),
        (
            "sensor",
            f"{at}_streak",
            {
                "name": names.profile_streak.format(who=who),
                "state_topic": stats,
                "value_template": "{{ value_json.streak_days }}",
                "unit_of_measurement": names.days,
                "state_class": "measurement",
                "icon": "mdi:fire",
            },
        ),
        (
            "sensor",
            f"{at}_reps",
            {
                "name": names.profile_reps.format(who=who),
                "state_topic": stats,
                "value_template": "{{ value_json.reps_level }}",
                "json_attributes_topic": stats,
                "json_attributes_template": "{{ {'reason': value_json.reps_reason} | tojson }}",
                "state_class": "measurement",
                "icon": "mdi:counter",
            },
        ),
    ]
