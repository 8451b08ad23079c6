"""The stocktake record (biên bản kiểm kê) an inspection reads: the library, the shelves
counted, when and by whom, the counts, and each list of copies. Laid out as a report
`Sheet`, so the reports' own writers make the XLSX and the PDF (core/reports/export)."""

from ..errors import N_
from ..models import Library
from ..reports import export
from . import result

WHY = {"other_library": N_("another library's copy"),
       "unknown": N_("no copy here has this barcode"),
       "found_lost": N_("marked lost, found"),
       "found_withdrawn": N_("marked withdrawn, found")}
CONDITIONS = {"available": N_("on the shelf"), "lost": N_("marked lost"),
              "damaged": N_("damaged"), "withdrawn": N_("withdrawn")}
STATUSES = {"on_loan": N_("on loan"), "on_hold_shelf": N_("on the hold shelf"),
            "in_transit": N_("in transit")}


def _dmy(iso):
    """"2026-12-01T09:30:00+07:00" -> "01/12/2026 09:30"."""
    if not iso:
        return ""
    day = f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"
    return f"{day} {iso[11:16]}" if len(iso) >= 16 else day


def scope_words(st, tr):
    parts = []
    if st.location:
        parts.append(tr("location %(location)s", location=st.location))
    if st.call_from or st.call_to:
        parts.append(tr("call numbers %(start)s to %(end)s", start=st.call_from or "…",
                        end=st.call_to or "…"))
    return ", ".join(parts) if parts else tr("the whole library")


def now_words(entry, tr):
    """What became of a copy since: its condition, or where it is."""
    if entry["condition"] is None:
        return ""
    if entry["condition"] != "available":
        return tr(CONDITIONS.get(entry["condition"], entry["condition"]))
    status = entry["status"]
    return tr(STATUSES[status]) if status in STATUSES else tr(CONDITIONS["available"])


def _copies(entries, tr, extra=None):
    rows = []
    for n, e in enumerate(entries, start=1):
        row = [n, e["barcode"], e["title"] or "", e["location"] or "",
               e["call_number"] or ""]
        rows.append(row + ([extra(e)] if extra else []))
    return rows


def sheet(st, found, tr):
    """The record of stocktake `st` with its result `found` (result.of), in `tr`'s words."""
    lib = Library.get_or_none(Library.code == st.library)
    name = lib.name if lib and lib.name else st.library
    c = result.counts(found)
    lines = [f"{name} ({st.library})",
             tr("Shelves counted: %(scope)s", scope=scope_words(st, tr)),
             tr("Started %(when)s by %(who)s", when=_dmy(st.started_at),
                who=st.started_by or "—"),
             tr("Finished %(when)s by %(who)s", when=_dmy(st.finished_at),
                who=st.finished_by or "—") if st.finished_at else tr("Not finished yet")]
    if st.note:
        lines.append(st.note)
    figures = export.Table(tr("Counts"), [tr("Figure"), tr("Copies")], [
        [tr("Expected on the shelves"), c["expected"]],
        [tr("Seen (each copy once)"), c["seen"]],
        [tr("Found in their place"), c["found"]],
        [tr("Missing"), c["missing"]],
        [tr("Misplaced"), c["misplaced"]],
        [tr("Unexpected"), c["unexpected"]],
        [tr("On loan"), c["on_loan"]],
        [tr("On loan but seen on the shelf"), c["on_loan_seen"]]], [], [70, 30])
    head = [tr("No."), tr("Barcode"), tr("Title"), tr("Location"), tr("Call number")]
    widths = [6, 14, 40, 14, 12, 14]
    tables = [
        figures,
        export.Table(tr("Missing: expected here, not seen"), head + [tr("Now")],
                     _copies(found["missing"], tr, lambda e: now_words(e, tr)), [], widths),
        export.Table(tr("Misplaced: seen, but they belong elsewhere"), head + [tr("Now")],
                     _copies(found["misplaced"], tr, lambda e: now_words(e, tr)), [], widths),
        export.Table(tr("Unexpected"), head + [tr("Why")], _copies(
            found["unexpected"], tr, lambda e: tr(WHY.get(e["why"], e["why"] or ""))
            + (f" ({e['library']})" if e["why"] == "other_library" and e["library"] else "")),
            [], widths),
        export.Table(tr("On loan: not expected on the shelves"), head + [tr("Seen")],
                     _copies(found["on_loan"], tr,
                             lambda e: tr("yes, flagged") if e["seen"] else ""), [], widths),
    ]
    notes = [tr("%(count)s copies were scanned after it was finished.", count=found["late"])] \
        if found.get("late") else []
    made = (st.finished_at or st.started_at)[:10]
    return export.Sheet(tr("STOCKTAKE RECORD"), name, lines, tables, notes=notes,
                        place_date=tr("Made on %(day)s", day=_dmy(made)),
                        motto=[tr(m) for m in export.MOTTO],
                        signature=[tr(s) for s in export.SIGNATURE])
