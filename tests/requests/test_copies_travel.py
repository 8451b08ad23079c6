"""A remote copy reaches the patron wherever they look, through a real hub process on
loopback (SQLite and PostgreSQL) and two enrolled branches.

A patron of B asks for pages of A's book twice: A's staff attach one PDF at A, the hub's
staff the other at the hub. A's run sends its PDF up with the digital library's masters;
B's run brings both down with the thumbnails' pull, so the patron downloads each on the
hub's site and on B's, and B's mail server gets the "copy ready" e-mail once the PDF is
there, in the language the patron asked in. Another patron opens nothing on any node.
A file that does not hash to the checksum of its event is refused where it arrives (a
forged upload at the hub, a damaged file on the hub's disk at B), and never served; B
does not fetch it again before its wait is over (an hour, then two, by the clock the
test sets), fetches another ready copy at once meanwhile, and says why on the desk."""

import base64
import hashlib
import io
import json
import re
import time

import pytest
import requests as http

from appliance import mail
from appliance.cli import main, translator
from appliance.core import clock, patrons, users
from appliance.core.authority import Quarantine
from appliance.core.clock import HLC, local_time, unpack
from appliance.core.digital import store
from appliance.core.models import Item, RemoteRequest
from appliance.core.requests import commands
from appliance.web import create_app
from appliance.web.helpers import vndate
from sync import agent, failed_files, files, link, protocol, status
from sync.models import FileFailure
from tests.conftest import PASSWORD, csrf_token, staff_login
from tests.notices_world import Inbox
from tests.requests.conftest import make_pdf
from tests.sync.syncsupport import (  # noqa: F401  (hub_db: the fixture)
    deadline_at,
    hub_db_fixture,
    opened,
    running_town,
    seed,
)

A, B = "PY-DH01", "PY-DH02"
ASKER, OTHER, OF_A = "DH02P0000", "DH02P0001", "DH01P0000"  # seed's cards
ON_ITS_WAY = "Bản sao được gửi lên tại một thư viện khác của thị xã và chưa về đến trang này"


@pytest.fixture
def town(tmp_path, hub_db):
    """B's two patrons (the asker with an e-mail address), A's patron, book and staff;
    every card known at A, the hub and B."""
    with running_town(tmp_path, (A, B), hub_db) as town:
        town.a, town.b, town.tmp = town.branches[A], town.branches[B], tmp_path
        with opened(town.b) as b:
            seed(b, n_items=0, n_patrons=2)
            for card in (ASKER, OTHER):
                patrons.save(b, {"id": patrons.find(b, card).id, "pin": "1234"})
            patrons.save(b, {"id": patrons.find(b, ASKER).id, "email": "lan@example.vn"})
            agent.run_once(b)
        with opened(town.a) as a:
            _cards, codes = seed(a, n_items=1, n_patrons=1)
            patrons.save(a, {"id": patrons.find(a, OF_A).id, "pin": "1234"})
            users.create(a, "thuthu", PASSWORD, "librarian")
            town.bib = Item.get(Item.barcode == codes[0]).bib_id
            agent.run_once(a)
        yield town


def _asked(ctx, bib, pdf, lang="vi", library=None, card=ASKER):
    """B's patron's copy of A's book, accepted and attached here; the request's id."""
    req = commands.place(ctx, patrons.find(ctx, card), "copy", bib_id=bib, pages="1-2",
                         purpose="nghiên cứu địa chí", copyright_ok=True, library=library,
                         lang=lang)
    commands.accept(ctx, req.id, actor="thuthu")
    commands.attach(ctx, req.id, pdf, actor="thuthu")
    return req.id


def _pdf(tmp, name, data):
    path = tmp / name
    path.write_bytes(data)
    return path


def _opac(ctx, card):
    client = create_app(ctx, testing=True).test_client()
    r = client.post("/opac/login", data={"card": card, "pin": "1234",
                                         "csrf_token": csrf_token(client, "/opac/login")})
    assert r.status_code == 302, r.text
    return client


def _links(client):
    """{request id: its download link} on the patron's "my requests" page."""
    page = client.get("/opac/requests").text
    return {m.group(2): m.group(1).replace("&amp;", "&") for m in re.finditer(
        r'href="(/opac/requests/([^/]+)/download\?t=[^"]+)"', page)}


