"""Settings loading: the example config, and every kind of mistake reported as one located line."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeflow.routine.model import Ambience, Count, RepeatSteps, Say, Step, Wait
from homeflow.settings import Problem, SettingsError, load, summary
from homeflow.settings.model import Automation, ButtonTrigger, LocalSpeaker, VirtualLight

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "homeflow.yaml"

GOOD_ROUTINE = """\
name: Short
steps:
  - title: Only step
    do:
      - say: Hello.
"""


def write(folder: Path, name: str, text: str) -> Path:
    """Write `folder/name` (folder being the working directory) and return the relative path `name`."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return Path(name)


def problems(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(path)
    assert str(caught.value) == "\n".join(str(problem) for problem in caught.value.problems)
    return [str(problem) for problem in caught.value.problems]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that is also the working directory, so problems show short relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_example_config_loads_with_paths_beside_it() -> None:
    loaded = load(EXAMPLE)
    folder = EXAMPLE.parent
    assert loaded.path == EXAMPLE
    assert loaded.journal == folder / "homeflow.db"
    assert loaded.cache_dir == folder / "cache"
    assert loaded.routines_dir == folder.parent / "homeflow" / "defaults" / "routines"
    assert (loaded.mqtt.host, loaded.mqtt.port, loaded.mqtt.base_topic, loaded.mqtt.tls) == (
        "127.0.0.1",
        1883,
        "homeflow",
        None,
    )
    assert loaded.mqtt.embedded
    assert loaded.lights == {"living_room": VirtualLight("living_room")}
    assert loaded.speakers == {
        "living_room": LocalSpeaker("living_room", "en-us", 150, voices=(("en", "en-us"), ("de", "de")))
    }
    assert loaded.buttons["massage"].friendly_name == "Massage Button"
    assert loaded.buttons["massage"].gestures["single"] == "toggle"
    assert loaded.automations == (
        Automation("back-massage", (ButtonTrigger("massage"),), ("living_room",), ("living_room",)),
        Automation("back-massage-de", (), ("living_room",), ("living_room",)),
    )
    routine = loaded.routines["back-massage"]
    assert list(loaded.routines) == ["back-massage", "back-massage-de"]  # by id: English first
    assert (routine.id, routine.name) == ("back-massage", "Back massage")
    assert routine.ambience == Ambience(35, 4.0, 2700)
    assert routine.variables == {"tempo": 4}
    assert routine.description.startswith("Self-massage of the mid and lower back")
    repeat = routine.steps[1]
    assert isinstance(repeat, RepeatSteps)
    assert (repeat.var, repeat.values) == ("side", ("left", "right"))
    assert repeat.steps[1].actions == (
        Say("Bend your knees a little and move your hips in small circles, so the ball rolls in a circle."),
        Count("{reps}", "{tempo}", "Slow circles, {reps} one way."),
        Wait(3.0, "Breathe out, and let your shoulders drop."),
    )
    first = routine.steps[0]
    assert isinstance(first, Step)
    assert first.actions[-1] == Wait(
        10.0, "Stand with your back to a free spot of wall, feet hip-width apart, half a step from the wall."
    )
    assert routine.safety[0] == "Before you begin, some safety advice. Listen to it once now."


def test_summary_of_example() -> None:
    assert summary(load(EXAMPLE)) == (
        f"{EXAMPLE} is valid: MQTT 127.0.0.1:1883 (base topic homeflow, embedded broker unless one listens "
        "there); 1 light, 1 speaker, 1 button; "
        "2 routines (back-massage: 10 steps, back-massage-de: 10 steps); 2 automations."
    )


def test_empty_file_is_valid_with_no_devices(here: Path) -> None:
    loaded = load(write(here, "homeflow.yaml", "# nothing yet\n"))
    assert (loaded.lights, loaded.speakers, loaded.buttons, loaded.routines) == ({}, {}, {}, {})
    assert loaded.journal == here / "homeflow.db"
    assert summary(loaded) == (
        "homeflow.yaml is valid: MQTT 127.0.0.1:1883 (base topic homeflow); 0 lights, 0 speakers, 0 buttons; "
        "0 routines; 0 automations."
    )


def test_three_mistakes_give_three_located_problems(here: Path) -> None:
    write(here, "routines/short.yaml", GOOD_ROUTINE)
    config = write(
        here,
        "homeflow.yaml",
        """\
        mqtt:
          host: broker.local
          port: true
        lights:
          desk:
            hue: Desk Lamp
        automations:
          - routine: short
            speakers: [kitchen]
        """,
    )
    assert problems(config) == [
        "homeflow.yaml:3:9: mqtt.port: expected a port number, got true",
        'homeflow.yaml:6:5: lights.desk.hue: unknown light protocol "hue"; '
        'known: "zigbee2mqtt", "home_assistant", "virtual"',
        'homeflow.yaml:9:16: automations[0].speakers[0]: unknown speaker "kitchen"; '
        "no speakers are configured",
    ]


def test_unknown_key_suggests_the_close_one(here: Path) -> None:
    config = write(here, "homeflow.yaml", "mqtt:\n  hots: example.org\nroutnes: routines/\n")
    assert problems(config) == [
        'homeflow.yaml:2:3: mqtt.hots: unknown key "hots"; did you mean "host"?',
        'homeflow.yaml:3:1: routnes: unknown key "routnes"; did you mean "routines"?',
    ]


def test_secret_and_env_fill_values(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(here, "config/secrets.yaml", "mqtt_password: 's3cret'\nmqtt_port: 8883\n")
    monkeypatch.setenv("HOMEFLOW_TEST_USER", "alice")
    monkeypatch.setenv("HOMEFLOW_TEST_KEEPALIVE", "45")
    config = write(
        here,
        "config/homeflow.yaml",
        """\
        mqtt:
          username: !env HOMEFLOW_TEST_USER
          password: !secret mqtt_password
          port: !secret mqtt_port
          keepalive: !env HOMEFLOW_TEST_KEEPALIVE
        """,
    )
    mqtt = load(config).mqtt
    assert (mqtt.username, mqtt.password, mqtt.port, mqtt.keepalive) == ("alice", "s3cret", 8883, 45)


def test_secret_and_env_failures_are_located(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOMEFLOW_TEST_UNSET", raising=False)
    config = write(
        here,
        "config/homeflow.yaml",
        "mqtt:\n  username: !env HOMEFLOW_TEST_UNSET\n  password: !secret mqtt_password\n",
    )
    assert problems(config) == [
        'config/homeflow.yaml:2:13: mqtt.username: environment variable "HOMEFLOW_TEST_UNSET" is not set',
        "config/homeflow.yaml:3:13: mqtt.password: !secret needs config/secrets.yaml, which does not exist",
    ]
    write(here, "config/secrets.yaml", "mqtt_pasword: x\n")
    assert problems(config)[1] == (
        'config/homeflow.yaml:3:13: mqtt.password: no secret "mqtt_password" in config/secrets.yaml; '
        'did you mean "mqtt_pasword"?'
    )
    # A misplaced secret is reported without showing it.
    write(here, "config/homeflow.yaml", "mqtt:\n  port: !secret mqtt_pasword\n")
    assert problems(config) == [
        "config/homeflow.yaml:2:9: mqtt.port: expected a port number, got the value of !secret mqtt_pasword"
    ]


def test_routine_problems_name_the_routine_file(here: Path) -> None:
    write(
        here,
        "routines/bad.yaml",
        """\
        name: Bad
        variables: {side_count: two}
        steps:
          - title: Warm up {rep}
            do:
              - wait: 5 min
          - repeat:
              for: side
              in: [left, right]
              steps:
                - title: "{side}"
                  do:
                    - count: {to: "{side_count}", tempo: 0}
                    - colour: warm
        """,
    )
    config = write(here, "homeflow.yaml", "routines: routines/\n")
    assert problems(config) == [
        "routines/bad.yaml:4:12: steps[0].title: unknown placeholder {rep}; did you mean {reps}?",
        'routines/bad.yaml:6:15: steps[0].do[0].wait: expected seconds, got "5 min"',
        'routines/bad.yaml:13:27: steps[1].repeat.steps[0].do[0].count.to: {side_count} holds text ("two"), '
        "not a number",
        "routines/bad.yaml:13:50: steps[1].repeat.steps[0].do[0].count.tempo: must be > 0, got 0",
        'routines/bad.yaml:14:15: steps[1].repeat.steps[0].do[1].colour: unknown action "colour"; known: '
        '"say", "wait", "count", "light", "repeat"',
    ]


def test_reps_and_ids_and_unquoted_placeholders(here: Path) -> None:
    write(
        here,
        "routines/Back Massage.yaml",
        """\
        name: Back
        reps: {start: 12}
        steps:
          - title: One
            do:
              - repeat:
                  times: {reps}
                  do: [{say: "round {round} of {max_reps}"}]
        """,
    )
    assert problems(write(here, "homeflow.yaml", "")) == [
        'routines/Back Massage.yaml:1:1: routine id "Back Massage" (the file name) must be lowercase '
        "letters, digits, - and _ (it becomes an MQTT topic level)",
        "routines/Back Massage.yaml:2:15: reps.start: must be between 1 and reps.max (10), got 12",
        "routines/Back Massage.yaml:7:18: steps[0].do[0].repeat.times: got a mapping; "
        'put placeholders in quotes: "{reps}"',
    ]


def test_yaml_syntax_error_is_one_problem(here: Path) -> None:
    config = write(here, "homeflow.yaml", "mqtt:\n  host: [broker\n  port: 1883\n")
    assert problems(config) == [
        "homeflow.yaml:3:7: invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence)"
    ]
    assert problems(write(here, "homeflow.yaml", "mqtt:\n  host: a\b\n")) == [
        "homeflow.yaml:2:10: invalid YAML: unacceptable character #x0008: special characters are not allowed"
    ]


def test_duplicate_keys_and_missing_file(here: Path) -> None:
    config = write(here, "homeflow.yaml", "journal: a.db\njournal: b.db\n")
    assert problems(config) == ["homeflow.yaml:2:1: journal: duplicate key (first on line 1)"]
    assert problems(here / "nope.yaml") == [
        f"{here / 'nope.yaml'}:1:1: cannot read file: No such file or directory"
    ]


def test_missing_routines_folder_is_a_problem_only_when_named(here: Path) -> None:
    assert load(write(here, "homeflow.yaml", "journal: j.db\n")).routines == {}
    assert problems(write(here, "homeflow.yaml", "routines: flows\n")) == [
        'homeflow.yaml:1:11: routines: cannot read folder "flows": No such file or directory'
    ]


def test_devices_and_gestures(here: Path) -> None:
    config = write(
        here,
        "homeflow.yaml",
        """\
        mqtt: {tls: true}
        speakers:
          desk: {local: {player: [paplay], rate: 120, lead_in: 0}}
          hall: {local: }
        buttons:
          remote: {zigbee2mqtt: 0x00158d0001, gestures: {on: start, off: cancel}}
        """,
    )
    loaded = load(config)
    assert loaded.mqtt.tls is not None
    assert loaded.speakers["desk"] == LocalSpeaker("desk", "en-us", 120, ("paplay",), 0.0)
    assert loaded.speakers["hall"] == LocalSpeaker("hall")
    assert loaded.buttons["remote"].friendly_name == "0x00158d0001"
    assert loaded.buttons["remote"].gestures == {"on": "start", "off": "cancel"}


def test_problem_format() -> None:
    assert str(Problem("a.yaml", 3, 7, "x.y", "bad")) == "a.yaml:3:7: x.y: bad"
    assert str(Problem("a.yaml", 1, 1, "", "cannot read file")) == "a.yaml:1:1: cannot read file"


KEYS = st.sampled_from(
    (
        *("mqtt", "port", "host", "tls", "lights", "speakers", "buttons", "local", "zigbee2mqtt", "routines"),
        *("automations", "routine", "when", "button", "gestures", "player", "rate", "journal", "x", "<<"),
        *("name", "steps", "title", "do", "say", "wait", "count", "to", "tempo", "light", "brightness"),
        *("repeat", "times", "for", "in", "variables", "reps", "start", "ambience", "color_temperature"),
    )
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["{reps}", "{round}", "{x}", "{", "warm", "5 min"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def outcome(config: str, routine: str) -> list[str] | None:
    """The problems found in a config (with one routine file beside it), or None if it loads."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "homeflow.yaml"
        path.write_text(config, encoding="utf-8")
        write(Path(folder), "routines/random.yaml", routine)
        try:
            load(path)
        except SettingsError as error:
            return [str(problem) for problem in error.problems]
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, VALUES, max_size=6), st.dictionaries(KEYS, VALUES, max_size=6))
def test_random_structures_only_raise_settings_error(
    config: dict[str, object], routine: dict[str, object]
) -> None:
    found = outcome(yaml.safe_dump(config), yaml.safe_dump(routine))
    assert found is None or (found and all("\n" not in line for line in found))


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab:- \n[]{}!&*'\"#|>%@,?0tx<")), max_size=60)
    | st.text(max_size=60)
)
def test_random_text_only_raises_settings_error(text: str) -> None:
    found = outcome(text, text)
    assert found is None or (found and all("\n" not in line for line in found))
