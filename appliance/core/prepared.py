"""Queries on the circulation path, compiled once.

Building SQL through peewee costs more than running it on SQLite; a loan runs the same
dozen lookups every time. A Prepared query is written with peewee as usual, compiled
on first use with marker values, and then run as plain SQL with the real ones."""

import threading

_lock = threading.Lock()


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
            if sorted(s for s in slots if isinstance(s, int)) != list(range(self.arity)):
                raise ValueError(f"cannot prepare {sql!r}: parameters {params!r}")
            entry = (sql, slots)
            with _lock:
                self._sql[kind] = entry
        return entry

    def _params(self, values):
        sql, slots = self._compiled()
        return sql, [values[s] if isinstance(s, int) else s[1] for s in slots]

    def all(self, *values):
        sql, params = self._params(values)
        return list(self.model.raw(sql, *params))

    def execute(self, *values):
        """For a prepared INSERT, UPDATE or DELETE."""
        sql, params = self._params(values)
        return self.model._meta.database.execute_sql(sql, params)

    def first(self, *values):
        rows = self.all(*values)
        return rows[0] if rows else None


_by_key = {}


def by_key(model, key):
    """The Prepared lookup of a model's row by one column (its primary key, mostly)."""
    prepared = _by_key.get((model, key))
    if prepared is None:
        field = getattr(model, key)
        prepared = _by_key.setdefault((model, key), Prepared(
            model, lambda value: model.select().where(field == value), 1))
    return prepared
