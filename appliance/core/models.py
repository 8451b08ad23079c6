"""Storage models. State tables are written only by the projector (see projector.py);
Event is the log they are rebuilt from. Dates are ISO strings: portable between
SQLite and PostgreSQL, ordered as text, and identical after a rebuild."""

import json
import threading

import peewee as pw


class _ThreadDatabase(threading.local):
    db = None  # a default, so that a thread without one of its own raises nothing to say so


class SwitchableProxy(pw.DatabaseProxy):
    """The database every model uses. One thread may hold a database of its own for a
    while (`bind_thread`): a request of a staff member in practice mode works on their
    practice copy (core/training/practice.py) while the process's other threads (other
    staff, the sync agent) keep the real one. Nothing else changes: `obj` is the
    thread's database when it holds one, the shared one otherwise."""

    __slots__ = ("_shared", "_local")

    def __init__(self):
        object.__setattr__(self, "_local", _ThreadDatabase())
        object.__setattr__(self, "_shared", None)
        super().__init__()

    def __setattr__(self, attr, value):
        if attr == "obj":
            attr = "_shared"
        object.__setattr__(self, attr, value)

    @property
    def obj(self):
        own = self._local.db  # asked by every statement of a loan: a plain attribute
        return own if own is not None else self._shared

    def bind_thread(self, db):
        """This thread uses `db` until `bind_thread(None)`."""
        self._local.db = db

    def thread_bound(self):
        return self._local.db


database_proxy = SwitchableProxy()


class JSONField(pw.TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class SortKeyField(pw.TextField):
    """A sort key (fold.sort_key) whose order is code-point order: PostgreSQL compares it
    under the "C" collation (db.py maps the type), SQLite's own order is that already.
    The type's name holds TEXT, so SQLite gives the column text affinity."""
    field_type = "SORTTEXT"


def _keyed(**kwargs):
    """A key the projector derives (findkeys.py), empty until it does: with a default
    in the schema too, so a row written by plain SQL is still whole."""
    return pw.CharField(default="", constraints=[pw.SQL("DEFAULT ''")], **kwargs)


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Event(BaseModel):
    id = pw.CharField(unique=True, max_length=36)
    # Local order of application, for rebuild and pulls. The primary key: on SQLite the
    # table's own row number (INTEGER PRIMARY KEY), so an event is one b-tree fewer to
    # write than with an index of its own (every loan and return writes one).
    pos = pw.BigIntegerField(primary_key=True)
    origin = pw.CharField(max_length=64)
    seq = pw.BigIntegerField()
    # Indexed on PostgreSQL only (db.py): SQLite keeps the log's highest clock otherwise
    # (events.LOG_TOP), which spares every loan and return a b-tree.
    hlc = pw.BigIntegerField()
    wall = pw.CharField(max_length=32)
    library = pw.CharField(max_length=32)  # not indexed: pulls walk `pos` and filter
    kind = pw.CharField(max_length=32)
    body = pw.TextField()  # canonical JSON, hashed as stored
    prev_hash = pw.CharField(max_length=64)
    hash = pw.CharField(max_length=64)
    # Relayed by the hub without the rest of its origin's chain (a branch holds only the
    # town's events that concern it): its hash is checked, its chain is not.
    relayed = pw.BooleanField(default=False)

    class Meta:
        indexes = ((("origin", "seq"), True),)


# The events that make a copy's history at the desk, with the body key that names the
# copy: each kind has a partial index on it (db.py), so other events cost nothing more.
COPY_HISTORY = {"item.saved": "id", "hold.trapped": "item_id"}


class Library(BaseModel):
    code = pw.CharField(primary_key=True, max_length=32)
    name = pw.CharField()
    timezone = pw.CharField(default="Asia/Ho_Chi_Minh")
    closed_weekdays = JSONField(default=list)  # 0 = Monday ... 6 = Sunday
    field_hlc = JSONField(default=dict)
    # A school library's year (core/roster): the day (MM-DD) pupils' cards run to, and
    # the age under which a pupil on a class list is registered as a child (with a
    # guardian). NULL: the defaults of roster.rules.
    school_year_end = pw.CharField(max_length=5, null=True)
    child_age = pw.IntegerField(null=True)
    school_year_begun = pw.CharField(max_length=10, null=True)  # the last new year, ISO
    # Days a returned loan stays linked to a patron whose reading history is off
    # (core/rights/history.py); NULL: 30.
    history_days = pw.IntegerField(null=True)


class Patron(BaseModel):
    id = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32, index=True)
    card = pw.CharField(max_length=32)
    name = pw.CharField()
    category = pw.CharField(max_length=16)  # child, pupil, adult, staff
    expiry = pw.CharField(max_length=10, null=True)
    birth_year = pw.IntegerField(null=True)
    guardian = pw.CharField(null=True)
    # Where a child's notices go (core/notices): never to the child's own address.
    guardian_email = pw.CharField(null=True)
    guardian_consent = pw.BooleanField(default=False)
    # A pupil's class ("6A", "Lớp 5") and full date of birth (ISO), from a class list
    # (core/roster): the class moves up each school year, the date tells a pupil from
    # another of the same name. Both stay at the home library (privacy.LENDING_FIELDS).
    school_class = pw.CharField(max_length=32, null=True)
    birth_date = pw.CharField(max_length=10, null=True)
    phone = pw.CharField(null=True)
    email = pw.CharField(null=True)
    blocked = pw.BooleanField(default=False)
    block_reason = pw.CharField(null=True)
    pin_hash = pw.CharField(null=True)
    keep_history = pw.BooleanField(default=False)
    # "Gợi ý cho bạn" on the patron's account (core/suggest): shown only to a patron who
    # asked for it. Stays at the home library, like every field not lent (privacy.py).
    suggestions = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])
    created_at = pw.CharField(max_length=32)
    deleted = pw.BooleanField(default=False)
    field_hlc = JSONField(default=dict)
    # Derived keys (findkeys.py): the card as matched, the name folded and its sort key.
    card_key = _keyed(max_length=32)
    name_key = _keyed()
    name_sort = SortKeyField(default="", constraints=[pw.SQL("DEFAULT ''")])

    class Meta:
        # A card typed at a desk, kiosk or SIP2 machine: one seek on (card_key, library)
        # (with a card_key alone SQLite chose the library's index and read every card).
        # A library's list of patrons walks the second in name order; its name and card
        # keys are in it, so a search reads a row only when it matches.
        indexes = ((("library", "card"), True), (("card_key", "library"), False),
                   (("library", "deleted", "name_sort", "name_key", "card_key"), False))


