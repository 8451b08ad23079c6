"""OAI-PMH 2.0 provider at /oai: oai_dc and marcxml, one set per library,
from/until by the record's last change, resumption tokens, deleted records kept."""

import base64
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, g, request, url_for

from ..core.clock import pack, unpack
from ..core.models import Bib, DigitalDocument, Item, Library
from ..core.xmltext import xml_safe
from .auth import csrf_exempt, public

bp = Blueprint("oai", __name__)

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MARC = "http://www.loc.gov/MARC21/slim"
FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC),
    "marcxml": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC),
}
VERB_ARGS = {  # verb -> (required, optional)
    "Identify": ((), ()),
    "ListMetadataFormats": ((), ("identifier",)),
    "ListSets": ((), ("resumptionToken",)),
    "ListIdentifiers": (("metadataPrefix",), ("from", "until", "set", "resumptionToken")),
    "ListRecords": (("metadataPrefix",), ("from", "until", "set", "resumptionToken")),
    "GetRecord": (("identifier", "metadataPrefix"), ()),
}
PAGE_SIZE = 100
for prefix, uri in (("oai", OAI), ("oai_dc", OAI_DC), ("dc", DC), ("xsi", XSI), ("marc", MARC)):
    ET.register_namespace("" if prefix == "oai" else prefix, uri)


class OAIError(Exception):
    def __init__(self, code, text):
        super().__init__(text)
        self.code, self.text = code, text


def _q(ns, tag):
    return f"{{{ns}}}{tag}"


