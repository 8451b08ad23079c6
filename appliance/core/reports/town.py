"""The town's side of reporting (the hub): the register of the town's libraries and its
administrative units, kept as data (communes were merged in 2025 and the reporting
hierarchy will change again), the plan's four indicators computed from what the hub
holds, and the semi-annual report's figures for every library.

What the hub knows of its devices (when a library last synced, whether its device is
active) is the sync package's: the caller passes it in as `links`, {library code:
{"last_sync": ISO time or None, "active": bool}}, so core stays free of it."""

import csv
import io
from datetime import date, datetime, timedelta, timezone

import peewee as pw

from .. import db as coredb
from ..digital import progress
from ..errors import N_, Invalid, NotFound
from ..models import BaseModel, Item
from ..training import exercises as training_exercises
from ..training import records as training_records
from . import figures

KINDS = {"public": N_("public library"), "school": N_("school library"),
         "armed_forces": N_("armed forces library"),
         "private": N_("private library serving the community")}
MANAGED_DAYS = 30  # a library that synced within this many days is managed by the system


class AdminUnit(BaseModel):
    """A commune, ward or town of the reporting hierarchy, with the dates it stood."""
    code = pw.CharField(primary_key=True, max_length=32)
    name = pw.CharField()
    level = pw.CharField(max_length=16, default="ward")  # province, town, ward, commune
    parent = pw.CharField(max_length=32, null=True)
    valid_from = pw.CharField(max_length=10, null=True)
    valid_to = pw.CharField(max_length=10, null=True)  # merged away on this day


class LibraryEntry(BaseModel):
    """A library in the town's register: every library the plan counts, whether or not
    it runs this system (those that do not count against `managed`)."""
    code = pw.CharField(primary_key=True, max_length=32)
    name = pw.CharField()
    kind = pw.CharField(max_length=16, default="public")
    unit = pw.CharField(max_length=32, null=True)
    key_library = pw.BooleanField(default=False)
    active = pw.BooleanField(default=True)


MODELS = (AdminUnit, LibraryEntry)
coredb.register_models(*MODELS)


def ensure_tables(db):
    db.create_tables(MODELS, safe=True)


# The register.

def _flag(value):
    return str(value).strip().lower() in ("1", "true", "yes", "x", "có", "co")


def save_entry(code, name, kind="public", unit=None, key_library=False, active=True):
    code = (code or "").strip().upper()
    if not code or not (name or "").strip():
        raise Invalid("register_incomplete", N_("A library in the register needs a code and "
                                                "a name."))
    if kind not in KINDS:
        raise Invalid("bad_library_kind", N_("Unknown kind of library: %(kind)s (public, "
                                             "school, armed_forces, private)."), kind=kind)
    if unit and AdminUnit.get_or_none(AdminUnit.code == unit) is None:
        raise NotFound("unit_not_found", N_("No administrative unit has code %(unit)s."),
                       unit=unit)
    fields = {"name": name.strip(), "kind": kind, "unit": unit or None,
              "key_library": bool(key_library), "active": bool(active)}
    LibraryEntry.insert(code=code, **fields).on_conflict(
        conflict_target=[LibraryEntry.code], update=fields).execute()
    return LibraryEntry.get_by_id(code)


def save_unit(code, name, level="ward", parent=None, valid_from=None, valid_to=None):
    code = (code or "").strip()
    if not code or not (name or "").strip():
        raise Invalid("unit_incomplete", N_("An administrative unit needs a code and a name."))
    fields = {"name": name.strip(), "level": level or "ward", "parent": parent or None,
              "valid_from": valid_from or None, "valid_to": valid_to or None}
    AdminUnit.insert(code=code, **fields).on_conflict(
        conflict_target=[AdminUnit.code], update=fields).execute()
    return AdminUnit.get_by_id(code)


