"""Which libraries have a copy of a record on the open shelf now, as this node can know.

Loans are a library's own: the hub holds every library's (each branch sends its own, so
the hub knows them as of each branch's last sync), a branch holds its own and those lent
at it for its holds (docs/sync.md). So a copy's status at the hub says whether it is on
the shelf; at a branch the status of another library's copy says only what reaches it
(its condition, its journeys, its arrivals home): "available" while it is out on loan
there. A branch therefore takes the hub's word: the hub's answer to each sync carries,
for the records of the branch library's waiting holds asked of another library, the
libraries with a copy of each on the shelf (`offer`, at the hub, from its statuses). The
branch keeps the latest word (`take`, over the link or from a USB stick) for a day at most, and the choice of the library
a hold asks (holds.py) reads it (`on_shelf`). A record the word does not name (a hold
placed since the last sync) is judged by the statuses held here, as before.
"""

from .models import Hold, Item, Setting

KEY = "shelves"  # in the device's own settings table: never synced, replaced each sync
MAX_AGE_MS = 24 * 3600 * 1000  # an older word says too little about a shelf
LIMIT = 500  # records a word names at most (a library's waiting holds asked elsewhere)


def offer(library) -> dict:
    """At the hub: {record id: [libraries with a copy on the shelf]} for the records of
    `library`'s waiting holds asked of another library (an empty list: none has one)."""
    asked = (Hold.select(Hold.bib).where(
        (Hold.library == library) & Hold.source.is_null(False) & (Hold.status == "waiting"))
        .distinct().order_by(Hold.bib).limit(LIMIT))
    bibs = [hold.bib_id for hold in asked]
    if not bibs:
        return {}
    found: dict[str, set] = {bib: set() for bib in bibs}
    for item in Item.select(Item.bib, Item.library).where(
            (Item.bib << bibs) & (Item.status == "available") & (Item.library != library)):
        found[item.bib_id].add(item.library)
    return {bib: sorted(libraries) for bib, libraries in found.items()}


def take(ctx, records, said_ms=None) -> bool:
    """At a branch: keep the hub's latest word (a signed answer carried it, over the link
    or on a USB stick). `said_ms`: when the hub wrote it, on a stick: its age counts from
    then, and a word older than the one held (a stick carried in after a sync over the
    link) is not taken."""
    if not isinstance(records, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in records.values()):
        return False
    at_ms = ctx.clock.wall_ms()
    if said_ms is not None:
        at_ms = min(at_ms, said_ms)
        row = Setting.get_or_none(Setting.key == KEY)
        held = row.value if row is not None and isinstance(row.value, dict) else {}
        if held.get("at_ms", 0) > at_ms:
            return False
    value = {"at_ms": at_ms, "records": records}
    Setting.insert(key=KEY, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}).execute()
    return True


def word(ctx) -> dict:
    """The hub's latest word held here, if fresh: {record id: set of libraries}. The
    hub itself needs none (its statuses are the word)."""
    if ctx.role == "hub":
        return {}
    row = Setting.get_or_none(Setting.key == KEY)
    value = row.value if row is not None and isinstance(row.value, dict) else {}
    if ctx.clock.wall_ms() - value.get("at_ms", 0) > MAX_AGE_MS:
        return {}
    return {bib: set(libraries) for bib, libraries in value.get("records", {}).items()}


def on_shelf(item, said) -> bool:
    """Whether `item` is on the open shelf as this node can know: the hub's word `said`
    (from `word`) for another library's copy of a record it names, else its status."""
    if item.status != "available":
        return False
    libraries = said.get(item.bib_id)
    return libraries is None or item.library in libraries