def _sub(parent, tag, text=None, ns=OAI, **attrs):
    """A child element; its text and attributes never carry what XML forbids, whatever
    is stored (one such character would make the whole answer unreadable)."""
    el = ET.SubElement(parent, _q(ns, tag), {k: xml_safe(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_safe(str(text))
    return el


def _stamp(hlc):
    ms = unpack(hlc)[0] if hlc else 0
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_date(text, end=False):
    """An HLC bound for a YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ argument."""
    for fmt, day in (("%Y-%m-%dT%H:%M:%SZ", False), ("%Y-%m-%d", True)):
        try:
            when = datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        ms = int(when.timestamp() * 1000)
        if end:
            ms += (86400 if day else 1) * 1000 - 1
        return pack(ms, (1 << 16) - 1) if end else pack(ms, 0), day
    raise OAIError("badArgument", f"not a UTC datestamp: {text}")


def _identifier(bib_id):
    return f"oai:thuvien:{bib_id}"


def _bib_id(identifier):
    if not identifier.startswith("oai:thuvien:"):
        raise OAIError("idDoesNotExist", f"unknown identifier {identifier}")
    return identifier.rsplit(":", 1)[1]


def _libraries():
    codes = {r.code: r.name for r in Library.select()}
    for (code,) in Item.select(Item.library).distinct().tuples():
        codes.setdefault(code, code)
    return codes


def _envelope(args):
    root = ET.Element(_q(OAI, "OAI-PMH"))
    root.set(_q(XSI, "schemaLocation"),
             f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    _sub(root, "responseDate", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    req = _sub(root, "request", url_for("oai.endpoint", _external=True))
    known = {a for required, optional in VERB_ARGS.values() for a in required + optional}
    for key, value in args.items():
        if (key == "verb" and value not in VERB_ARGS) or (key != "verb" and key not in known):
            continue  # an unknown name may not even be a valid XML attribute name
        req.set(key, xml_safe(value))
    return root


def _respond(root):
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="text/xml; charset=utf-8")


@bp.route("/oai", methods=["GET", "POST"])
@public
@csrf_exempt  # OAI-PMH allows POST; it only reads, and takes no cookie into account
def endpoint():
    args = {k: v for k, v in (request.form if request.method == "POST" else request.args).items()}
    multi = request.form if request.method == "POST" else request.args
    root = _envelope(args)
    try:
        if any(len(multi.getlist(k)) > 1 for k in multi):
            raise OAIError("badArgument", "an argument is repeated")
        verb = args.pop("verb", None)
        if verb not in VERB_ARGS:
            raise OAIError("badVerb", "missing or illegal verb")
        _check_args(verb, args)
        HANDLERS[verb](_sub(root, verb), args)
    except OAIError as e:
        for child in list(root)[2:]:
            root.remove(child)
        _sub(root, "error", e.text, code=e.code)
    return _respond(root)


def _check_args(verb, args):
    required, optional = VERB_ARGS[verb]
    unknown = set(args) - set(required) - set(optional)
    if unknown:
        raise OAIError("badArgument", f"illegal argument(s): {', '.join(sorted(unknown))}")
    if "resumptionToken" in args:
        if len(args) > 1:
            raise OAIError("badArgument", "resumptionToken is an exclusive argument")
        return
    missing = [a for a in required if a not in args]
    if missing:
        raise OAIError("badArgument", f"missing argument(s): {', '.join(missing)}")
    if "metadataPrefix" in args and args["metadataPrefix"] not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"no format {args['metadataPrefix']}")


def identify(el, args):
    ctx = g.ctx
    earliest = Bib.select(Bib.updated_hlc).order_by(Bib.updated_hlc).limit(1).scalar() or 0
    name = ctx.settings.get("library_name") or ctx.library
    _sub(el, "repositoryName", f"thuvien {name}")
    _sub(el, "baseURL", url_for("oai.endpoint", _external=True))
    _sub(el, "protocolVersion", "2.0")
    _sub(el, "adminEmail", ctx.settings.get("admin_email") or f"thuvien@{ctx.library.lower()}.invalid")
    _sub(el, "earliestDatestamp", _stamp(earliest))
    _sub(el, "deletedRecord", "persistent")
    _sub(el, "granularity", "YYYY-MM-DDThh:mm:ssZ")


def list_formats(el, args):
    if "identifier" in args:
        _get_bib(args["identifier"])
    for prefix, (schema, ns) in FORMATS.items():
        fmt = _sub(el, "metadataFormat")
        _sub(fmt, "metadataPrefix", prefix)
        _sub(fmt, "schema", schema)
        _sub(fmt, "metadataNamespace", ns)


def list_sets(el, args):
    if "resumptionToken" in args:
        raise OAIError("badResumptionToken", "sets come in one page")
    for code, name in sorted(_libraries().items()):
        s = _sub(el, "set")
        _sub(s, "setSpec", f"library:{code}")
        _sub(s, "setName", name)
    for collection in _collections():
        s = _sub(el, "set")
        _sub(s, "setSpec", f"digital:{collection}")
        _sub(s, "setName", collection)


# Digital documents whose existence anyone may know: their records say where their IIIF
# manifest is and belong to a set per digital collection (staff and restricted ones do
# not appear here; access to the pages themselves is checked where they are served).
PUBLISHED = ("public", "patrons", "onsite")


def _published():
    return DigitalDocument.select().where(DigitalDocument.access.in_(PUBLISHED)
                                          & ~DigitalDocument.deleted)


def _collections():
    return sorted({d.collection for d in _published().where(
        DigitalDocument.collection.is_null(False))})


def _documents(bib):
    return list(_published().where(DigitalDocument.bib == bib.id)
                .order_by(DigitalDocument.created_at))


def _manifest_url(doc):
    return f"{request.host_url.rstrip('/')}/iiif/3/{doc.id}/manifest.json"


def _get_bib(identifier):
    bib = Bib.get_or_none((Bib.id == _bib_id(identifier)) & (Bib.title != ""))
    if bib is None:
        raise OAIError("idDoesNotExist", f"unknown identifier {identifier}")
    return bib


def _header(parent, bib, library=None):
    h = _sub(parent, "header", **({"status": "deleted"} if bib.deleted else {}))
    _sub(h, "identifier", _identifier(bib.id))
    _sub(h, "datestamp", _stamp(bib.updated_hlc))
    libraries = sorted({i.library for i in bib.items})
    for code in libraries:
        _sub(h, "setSpec", f"library:{code}")
    for collection in sorted({d.collection for d in _documents(bib) if d.collection}):
        _sub(h, "setSpec", f"digital:{collection}")
    return h


def _dc(parent, bib):
    dc = ET.SubElement(parent, _q(OAI_DC, "dc"))
    dc.set(_q(XSI, "schemaLocation"), f"{OAI_DC} {FORMATS['oai_dc'][0]}")
    values = [("title", bib.title)] + [("creator", a) for a in bib.authors or []]
    values += [("subject", s) for s in bib.subjects or []]
    values += [("publisher", bib.publisher), ("date", bib.year), ("language", bib.language),
               ("description", bib.notes), ("type", "Text")]
    if bib.isbn:
        values.append(("identifier", f"URN:ISBN:{bib.isbn}"))
    if bib.ddc:
        values.append(("subject", f"DDC {bib.ddc}"))
    values += [("identifier", _manifest_url(d)) for d in _documents(bib)]
    for tag, value in values:
        if value not in (None, ""):
            _sub(dc, tag, value, ns=DC)


def _marc(parent, bib):
    # pymarc is imported by the pages that use it, not with the server: its tables are 4 MB
    # of memory that a Pi serving the desk would hold for nothing.
    from pymarc import Field, Indicators, Subfield

    from ..core import exporter, marcmap

    copies = [{"barcode": i.barcode, "library": i.library, "location": i.location,
               "call_number": i.call_number, "item_type": i.item_type,
               "accession_date": i.accession_date} for i in bib.items]
    record = marcmap.bib_to_record(exporter.bib_dict(bib), copies)
    for doc in _documents(bib):  # 856 4 0: the resource itself, by HTTP
        record.add_ordered_field(Field(tag="856", indicators=Indicators("4", "0"), subfields=[
            Subfield("u", _manifest_url(doc)), Subfield("q", "application/ld+json"),
            Subfield("y", "IIIF manifest"), Subfield("3", doc.title or "")]))
    parent.append(ET.fromstring(marcmap.record_to_xml(record)))


def _record(parent, bib, prefix):
    rec = _sub(parent, "record")
    _header(rec, bib)
    if not bib.deleted:
        meta = _sub(rec, "metadata")
        (_dc if prefix == "oai_dc" else _marc)(meta, bib)


def get_record(el, args):
    _record(el, _get_bib(args["identifier"]), args["metadataPrefix"])


def _encode_token(state):
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _decode_token(token):
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        assert isinstance(state, dict) and state["p"] in FORMATS
        return state
    except Exception:
        raise OAIError("badResumptionToken", "the resumption token is not valid")


def _selection(state):
    q = Bib.select().where(Bib.title != "")
    if state.get("f") is not None:
        q = q.where(Bib.updated_hlc >= state["f"])
    if state.get("u") is not None:
        q = q.where(Bib.updated_hlc <= state["u"])
    if state.get("s"):
        q = q.where(Bib.id.in_(Item.select(Item.bib).where(Item.library == state["s"])))
    if state.get("c"):
        q = q.where(Bib.id.in_(_published().select(DigitalDocument.bib).where(
            DigitalDocument.collection == state["c"])))
    return q


def _list(el, args, with_metadata):
    if "resumptionToken" in args:
        state = _decode_token(args["resumptionToken"])
    else:
        state = {"p": args["metadataPrefix"], "k": None}
        bounds = {}
        for key, short, end in (("from", "f", False), ("until", "u", True)):
            if key in args:
                state[short], bounds[key] = _parse_date(args[key], end)
        if len(set(bounds.values())) > 1:
            raise OAIError("badArgument", "from and until differ in granularity")
        if state.get("f") is not None and state.get("u") is not None and state["f"] > state["u"]:
            raise OAIError("badArgument", "from is after until")
        if "set" in args:
            kind, _, name = args["set"].partition(":")
            if kind not in ("library", "digital") or not name:
                raise OAIError("badArgument", f"no set {args['set']}")
            state["s" if kind == "library" else "c"] = name
    query = _selection(state)
    total = query.count()
    page = query
    if state.get("k"):
        hlc, bib_id = state["k"]
        page = page.where((Bib.updated_hlc > hlc) | ((Bib.updated_hlc == hlc) & (Bib.id > bib_id)))
    size = current_app.config.get("OAI_PAGE_SIZE", PAGE_SIZE)
    rows = list(page.order_by(Bib.updated_hlc, Bib.id).limit(size + 1))
    if not rows and not state.get("k"):
        raise OAIError("noRecordsMatch", "no records match")
    for bib in rows[:size]:
        if with_metadata:
            _record(el, bib, state["p"])
        else:
            _header(el, bib)
    if len(rows) > size or state.get("k"):
        state["k"] = [rows[size - 1].updated_hlc, rows[size - 1].id] if len(rows) > size else None
        token = _encode_token(state) if len(rows) > size else ""
        _sub(el, "resumptionToken", token, completeListSize=str(total))


HANDLERS = {
    "Identify": identify,
    "ListMetadataFormats": list_formats,
    "ListSets": list_sets,
    "ListIdentifiers": lambda el, args: _list(el, args, False),
    "ListRecords": lambda el, args: _list(el, args, True),
    "GetRecord": get_record,
}
