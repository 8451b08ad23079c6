"""Public catalogue pages: search with facets, record page with JSON-LD, new items."""

import json
import xml.etree.ElementTree as ET

from flask import (
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _

from ... import covers
from ...core import catalogue, patrons, search
from ...core.errors import DomainError
from ...core.models import Bib, Item, Loan
from ...core.search_query import facet_counts
from ...core.xmltext import xml_safe
from .. import i18n
from ..auth import public
from ..helpers import library_name
from . import bp

ATOM = "http://www.w3.org/2005/Atom"


def known(copies):
    """The copies whose status this device knows: a branch holds every library's copies
    (to take them back when returned there) but not their loans, so it shows its own;
    the hub shows the town's."""
    if g.ctx.role == "hub":
        return copies
    return [c for c in copies if c["library"] == g.ctx.library]


@bp.route("/")
@public
def home():
    q = request.args.get("q", "").strip()
    try:
        opts = search.search_options(request.args)
        result = search.search(q, library=g.ctx.library, with_facets=True, **opts)
    except DomainError as e:  # a bad page number, a query past the limits, a time-out
        return _refused(q, e)
    copies = {bib_id: known(found) for bib_id, found in
              search.copies_of([r["bib_id"] for r in result["results"]]).items()}
    pages = min(-(-result["total"] // result["per_page"]), search.last_page(result["per_page"]))
    opts.setdefault("page", 1)
    return render_template("opac/search.html", q=q, result=result, copies=copies, opts=opts,
                           pages=pages)


def _refused(q, error):
    """The search page again, with what was wrong in the reader's language."""
    empty = {"total": 0, "total_exact": True, "page": 1, "per_page": 20, "results": [],
             "facets": dict(facet_counts([]), counted=0)}
    return render_template("opac/search.html", q=q, result=empty, copies={},
                           opts={"sort": "relevance", "page": 1}, pages=0,
                           error=i18n.translate(error)), error.status


def json_ld(bib, copies):
    """schema.org Book with an Offer (a loan, free of charge) per copy."""
    data = {"@context": "https://schema.org", "@type": "Book", "name": bib.title,
            "author": [{"@type": "Person", "name": a} for a in bib.authors or []],
            "url": url_for("opac.record", bib_id=bib.id, _external=True)}
    for key, value in (("isbn", bib.isbn), ("publisher", bib.publisher),
                       ("datePublished", bib.year), ("inLanguage", bib.language),
                       ("about", bib.subjects or None), ("isPartOf", bib.series)):
        if value:
            data[key] = value
    data["offers"] = [{
        "@type": "Offer", "price": 0, "priceCurrency": "VND", "sku": c["barcode"],
        "businessFunction": "http://purl.org/goodrelations/v1#LeaseOut",
        "availability": "https://schema.org/" + ("InStock" if c["status"] == "available"
                                                 else "OutOfStock"),
        "offeredBy": {"@type": "Library", "name": library_name(c["library"])},
        "availableAtOrFrom": {"@type": "Place",
                              "name": c["location"] or library_name(c["library"])}}
        for c in copies]
    # "</" cannot close the script element from inside the data
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


@bp.route("/record/<bib_id>")
@public
def record(bib_id):
    try:
        bib = catalogue.get_bib(g.ctx, bib_id)
    except catalogue.Merged as moved:  # its old address leads to the record kept
        return redirect(url_for("opac.record", bib_id=moved.into), 301)
    except DomainError:
        abort(404)
    copies = known(search.copies(bib.id))
    return render_template("opac/record.html", bib=bib, copies=copies, due=due_dates(bib),
                           holds=catalogue.holds_count(bib), json_ld=json_ld(bib, copies),
                           related=_related(bib))


def _related(bib):
    """"Bạn đọc cũng mượn" and titles alike (core/suggest); a child logged in sees what
    children borrow."""
    from ...core.suggest import store

    patron = None
    if session.get("patron_card"):
        try:
            patron = patrons.find(g.ctx, session["patron_card"])
        except DomainError:
            patron = None
    found = store.related(bib.id, store.audience_of(patron))
    return {"together": [r for r in found if r["why"] == "borrowed_together"],
            "alike": [r for r in found if r["why"] != "borrowed_together"]}


def due_dates(bib):
    """{(library, barcode): due date} of the record's copies on loan (a date only: who
    borrowed it is nobody's business here)."""
    rows = (Loan.select(Item.library, Item.barcode, Loan.due_date).join(Item)
            .where((Item.bib == bib.id) & Loan.returned_at.is_null()).tuples())
    return {(library, barcode): due for library, barcode, due in rows}


def new_items(limit=50):
    """Records by their newest copy's accession date, newest first."""
    rows = (Item.select(Item.bib, Item.accession_date).join(Bib)
            .where(~Bib.deleted).order_by(Item.accession_date.desc(), Item.id.desc())
            .limit(limit * 4))
    seen, out = set(), []
    for item in rows:
        if item.bib_id not in seen:
            seen.add(item.bib_id)
            out.append((Bib.get_by_id(item.bib_id), item.accession_date))
        if len(out) == limit:
            break
    return out


@bp.route("/new")
@public
def new():
    return render_template("opac/new.html", items=new_items())


@bp.route("/new.atom")
@public
def new_feed():
    items = new_items()
    updated = max((d for _, d in items), default="1970-01-01")
    name = g.ctx.settings.get("library_name", g.ctx.library)
    return Response(atom_feed(f"{_('New acquisitions')} · {name}", name, items,
                              f"{updated}T00:00:00Z"),
                    mimetype="application/atom+xml")


def atom_feed(title, author, items, updated):
    """The feed built as XML elements, so that every title is escaped (an `&` or a
    `<script>` in a title is text) and nothing XML forbids gets in."""
    feed = ET.Element("feed", xmlns=ATOM)
    _text(feed, "title", title)
    _text(feed, "id", url_for("opac.new_feed", _external=True))
    ET.SubElement(feed, "link", rel="self", href=url_for("opac.new_feed", _external=True))
    ET.SubElement(feed, "link", href=url_for("opac.new", _external=True))
    _text(feed, "updated", updated)
    _text(ET.SubElement(feed, "author"), "name", author)
    for bib, day in items:
        entry = ET.SubElement(feed, "entry")
        _text(entry, "title", bib.title)
        link = url_for("opac.record", bib_id=bib.id, _external=True)
        _text(entry, "id", link)
        ET.SubElement(entry, "link", href=link)
        _text(entry, "updated", f"{day}T00:00:00Z")
        for a in bib.authors or []:
            _text(ET.SubElement(entry, "author"), "name", a)
        summary = "; ".join(bib.authors or []) + (f" ({bib.year})" if bib.year else "")
        _text(entry, "summary", summary)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _text(parent, tag, text):
    ET.SubElement(parent, tag).text = xml_safe(str(text or ""))


@bp.route("/cover/<bib_id>")
@public
def cover(bib_id):
    """The record's cover (`?size=thumb` for lists), or a placeholder drawing."""
    size = "thumb" if request.args.get("size") == "thumb" else "cover"
    path = covers.path_for(g.ctx.files, bib_id, size) if g.ctx.files else None
    if path is not None and path.exists():
        return send_file(path, mimetype="image/jpeg", max_age=3600)
    bib = Bib.get_or_none(Bib.id == bib_id)
    response = Response(covers.placeholder_svg(bib.title if bib else ""),
                        mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