class Bib(BaseModel):
    id = pw.CharField(primary_key=True, max_length=36)
    title = pw.TextField()
    authors = JSONField(default=list)
    publisher = pw.TextField(null=True)
    year = pw.IntegerField(null=True)
    isbn = pw.CharField(max_length=32, null=True, index=True)
    language = pw.CharField(max_length=8, null=True)
    ddc = pw.CharField(max_length=32, null=True)
    subjects = JSONField(default=list)
    series = pw.TextField(null=True)
    notes = pw.TextField(null=True)
    marc = pw.TextField(null=True)
    control_number = pw.CharField(max_length=64, null=True, index=True)
    local_history = pw.BooleanField(default=False)
    # The plan's documents to digitise first (with local_history): MARC 910 (marcmap.py)
    rare = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])
    special_value = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])
    created_at = pw.CharField(max_length=32)
    updated_hlc = pw.BigIntegerField(default=0)
    deleted = pw.BooleanField(default=False)
    field_hlc = JSONField(default=dict)
    # Derived keys (findkeys.py) the duplicate warning looks up, and the record this one
    # was merged into (merge.py), which its old address leads to.
    dup_key = _keyed(max_length=255, index=True)
    isbn13 = pw.CharField(max_length=13, null=True, index=True)
    merged_into = pw.CharField(max_length=36, null=True)


# The records to digitise first are few: the plan's indicator and work list
# (digital/progress.py, whose condition is this one word for word, so SQLite and
# PostgreSQL both use the partial index) read them alone, not the whole catalogue.
Bib.add_index(Bib.id, name="bib_marked", where=(Bib.local_history | Bib.rare
                                                | Bib.special_value) & ~Bib.deleted)


class Item(BaseModel):
    id = pw.CharField(primary_key=True, max_length=36)
    bib = pw.ForeignKeyField(Bib, backref="items", index=False)  # (Meta: with the library)
    bib_id: str  # each foreign key's own column, as peewee reads it (declared for type checks)
    library = pw.CharField(max_length=32)  # (Meta: its copies by barcode serve it alone too)
    barcode = pw.CharField(max_length=32)
    item_type = pw.CharField(max_length=16, default="book")
    location = pw.CharField(null=True)
    call_number = pw.CharField(null=True)
    # What staff set (available, lost, damaged, withdrawn): merged per field by its clock
    # in field_hlc, like any edit.
    condition = pw.CharField(max_length=16, default="available")
    # What a reader sees, derived from `condition`, the open loan, a ready hold and
    # `transit_to` by the projector alone (projector.STATUS_SQL): a copy's loans and
    # holds never write it, so every order of the same events gives the same status.
    status = pw.CharField(max_length=16, default="available")
    accession_date = pw.CharField(max_length=10)
    # Where a copy returned at another library travels to; last writer wins by
    # `transit_hlc` (a return elsewhere sets it, a loan or its arrival home clears it).
    transit_to = pw.CharField(max_length=32, null=True)
    transit_hlc = pw.BigIntegerField(default=0)
    field_hlc = JSONField(default=dict)
    # What the copy cost, in VND, when staff recorded it: what a reader pays who loses or
    # damages it (core/fees); NULL: the loan rule's replacement charge.
    price = pw.BigIntegerField(null=True)

    class Meta:
        # A record's copies at a library: placing a hold, a pull list, a request. With the
        # record's own index beside the library's, the planner (no statistics) took the
        # library's: every copy the library has.
        indexes = ((("library", "barcode"), True), (("bib", "library"), False))


