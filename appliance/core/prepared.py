"""Queries on the circulation path, compiled once.

Building SQL through peewee costs more than running it on SQLite; a loan runs the same
dozen lookups every time. A Prepared query is written with peewee as usual, compiled
on first use with marker values, and then run as plain SQL with the real ones. Its rows
are made into model instances directly, converting only the columns whose database
value is not already the Python one (flags, JSON)."""

import threading

import peewee as pw

from . import dialect

_lock = threading.Lock()
# Fields whose value from the driver is already what peewee would hand out.
_NATIVE = (pw.CharField, pw.TextField, pw.IntegerField, pw.BigIntegerField)


def _converter(field):
    if isinstance(field, pw.ForeignKeyField):
        field = field.rel_field
    return None if type(field) in _NATIVE else field.python_value


def _row_plan(model, description):
    """How to make an instance of a result row: (the key of each column in the row's
    dict, the (key, converter) pairs of columns to convert, the keys that are not the
    model's fields). Columns named as the model's become its fields (bib_id -> bib); any
    other column becomes a plain attribute."""
    by_column = model._meta.columns
    keys, converts, extras = [], [], []
    for entry in description:
        column = entry[0].rsplit(".", 1)[-1].strip('"`')
        field = by_column.get(column)
        if field is None:
            keys.append(column)
            extras.append(column)
            continue
        keys.append(field.name)
        convert = _converter(field)
        if convert is not None:
            converts.append((field.name, convert))
    return tuple(keys), tuple(converts), tuple(extras)


class Prepared:
    """`build` receives one marker per value and returns a peewee query; values given
    per call must be plain (str, int, None): the model's own conversions are skipped."""

    def __init__(self, model, build, arity):
        self.model = model
        self.build = build  # called with `arity` marker values
        self.arity = arity
        self._sql = {}

    def _compiled(self):
        db = self.model._meta.database
        kind = type(getattr(db, "obj", db))  # the database behind the proxy: its SQL dialect
        entry = self._sql.get(kind)
        if entry is None:
            markers = [f"\x00marker{i}\x00" for i in range(self.arity)]
            sql, params = self.build(*markers).sql()
            # Each parameter is a marker (filled in per call) or a constant of the query.
            slots = [markers.index(p) if p in markers else ("const", p) for p in params]
            # (a value may be used more than once: each use is a slot of its own)
            if {s for s in slots if isinstance(s, int)} != set(range(self.arity)):
                raise ValueError(f"cannot prepare {sql!r}: parameters {params!r}")
            # no slots: the values are the parameters, as given; else the constants in
            # their places and where each value goes
            plain = slots == list(range(self.arity))
            fill = None if plain else (
                tuple(None if isinstance(s, int) else s[1] for s in slots),
                tuple((at, s) for at, s in enumerate(slots) if isinstance(s, int)))
            entry = [sql, fill, None]  # row plan: on the first run
            with _lock:
                self._sql[kind] = entry
        return entry

    def _run(self, values):
        entry = self._compiled()
        fill = entry[1]
        if fill is None:
            return entry, dialect.execute(entry[0], values)
        params = list(fill[0])
        for at, value in fill[1]:
            params[at] = values[value]
        return entry, dialect.execute(entry[0], params)

    def _plan(self, entry, cursor):
        if entry[2] is None:
            entry[2] = _row_plan(self.model, cursor.description)
        return entry[2]

    def all(self, *values):
        entry, cursor = self._run(values)
        rows = cursor.fetchall()
        plan = self._plan(entry, cursor)
        return [self._instance(plan, row) for row in rows]

    def first(self, *values):
        entry, cursor = self._run(values)
        row = cursor.fetchone()
        return None if row is None else self._instance(self._plan(entry, cursor), row)

    def _instance(self, plan, row):
        keys, converts, extras = plan
        data = dict(zip(keys, row, strict=True))
        for key, convert in converts:
            if data[key] is not None:
                data[key] = convert(data[key])
        obj = self.model.__new__(self.model)
        for key in extras:
            obj.__dict__[key] = data.pop(key)
        obj.__data__, obj._dirty, obj.__rel__ = data, set(), {}
        return obj

    def execute(self, *values):
        """For a prepared INSERT, UPDATE or DELETE."""
        return self._run(values)[1]

    def scalar(self, *values):
        """The first column of the first row (a count, an id), or None."""
        row = self._run(values)[1].fetchone()
        return row[0] if row else None


_by_key: dict[tuple[type[pw.Model], str], Prepared] = {}


def by_key(model, key):
    """The Prepared lookup of a model's row by one column (its primary key, mostly)."""
    prepared = _by_key.get((model, key))
    if prepared is None:
        field = getattr(model, key)
        prepared = _by_key.setdefault((model, key), Prepared(
            model, lambda value: model.select().where(field == value), 1))
    return prepared
