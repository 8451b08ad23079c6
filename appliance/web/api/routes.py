"""The routes of the JSON API (docs/design.md; documented at /api/v1/openapi.json)."""

from flask import g, jsonify, request, url_for

from ... import __version__
from ...core import audit, catalogue, circulation, holds, patrons, search, users
from ...core.datadir import CODE_RE as LIBRARY_RE
from ...core.errors import N_, Forbidden, Invalid, NotFound
from ...core.events import pending_count
from ...core.fees import commands as fees
from ...core.fees import statement
from ...core.models import Loan, Setting, User
from ..auth import STAFF, client_address, identity, make_token, public, requires
from ..rights import export_response
from . import bp, serialise
from .openapi import checked, schema_of, spec


def body(path, method="post"):
    """The request's JSON object, checked against the route's documented schema
    (openapi.ROUTES): a field of the wrong type is a 400 naming it. Nesting too deep
    for the parser is bad JSON too (helpers.JSONProvider)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("bad_json", N_("The request body must be a JSON object."))
    return checked(data, schema_of(path, method))


def optional_body(path):
    """As body(), for a route whose fields are all optional: no body at all is {}."""
    return body(path) if request.get_data(cache=True).strip() else {}


def library_arg():
    """`?library=CODE`: the library whose copy or card a barcode or card number names
    (barcodes and cards are unique per library); this device's own by default."""
    code = (request.args.get("library") or "").strip().upper()
    if code and not LIBRARY_RE.fullmatch(code):
        raise Invalid("bad_library_code",
                      N_("A library code is 2 to 32 capital letters, digits or dashes."))
    return code or g.ctx.library


def need(data, *names):
    missing = [n for n in names if not str(data.get(n) or "").strip()]
    if missing:
        raise Invalid("missing_field", N_("Missing field: %(field)s."), field=missing[0])
    return [str(data[n]).strip() for n in names]


def actor():
    who = identity()
    return who["username"] if who else None


def _setting(key, default=None):
    row = Setting.get_or_none(Setting.key == key)
    return row.value if row else default


@bp.route("/health")
@public
def health():
    ctx = g.ctx
    try:
        ctx.db.execute_sql("SELECT 1")
        db_state = "ok"
    except Exception:  # the answer itself says what is wrong
        db_state = "error"
    return jsonify({"status": "ok" if db_state == "ok" else "degraded", "version": __version__,
                    "role": ctx.role, "library": ctx.library, "db": db_state,
                    "clock_ok": ctx.clock.clock_ok(),
                    "pending_events": pending_count(ctx.origin, _setting("sync.acked_seq", 0)),
                    "last_sync": _setting("sync.last_success")})


@bp.route("/session", methods=["POST"])
@public
def login():
    data = body("/session")
    user = users.authenticate(g.ctx, data.get("username"), data.get("password"),
                              client=client_address())
    return jsonify({"token": make_token(user), "role": user.role, "expires_in": 12 * 3600})


@bp.route("/patrons", methods=["POST"])
@requires(*STAFF)
def create_patron():
    data = body("/patrons")
    if "id" in data:
        raise Invalid("bad_field", N_("A new patron cannot carry an id."))
    return jsonify(serialise.patron(patrons.save(g.ctx, data))), 201


@bp.route("/patrons/<card>")
@requires(*STAFF)
def get_patron(card):
    p = _patron(card)
    audit.log(g.ctx, actor(), "patron.read", p.id, "api")
    return jsonify(serialise.patron(p))


@bp.route("/patrons/<card>/export")
@requires(*STAFF, "patron")
def export_patron(card):
    """The patron's data (JSON; `?format=pdf` for the PDF): the patron themself, or staff
    of their home library (the hub's staff act for the town); anyone else is refused."""
    who = identity()
    p = _patron(card)
    if who["role"] == "patron":
        if who["username"] != f"patron:{p.card}":
            raise Forbidden("not_yours", N_("Only the patron or their library's staff may "
                                            "download a patron's data."))
    else:
        user = User.get_or_none(User.username == who["username"])
        if g.ctx.role != "hub" and (user is None or user.library != p.library):
            raise Forbidden("not_yours", N_("Only the patron or their library's staff may "
                                            "download a patron's data."))
        audit.log(g.ctx, who["username"], "patron.export", p.id, "api")
    return export_response(p, "pdf" if request.args.get("format") == "pdf" else "json")