class Loan(BaseModel):
    id = pw.CharField(primary_key=True, max_length=36)
    item = pw.ForeignKeyField(Item, backref="loans", index=False)
    patron = pw.ForeignKeyField(Patron, backref="loans", index=False)
    item_id: str
    patron_id: str
    library = pw.CharField(max_length=32)
    out_at = pw.CharField(max_length=32)
    out_hlc = pw.BigIntegerField(default=0)  # decides which loan stands when two collide
    due_date = pw.CharField(max_length=10)
    returned_at = pw.CharField(max_length=32, null=True)
    renewals = pw.IntegerField(default=0)
    fee = pw.IntegerField(default=0)  # overdue fee in VND, fixed at return
    # The clock of the return that stands (the earliest); None while none came. A loan
    # the next loan of its copy ended has a returned_at and maybe no return (projector).
    return_hlc = pw.BigIntegerField(null=True)
    # The library that lent another library's copy, sent to it for a hold (holds.py):
    # the loan's events reach its desks too (sync.receive.concerns). None: the copy's own.
    # Indexed where set (below): an ordinary loan writes nothing to that index.
    pickup = pw.CharField(max_length=32, null=True)

    class Meta:
        # Three indexes serve every lookup: the open loan of a copy, a patron's open loans
        # or history, a library's open or overdue loans; each seeks straight to the open
        # ones however long the history grows. Every index costs each loan a page write.
        indexes = ((("item", "returned_at"), False), (("patron", "returned_at"), False),
                   (("library", "returned_at", "due_date"), False))


# Pickup loans are few: the hub's routing seeks them (`pickup = ?` implies the condition,
# so SQLite and PostgreSQL both use the partial index).
Loan.add_index(Loan.pickup, name="loan_pickup", where=Loan.pickup.is_null(False))


class HandIn(BaseModel):
    """A copy returned at a library that does not hold its loan (another library's copy;
    circulation._away_return): which loan it ends is worked out from the copy's loans
    and hand-ins by their clocks (projector.loan_out, _away_in), the same whichever
    arrives first, so they are kept as they come."""
    id = pw.CharField(primary_key=True, max_length=36)  # the return event's
    item = pw.CharField(max_length=36, index=True)
    hlc = pw.BigIntegerField()


# A hold still to be filled: waiting, its copy on the way (another library's), or ready.
OPEN_HOLDS = ("waiting", "in_transit", "ready")


class Hold(BaseModel):
    id = pw.CharField(primary_key=True, max_length=36)
    patron = pw.ForeignKeyField(Patron, backref="holds")
    bib = pw.ForeignKeyField(Bib, backref="holds", index=False)  # (Meta: with the library)
    bib_id: str
    library = pw.CharField(max_length=32)  # (Meta: with the state)
    placed_at = pw.CharField(max_length=32)
    status = pw.CharField(max_length=16, default="waiting")
    item = pw.ForeignKeyField(Item, null=True, backref="holds")
    item_id: str | None
    pickup_by = pw.CharField(max_length=10, null=True)
    # The library asked to send a copy when the pickup library (`library`) has none:
    # its pull list shows the hold, its trap sends the copy (holds.py). None: a copy of
    # the pickup library fills it.
    source = pw.CharField(max_length=32, null=True, index=True)
    # The source library's word that it cannot fill the hold (its reason, `hold.declined`):
    # the hold leaves its pull list and the pickup library asks the next library.
    declined = pw.CharField(max_length=200, null=True)
    # The libraries that declined another hold of the patron's request (those linked by
    # `reasks`, below): never asked again. None: none did.
    passed_over = JSONField(null=True)
    # The hold this one asks again for (holds.reask): together, one patron's request.
    reasks = pw.CharField(max_length=36, null=True, index=True)
    # Replaced by another desk's asking again for the same hold (projector): "found"
    # where the ask that stands is held, "told" once the pickup library said so to the
    # library no longer asked. None: not replaced.
    replaced = pw.CharField(max_length=8, null=True)

    class Meta:
        # Holds by their state: a record's at a library (what a loan and a return ask of
        # every copy: circulation) and a library's (the hold shelf, the pull list,
        # housekeeping). Without the state the planner, which has no statistics, read
        # every hold the library ever had for each.
        indexes = ((("bib", "library", "status"), False), (("library", "status"), False))