def _link_not_here(client, req_id):
    """The download link the API gives for a copy whose PDF is not on this site (the
    page shows the patron a note instead)."""
    listed = {r["id"]: r for r in client.get("/api/v1/requests").json["requests"]}
    assert listed[req_id]["copy_here"] is False
    return listed[req_id]["download"]


def _no_other_patron(ctx, card, ids, links=None):
    """Another patron logged in here opens none of the copies, with or without the
    asker's own links."""
    client = _opac(ctx, card)
    listed = client.get("/opac/requests").text
    for req_id in ids:
        assert req_id not in listed
        assert client.get(f"/opac/requests/{req_id}/download").status_code in (403, 404)
        if links:
            assert client.get(links[req_id]).status_code in (403, 404)
        assert client.get(f"/desk/requests/{req_id}/copy.pdf").status_code in (302, 403)


def test_copies_reach_the_patron_at_home_and_at_the_hub_with_an_email(town):
    first, second = make_pdf(2, "Trang sao A"), make_pdf(3, "Trang sao hub")
    with opened(town.a) as a:
        at_a = _asked(a, town.bib, _pdf(town.tmp, "a.pdf", first), lang="en")
        done = agent.run_once(a)["files"]
        assert done["masters"] == 1 and done["bytes"] == len(first), "the PDF went up"
        desk = create_app(a, testing=True).test_client()
        staff_login(desk)
        assert desk.get(f"/desk/requests/{at_a}/copy.pdf").data == first  # staff may
    with opened(town.hub_dir) as h:
        at_hub = _asked(h, town.bib, _pdf(town.tmp, "hub.pdf", second), library=A)

    inbox = Inbox().start()
    try:
        with opened(town.b) as b:
            inbox.configure()
            agent.run_once(b, files=False)  # the requests, not yet their PDFs
            reader = _opac(b, ASKER)
            page = reader.get("/opac/requests").text
            assert page.count("rq-on-its-way") == 2 and 'class="rq-download"' not in page
            waiting = reader.get(_link_not_here(reader, at_hub))
            assert waiting.status_code == 404 and ON_ITS_WAY in waiting.text
            assert 'id="rq-at-hub"' in waiting.text, "the town's site has it now"
            assert mail.run_round(b)["new"] == 0, "no e-mail before the PDF is here"

            done = agent.run_once(b)["files"]
            assert done["copies"] == 2 and done["bytes"] == len(first) + len(second)
            assert mail.run_round(b)["sent"] == 2, "each copy's e-mail, once it is here"
            assert mail.run_round(b)["new"] == 0, "once"
            got = _links(reader)
            assert reader.get(got[at_a]).data == first, "attached at A, downloaded at B"
            assert reader.get(got[at_hub]).data == second, "attached at the hub, at B"
            _no_other_patron(b, OTHER, (at_a, at_hub), got)
            assert agent.run_once(b)["files"] == {"thumbs": 0, "masters": 0, "bytes": 0}
    finally:
        inbox.stop()
    with opened(town.hub_dir) as h:
        assert {RemoteRequest.get_by_id(r).state for r in (at_a, at_hub)} == {"delivered"}, \
            "the download at home is recorded, as the handling library's step"
        assert not Quarantine.select().exists()
        reader = _opac(h, ASKER)
        got = _links(reader)
        assert reader.get(got[at_a]).data == first, "attached at A, downloaded at the hub"
        assert reader.get(got[at_hub]).data == second
        _no_other_patron(h, OF_A, (at_a, at_hub), got)
    assert [to for _, to in inbox.envelopes] == [["lan@example.vn"]] * 2
    said = {m["Subject"]: m.get_content() for m in inbox.messages}
    assert said.keys() == {"Your copy is ready: Đất rừng phương Nam",
                           "Bản sao bạn yêu cầu đã sẵn sàng: Đất rừng phương Nam"}
    vietnamese = said["Bản sao bạn yêu cầu đã sẵn sàng: Đất rừng phương Nam"]
    assert "Kính gửi Bạn đọc 0" in vietnamese and "Yêu cầu của tôi" in vietnamese
    assert "Please log in to your account" in said["Your copy is ready: Đất rừng phương Nam"]
    with opened(town.a) as a:  # the handling branch: its staff, and nobody else
        assert "copies" not in agent.run_once(a)["files"]
        assert RemoteRequest.get_by_id(at_a).state == "delivered"
        _no_other_patron(a, OF_A, (at_a, at_hub))
        # the copy the hub's staff attached for B's patron stays at the hub and at B,
        # and A's staff are told where it is, not that it comes (docs/requests.md)
        assert not store.master_path(town.a, hashlib.sha256(second).hexdigest(), "pdf").exists()
        desk = create_app(a, testing=True).test_client()
        staff_login(desk)
        assert 'id="rq-copy-elsewhere"' in desk.get(f"/desk/requests/{at_hub}").text
        elsewhere = desk.get(f"/desk/requests/{at_hub}/copy.pdf")
        assert elsewhere.status_code == 404 and "lưu trên trang của thị xã" in elsewhere.text


