"""Small, known data for tests: one library, its rules, patrons, records, copies."""

from contextlib import contextmanager

from appliance.core import catalogue, datadir, patrons, policy, users
from appliance.core.context import load_settings, save_settings

LIB = "PY-DH01"
PASSWORD = "mat-khau-thu-vien"


def make_library(data_dir, library=LIB, name="Thư viện phường Hòa Hiệp Trung", role="branch",
                 kiosk_pin=False):
    """A new library. The kiosk asks no PIN here, as a library that turned it off: tests
    of PINs at the kiosk and SIP2 turn it on (`thuvien init` makes it required)."""
    ctx = datadir.init(data_dir, library, name, role)
    if not kiosk_pin:
        settings = load_settings(data_dir)
        settings["kiosk_pin_required"] = False
        save_settings(data_dir, settings)
    return ctx


def seed(ctx):
    """Patrons P0001/P0002 (adults), C0001 (child), S0001 (staff); five records with
    copies 1001-1005 (1005 is reference); staff accounts with PASSWORD."""
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     fee_per_day=1000)
    for card, name, category, extra in (
            ("P0001", "Nguyễn Văn An", "adult", {}),
            ("P0002", "Trần Thị Bình", "adult", {}),
            ("C0001", "Phạm Gia Huy", "child", {"guardian": "Phạm Văn Đức",
                                                "guardian_consent": True}),
            ("S0001", "Hoàng Thị Lan", "staff", {})):
        patrons.save(ctx, {"card": card, "name": name, "category": category, "pin": "1234",
                           "expiry": "2030-12-31", **extra})
    titles = [("Truyện Kiều", "Nguyễn Du", "9786040000019"),
              ("Số đỏ", "Vũ Trọng Phụng", "9786040000026"),
              ("Dế Mèn phiêu lưu ký", "Tô Hoài", None),
              ("Lịch sử Phú Yên", "Nhiều tác giả", None),
              ("Từ điển tiếng Việt", "Hoàng Phê", None)]
    bibs = []
    for n, (title, author, isbn) in enumerate(titles, start=1):
        bib = catalogue.save_bib(ctx, {"title": title, "authors": [author], "isbn": isbn,
                                       "language": "vie", "year": 2000 + n})
        catalogue.save_item(ctx, {"bib": bib.id, "barcode": f"100{n}",
                                  "item_type": "reference" if n == 5 else "book"})
        bibs.append(bib)
    for username, role in (("thuthu", "librarian"), ("quanly", "branch_admin"),
                           ("kiosk", "kiosk"), ("baocao", "report_viewer"),
                           ("hub", "hub_admin")):
        users.create(ctx, username, PASSWORD, role)
    return bibs


def loans_fall_due_today(ctx, barcode=None):
    """Every open loan (or the copy's) falls due today, as if days had passed since it
    was made: a renewal then moves the due date, as one must to count (circulation.renew).
    State changed behind the log: renew the loans touched, or `verify` sees it."""
    from appliance.core.models import Item, Loan

    where = Loan.returned_at.is_null()
    if barcode is not None:
        where &= Loan.item << Item.select(Item.id).where(
            (Item.barcode == barcode) & (Item.library == ctx.library))
    Loan.update(due_date=ctx.clock.today().isoformat()).where(where).execute()



@contextmanager
def migrated_from(path, version, *statements):
    """A library's SQLite database at `path` as schema `version` left it (made new, then
    `statements` undo what the migrations after it did), opened: migrated to this
    version, which is checked."""
    import sqlite3

    from appliance.core import db as dbmod

    dbmod.connect(str(path)).close()
    con = sqlite3.connect(path)
    for sql in statements:
        con.execute(sql)
    con.execute("UPDATE setting SET value = ? WHERE key = 'schema_version'", (str(version),))
    con.commit()
    con.close()
    db = dbmod.connect(str(path))
    try:
        assert dbmod.schema_version(db) == dbmod.SCHEMA_VERSION
        yield db
    finally:
        db.close()


def self_signed(folder):
    """A certificate for 127.0.0.1 and its key, as files (a mail or web server's)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "tls.pem", folder / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
