"""Remote services (dịch vụ từ xa): a patron asks from the OPAC or a phone for pages
of a document copied and sent as a PDF (`copy`), or for a copy lent by post
(`postal_loan`).

A request and each step of it are events, applied by the one projector like every
other, so they sync to the hub and the town's queue shows them:

- `request.placed`: the patron's ask (what, which pages, why; for the post, where to);
- `request.accepted`, `request.refused` (with a reason): the library's answer;
- `request.ready`: the scanned pages attached as a PDF, with the day its link expires;
- `request.delivered`: the patron downloaded it; `request.expired`: the link ran out;
- `request.lent`: the copy lent by post (its loan named), `request.returned`: back;
- `request.cancelled`: the patron changed their mind.

`states` is the state machine (which move is allowed from where, and the order the
projection keeps), `commands` makes the events, `projection` applies them, `rules` says
which library may make them, `links` signs the download link, `labels` prints the
address label and the slip. A request belongs to the one library that handles it: the
document's library for a copy, the patron's home library for the post (the address is
personal data and stays home, core/privacy.py).
"""
