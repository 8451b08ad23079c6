"""A seeded town for the report tests: three libraries in one database (as the hub
holds them), a year of activity made through the real commands day by day under a
moving clock, and a ledger of what was done, kept apart, to count the figures again."""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from appliance.core import catalogue, circulation, datadir, patrons, policy
from appliance.core import db as dbmod
from appliance.core.clock import LIBRARY_TZ
from appliance.core.context import Context
from appliance.core.errors import DomainError
from appliance.core.models import Patron
from appliance.core.reports import counting

LIBRARIES = {"PY-TT01": "Thư viện thị xã Đông Hòa", "PY-HH02": "Thư viện phường Hòa Hiệp Bắc",
             "PY-TH03": "Thư viện trường THCS Hòa Xuân"}
YEAR = 2025
LANGUAGES = ("vie", "vie", "vie", "eng", "fra")
TYPES = ("book", "book", "book", "periodical", "reference")


class Wall:
    """The town's wall clock, moved by the test."""

    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return int(self.moment.timestamp() * 1000)


@dataclass
class Ledger:
    """What the generator did, recorded as it did it."""
    loans: dict = field(default_factory=dict)  # id -> {lib, patron, out, due, back}
    renewals: list = field(default_factory=list)  # (lib, day)
    visits: set = field(default_factory=set)  # (lib, day, patron id)
    tallies: dict = field(default_factory=dict)  # (lib, day) -> count (the last word)
    on_site: list = field(default_factory=list)  # (lib, day)
    patrons: dict = field(default_factory=dict)  # id -> {lib, category, birth, made}
    card_renewals: list = field(default_factory=list)  # (lib, day, patron id)
    items: dict = field(default_factory=dict)  # id -> {lib, bib, type, lang, accessioned,
    #                                              condition, changed: [(day, cond)]}