def test_one_run_at_the_handling_branch_then_one_at_home_deliver_a_copy(town, monkeypatch):
    """`thuvien sync now` at A sends the event, then the PDF before it fetches its own
    patron's copy; then one run at B brings the event and the PDF. Then a copy the hub
    refuses to give waits, and does not stop the others."""
    first, for_a = make_pdf(2, "Trang sao A"), make_pdf(1, "Trang cho bạn đọc A")
    with opened(town.hub_dir) as h:  # a copy A's own patron waits for, attached at the hub
        _asked(h, town.bib, _pdf(town.tmp, "for_a.pdf", for_a), library=A, card=OF_A)
    asked, real_ask = [], files._ask

    def noted(ctx, run, question):
        asked.extend(question)
        return real_ask(ctx, run, question)

    with opened(town.a) as a:
        at_a = _asked(a, town.bib, _pdf(town.tmp, "a.pdf", first))
        monkeypatch.setattr(files, "_ask", noted)
        done = agent.run_once(a)["files"]  # what `thuvien sync now` runs
        monkeypatch.setattr(files, "_ask", real_ask)
        assert done["masters"] == 1 and done["copies"] == 1
        assert asked.index("put") < asked.index("get"), "the copy attached here goes up first"
    with opened(town.b) as b:
        done = agent.run_once(b)["files"]
        assert done["copies"] == 1 and done["bytes"] == len(first), "one run at home"
        reader = _opac(b, ASKER)
        assert reader.get(_links(reader)[at_a]).data == first
    _a_file_the_hub_refuses_waits_and_the_others_come(town)


def _a_file_the_hub_refuses_waits_and_the_others_come(town):
    """The hub refuses a copy B believes ready (its staff ended the link, B has not
    heard yet): B remembers it, fetches the other copy in the same run, does not ask
    again within the wait, and forgets it once the event says it is over."""
    gone, kept = make_pdf(1, "Trang hết hạn"), make_pdf(2, "Trang còn hạn")
    with opened(town.hub_dir) as h:
        ended = _asked(h, town.bib, _pdf(town.tmp, "gone.pdf", gone), library=A)
        _asked(h, town.bib, _pdf(town.tmp, "kept.pdf", kept), library=A)
    with opened(town.b) as b:
        agent.run_once(b, files=False)  # both ready, as B knows them
    with opened(town.hub_dir) as h:
        commands.expire(h, ended, actor="town")
    with opened(town.b) as b:
        done = files.exchange(b, _run(b, town.hub.url))
        assert done["copies"] == 1 and done["bytes"] == len(kept) and done["failed"] == 1
        [failure] = FileFailure.select()
        assert failure.reason == "refused" and "403" in failure.detail
        done = files.exchange(b, _run(b, town.hub.url))
        assert done["later"] == 1 and "failed" not in done, "not asked again within its wait"
        agent.run_once(b)  # the expiry comes: nothing is wanted, nothing remembered
        assert not FileFailure.select().exists()


def _noise_pdf(path, seed_=5):
    """A PDF of a few hundred KB that does not compress: several chunks on the wire."""
    import random

    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    rnd = random.Random(seed_)
    image = Image.frombytes("L", (600, 500), rnd.randbytes(600 * 500))
    out = io.BytesIO()
    c = canvas.Canvas(out)
    c.drawImage(ImageReader(image), 20, 20, 500, 400)
    c.showPage()
    c.save()
    path.write_bytes(out.getvalue())
    return path