def import_csv(text, kind):
    """Units (code,name,level,parent,valid_from,valid_to) or libraries
    (code,name,kind,unit,key_library,active) from CSV with a header; all or nothing."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    db = LibraryEntry._meta.database
    with db.atomic():
        for row in rows:
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if kind == "units":
                save_unit(row.get("code"), row.get("name"), row.get("level") or "ward",
                          row.get("parent"), row.get("valid_from"), row.get("valid_to"))
            else:
                save_entry(row.get("code"), row.get("name"), row.get("kind") or "public",
                           row.get("unit"), _flag(row.get("key_library", "")),
                           _flag(row.get("active") or "1"))
    return len(rows)


def unit_path(code, units=None):
    """'Ward, Town, Province' for a unit, from the hierarchy as data."""
    units = units if units is not None else {u.code: u for u in AdminUnit.select()}
    names, seen = [], set()
    while code and code in units and code not in seen:
        seen.add(code)
        names.append(units[code].name)
        code = units[code].parent
    return ", ".join(names)


def register():
    """The register's libraries in order, each as a dict with its unit's name."""
    units = {u.code: u for u in AdminUnit.select()}
    return [{"code": e.code, "name": e.name, "kind": e.kind, "unit": e.unit,
             "unit_name": unit_path(e.unit, units), "key_library": e.key_library}
            for e in LibraryEntry.select().where(LibraryEntry.active)
            .order_by(LibraryEntry.code)]


# The plan's indicators.

def _since(text, now):
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return now - moment


def managed(link, now):
    """Whether a library synced within MANAGED_DAYS (its device still enrolled)."""
    if not link or not link.get("active"):
        return False
    age = _since(link.get("last_sync"), now)
    return age is not None and age <= timedelta(days=MANAGED_DAYS)


def _indicator(name, label, numerator, denominator, target, note=None):
    value = None
    if numerator is not None and denominator:
        value = round(100.0 * numerator / denominator, 1)
    progress = None if value is None else round(min(100.0, 100.0 * value / target), 1)
    return {"name": name, "label": label, "value": value, "numerator": numerator,
            "denominator": denominator, "target": target, "progress": progress,
            "unit": "%", "note": note}


def indicators(links, now=None):
    """The plan's four targets, from real data; None ("no data") where the data does not
    exist yet, never a figure made up."""
    now = now or datetime.now(timezone.utc)
    entries = register()
    ran = [e for e in entries if managed(links.get(e["code"]), now)]
    keys = [e for e in entries if e["key_library"]]
    online = [e for e in keys if managed(links.get(e["code"]), now) and _in_opac(e["code"])]
    special, digitised = progress.town_counts()
    return [
        _indicator("managed", N_("Libraries managed through the system"), len(ran),
                   len(entries), 60, N_("synced with the hub within the last 30 days, of the "
                                        "libraries in the register")),
        _indicator("digitised", N_("Rare, local-history and special documents digitised"),
                   digitised, special, 70,
                   N_("records marked local history, rare or of special value with a "
                      "digital copy") if digitised is not None else
                   N_("no digitised collections yet: no data")),
        trained_indicator(now.date()),
        _indicator("online_services", N_("Key libraries with online services"), len(online),
                   len(keys), 100, N_("key libraries whose catalogue the hub's OPAC serves, "
                                      "kept current by a sync within 30 days")),
    ]


def trained_indicator(today):
    """Staff trained (core/training): every core exercise done in practice mode or a
    course in the last two years, of the staff lists the libraries sent; per library,
    with who still needs training."""
    per = training_records.status(training_exercises.CORE, today=today)
    trained = sum(len(v["trained"]) for v in per.values()) if per else None
    staff = sum(len(v["staff"]) for v in per.values()) if per else None
    out = _indicator("trained", N_("Library staff trained in running a modern library"),
                     trained, staff, 100,
                     N_("staff with every core practice exercise done or a course in the "
                        "last two years, of the staff lists the libraries sent")
                     if per else N_("no training records yet: no data"))
    out["libraries"] = {code: {"staff": len(v["staff"]), "trained": len(v["trained"]),
                               "untrained": v["untrained"]} for code, v in per.items()}
    return out


def _in_opac(code):
    """The hub's OPAC serves a library's catalogue when the hub holds its copies."""
    return Item.select().where(Item.library == code).exists()


# The semi-annual report.

def stale_since(period, today):
    """The day a library must have synced since for its figures to be whole: the
    period's end once it is over, else a week ago (a report made before the period
    ends, as the plan's due dates ask, counts what was there a week ago)."""
    return period.after if today >= period.after else today - timedelta(days=7)


def semiannual(period, links, today, names=None):
    """Every library of the register with its figures for `period`, the town's totals
    and the indicators; libraries not synced since `stale_since` are marked."""
    entries = register()
    codes = [e["code"] for e in entries]
    per, total = {}, figures.empty()
    if codes:
        per, total = figures.libraries_and_town(period, codes, today)
    cutoff = stale_since(period, today)
    rows = []
    for e in entries:
        link = links.get(e["code"]) or {}
        last = link.get("last_sync")
        synced = _day_of(last)
        rows.append(dict(e, last_sync=last, stale=synced is None or synced < cutoff,
                         figures=per.get(e["code"], figures.empty())))
    return {"period": period.as_dict(), "libraries": rows, "town": total,
            "indicators": indicators(links), "stale_since": cutoff.isoformat(),
            "made": today.isoformat()}


def _day_of(text):
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
