import pytest

from homeflow.triggers.buttons import parse_action


@pytest.mark.parametrize(
    ("payload", "legacy", "action"),
    [
        ('{"action": "single", "battery": 90}', False, "single"),
        ('{"action": "", "battery": 90}', False, None),
        ('{"battery": 90}', False, None),
        ('{"action": null}', False, None),
        ("single", True, "single"),
        ("  double\n", True, "double"),
        ("", True, None),
    ],
)
def test_actions_from_both_topic_styles(payload: str, legacy: bool, action: str | None) -> None:
    assert parse_action(payload, legacy_topic=legacy) == action


@pytest.mark.parametrize(
    ("payload", "why"),
    [("not json", "not JSON"), ("[1, 2]", "not a JSON object"), ('{"action": 3}', "action is int")],
)
def test_bad_payloads_say_why(payload: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_action(payload, legacy_topic=False)