# Replaced holds are few and stay few: housekeeping's `holds.reask` seeks a library's
# (`replaced = ?` implies the condition, so SQLite and PostgreSQL both use the partial
# index) every quarter of an hour instead of reading all the holds it ever had.
Hold.add_index(Hold.library, Hold.replaced, name="hold_library_replaced",
               where=Hold.replaced.is_null(False))


class LoanRule(BaseModel):
    id = pw.CharField(primary_key=True, max_length=100)  # library|category|item_type
    library = pw.CharField(max_length=32)
    category = pw.CharField(max_length=16)  # "*" matches any
    item_type = pw.CharField(max_length=16)  # "*" matches any
    loan_days = pw.IntegerField()
    max_loans = pw.IntegerField()
    max_renewals = pw.IntegerField()
    holds_allowed = pw.BooleanField(default=True)
    fee_per_day = pw.IntegerField(default=0)
    # NULL in rules saved before these existed: policy.DEFAULT_RULE then
    renew_window_days = pw.IntegerField(null=True)
    block_overdue_days = pw.IntegerField(null=True)
    block_overdue_items = pw.IntegerField(null=True)
    postal_days = pw.IntegerField(null=True)  # added to a loan sent by post (core/requests)
    # Fees (core/fees), in VND: the replacement charge of a lost or damaged copy that has
    # no price of its own, and the balance above which a card borrows nothing.
    replacement_fee = pw.BigIntegerField(null=True)
    fee_limit = pw.BigIntegerField(null=True)


class ClosedDay(BaseModel):
    id = pw.CharField(primary_key=True, max_length=50)  # library|day
    library = pw.CharField(max_length=32)
    day = pw.CharField(max_length=10)
    reason = pw.CharField(null=True)


class Conflict(BaseModel):
    id = pw.CharField(primary_key=True, max_length=36)
    kind = pw.CharField(max_length=32)
    library = pw.CharField(max_length=32, index=True)
    entity = pw.CharField(max_length=36)
    event = pw.CharField(max_length=36)
    other_event = pw.CharField(max_length=36, null=True)
    details = JSONField(default=dict)
    created_at = pw.CharField(max_length=32)
    status = pw.CharField(max_length=16, default="open")
    resolution = pw.TextField(null=True)
    resolved_by = pw.CharField(max_length=64, null=True)
    resolved_at = pw.CharField(max_length=32, null=True)


class FieldEdit(BaseModel):
    """One edit of one field of a record, as the projector received it: which value it
    wrote, at which clock, and which stamp its editor saw (`base`). Edit conflicts are
    worked out from these alone (projector.edit_conflicts), so every node holding the
    same edits holds the same conflicts, whatever order they came in. A record's first
    save is not an edit: every later edit saw it."""
    id = pw.CharField(primary_key=True, max_length=36)  # of the event and the field
    model = pw.CharField(max_length=16)
    entity = pw.CharField(max_length=36)
    field = pw.CharField(max_length=32)
    hlc = pw.BigIntegerField()
    base = pw.BigIntegerField()
    value = JSONField(null=True)
    event = pw.CharField(max_length=36)
    library = pw.CharField(max_length=32)  # of the event: where the edit was typed
    at = pw.CharField(max_length=32)

    class Meta:
        indexes = ((("entity", "field"), False),)


class Stamp(BaseModel):
    """The clock and body of the event that last set a keyed row of settings (a loan rule,
    a closed day), kept when the row is deleted too: an older event arriving later
    changes nothing (last writer wins, a deletion included)."""
    key = pw.CharField(primary_key=True, max_length=120)
    hlc = pw.BigIntegerField()
    body = pw.TextField()


# Counting for the library's reports (core/reports): visits and copies read on site.
class Visit(BaseModel):
    """A patron who identified at the desk or kiosk on a day: once a day, whatever the
    number of times (id: library|day|patron)."""
    id = pw.CharField(primary_key=True, max_length=120)
    library = pw.CharField(max_length=32)
    day = pw.CharField(max_length=10)
    patron = pw.CharField(max_length=36)

    class Meta:
        indexes = ((("library", "day"), False),)


