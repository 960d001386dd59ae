"""How big anything in the settings may be. Whatever `homeflow check` passes, `homeflow run` runs: each
bound keeps one kind of input from exhausting memory or time, or from breaking the MQTT client."""

from __future__ import annotations

# Files. A settings or routine file is a few KiB; PyYAML reads about 1 MiB a second, and an alias may
# repeat a whole subtree, so the values once aliases are expanded are bounded too ("billion laughs").
MAX_FILE_BYTES = 1024 * 1024
MAX_VALUES = 200_000

# Routines. Counting aloud to 100 at a few seconds a count is already several minutes, and a level
# (`reps`) is what counts are written in; `repeat` rounds and `for` values are bounded the same way.
MAX_COUNT = 100
MAX_REPS = MAX_COUNT  # `{reps}` may be a count, so reps.max is bounded like one
MAX_TIMES = 100
# The whole run at reps.max, expanded: a cue is a sentence, a number, a wait or a light change. The
# back-massage routine has about 150 cues and lasts under 10 minutes.
MAX_CUES = 10_000
MAX_PLAN_S = 4 * 3600
# Every sentence is rendered to audio before the run: a paragraph is the most one cue should say.
MAX_SENTENCE_CHARS = 500
# A routine's safety introduction is said before its first run: a minute or two, not a lecture.
MAX_SAFETY_SENTENCES = 20
# Names and titles show on one line of the dashboard and in the state topic.
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000
# A person answers the end-of-run question within minutes; limits are about rest, counted in days.
MAX_FEEDBACK_TIMEOUT_S = 3600
MAX_GAP_MINUTES = 7 * 24 * 60
MAX_REST_AFTER_HURT_HOURS = 7 * 24
# Silence rendered before every clip: a slow speaker wakes within a second or two.
MAX_LEAD_IN_S = 10.0
# A light's fade: Zigbee2MQTT and Home Assistant take seconds; an hour is far past any routine's need.
MAX_TRANSITION_S = 3600.0

# MQTT. MQTT 3.1.1 brokers must accept 23-character client ids and Mosquitto takes far longer ones;
# paho fails on a string over 65,535 bytes (the protocol's length field). Topics may be 65,535 bytes,
# but homeflow adds levels to its base topics and a Zigbee2MQTT friendly name is a word or two.
MAX_CLIENT_ID_CHARS = 128
MAX_TOPIC_CHARS = 128
MAX_PROFILE_CHARS = 32  # a profile name is a topic level and an entity id's part
MAX_MQTT_STRING_BYTES = 65_535
MAX_HOST_CHARS = 253  # the longest DNS name

# Home Assistant names areas in at most this many characters.
MAX_AREA_CHARS = 100
