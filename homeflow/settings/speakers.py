"""The `speakers` section: one protocol per speaker (local, home_assistant, sonos, cast) and its voice."""

from __future__ import annotations

import re
import string
from datetime import time
from pathlib import Path
from typing import Any

from homeflow.language import DEFAULT, LANGUAGES
from homeflow.settings.checks import Checker
from homeflow.settings.limits import MAX_LEAD_IN_S
from homeflow.settings.model import (
    STREAM_PLACEHOLDERS,
    CastSpeaker,
    HomeAssistantSettings,
    HomeAssistantSpeaker,
    LocalSpeaker,
    QuietHours,
    SonosSpeaker,
    SpeakerSettings,
)
from homeflow.settings.problems import child, index, quote
from homeflow.settings.sections import command_line, resolve
from homeflow.settings.yamlnodes import Map, Node, Scalar, Seq
from homeflow.speech import is_piper_voice

KINDS = ("local", "home_assistant", "sonos", "cast")
_VOICE_KEYS = ("voice", "rate", "lead_in")
_ANNOUNCE_KEYS = ("volume", "quiet_hours")
_KEYS = {
    "local": (*_VOICE_KEYS, "player", "stream_player"),
    "home_assistant": (
        *("media_player", "tts", "announce", "language", "options"),
        *_ANNOUNCE_KEYS,
        *_VOICE_KEYS,
    ),
    "sonos": ("host", *_ANNOUNCE_KEYS, *_VOICE_KEYS),
    "cast": ("host", "port", *_ANNOUNCE_KEYS, *_VOICE_KEYS),
}
_REQUIRED = {"local": (), "home_assistant": ("media_player", "tts"), "sonos": ("host",), "cast": ("host",)}
# Home Assistant's rule for entity ids, in the domains a speaker needs.
_ENTITY_ID = r"\.(?!_)[a-z0-9_]+(?<!_)"
_HOST = re.compile(r"[A-Za-z0-9.:_-]+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def parse_speakers(
    ch: Checker, node: Node | None, home_assistant: HomeAssistantSettings, base: Path | None = None
) -> dict[str, SpeakerSettings]:
    """Speakers by name, each behind one protocol."""
    speakers: dict[str, SpeakerSettings] = {}
    for key, value in ch.entries(node, "speakers"):
        path = child("speakers", key.text)
        picked = ch.one_key(value, path, KINDS, "speaker protocol")
        if picked is None:
            continue
        kind, body = picked
        path = child(path, kind)
        f = ch.fields(body, path, _KEYS[kind], required=_REQUIRED[kind])
        name = key.text
        if kind == "local":
            speakers[name] = _local(ch, f, path, name, base)
        elif kind == "home_assistant":
            speakers[name] = _home_assistant(ch, body, f, path, name=name, settings=home_assistant, base=base)
        elif kind == "sonos":
            sonos = SonosSpeaker(name, "")
            speakers[name] = SonosSpeaker(
                name,
                _host(ch, f.get("host"), child(path, "host")),
                **_announcing(ch, f, path),
                **_voice(ch, f, path, sonos, base),
            )
        else:
            cast = CastSpeaker(name, "")
            port = ch.integer(
                f.get("port"), child(path, "port"), cast.port, lo=1, hi=65535, what="a port number"
            )
            speakers[name] = CastSpeaker(
                name,
                _host(ch, f.get("host"), child(path, "host")),
                port,
                **_announcing(ch, f, path),
                **_voice(ch, f, path, cast, base),
            )
    return speakers


def _local(ch: Checker, f: dict[str, Node], path: str, name: str, base: Path | None) -> LocalSpeaker:
    """`player` (a command given each clip's file) or `stream_player` (one process fed raw PCM)."""
    default = LocalSpeaker(name)
    voice = _voice(ch, f, path, default, base)
    given, stream = f.get("player"), f.get("stream_player")
    if given is not None and stream is not None:
        ch.report(
            stream,
            child(path, "stream_player"),
            "player and stream_player both given: write one (player is given a file per sentence, "
            "stream_player is fed every sentence as raw PCM)",
        )
    player = command_line(ch, given, child(path, "player"), ()) if given is not None else None
    streamed = _stream_player(ch, stream, child(path, "stream_player"), default.stream_player)
    return LocalSpeaker(name, player=player, stream_player=streamed, **voice)


def _stream_player(ch: Checker, node: Node | None, path: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A command line whose words may hold {rate} and {channels}, filled from each clip's format."""
    words = command_line(ch, node, path, default)
    if node is None or words is default:
        return words
    if isinstance(node, Seq):
        places = [(item, index(path, i)) for i, item in enumerate(node.items)]
    else:
        places = [(node, path)] * len(words)
    for word, (at, where) in zip(words, places, strict=True):
        if (problem := _placeholder_problem(word)) is not None:
            ch.report(at, where, problem)
            return default
    return words


def _placeholder_problem(word: str) -> str | None:
    known = ", ".join(f"{{{name}}}" for name in STREAM_PLACEHOLDERS)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(word) if name is not None]
    except ValueError as error:
        return f"cannot read the placeholders in {quote(word)}: {error} (write a brace as {{{{ or }}}})"
    unknown = [name for name in names if name not in STREAM_PLACEHOLDERS]
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; known: {known}"
    return None