class Town:
    def __init__(self, database):
        self.wall = Wall(datetime(YEAR, 1, 1, 8, 0, tzinfo=LIBRARY_TZ))
        self.db = dbmod.connect(database)
        self.ctxs = {}
        clock = None
        for code in LIBRARIES:
            ctx = Context.for_db(self.db, code, origin=f"dev-{code}", wall=self.wall)
            if clock is None:
                clock = ctx.clock
            ctx.clock = clock  # one town, one clock: the generator walks one timeline
            self.ctxs[code] = ctx
        self.ledger = Ledger()
        self.rng = random.Random(14)
        self.serial = 0

    def close(self):
        self.db.close()

    def day(self):
        return self.wall.moment.date()

    def at(self, day, minute):
        self.wall.moment = datetime(day.year, day.month, day.day, 8, 0, tzinfo=LIBRARY_TZ) + \
            timedelta(minutes=minute)

    # Making things.

    def setup(self):
        for code, name in LIBRARIES.items():
            ctx = self.ctxs[code]
            datadir.save_library(ctx, code, name)
            policy.save_rule(ctx, code, "*", "*", loan_days=14, max_loans=10, max_renewals=2,
                             fee_per_day=0)
            for _ in range(6):
                self.new_patron(code)
            for _ in range(20):
                self.new_copy(code)

    def new_patron(self, code):
        self.serial += 1
        rng, ctx = self.rng, self.ctxs[code]
        category = rng.choice(("child", "pupil", "adult", "adult", "staff"))
        birth = None
        if rng.random() < 0.7:
            birth = {"child": 2016, "pupil": 2011, "adult": 1985, "staff": 1990}[category] \
                + rng.randint(-3, 3)
        data = {"card": f"{code[-4:]}-{self.serial:05d}", "name": f"Bạn đọc {self.serial}",
                "category": category, "expiry": f"{YEAR}-12-31", "birth_year": birth}
        if category == "child":
            data.update(guardian="Người giám hộ", guardian_consent=True)
        patron = patrons.save(ctx, data)
        self.ledger.patrons[patron.id] = {"lib": code, "category": category, "birth": birth,
                                          "made": self.day(), "card": data["card"]}
        return patron

    def new_copy(self, code):
        self.serial += 1
        rng, ctx = self.rng, self.ctxs[code]
        lang = rng.choice(LANGUAGES)
        bib = catalogue.save_bib(ctx, {"title": f"Sách số {self.serial}", "authors": ["Tác giả"],
                                       "language": lang, "year": 2000})
        for copy in range(rng.choice((1, 1, 2))):
            kind = rng.choice(TYPES)
            item = catalogue.save_item(ctx, {"bib": bib.id, "barcode": f"B{self.serial:05d}-{copy}",
                                             "item_type": kind})
            self.ledger.items[item.id] = {"lib": code, "bib": bib.id, "type": kind,
                                          "lang": lang, "accessioned": self.day(),
                                          "condition": "available", "changed": [],
                                          "barcode": item.barcode}

    # A day at the libraries.

    def run_year(self, step=3):
        self.at(date(YEAR, 1, 1), 0)
        self.setup()
        day = date(YEAR, 1, 2)
        while day.year == YEAR:
            for code in LIBRARIES:
                self.at(day, 60 * list(LIBRARIES).index(code))
                self.one_day(code)
            day += timedelta(days=step)

    def _try(self, fn, *args):
        try:
            return fn(*args)
        except DomainError:
            return None  # refused by the rules (a limit, an expired card): not done

    def one_day(self, code):
        rng, ctx, led = self.rng, self.ctxs[code], self.ledger
        today = self.day()
        mine = [p for p, v in led.patrons.items() if v["lib"] == code]
        shelf = [i for i, v in led.items.items() if v["lib"] == code
                 and v["condition"] == "available"
                 and not any(ln["back"] is None and ln["item"] == i for ln in led.loans.values())]
        for _ in range(rng.randint(0, 3)):  # loans
            if not shelf:
                break
            item = shelf.pop(rng.randrange(len(shelf)))
            who = rng.choice(mine)
            done = self._try(circulation.checkout, ctx, led.patrons[who]["card"],
                             led.items[item]["barcode"])
            if done:
                led.loans[done["loan_id"]] = {"lib": code, "patron": who, "item": item,
                                              "out": today, "due": done["due_date"],
                                              "back": None}
        open_here = [lid for lid, ln in led.loans.items() if ln["lib"] == code
                     and ln["back"] is None]
        for lid in rng.sample(open_here, min(len(open_here), rng.randint(0, 3))):
            if rng.random() < 0.25:
                done = self._try(circulation.renew, ctx, led.items[led.loans[lid]["item"]]
                                 ["barcode"])
                if done:
                    led.renewals.append((code, today))
                    led.loans[lid]["due"] = done["due_date"]
                continue
            circulation.checkin(ctx, led.items[led.loans[lid]["item"]]["barcode"])
            led.loans[lid]["back"] = today
        for _ in range(rng.randint(0, 2)):  # patrons showing a card
            who = rng.choice(mine)
            counting.patron_identified(ctx, Patron.get_by_id(who))
            led.visits.add((code, today.isoformat(), who))
        if rng.random() < 0.5:
            count = rng.randint(0, 30)
            counting.count_visitors(ctx, today.isoformat(), count)
            if rng.random() < 0.2:  # corrected later that day
                count = rng.randint(0, 30)
                counting.count_visitors(ctx, today.isoformat(), count)
            led.tallies[(code, today.isoformat())] = count
        if shelf and rng.random() < 0.5:
            item = rng.choice(shelf)
            counting.used_on_site(ctx, led.items[item]["barcode"])
            led.on_site.append((code, today))
        if rng.random() < 0.15:
            self.new_patron(code)
        if rng.random() < 0.2:
            self.new_copy(code)
        if rng.random() < 0.08:
            who = rng.choice(mine)
            new_expiry = (today + timedelta(days=365)).isoformat()
            patrons.save(ctx, {"id": who, "expiry": new_expiry})
            led.card_renewals.append((code, today, who))
        if shelf and rng.random() < 0.06:
            item = rng.choice(shelf)
            condition = rng.choice(("lost", "withdrawn"))
            catalogue.save_item(ctx, {"id": item, "condition": condition})
            led.items[item]["condition"] = condition
            led.items[item]["changed"].append((today, condition))


# Counting again from the ledger, as a clerk would with a pencil.