class VisitTally(BaseModel):
    """Readers counted by hand on a day (who never showed a card): one figure per
    library and day, the latest word standing (id: library|day)."""
    id = pw.CharField(primary_key=True, max_length=50)
    library = pw.CharField(max_length=32)
    day = pw.CharField(max_length=10)
    count = pw.IntegerField()


class InLibraryUse(BaseModel):
    """A copy read on site, scanned at the desk (lượt tài liệu đọc tại chỗ)."""
    id = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32)
    day = pw.CharField(max_length=10)
    item = pw.CharField(max_length=36)

    class Meta:
        indexes = ((("library", "day"), False),)


class Stocktake(BaseModel):
    """A stocktake (kiểm kê) of a library or a shelf range (core/stocktake): its scope,
    who started it, and once finished the result as the finishing desk saw it (the
    record an inspection reads, kept as it was even after copies are marked lost)."""
    id = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32, index=True)
    location = pw.CharField(null=True)
    call_from = pw.CharField(null=True)
    call_to = pw.CharField(null=True)
    note = pw.CharField(null=True)
    started_at = pw.CharField(max_length=32)
    started_by = pw.CharField(max_length=64, null=True)
    started_hlc = pw.BigIntegerField(default=0)
    finished_at = pw.CharField(max_length=32, null=True)
    finished_by = pw.CharField(max_length=64, null=True)
    finished_hlc = pw.BigIntegerField(default=0)  # the latest finish stands
    result = JSONField(null=True)


class StocktakeSeen(BaseModel):
    """A copy seen in a stocktake: once, however many times it was scanned, at any desk
    (id: derived from the stocktake and the copy, or its barcode when no copy has it);
    `hlc` and `at` are of the first scan by clock, whatever order scans arrive in."""
    id = pw.CharField(primary_key=True, max_length=36)
    stocktake = pw.CharField(max_length=36)
    item = pw.CharField(max_length=36, null=True)
    barcode = pw.CharField(max_length=64)
    owner = pw.CharField(max_length=32, null=True)  # the library an RFID tag names
    hlc = pw.BigIntegerField()
    at = pw.CharField(max_length=32)
    actor = pw.CharField(max_length=64, null=True)
    via = pw.CharField(max_length=8, default="scanner")

    class Meta:
        indexes = ((("stocktake", "hlc"), False),)


class Fee(BaseModel):
    """A charge to a patron for a copy lost or damaged on loan (core/fees), and how it
    was settled. One row whatever order its events arrive in: the earliest charge by
    clock stands. What was paid and waived of it are its FeePayment rows; its state and
    settled_* columns say which of them, in clock order, brought their sum up to its
    amount (fees/projection)."""
    id = pw.CharField(primary_key=True, max_length=36)  # derived from the loan and kind
    library = pw.CharField(max_length=32, index=True)  # the copy's: it charges
    patron = pw.CharField(max_length=36, index=True)
    item = pw.CharField(max_length=36, null=True)
    loan = pw.CharField(max_length=36, null=True)
    kind = pw.CharField(max_length=16, default="")  # lost, damaged
    amount = pw.BigIntegerField(default=0)  # VND
    charged_at = pw.CharField(max_length=32, default="")
    charged_by = pw.CharField(max_length=64, null=True)
    charged_hlc = pw.BigIntegerField(default=0)  # 0: its settlement arrived first
    charged_event = pw.CharField(max_length=36, default="")
    state = pw.CharField(max_length=8, default="open")  # open, paid, waived
    settled_at = pw.CharField(max_length=32, null=True)
    settled_by = pw.CharField(max_length=64, null=True)
    settled_hlc = pw.BigIntegerField(default=0)
    settled_event = pw.CharField(max_length=36, default="")
    reason = pw.CharField(max_length=255, null=True)  # why it was waived


class FeePayment(BaseModel):
    """A payment or a waiver of a fee, of the whole balance or a part: one row per
    `fee.paid` or `fee.waived` event (fees/projection), whatever order they arrive in. A
    fee's paid, waived and balance are the sums of its rows; none is ever changed."""
    id = pw.CharField(primary_key=True, max_length=36)  # its event's
    fee = pw.ForeignKeyField(Fee, backref="payments")  # indexed: a fee's rows are sought
    fee_id: str
    kind = pw.CharField(max_length=8)  # payment, waiver
    amount = pw.BigIntegerField()  # VND
    at = pw.CharField(max_length=32)
    hlc = pw.BigIntegerField()
    library = pw.CharField(max_length=32)  # where it was taken
    actor = pw.CharField(max_length=64, null=True)  # staff, or the SIP2 machine's login
    transaction = pw.CharField(max_length=64, null=True)  # the machine's own id (SIP2 BK)
    reason = pw.CharField(max_length=255, null=True)  # why it was waived