def _run(ctx, hub_url):
    return agent._Run(ctx, http.Session(), hub_url, 10, link.Deadline(60))


def test_a_copy_not_matching_its_checksum_is_refused_where_it_arrives(town):
    path = _noise_pdf(town.tmp / "scan.pdf")
    data = path.read_bytes()
    sha, size = hashlib.sha256(data).hexdigest(), len(data)
    assert size > 2 * files.CHUNK
    with opened(town.a) as a:
        req_id = _asked(a, town.bib, path)
        agent.run_once(a, files=False)
        forged = bytes(b ^ 0xFF for b in data[:files.CHUNK])
        said = {}
        for offset in range(0, size, files.CHUNK):  # A sends other bytes under its name
            chunk = forged if offset == 0 else data[offset:offset + files.CHUNK]
            said = files._ask(a, _run(a, town.hub.url), {"put": {
                "sha256": sha, "ext": "pdf", "offset": offset,
                "data": base64.b64encode(chunk).decode()}})
        assert said == {"held": 0, "bad": "the file did not match its checksum"}
    at_hub = store.master_path(town.hub_dir, sha, "pdf")
    assert not at_hub.exists(), "refused at the hub"
    with opened(town.hub_dir) as h:
        waiting = _opac(h, ASKER).get(_link_not_here(_opac(h, ASKER), req_id))
        assert waiting.status_code == 404 and ON_ITS_WAY in waiting.text, "not served"

    with opened(town.b) as b:
        agent.run_once(b, files=False)
        run = _run(b, town.hub.url)
        assert files._ask(b, run, {"get": {"sha256": sha, "ext": "pdf", "offset": 0}}) == {
            "missing": True}, "B may have it, once the hub holds it"
        for question in ({"get": {"sha256": "0" * 64, "ext": "pdf", "offset": 0}},
                         {"put": {"sha256": sha, "ext": "pdf", "offset": 0, "data": ""}}):
            with pytest.raises(protocol.SyncError) as err:  # not B's file; not B's copy
                files._ask(b, run, question)
            assert "403" in str(err.value)
    at_a = store.master_path(town.a, sha, "pdf")
    at_a.write_bytes(forged + data[files.CHUNK:])  # A's own disk damaged: the hub refuses it
    with opened(town.a) as a:
        done = agent.run_once(a)["files"]
        assert done["failed"] == 1 and done["masters"] == 0 and done["bytes"] == size
        done = agent.run_once(a)["files"]
        assert done["later"] == 1 and done["bytes"] == 0, "not sent again within its wait"
        at_a.write_bytes(data)  # restored from the backup
        real = a.clock
        a.clock = HLC(real.last, wall=lambda: real.raw_ms() + 61 * 60_000)
        assert files.exchange(a, _run(a, town.hub.url))["masters"] == 1, "an hour later"
        a.clock = real
        assert not FileFailure.select().exists()
    assert hashlib.sha256(at_hub.read_bytes()).hexdigest() == sha

    here = store.master_path(town.b, sha, "pdf")
    with opened(town.b) as b:
        with deadline_at("get", 2):  # the run's deadline comes after the first chunk
            assert agent.run_once(b)["files"]["unfinished"]
        part = town.b / files.INCOMING / f"{sha}.pdf.part"
        assert part.stat().st_size == files.CHUNK and not here.exists()

        good = at_hub.read_bytes()
        at_hub.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # the hub's disk damaged
        done = agent.run_once(b)["files"]
        assert done["refused"] == 1 and done["failed"] == 1 and "copies" not in done
        assert done["bytes"] == size - files.CHUNK, "resumed from the part"
        assert not here.exists() and not part.exists(), "refused at B"
        reader = _opac(b, ASKER)
        waiting = reader.get(_link_not_here(reader, req_id))
        assert waiting.status_code == 404 and ON_ITS_WAY in waiting.text, "not served"
    _backs_off_then_tries_again(town, req_id, data, good, at_hub)