def expected(ledger, library, period, today):
    s, e = period.start, period.end
    inside = lambda d: s <= d <= e  # noqa: E731
    as_of = min(e, today)
    loans = [ln for ln in ledger.loans.values() if ln["lib"] == library]
    out = defaultdict(int)
    out["loans"] = sum(inside(ln["out"]) for ln in loans)
    out["returns"] = sum(ln["back"] is not None and inside(ln["back"]) for ln in loans)
    out["renewals"] = sum(lib == library and inside(d) for lib, d in ledger.renewals)
    out["loans_overdue"] = sum(ln["out"] <= as_of and date.fromisoformat(ln["due"]) < as_of
                               and (ln["back"] is None or ln["back"] > as_of) for ln in loans)
    out["in_library_use"] = sum(lib == library and inside(d) for lib, d in ledger.on_site)
    visits = {(d, p) for lib, d, p in ledger.visits
              if lib == library and inside(date.fromisoformat(d))}
    out["visits_identified"] = len(visits)
    out["visits_counted"] = sum(c for (lib, d), c in ledger.tallies.items()
                                if lib == library and inside(date.fromisoformat(d)))
    mine = {p: v for p, v in ledger.patrons.items() if v["lib"] == library}
    out["cards_issued"] = sum(inside(v["made"]) for v in mine.values())
    out["cards_renewed"] = len({p for lib, d, p in ledger.card_renewals
                                if lib == library and inside(d)})

    def child(v):
        if v["birth"] is not None:
            return v["birth"] > e.year - 16
        return v["category"] == "child"

    registered = [v for v in mine.values() if v["made"] <= e]
    out["registered"] = len(registered)
    out["registered_children"] = sum(child(v) for v in registered)
    out["registered_by_category"] = dict(_count(v["category"] for v in registered))
    active = {ln["patron"] for ln in loans if inside(ln["out"])} | {p for _, p in visits}
    out["active"] = len(active)
    out["active_children"] = sum(child(ledger.patrons[p]) for p in active)
    held = [v for v in ledger.items.values() if v["lib"] == library and v["accessioned"] <= e
            and v["condition"] == "available"]
    out["copies"] = len(held)
    out["titles"] = len({v["bib"] for v in held})
    out["by_type"] = {t: {"titles": len({v["bib"] for v in held if v["type"] == t}),
                          "copies": sum(v["type"] == t for v in held)}
                      for t in {v["type"] for v in held}}
    out["by_language"] = {g: {"titles": len({v["bib"] for v in held if v["lang"] == g}),
                              "copies": sum(v["lang"] == g for v in held)}
                          for g in {v["lang"] for v in held}}
    bought = [v for v in ledger.items.values() if v["lib"] == library and inside(v["accessioned"])]
    out["acquired_copies"] = len(bought)
    out["acquired_titles"] = len({v["bib"] for v in bought})
    for condition in ("lost", "withdrawn"):
        out[f"copies_{condition}"] = sum(
            any(c == condition and inside(d) for d, c in v["changed"])
            for v in ledger.items.values() if v["lib"] == library)
    return dict(out)


def _count(values):
    counts = defaultdict(int)
    for v in values:
        counts[v] += 1
    return counts


def as_expected(figures):
    """The computed figures in the ledger's shape, to compare with `expected`."""
    f = figures
    return {
        "loans": f["loans"], "returns": f["returns"], "renewals": f["renewals"],
        "loans_overdue": f["loans_overdue"],
        "in_library_use": f["items_served"]["in_library_use"],
        "visits_identified": f["visits"]["identified"], "visits_counted": f["visits"]["counted"],
        "cards_issued": f["cards"]["issued"], "cards_renewed": f["cards"]["renewed"],
        "registered": f["patrons_registered"]["total"],
        "registered_children": f["patrons_registered"]["children"],
        "registered_by_category": f["patrons_registered"]["by_category"],
        "active": f["patrons_active"]["total"],
        "active_children": f["patrons_active"]["children"],
        "copies": f["collection"]["copies"], "titles": f["collection"]["titles"],
        "by_type": f["collection"]["by_item_type"],
        "by_language": f["collection"]["by_language"],
        "acquired_copies": f["acquisitions"]["copies"],
        "acquired_titles": f["acquisitions"]["titles"],
        "copies_lost": f["copies_lost"], "copies_withdrawn": f["copies_withdrawn"],
    }
