"""German: what homeflow says in a routine with `language: de`."""

from __future__ import annotations

from homeflow.language import Phrases

_ONES = "null eins zwei drei vier fünf sechs sieben acht neun".split()
_TEENS = "zehn elf zwölf dreizehn vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn".split()
_TENS = "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig".split()


def number(n: int) -> str:
    """The German word for 0 to 999 ("einundzwanzig", "hundert"); digits beyond."""
    if not 0 <= n < 1000:
        return str(n)
    hundreds, rest = divmod(n, 100)
    head = "" if hundreds == 0 else "hundert" if hundreds == 1 else _ONES[hundreds] + "hundert"
    if rest == 0:
        return head or "null"
    if rest < 10:
        tail = _ONES[rest]
    elif rest < 20:
        tail = _TEENS[rest - 10]
    else:
        tens, ones = divmod(rest, 10)
        # 21 is "einundzwanzig": the one before "und" is "ein", not "eins".
        tail = _TENS[tens] if ones == 0 else ("ein" if ones == 1 else _ONES[ones]) + "und" + _TENS[tens]
    return head + tail


PHRASES = Phrases(
    code="de",
    name="German",
    voice="de",
    number=number,
    lowercase_names=False,
    count="{n}.",
    once="einmal",
    twice="zweimal",
    times="{n}mal",
    paused="Pause. Drück noch einmal, um weiterzumachen.",
    resuming="Es geht weiter.",
    continuing="Weiter mit: {step}.",
    cancelled="Wir hören hier auf. Dein Licht kommt zurück.",
    rest_advice=(
        "Ruh dich aus, und wenn die Schmerzen bleiben, lass dich von einer Ärztin, einem Arzt oder in der"
        " Physiotherapie untersuchen."
    ),
    shown_advice="Letztes Mal hat es wehgetan. {rest_advice}",
    answer_good="wenn es gutgetan hat",
    answer_too_much="wenn es zu viel war",
    answer_hurt="wenn es wehgetan hat",
    hint="Mit dem Knopf {button}: {listed}.",
    hint_part="{actions}, {answer}",
    hint_or=" oder ",
    hint_last=", oder ",
    too_often=(
        "Du hast die Einheit {routine} heute schon {times} gemacht. Ruh dich jetzt aus: zu viel reizt das"
        " Gewebe."
    ),
    too_soon="Deine letzte Einheit {routine} ist erst kurz her. Gib {focus} noch {minutes} Ruhe.",
    minute="{n} Minute",
    minutes="{n} Minuten",
    focus="dir",
    light_in_use=(
        "Das Licht {light} ist gerade bei der Einheit {routine} im Einsatz. Starte noch einmal, wenn sie"
        " vorbei ist."
    ),
    level_up="Du hattest {n} gute Einheiten in Folge, darum steigern wir heute auf {reps} Wiederholungen.",
    gentle=(
        "Letztes Mal hat es wehgetan, darum gehen wir es heute sanft an, mit {reps} Wiederholungen. {gentler}"
    ),
    question="Wie hat sich das angefühlt?",
    gentle_default="Drück heute nur leicht, und hör sofort auf, wenn etwas wehtut.",
    reply_hurt=(
        "Es tut mir leid, dass es wehgetan hat. Nächstes Mal gehen wir zurück auf {start} Wiederholungen,"
        " ganz sanft. {rest_advice}"
    ),
    reply_too_much=(
        "Danke. Nächstes Mal gehen wir zurück auf {start} Wiederholungen. Mach morgen einen Ruhetag."
    ),
    reply_up="Danke. Nächstes Mal steigern wir auf {reps} Wiederholungen.",
    reply_good="Danke. Gut gemacht.",
    # the "it hurt" path
    press_action="drück {action}",
    press_single="drück einmal",
    press_double="drück zweimal",
    press_triple="drück dreimal",
    press_hold="halte ihn gedrückt",
    answer_elsewhere=(
        "Antworte im Dashboard oder in Home Assistant: gutgetan, zu viel, oder es hat wehgetan."
    ),
    cancel_question="Hat es wehgetan?",
    cancel_elsewhere="Wenn ja, wähle „Es hat wehgetan“ im Dashboard oder in Home Assistant.",
    rest_after_hurt=(
        "Letztes Mal hat es wehgetan. Gib {focus} noch {wait} Ruhe, bevor {routine} wieder dran ist."
    ),
    hour="{n} Stunde",
    hours="{n} Stunden",
)