def _backs_off_then_tries_again(town, req_id, data, good, at_hub):
    """The damaged file is not fetched again on the next runs but after an hour (town
    time, the clock the tests inject), then after two; staff read why on the desk's
    sync line; another ready copy comes at once meanwhile, and so does the same file
    once a new request.ready names it."""
    size, here = len(data), store.master_path(town.b, hashlib.sha256(data).hexdigest(), "pdf")
    with opened(town.b) as b:
        users.create(b, "thuthu", PASSWORD, "librarian")
        done = agent.run_once(b)["files"]
        assert done["later"] == 1 and done["bytes"] == 0, "not fetched again within its wait"
        desk = create_app(b, testing=True).test_client()
        staff_login(desk)
        said = desk.get("/desk/").text
        assert "Không tải được bản sao “Đất rừng phương Nam” từ máy chủ thị xã: tệp máy chủ " \
               "gửi về không khớp mã kiểm tra (SHA-256)" in said
        assert "(đã 1 lần không thành công)" in said
        [row] = status.summary(b)["files_failed"]  # `thuvien sync status` says it too
        assert status.file_failure_text(row, translator("vi")).startswith(
            "Không tải được bản sao “Đất rừng phương Nam” từ máy chủ thị xã")
        english = desk.get("/desk/?lang=en").text
        assert "The copy “Đất rừng phương Nam” could not be fetched from the town hub: the " \
               "file the hub sent does not match the checksum (SHA-256)" in english

    other = make_pdf(1, "Trang sao khác")  # the hub's staff attach another copy for B's patron
    with opened(town.hub_dir) as h:
        _asked(h, town.bib, _pdf(town.tmp, "other.pdf", other), library=A)
    with opened(town.b) as b:
        done = agent.run_once(b)["files"]
        assert done["copies"] == 1 and done["bytes"] == len(other), "a new ready: at once"
        assert done["later"] == 1, "the damaged one still waits"

        start, real = b.clock.raw_ms(), b.clock

        def after(minutes):  # files only: a run's events would set the clock right again
            b.clock = HLC(real.last, wall=lambda: start + minutes * 60_000)
            return files.exchange(b, _run(b, town.hub.url))

        assert after(59)["bytes"] == 0
        done = after(61)
        assert done["bytes"] == size and done["refused"] == 1, "an hour later: again"
        assert after(61 + 119)["bytes"] == 0, "then two hours"
        assert "(2 failed attempts)" in desk.get("/desk/?lang=en").text
        at_hub.write_bytes(good[:-100])  # now short at the hub: it ends before its size
        done = after(61 + 121)
        assert done["bytes"] == size - 100 and done["failed"] == 1 and "copies" not in done
        assert FileFailure.get().reason == "size" and FileFailure.get().failures == 3
        assert "the file at the hub is not the size" in desk.get("/desk/?lang=en").text
        assert not (town.b / files.INCOMING / f"{here.name}.part").exists()
        b.clock = real

    at_hub.write_bytes(good)  # repaired at the hub, and the same PDF attached anew there
    with opened(town.hub_dir) as h:
        again = _asked(h, town.bib, _pdf(town.tmp, "again.pdf", data), library=A)
    with opened(town.b) as b:
        done = agent.run_once(b)["files"]
        assert done["copies"] == 1 and done["bytes"] == size and "later" not in done
        assert here.exists() and not FileFailure.select().exists(), "nothing left to retry"
        reader = _opac(b, ASKER)
        got = _links(reader)
        assert reader.get(got[req_id]).data == reader.get(got[again]).data == data
        desk = create_app(b, testing=True).test_client()
        staff_login(desk)
        assert "sync-file-failed" not in desk.get("/desk/").text


DAY_MIN = 24 * 60
LATE_VI = "vẫn chưa tải được bản sao “Đất rừng phương Nam” (yêu cầu {short}) từ máy chủ thị " \
          "xã: máy chủ chưa có tệp này. {library}, thư viện đã gửi kèm bản sao, chưa gửi tệp lên"
LATE_EN = "could not be fetched from the town hub since {since}: the hub does not hold it " \
          "yet. {library}, the library that attached it, has not sent it"


def _late_on_desk(desk, lang="vi"):
    """The desk's sync line about copies late at the hub (the hub said missing)."""
    page = desk.get(f"/desk/?lang={lang}").text
    return re.findall(r'<span class="sync-file-failed warning"[^>]*data-reason="missing"[^>]*>'
                      r'([^<]*)</span>', page)