class TrainingRoster(BaseModel):
    """A library's staff accounts as its desk last listed them (core/training): whom the
    "staff trained" indicator counts. The latest list by clock stands."""
    library = pw.CharField(primary_key=True, max_length=32)
    staff = JSONField(default=list)  # [{"username", "role"}], active accounts only
    hlc = pw.BigIntegerField(default=0)
    at = pw.CharField(max_length=32)


class TrainingExercise(BaseModel):
    """A guided exercise a staff account completed in practice mode, as checked there."""
    id = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32, index=True)
    staff = pw.CharField(max_length=64)
    exercise = pw.CharField(max_length=32)
    started_at = pw.CharField(max_length=32)
    done_at = pw.CharField(max_length=32)
    seconds = pw.IntegerField(default=0)


class TrainingCourse(BaseModel):
    """A course a staff account attended outside, entered by a branch or hub admin, with
    its certificate (a file kept by content: core/training/certificates.py)."""
    id = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32, index=True)
    staff = pw.CharField(max_length=64)
    name = pw.CharField()
    organiser = pw.CharField()
    day = pw.CharField(max_length=10)  # ISO date the course ended
    hours = pw.FloatField(default=0)
    certificate = JSONField(null=True)  # {"sha256", "type", "size", "filename"}
    entered_by = pw.CharField(max_length=64, null=True)
    hlc = pw.BigIntegerField(default=0)  # the latest edit by clock stands
    deleted = pw.BooleanField(default=False)


TRAINING_MODELS = [TrainingRoster, TrainingExercise, TrainingCourse]


# The digital library (core/digital): documents attached to records, their pages, the
# OCR text of each page, and their use. Masters are files (digital/store.py), not rows.
class DigitalDocument(BaseModel):
    id = pw.CharField(primary_key=True, max_length=36)
    bib = pw.CharField(max_length=36, index=True)
    library = pw.CharField(max_length=32, index=True)
    title = pw.TextField(default="")
    access = pw.CharField(max_length=16)  # public, patrons, onsite, staff, restricted
    collection = pw.CharField(max_length=64, null=True)  # an OAI-PMH set
    page_count = pw.IntegerField(default=0)
    downloadable = pw.BooleanField(default=True)
    created_at = pw.CharField(max_length=32)
    hlc = pw.BigIntegerField(default=0)  # of the save that stands (last writer wins)
    deleted = pw.BooleanField(default=False)


class DigitalPage(BaseModel):
    id = pw.CharField(primary_key=True, max_length=48)  # <document>-<n>
    document = pw.CharField(max_length=36)
    n = pw.IntegerField()  # from 1, in reading order
    sha256 = pw.CharField(max_length=64, index=True)  # of the master file
    ext = pw.CharField(max_length=8)  # the master's kind: jpg, png, tif, pdf
    frame = pw.IntegerField(default=0)  # the page inside a multi-page TIFF or PDF
    size = pw.BigIntegerField(default=0)
    width = pw.IntegerField(default=0)
    height = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("document", "n"), True),)


class DigitalText(BaseModel):
    """A page's OCR text, apart from the page so either may arrive first."""
    page = pw.CharField(primary_key=True, max_length=48)
    document = pw.CharField(max_length=36, index=True)
    text = pw.TextField(default="")
    hlc = pw.BigIntegerField(default=0)


class DigitalUse(BaseModel):
    """A view or download of a document, counted for the reports."""
    id = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32)  # where it was served
    day = pw.CharField(max_length=10)
    document = pw.CharField(max_length=36, index=True)
    action = pw.CharField(max_length=10)  # view, download

    class Meta:
        indexes = ((("library", "day"), False),)


