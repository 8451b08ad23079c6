"""Per-patron keys: the personal fields of a `patron.saved` event are sealed with the
patron's own key (AES-256-GCM), so that destroying the key makes them unreadable in
every copy of the log, its backups and every node that relayed it, while the hashes,
made over what is stored, still hold (crypto-shredding).

The key is made by the first save of the card after this version, announced by a
`patron.key` event whose body names the patron only: the key itself travels beside the
event (events.BESIDE), in the signed and encrypted sync envelope, to the home library's
devices and the hub (privacy.for_branch strips it for any other library), and is held
in the local PatronKey table, never in the log."""

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..models import Patron, PatronKey

# What is personal in a card (sealed in events); the rest (card, category, expiry,
# blocks, library) is what lending needs and stays plain.
PERSONAL = ("name", "phone", "email", "birth_year", "birth_date", "guardian", "pin_hash",
            "school_class", "address", "guardian_email")
# A sealed value: {"sealed": "<base64 nonce + ciphertext>", "key": "<its key's id>"}; two
# desks of a library may each make a card's key apart, so a value names its own.
SEALED = "sealed"
UNREADABLE = "—"  # a sealed name whose key is gone


def is_sealed(value):
    return isinstance(value, dict) and SEALED in value


# Plain SQL: the projector asks for keys on every card saved (dialect.py).
_KEY = "SELECT id, key FROM patron_key WHERE patron = ? AND id = ?"
_FIRST_KEY = "SELECT id, key FROM patron_key WHERE patron = ? ORDER BY id LIMIT 1"
_ERASED = "SELECT 1 FROM patron_erasure WHERE patron = ?"


def key_of(patron_id, key_id=None):
    """The patron's key `key_id`, or (none named) the one to seal with now."""
    from .. import dialect

    row = (dialect.run(_FIRST_KEY, (patron_id,)) if key_id is None else
           dialect.run(_KEY, (patron_id, key_id))).fetchone()
    return (row[0], base64.b64decode(row[1])) if row else (None, None)


def erased(patron_id):
    from .. import dialect

    return dialect.run(_ERASED, (patron_id,)).fetchone() is not None


def _aad(patron_id, field):
    return f"{patron_id}|{field}".encode()


def seal_fields(ctx, patron_id, library, fields):
    """`fields` with the personal ones sealed under the patron's key (made if need be)."""
    if not any(k in PERSONAL and fields[k] is not None for k in fields):
        return fields
    key_id, key = key_of(patron_id)
    if key is None:
        key_id, key = _new_key(ctx, patron_id, library)
    box, out = AESGCM(key), dict(fields)
    for name, value in fields.items():
        if name in PERSONAL and value is not None:
            nonce = os.urandom(12)
            sealed = box.encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(),
                                 _aad(patron_id, name))
            out[name] = {SEALED: base64.b64encode(nonce + sealed).decode(), "key": key_id}
    return out


def open_value(patron_id, field, value, held=None):
    """A sealed value opened, or `None` when its key is not held (another library's
    branch, or the patron erased). `held`: keys already read, by id."""
    key_id = value.get("key") or ""
    if held is None or key_id not in held:
        key = key_of(patron_id, key_id)[1]
        if held is not None:
            held[key_id] = key
    key = held[key_id] if held is not None else key
    if key is None:
        return None
    raw = base64.b64decode(value[SEALED])
    try:
        return json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _aad(patron_id, field)))
    except InvalidTag:
        return None


def opened(patron_id, fields):
    """(fields with sealed values opened, the names that could not be)."""
    if not any(isinstance(v, dict) for v in fields.values()):  # no field sealed or shredded
        return fields, ()
    held: dict[str, bytes | None] = {}  # the keys read, by id
    out: dict = {}
    unread: list = []
    for name, value in fields.items():
        if is_sealed(value) or isinstance(value, dict):  # sealed, or shredded
            value = open_value(patron_id, name, value, held) if is_sealed(value) else None
            if value is None:
                unread.append(name)
                continue
        out[name] = value
    return out, tuple(unread)


def _new_key(ctx, patron_id, library):
    from .. import dialect, events  # (events takes this module's hooks as it loads)

    key = AESGCM.generate_key(bit_length=256)
    ev = events.record(ctx, "patron.key", {"patron_id": patron_id}, library=library)
    dialect.run("INSERT INTO patron_key (id, patron, library, key) VALUES (?, ?, ?, ?)",
                (ev.id, patron_id, library, base64.b64encode(key).decode()))
    return ev.id, key


def attach(d):
    from .. import dialect

    row = dialect.run("SELECT key FROM patron_key WHERE id = ?", (d["id"],)).fetchone()
    if row is not None:
        d["key"] = row[0]


def take(d):
    """A key received beside its event: kept, unless the patron is erased already."""
    body = json.loads(d["body"]) if isinstance(d.get("body"), str) else d.get("body") or {}
    patron_id, key = body.get("patron_id"), d.get("key")
    if not isinstance(key, str) or not isinstance(patron_id, str):
        return
    try:
        size = len(base64.b64decode(key, validate=True))
    except ValueError:
        return
    if size != 32 or erased(patron_id):
        return
    PatronKey.insert(id=d["id"], patron=patron_id, library=d.get("library"),
                     key=key).on_conflict_ignore().execute()


def destroy(patron_id):
    """Overwrite, then delete, the key: the bytes do not stay in a freed page."""
    secure_delete()
    PatronKey.update(key="0" * 44).where(PatronKey.patron == patron_id).execute()
    PatronKey.delete().where(PatronKey.patron == patron_id).execute()



def secure_delete():
    """On SQLite, have what is deleted or overwritten zeroed in the file, so a backup
    made afterwards holds none of it (PostgreSQL's dead rows go at its next vacuum)."""
    from .. import dialect

    db = PatronKey._meta.database
    if not dialect.is_postgres(db):
        db.execute_sql("PRAGMA secure_delete = ON")


def readable(body, new=None):
    """A `patron.saved` body as the projector applies it: sealed fields opened; a field
    that cannot be (the key is not held here, or destroyed) is left out, save a new
    card's name, shown as UNREADABLE. None for an erased card. `new`: whether the card
    is not held here yet, when the caller knows (a batch holds rows not written yet)."""
    patron_id = body.get("id")
    if erased(patron_id):
        return None
    fields = body.get("fields")
    if not isinstance(fields, dict):
        return body
    fields, unread = opened(patron_id, fields)
    if not unread:
        return body if fields is body["fields"] else dict(body, fields=fields)
    if new is None:
        new = Patron.get_or_none(Patron.id == patron_id) is None
    if "name" in unread and new:
        fields["name"] = UNREADABLE
    return dict(body, fields=fields)
