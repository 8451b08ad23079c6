"""The request's state machine: which move is allowed from which state, and the order
the projection keeps so that the same events in any order leave the same state.

States only move forward along RANK: a later event of a lower rank (an acceptance that
arrives after the refusal it preceded elsewhere) changes nothing; of two events of one
rank (a refusal and a cancellation made apart) the earlier by clock stands."""

from ..errors import N_, Refused

KINDS = ("copy", "postal_loan")
RANK = {"requested": 0, "accepted": 1, "ready": 2, "lent": 2, "delivered": 3,
        "returned": 3, "expired": 4, "refused": 5, "cancelled": 5}
OPEN = ("requested", "accepted", "ready", "lent", "delivered")
# action: (kinds it applies to, states it leaves from, state it reaches, event kind)
MOVES = {
    "accept": (KINDS, ("requested",), "accepted", "request.accepted"),
    "refuse": (KINDS, ("requested", "accepted"), "refused", "request.refused"),
    "attach": (("copy",), ("accepted",), "ready", "request.ready"),
    "lend": (("postal_loan",), ("accepted",), "lent", "request.lent"),
    "download": (("copy",), ("ready", "delivered"), "delivered", "request.delivered"),
    "expire": (("copy",), ("ready", "delivered"), "expired", "request.expired"),
    "return": (("postal_loan",), ("lent",), "returned", "request.returned"),
    "cancel": (KINDS, ("requested", "accepted"), "cancelled", "request.cancelled"),
}
STAFF_ACTIONS = ("accept", "refuse", "attach", "lend", "expire", "return")
EVENT_STATE = {event: state for _k, _f, state, event in MOVES.values()}
EVENT_STATE["request.placed"] = "requested"

_WHY = {
    "requested": N_("it is waiting for the library's answer"),
    "accepted": N_("the library has accepted it"),
    "ready": N_("its copy is ready to download"),
    "lent": N_("its copy is lent by post"),
    "delivered": N_("its copy was downloaded"),
    "returned": N_("its copy is back"),
    "expired": N_("its download link has expired"),
    "refused": N_("the library refused it"),
    "cancelled": N_("it was cancelled"),
}
STATE_WORDS = {
    "requested": N_("waiting"), "accepted": N_("accepted"), "ready": N_("ready to download"),
    "lent": N_("lent by post"), "delivered": N_("downloaded"), "returned": N_("returned"),
    "expired": N_("link expired"), "refused": N_("refused"), "cancelled": N_("cancelled"),
}
KIND_WORDS = {"copy": N_("copy of pages"), "postal_loan": N_("loan by post")}
ACTION_WORDS = {"accept": N_("accept"), "refuse": N_("refuse"), "attach": N_("attach the PDF"),
                "lend": N_("lend by post"), "download": N_("download"),
                "expire": N_("mark expired"), "return": N_("receive back"),
                "cancel": N_("cancel")}


def check(kind, state, action):
    """The state `action` takes a request of `kind` in `state` to, or Refused saying why
    not, in words a patron or a librarian understands."""
    if action not in MOVES:
        raise Refused("unknown_action", N_("There is no step %(action)s for a request."),
                      action=action)
    kinds, sources, target, _event = MOVES[action]
    if kind not in kinds:
        raise Refused("wrong_kind", N_("A %(kind)s request cannot %(action)s."),
                      kind=KIND_WORDS.get(kind, kind), action=ACTION_WORDS[action])
    if state not in sources:
        raise Refused("illegal_move", N_("This request cannot %(action)s: %(why)s."),
                      action=ACTION_WORDS[action], why=_WHY.get(state, state))
    return target


def allowed(kind, state, actions=STAFF_ACTIONS):
    """The actions open to a request now (the buttons a page shows)."""
    return [a for a in actions if kind in MOVES[a][0] and state in MOVES[a][1]]


def wins(new_state, new_hlc, held_state, held_hlc):
    """Whether an event setting `new_state` at `new_hlc` moves a request held in
    `held_state` (set at `held_hlc`)."""
    new, held = RANK[new_state], RANK.get(held_state, -1)
    return new > held or (new == held and new_hlc < held_hlc)
