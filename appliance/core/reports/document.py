"""A report as people read it: the lines of the figures in order, each with the same
period a year earlier and the change, labelled in the administration's words. The
labels are msgids; `tr(msgid, **params)` (the web's gettext, or the CLI's catalogue)
says them in the reader's language."""

from ..errors import N_
from . import figures
from . import period as periods
from .suppress import figures as withheld

CATEGORIES = {"child": N_("children"), "pupil": N_("pupils"), "adult": N_("adults"),
              "staff": N_("staff"), "unknown": N_("of another library")}
ITEM_TYPES = {"book": N_("books"), "periodical": N_("newspapers and periodicals"),
              "reference": N_("reference works"), "av": N_("audiovisual materials"),
              "map": N_("maps"), "manuscript": N_("manuscripts")}
LANGUAGES = {"vie": N_("Vietnamese"), "eng": N_("English"), "fra": N_("French"),
             "chi": N_("Chinese"), "zho": N_("Chinese"), "rus": N_("Russian"),
             "und": N_("language not given")}
NO_DATA = N_("no data")


def _line(key, label, level, now, before, **params):
    return {"key": key, "label": label, "params": params, "level": level, "now": now,
            "before": before, "change": periods.change(now, before)}


def _get(data, path):
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


# (key, label, level): the fixed lines, in the order of a library's monthly report.
FIXED = [
    ("visits.total", N_("Visits"), 0),
    ("visits.identified", N_("patrons who showed a card"), 1),
    ("visits.counted", N_("readers counted without a card"), 1),
    ("items_served.total", N_("Items served"), 0),
    ("items_served.loans", N_("lent for home reading"), 1),
    ("items_served.in_library_use", N_("read in the library"), 1),
    ("loans", N_("Loans in the period"), 0),
    ("loans_by_post", N_("of which lent by post"), 1),
    ("returns", N_("Returns in the period"), 0),
    ("renewals", N_("Renewals in the period"), 0),
    ("cards.issued", N_("Cards issued"), 0),
    ("cards.renewed", N_("Cards renewed"), 0),
    ("patrons_registered.total", N_("Registered patrons"), 0),
    ("patrons_registered.children", N_("of whom children (under 16)"), 1),
    ("patrons_active.total", N_("Active patrons"), 0),
    ("patrons_active.children", N_("of whom children (under 16)"), 1),
    ("collection.titles", N_("Collection: titles"), 0),
    ("collection.copies", N_("Collection: copies"), 0),
    ("acquisitions.titles", N_("Acquisitions in the period: titles"), 0),
    ("acquisitions.copies", N_("Acquisitions in the period: copies"), 0),
    ("copies_lost", N_("Copies lost"), 0),
    ("copies_withdrawn", N_("Copies withdrawn"), 0),
    ("loans_overdue", N_("Loans overdue at the end of the period"), 0),
    ("digitised.documents", N_("Digitised documents"), 0),
    ("digitised.views", N_("Views of digitised documents"), 0),
    ("fees.charged", N_("Fees charged: copies lost or damaged, late returns (đồng)"), 0),
    ("fees.paid", N_("fees paid (đồng)"), 1),
    ("fees.waived", N_("fees waived (đồng)"), 1),
]
# Lines that break a figure down: after which fixed line, its dict, how its keys read.
BREAKDOWNS = [
    ("patrons_registered.children", "patrons_registered.by_category", CATEGORIES,
     N_("of whom %(name)s")),
    ("patrons_active.children", "patrons_active.by_category", CATEGORIES,
     N_("of whom %(name)s")),
    ("collection.copies", "collection.by_item_type", ITEM_TYPES,
     N_("%(name)s: titles / copies")),
    ("collection.copies", "collection.by_language", LANGUAGES,
     N_("in %(name)s: titles / copies")),
]


def lines(now, before):
    """The report's lines for figures `now` and `before` (the year earlier)."""
    out = []
    for key, label, level in FIXED:
        out.append(_line(key, label, level, _get(now, key), _get(before, key)))
        for after, path, names, template in BREAKDOWNS:
            if after != key:
                continue
            parts_now, parts_before = _get(now, path) or {}, _get(before, path) or {}
            for name in sorted(set(parts_now) | set(parts_before)):
                a, b = parts_now.get(name, 0), parts_before.get(name, 0)
                if isinstance(a, dict) or isinstance(b, dict):  # titles / copies
                    a, b = _pair(a), _pair(b)
                out.append(_line(f"{path}.{name}", template, 2, a, b,
                                 name=names.get(name, name), translate_name=name in names))
    return out


def _pair(value):
    if not value:
        return "0 / 0"
    return f"{value['titles']} / {value['copies']}"


def library_report(period, code, name, today, hide_small=False, town=None):
    """A library's report over `period` beside the same period a year earlier; with
    `code` None, the town's: the libraries `town` names (None: every one) as one."""
    earlier = period.year_earlier()
    if code is None:
        now = figures.town(period, town, today=today)
        before = figures.town(earlier, town, today=today)
    else:
        now = figures.compute(period, [code], today=today)[code]
        before = figures.compute(earlier, [code], today=today)[code]
    if hide_small:
        now, before = withheld(now), withheld(before)
    return {"library": {"code": code, "name": name}, "period": period.as_dict(),
            "previous": earlier.as_dict(), "figures": now, "previous_figures": before,
            "lines": lines(now, before),
            "monthly": figures.monthly(period, [code] if code else town)
            if len(figures.months(period)) <= 36 else None,
            "made": today.isoformat()}


def say(tr, line):
    """A line's label in the reader's language."""
    params = dict(line["params"])
    translate = params.pop("translate_name", False)
    if "name" in params and translate:
        params["name"] = tr(params["name"])
    return tr(line["label"], **params)


def shown(value, tr):
    """A figure as printed: "no data" for None, the rest as it is."""
    return tr(NO_DATA) if value is None else value
