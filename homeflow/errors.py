"""homeflow's own exceptions: adapters translate foreign ones into these at the boundary."""


class HomeflowError(Exception):
    """An error whose message is one line a person can act on."""


class SpeechError(HomeflowError):
    """Speech could not be rendered (engine missing or failing)."""


class HomeAssistantError(HomeflowError):
    """Home Assistant's REST API could not be reached, refused us, or answered nonsense."""


class SpeakerError(HomeflowError):
    """A speaker could not be reached or refused to play."""


class SoundFailed(SpeakerError):
    """A local player could not play a sentence; it was printed in the terminal instead."""