def _late_at_hub(hub, req_id, minutes):
    """The hub's queue and the request's page, read ``minutes`` from now: the notes that
    say the library that attached the copy has not sent its PDF."""
    real = hub.clock
    hub.clock = HLC(real.last, wall=lambda: real.raw_ms() + minutes * 60_000)
    try:
        desk = create_app(hub, testing=True).test_client()
        staff_login(desk, "town", landing="/desk/requests/")
        queue = desk.get("/desk/requests/").text
        row = re.search(rf'<tr data-id="{req_id}">.*?</tr>', queue, re.S).group(0)
        return (re.findall(r'class="rq-late"[^>]*>([^<]*)<', row),
                re.findall(r'id="rq-late"[^>]*>([^<]*)<', desk.get(f"/desk/requests/{req_id}").text))
    finally:
        hub.clock = real


class _Later:
    """The time module as read ``minutes`` from now: the wall clock a hub's context (and
    the command line's) reads."""

    def __init__(self, minutes):
        self.shift = minutes * 60

    def time(self):
        return time.time() + self.shift

    def __getattr__(self, name):
        return getattr(time, name)


def _late_listed(hub_dir, req_id, minutes, monkeypatch, capsys):
    """The staff's JSON lists at the hub, read ``minutes`` from now: (late_since,
    awaited_from) of the request in the API's and in `thuvien requests list`'s."""
    with monkeypatch.context() as later:
        later.setattr(clock, "time", _Later(minutes))
        with opened(hub_dir) as h:
            desk = create_app(h, testing=True).test_client()
            staff_login(desk, "town", landing="/desk/requests/")
            api = {r["id"]: r for r in desk.get("/api/v1/requests").json["requests"]}
        assert main(["requests", "list", "--data", str(hub_dir)]) == 0
        cli = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    return [(row[req_id]["late_since"], row[req_id]["awaited_from"]) for row in (api, cli)]


def test_a_copy_the_attaching_library_does_not_send_is_told_after_two_days(town, monkeypatch,
                                                                           capsys):
    """A attaches a copy for B's patron and syncs its events, not the PDF (its Pi goes
    off). B asks the hub on every run and is told ``missing``: nothing is said on B's
    desk, nor on the hub's queue, for two days by the town's clock (nor with a clock
    read in 1970); then both name the copy and library A, which has not sent it, and
    since when; the hub's API and `thuvien requests list` say the same (late_since, and
    awaited_from the library). Once A's run sends it, the hub's note goes, and B's with
    B's next run."""
    with opened(town.a) as a:
        req_id = _asked(a, town.bib, _pdf(town.tmp, "late.pdf", make_pdf(1, "Trang trễ")))
        agent.run_once(a, files=False)  # the request is ready; its PDF stays at A
    short = req_id[:8]
    with opened(town.b) as b:
        users.create(b, "thuthu", PASSWORD, "librarian")
        assert agent.run_once(b)["files"]["missing"] == 1
        [row] = FileFailure.select()
        assert row.reason == "missing" and row.retry_ms == 0, "asked again, with no wait"
        since = row.failed_ms
        desk = create_app(b, testing=True).test_client()
        staff_login(desk)
        assert _late_on_desk(desk) == []

        start, real = b.clock.raw_ms(), b.clock

        def at(minutes):  # files only: a run's events would set the clock right again
            b.clock = HLC(real.last, wall=lambda: start + minutes * 60_000)
            return files.exchange(b, _run(b, town.hub.url))

        assert at(2 * DAY_MIN - 1)["missing"] == 1
        assert FileFailure.get().failed_ms == since, "missing since the first answer"
        assert _late_on_desk(desk) == [], "not before two days"
        b.clock = HLC(real.last, wall=lambda: 5 * 60_000)  # 1970: no battery, not yet set
        assert _late_on_desk(desk) == [], "a clock in 1970 makes nothing late"
        assert at(2 * DAY_MIN + 1)["missing"] == 1
        [vi] = _late_on_desk(desk)
        assert LATE_VI.format(short=short, library="Thư viện PY-DH01 (PY-DH01)") in vi
        assert vi.startswith("Từ ") and "Xin hãy báo thư viện đó đồng bộ" in vi
        [said] = status.summary(b)["files_failed"]  # `thuvien sync status` says it too
        assert said["failed_ms"] == since
        assert status.file_failure_text(said, translator("vi")).startswith("Từ ")
        [en] = _late_on_desk(desk, "en")
        assert en.startswith(f"The copy “Đất rừng phương Nam” (request {short})")
        assert LATE_EN.format(since=vndate(said["failed_at"]),
                              library="Thư viện PY-DH01 (PY-DH01)") in en
        b.clock = real

    with opened(town.hub_dir) as h:
        assert _late_at_hub(h, req_id, 2 * DAY_MIN - 5) == ([], []), "not before two days"
        queue, page = _late_at_hub(h, req_id, 2 * DAY_MIN + 5)
        assert len(queue) == 1 and queue[0].startswith("Từ ")
        assert "Thư viện PY-DH01, thư viện đã gửi kèm bản sao, chưa gửi tệp lên" in queue[0]
        assert len(page) == 1 and page[0].startswith(queue[0]), "and on the request's page"
        ready = RemoteRequest.get_by_id(req_id)
        since = local_time(unpack(ready.field_hlc["sha256"])[0])  # request.ready's clock
    assert _late_listed(town.hub_dir, req_id, 2 * DAY_MIN - 5, monkeypatch, capsys) == [
        (None, None)] * 2, "not before two days"
    listed = _late_listed(town.hub_dir, req_id, 2 * DAY_MIN + 5, monkeypatch, capsys)
    assert listed == [(since, A)] * 2, "the API and the command line, as the queue"
    assert queue[0].startswith(f"Từ {vndate(since)} ")
    with opened(town.a) as a:  # A's Pi is back: its run sends the PDF up
        assert agent.run_once(a)["files"]["masters"] == 1
    with opened(town.hub_dir) as h:
        assert _late_at_hub(h, req_id, 2 * DAY_MIN + 5) == ([], [])
    assert _late_listed(town.hub_dir, req_id, 2 * DAY_MIN + 5, monkeypatch, capsys) == [
        (None, None)] * 2
    with opened(town.b) as b:
        done = agent.run_once(b)["files"]
        assert done["copies"] == 1 and "missing" not in done
        assert not FileFailure.select().exists()
        desk = create_app(b, testing=True).test_client()
        staff_login(desk)
        assert _late_on_desk(desk) == [] and "sync-file-failed" not in desk.get("/desk/").text