class RemoteRequest(BaseModel):
    """A patron's remote request (core/requests): pages copied and sent as a PDF, or a
    copy lent by post. Handled by one library (`library`); its state is the furthest
    its events have taken it (requests.states), whatever order they arrive in."""
    id = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32)  # the library that handles it (Meta)
    patron = pw.CharField(max_length=36, index=True)
    kind = pw.CharField(max_length=16)  # copy, postal_loan
    state = pw.CharField(max_length=16, default="requested", index=True)
    state_hlc = pw.BigIntegerField(default=0)  # of the event that set the state
    bib = pw.CharField(max_length=36, null=True)
    document = pw.CharField(max_length=36, null=True)  # a digitised document's id
    title = pw.TextField(default="")
    pages = pw.CharField(max_length=255, null=True)
    purpose = pw.TextField(null=True)
    # Where a postal loan is mailed: the patron's personal data, so the request is the
    # patron's home library's and its events reach no other library's branch.
    address = pw.TextField(null=True)
    placed_at = pw.CharField(max_length=32, default="")
    placed_hlc = pw.BigIntegerField(default=0)
    reason = pw.TextField(null=True)  # why it was refused
    sha256 = pw.CharField(max_length=64, null=True)  # the PDF sent (digital store)
    size = pw.BigIntegerField(null=True)
    page_count = pw.IntegerField(null=True)
    expires_at = pw.CharField(max_length=32, null=True)  # of the download link
    loan_id = pw.CharField(max_length=36, null=True, index=True)
    due_date = pw.CharField(max_length=10, null=True)
    updated_at = pw.CharField(max_length=32, default="")
    actor = pw.CharField(max_length=64, null=True)  # who made the move that stands
    field_hlc = JSONField(default=dict)  # each field's event clock: the earliest stands
    # The language the patron asked in (vi, en): the words of their e-mail when the copy
    # is ready. None for requests placed before it was kept: the library's language.
    lang = pw.CharField(max_length=8, null=True)

    class Meta:
        # The queues seek the open requests: a library's by both columns, the town's (the
        # hub's queue) by the state alone. Indexed by the library alone, a library's queue
        # read every request it ever had.
        indexes = ((("library", "state"), False),)


# Patrons' rights (core/rights): erasures, erased reading histories, the audit trail.
class PatronErasure(BaseModel):
    """A patron erased at their request (rights/erasure.py): the card row stays as an
    anonymous stand-in (loans keep counting), edits arriving later change nothing."""
    patron = pw.CharField(primary_key=True, max_length=36)
    library = pw.CharField(max_length=32)
    hlc = pw.BigIntegerField()
    at = pw.CharField(max_length=32)


class HistoryErasure(BaseModel):
    """The latest reading-history erasure of a patron: loans returned up to `before` are
    the anonymous stand-in's (by the return's clock), whichever arrives first, the erasure or the return."""
    patron = pw.CharField(primary_key=True, max_length=36)
    before = pw.CharField(max_length=32)
    before_hlc = pw.BigIntegerField()  # loans whose return clock is at most this
    anonymous = pw.CharField(max_length=36)


class AuditEntry(BaseModel):
    """A staff look at a patron's personal data (core/audit.py), as an event, so the
    trail reaches the hub and no one edits it."""
    id = pw.CharField(primary_key=True, max_length=36)  # the event's
    library = pw.CharField(max_length=32)
    at = pw.CharField(max_length=32, index=True)
    username = pw.CharField(max_length=64, index=True)
    action = pw.CharField(max_length=32)
    patron = pw.CharField(max_length=64, index=True)  # a patron id, or a list's name
    detail = pw.TextField(null=True)


# Local tables: security and bookkeeping of this device, not replicated state.

# Times in seconds since 1970 are DoubleField: PostgreSQL's REAL (a FloatField) keeps about
# seven digits, so a time today is rounded to the nearest 128 seconds and a 30-second wait
# could end before it began.
class User(BaseModel):
    username = pw.CharField(primary_key=True, max_length=64)
    password_hash = pw.CharField()
    role = pw.CharField(max_length=16)
    library = pw.CharField(max_length=32)
    failures = pw.IntegerField(default=0)
    locked_until = pw.DoubleField(default=0)
    active = pw.BooleanField(default=True)


class PinAttempt(BaseModel):
    card = pw.CharField(primary_key=True, max_length=64)
    failures = pw.IntegerField(default=0)
    locked_until = pw.DoubleField(default=0)


class LoginSession(BaseModel):
    """A staff or patron login (a session cookie) or an API token, so it can be revoked:
    the cookie or token carries only the key; its SHA-256 is stored."""
    key_hash = pw.CharField(primary_key=True, max_length=64)
    subject = pw.CharField(max_length=80, index=True)  # a username, or "patron:<card>"
    kind = pw.CharField(max_length=8)  # session | token
    expires_at = pw.DoubleField()


class LoginThrottle(BaseModel):
    """Failed logins or PINs counted per key (an account with a client address, or a
    client address alone), for the growing wait in passwords.py."""
    key = pw.CharField(primary_key=True, max_length=200)
    failures = pw.IntegerField(default=0)
    last_failure = pw.DoubleField(default=0)
    wait_until = pw.DoubleField(default=0)


class AuditLog(BaseModel):
    id = pw.AutoField()
    at = pw.CharField(max_length=32)
    username = pw.CharField(max_length=64)
    action = pw.CharField(max_length=32)
    target = pw.CharField(max_length=64)
    detail = pw.TextField(null=True)


