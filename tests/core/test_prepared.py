"""Prepared queries make model rows themselves: they must equal peewee's own."""

from appliance.core import patrons
from appliance.core.models import Bib, Item, Patron
from appliance.core.prepared import by_key


def test_prepared_rows_equal_peewee_rows(ctx):
    patrons.block(ctx, "P0001", "sách quá hạn")  # a flag set, a reason, per-field clocks
    for model, key in ((Patron, "id"), (Item, "id"), (Bib, "id")):
        for row in model.select():
            made = by_key(model, key).first(getattr(row, key))
            assert made.__data__ == row.__data__, model.__name__
            assert made._dirty == set()
    blocked = by_key(Patron, "id").first(patrons.find(ctx, "P0001").id)
    assert blocked.blocked is True and isinstance(blocked.field_hlc, dict)