def _patron(card):
    """The card of `?library=` when given (and no other library's), else as the desk
    finds it: this library's first, then a town-wide card."""
    if not request.args.get("library"):
        return patrons.find(g.ctx, card)
    library = library_arg()
    p = patrons.find(g.ctx, card, library=library)
    if p.library != library:
        raise NotFound("patron_not_found", N_("No patron has card %(card)s."), card=card)
    return p


@bp.route("/patrons/<card>", methods=["PATCH"])
@requires(*STAFF)
def edit_patron(card):
    """The desk's edit (patrons.save): its checks, its event, its library rule."""
    data = body("/patrons/{card}", "patch")
    p = _patron(card)
    saved = patrons.save(g.ctx, dict(data, id=p.id))
    audit.log(g.ctx, actor(), "patron.read", p.id, "api edit")  # the answer shows the card
    return jsonify(serialise.patron(saved))


@bp.route("/patrons/<card>/fees")
@requires(*STAFF)
def patron_fees(card):
    """The patron's fees, each with the library that charged it, and what they owe here
    and at other libraries (core/fees/statement); a staff read of the patron, audited."""
    p = _patron(card)
    audit.log(g.ctx, actor(), "patron.fees", p.id, "api")
    return jsonify(serialise.fees(p.card, statement.of_patron(g.ctx, p)))


@bp.route("/fees", methods=["POST"])
@requires(*STAFF)
def charge_fee():
    """The desk's declaration: a copy on loan lost or damaged, its borrower charged. The
    copy is named by `item` (its barcode) with `library` when libraries share the
    barcode (the hub refuses an ambiguous one, naming them), or by `item_id`."""
    data = body("/fees")
    (kind,) = need(data, "kind")
    item_id = str(data.get("item_id") or "").strip() or None
    if item_id is None:
        need(data, "item")
    library = str(data.get("library") or "").strip().upper() or None
    if library and not LIBRARY_RE.fullmatch(library):
        raise Invalid("bad_library_code",
                      N_("A library code is 2 to 32 capital letters, digits or dashes."))
    fee = fees.declare(g.ctx, str(data.get("item") or "").strip(), kind, actor=actor(),
                       library=library, item_id=item_id)
    return jsonify(serialise.fee(statement.line(g.ctx, fee))), 201


@bp.route("/fees/<fee_id>/payments", methods=["POST"])
@requires(*STAFF)
def pay_fee(fee_id):
    """The whole fee paid; an `amount` sent must be the whole of it. Only the library
    that charged the fee, or the hub, takes it (core/fees/commands.settled_here)."""
    amount = optional_body("/fees/{fee_id}/payments").get("amount")
    fee = fees.pay(g.ctx, fee_id, actor=actor(), amount=amount)
    return jsonify(serialise.fee(statement.line(g.ctx, fee)))


@bp.route("/fees/<fee_id>/waiver", methods=["POST"])
@requires(*STAFF)
def waive_fee(fee_id):
    """The fee waived, for the reason given; where it may be paid, as a payment."""
    reason = body("/fees/{fee_id}/waiver").get("reason")
    fee = fees.waive(g.ctx, fee_id, reason, actor=actor())
    return jsonify(serialise.fee(statement.line(g.ctx, fee)))


@bp.route("/bibs", methods=["POST"])
@requires(*STAFF)
def create_bib():
    data = body("/bibs")
    data.pop("id", None)
    bib = catalogue.save_bib(g.ctx, data)
    return jsonify(serialise.bib(bib)), 201


@bp.route("/bibs/<bib_id>")
@public
def get_bib(bib_id):
    return jsonify(serialise.bib(catalogue.get_bib(g.ctx, bib_id)))


@bp.route("/bibs/<bib_id>/related")
@public
def related_bibs(bib_id):
    """Related titles; the same the OPAC record page shows (core/suggest)."""
    from ...core.suggest import store

    catalogue.get_bib(g.ctx, bib_id)  # 404 for a record that is not there
    return jsonify(store.related(bib_id, request.args.get("audience")))