class DigitalJob(BaseModel):
    """Derivatives and OCR still to make for a page (digital/jobs.py): a queue in the
    database, so work queued survives a restart."""
    id = pw.AutoField()
    page = pw.CharField(max_length=48)
    kind = pw.CharField(max_length=8)  # derive, ocr
    state = pw.CharField(max_length=8, default="queued", index=True)  # queued, running, done, failed
    attempts = pw.IntegerField(default=0)
    error = pw.TextField(null=True)
    queued_at = pw.DoubleField(default=0)


class UploadSession(BaseModel):
    """A chunked upload from the desk (digital/uploads.py): what has arrived so far."""
    id = pw.CharField(primary_key=True, max_length=36)
    username = pw.CharField(max_length=64)
    filename = pw.CharField(max_length=255)
    size = pw.BigIntegerField()
    received = pw.BigIntegerField(default=0)
    created_at = pw.DoubleField(default=0)


class NoticeMail(BaseModel):
    """An e-mail notice waiting to go, going, or gone (core/notices/outbox.py). Kept on
    this device only: it never syncs, so an address in it stays at the home library.
    `key` (kind|patron|loan or hold|date) makes the same notice one row, forever."""
    key = pw.CharField(primary_key=True, max_length=200)
    kind = pw.CharField(max_length=16)
    patron = pw.CharField(max_length=36, index=True)
    ref = pw.CharField(max_length=36)  # the loan or the hold
    recipient = pw.CharField(default="")  # cleared some weeks after it went (outbox.forget)
    subject = pw.TextField(default="")
    body = pw.TextField(default="")
    # queued, sending, sent, failed, unsure (the sender stopped mid-send), dropped
    state = pw.CharField(max_length=8, default="queued", index=True)
    attempts = pw.IntegerField(default=0)
    next_try = pw.DoubleField(default=0)
    claimed_at = pw.DoubleField(default=0)
    queued_at = pw.DoubleField(default=0)
    done_at = pw.DoubleField(default=0)
    error = pw.TextField(null=True)  # the server's own words on the last failure


# The reading suggestions and the cataloguing classifier (core/suggest): built at the hub
# from the whole town, shipped to branches with sync, replaced whole. Derived, local.
class SuggestRelated(BaseModel):
    """A record's neighbours for one audience ("adult", "child"): a JSON list of
    [bib_id, borrowers] (borrowers >= suggest.model.MIN_BORROWERS), best first."""
    key = pw.CharField(primary_key=True, max_length=48)  # <audience>|<bib_id>
    items = JSONField(default=list)


class SuggestDoc(BaseModel):
    """A record of the union catalogue as the word index numbers it."""
    idx = pw.IntegerField(primary_key=True)
    bib = pw.CharField(max_length=36, index=True)
    ddc = pw.CharField(max_length=32, null=True)


class SuggestTerm(BaseModel):
    """A folded word's postings: a JSON list of [doc idx, tf-idf weight]."""
    term = pw.CharField(primary_key=True, max_length=64)
    postings = JSONField(default=list)


class PatronKey(BaseModel):
    """A patron's key: the personal fields of their events are sealed with it
    (rights/keys.py). Held at the home library and the hub only; travels beside the
    `patron.key` event, never in it, and erasure destroys it."""
    id = pw.CharField(primary_key=True, max_length=36)  # of its `patron.key` event
    patron = pw.CharField(max_length=36, index=True)  # (two desks may each make one)
    library = pw.CharField(max_length=32)
    key = pw.CharField(max_length=64)  # base64 of 32 bytes


class Setting(BaseModel):
    key = pw.CharField(primary_key=True, max_length=64)
    value = JSONField(null=True)


STATE_MODELS = [Library, Patron, Bib, Item, Loan, Hold, LoanRule, ClosedDay, Conflict,
                FieldEdit, Stamp, Visit, VisitTally, InLibraryUse, HandIn, Stocktake,
                StocktakeSeen, DigitalDocument, DigitalPage, DigitalText, DigitalUse,
                RemoteRequest, Fee, FeePayment, *TRAINING_MODELS, PatronErasure,
                HistoryErasure, AuditEntry]
SUGGEST_MODELS = [SuggestRelated, SuggestDoc, SuggestTerm]
LOCAL_MODELS = [Event, User, PinAttempt, LoginSession, LoginThrottle, AuditLog, Setting,
                DigitalJob, UploadSession, NoticeMail, *SUGGEST_MODELS, PatronKey]
ALL_MODELS = LOCAL_MODELS + STATE_MODELS
