"""Plain SQL written once for SQLite and PostgreSQL: `?` becomes the database's marker."""

from .models import database_proxy

_texts = {}


def sql(text):
    """`text` with the database's parameter marker (`?` or `%s`), worked out once."""
    param = database_proxy.param
    key = (text, param)
    if key not in _texts:
        _texts[key] = text.replace("?", param)
    return _texts[key]
