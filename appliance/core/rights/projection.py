"""The rights events as the projector applies them (merged into projector.HANDLERS)."""

from collections.abc import Callable

from .. import audit
from . import erasure, history


def patron_key(ev, body):
    """The key itself came beside the event (keys.take): nothing else to do."""


HANDLERS: dict[str, Callable] = {
    "patron.key": patron_key,
    "patron.erased": erasure.patron_erased,
    "patron.history_erased": history.history_erased,
    "audit.viewed": audit.viewed,
}