@bp.route("/bibs/suggest-classification")
@requires(*STAFF)
def suggest_classification():
    """DDC and subjects for a record being catalogued, with the records they come from."""
    from ...core.suggest import store

    authors = [a.strip() for a in (request.args.get("authors") or "").split(";") if a.strip()]
    return jsonify(store.suggest_classification(request.args.get("title") or "", authors))


@bp.route("/bibs/<bib_id>", methods=["PATCH"])
@requires(*STAFF)
def edit_bib(bib_id):
    """The cataloguing form's save (catalogue.save_bib)."""
    data = body("/bibs/{bib_id}", "patch")
    bib = catalogue.get_bib(g.ctx, bib_id)
    return jsonify(serialise.bib(catalogue.save_bib(g.ctx, dict(data, id=bib.id))))


@bp.route("/items", methods=["POST"])
@requires(*STAFF)
def create_item():
    data = body("/items")
    data.pop("id", None)
    if "bib_id" in data:
        data["bib"] = data.pop("bib_id")
    return jsonify(serialise.item(catalogue.save_item(g.ctx, data))), 201


@bp.route("/items/<barcode>")
@public
def get_item(barcode):
    return jsonify(serialise.item(catalogue.get_item(g.ctx, barcode, library_arg())))


@bp.route("/items/<barcode>", methods=["PATCH"])
@requires(*STAFF)
def edit_item(barcode):
    """The desk's edit of a copy and its status (catalogue.edit_item); a copy of another
    library is refused at a branch, as at its desk."""
    data = body("/items/{barcode}", "patch")
    item = catalogue.get_item(g.ctx, barcode, library_arg())
    return jsonify(serialise.item(catalogue.edit_item(g.ctx, item, data)))


@bp.route("/checkouts", methods=["POST"])
@requires(*STAFF)
def checkout():
    card, barcode = need(body("/checkouts"), "patron", "item")
    return jsonify(circulation.checkout(g.ctx, card, barcode, actor=actor())), 201


@bp.route("/checkins", methods=["POST"])
@requires(*STAFF)
def checkin():
    (barcode,) = need(body("/checkins"), "item")
    return jsonify(circulation.checkin(g.ctx, barcode, actor=actor()))


@bp.route("/renewals", methods=["POST"])
@requires(*STAFF)
def renew():
    (barcode,) = need(body("/renewals"), "item")
    done = circulation.renew(g.ctx, barcode, actor=actor())
    loan = Loan.get_or_none(Loan.id == done["loan_id"])
    audit.log(g.ctx, actor(), "api.renewal", loan.patron_id if loan else barcode)
    return jsonify(done)


@bp.route("/holds", methods=["POST"])
@requires(*STAFF)
def place_hold():
    card, bib_id = need(body("/holds"), "patron", "bib_id")
    hold = holds.place(g.ctx, card, bib_id)
    return jsonify({"hold_id": hold.id, "status": hold.status, "bib_id": hold.bib_id,
                    "patron": card}), 201


@bp.route("/holds/<hold_id>", methods=["DELETE"])
@requires(*STAFF)
def cancel_hold(hold_id):
    holds.cancel(g.ctx, hold_id)
    return jsonify({"hold_id": hold_id, "status": "cancelled"})


@bp.route("/holds/asked")
@requires(*STAFF)
def asked_holds():
    """The holds other libraries asked this one to send a copy for (its staff may
    decline them)."""
    rows = holds.asked_of(g.ctx.library)
    audit.seen(g.ctx, actor(), "api.holds.asked", [h.patron_id for h in rows])
    return jsonify([{"hold_id": h.id, "bib_id": h.bib_id, "title": h.bib.title,
                     "patron": h.patron.card, "library": h.library,
                     "placed_at": h.placed_at} for h in rows])


@bp.route("/holds/<hold_id>/decline", methods=["POST"])
@requires(*STAFF)
def decline_hold(hold_id):
    (reason,) = need(body("/holds/{hold_id}/decline"), "reason")
    said = holds.decline(g.ctx, hold_id, reason, actor=actor())
    return jsonify({"hold_id": hold_id, "declined": said["reason"],
                    "library": said["library"]})


@bp.route("/search")
@public
def search_catalogue():
    return jsonify(search.search(request.args.get("q", ""),
                                 **search.search_options(request.args)))


@bp.route("/openapi.json")
@public
def openapi():
    return jsonify(spec(url_for("api.health", _external=True).rsplit("/health", 1)[0]))