def _home_assistant(
    ch: Checker,
    body: Node,
    f: dict[str, Node],
    path: str,
    *,
    name: str,
    settings: HomeAssistantSettings,
    base: Path | None,
) -> HomeAssistantSpeaker:
    missing = [f"home_assistant.{key}" for key in ("url", "token") if getattr(settings, key) is None]
    if missing:
        ch.report(body, path, f"a Home Assistant speaker needs {' and '.join(missing)} (its REST API)")
    default = HomeAssistantSpeaker(name, "", "")
    return HomeAssistantSpeaker(
        name,
        _entity_id(ch, f.get("media_player"), child(path, "media_player"), "media_player", "kitchen"),
        _entity_id(ch, f.get("tts"), child(path, "tts"), "tts", "piper"),
        announce=ch.boolean(f.get("announce"), child(path, "announce"), default.announce),
        language=ch.text(f.get("language"), child(path, "language")),
        options=_options(ch, f.get("options"), child(path, "options")),
        **_announcing(ch, f, path),
        **_voice(ch, f, path, default, base),
    )


def _voice(
    ch: Checker, f: dict[str, Node], path: str, default: SpeakerSettings, base: Path | None
) -> dict[str, Any]:
    """The voice that renders (or, for Home Assistant, times) this speaker's sentences: an espeak-ng
    voice name, or a Piper model file (`.onnx`, relative to the settings file); or one per language
    (`voice: {en: en-gb, de: de+f3}`). Without one, each routine's runs take its language's voice
    (homeflow.language.voices)."""
    node, where = f.get("voice"), child(path, "voice")
    voices: dict[str, str] = {}
    if isinstance(node, Map):
        for key, value in ch.entries(node, where):
            language = ch.choice(key, child(where, key.text), "", list(LANGUAGES), "language")
            voice = _one_voice(ch, value, child(where, key.text), base)
            if language and voice:
                voices[language] = voice
        node = None
    voice = _one_voice(ch, node, where, base) or voices.get(DEFAULT, default.voice)
    return {
        "voice": voice,
        "rate_wpm": ch.integer(
            f.get("rate"), child(path, "rate"), default.rate_wpm, lo=80, hi=450, what="words per minute"
        ),
        "lead_in_s": ch.number(f.get("lead_in"), child(path, "lead_in"), default.lead_in_s, hi=MAX_LEAD_IN_S),
        "voice_given": node is not None,
        "voice_at": "" if node is None else f"{node.mark.file}:{node.mark.line}:{node.mark.column}",
        "voices": tuple(voices.items()),
    }


def _one_voice(ch: Checker, node: Node | None, path: str, base: Path | None) -> str | None:
    """An espeak-ng voice name, or a Piper model file that exists with its config beside it."""
    voice = ch.text(node, path)
    if node is None or voice is None or not is_piper_voice(voice):
        return voice
    model = resolve(base, voice) if base else Path(voice)
    if not model.is_file():
        ch.report(node, path, f"no such Piper voice model: {quote(voice)}")
    elif not model.with_name(model.name + ".json").is_file():
        ch.report(node, path, f"a Piper voice needs its config beside it: {model.name}.json")
    return str(model)


def _announcing(ch: Checker, f: dict[str, Node], path: str) -> dict[str, Any]:
    return {
        "volume": _volume(ch, f.get("volume"), child(path, "volume")),
        "quiet_hours": _quiet_hours(ch, f.get("quiet_hours"), child(path, "quiet_hours")),
    }


def _volume(ch: Checker, node: Node | None, path: str) -> float | None:
    volume = ch.number(node, path, None, what="a volume from 0 to 1")
    if node is not None and volume is not None and volume > 1:
        ch.report(node, path, f"a volume goes from 0 to 1 (0.4 is 40 %), got {volume:g}")
        return None
    return volume


def _quiet_hours(ch: Checker, node: Node | None, path: str) -> QuietHours | None:
    if node is None:
        return None
    f = ch.fields(node, path, ("from", "to", "volume"), required=("from", "to", "volume"))
    start = _clock(ch, f.get("from"), child(path, "from"))
    end = _clock(ch, f.get("to"), child(path, "to"))
    volume = _volume(ch, f.get("volume"), child(path, "volume"))
    if start is None or end is None or volume is None:
        return None
    if start == end:
        ch.report(node, path, "from and to are the same time: the window would be empty")
        return None
    return QuietHours(start, end, volume)


def _clock(ch: Checker, node: Node | None, path: str) -> time | None:
    # "21:00" unquoted is a YAML 1.1 sexagesimal number; the text as written is what counts.
    text = ch.text(node, path)
    if node is None or text is None:
        return None
    match = _CLOCK.fullmatch(text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        ch.report(node, path, f'expected a time of day like "21:30", got {quote(text)}')
        return None
    return time(int(match[1]), int(match[2]))


def _entity_id(ch: Checker, node: Node | None, path: str, domain: str, example: str) -> str:
    entity_id = ch.text(node, path, "")
    if node is not None and entity_id and not re.fullmatch(re.escape(domain) + _ENTITY_ID, entity_id):
        ch.report(node, path, f"expected an entity id like {domain}.{example}, got {quote(entity_id)}")
    return entity_id


def _host(ch: Checker, node: Node | None, path: str) -> str:
    host = ch.text(node, path, "")
    if node is not None and host and not _HOST.fullmatch(host):
        ch.report(node, path, f"expected an IP address or host name like 192.168.1.30, got {quote(host)}")
    return host


def _options(ch: Checker, node: Node | None, path: str) -> dict[str, str | int | float | bool]:
    """Platform options of `tts.speak` (e.g. `voice`), passed on as written."""
    options: dict[str, str | int | float | bool] = {}
    for key, value in ch.entries(node, path):
        if isinstance(value, Scalar) and isinstance(value.value, str | int | float | bool):
            options[key.text] = value.value
        else:
            ch.report(value, child(path, key.text), "expected text, a number or true/false")
    return options