def test_a_copy_first_said_missing_under_a_clock_in_1970_is_not_late_once_set_right(town):
    """B's Pi booted in 1970 (no battery, not yet set by the hub) asks the hub for a
    copy's PDF and is told ``missing``. That first answer is not the start of the two
    days: once the clock is right, the wait starts then, and the desk says nothing
    until two days after it."""
    with opened(town.a) as a:
        req_id = _asked(a, town.bib, _pdf(town.tmp, "1970.pdf", make_pdf(1, "Trang 1970")))
        agent.run_once(a, files=False)  # the request is ready; its PDF stays at A
    with opened(town.b) as b:
        users.create(b, "thuthu", PASSWORD, "librarian")
        agent.run_once(b, files=False)
        assert RemoteRequest.get_by_id(req_id).state == "ready"
        desk = create_app(b, testing=True).test_client()
        staff_login(desk)
        start, real = b.clock.raw_ms(), b.clock

        def at(wall):  # files only: a run's events would set the clock right again
            b.clock = HLC(real.last, wall=lambda: wall)
            return files.exchange(b, _run(b, town.hub.url))

        assert at(5 * 60_000)["missing"] == 1  # 1970
        assert FileFailure.get().failed_ms == failed_files.UNKNOWN, "no since in 1970"
        assert _late_on_desk(desk) == []
        b.clock = HLC(real.last, wall=lambda: start)  # set right, not asked again yet
        assert _late_on_desk(desk) == [], "a since not known makes nothing late"
        assert at(start + 60_000)["missing"] == 1  # set right: since now, not since 1970
        assert _late_on_desk(desk) == [], "a wait counted from 1970 is not late"
        assert FileFailure.get().failed_ms == start + 60_000
        assert at(start + (2 * DAY_MIN - 1) * 60_000)["missing"] == 1
        assert _late_on_desk(desk) == [], "not before two days from the clock set right"
        assert at(start + (2 * DAY_MIN + 2) * 60_000)["missing"] == 1
        assert len(_late_on_desk(desk)) == 1
        b.clock = real
