"""`thuvien notices {due,send,queue,slips}` on a library's data folder."""

import json

from pypdf import PdfReader

from appliance.cli import main
from tests.notices_world import Inbox, make_world


def test_due_send_queue_and_slips_from_the_command_line(ctx, data_dir, tmp_path, capsys):
    make_world(ctx)
    data = ["--data", str(data_dir)]
    assert main(["notices", "due", *data]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(n["kind"], n["card"], n["to"]) for n in lines} == {
        ("hold_ready", "P0001", "own"), ("overdue", "P0001", "own"),
        ("overdue", "C0001", "guardian"), ("overdue", "P0002", "no_address")}
    assert main(["notices", "send", *data]) == 1  # e-mail is off
    assert "off" in capsys.readouterr().err
    box = Inbox().start()
    try:
        box.configure()
        assert main(["notices", "send", *data]) == 0
        assert json.loads(capsys.readouterr().out)["sent"] == 3 and len(box.messages) == 3
    finally:
        box.stop()
    assert main(["notices", "queue", *data]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["state"] for r in rows} == {"sent"} and len(rows) == 3
    assert main(["notices", "queue", "--release", rows[0]["key"], *data]) == 1  # sent: no
    out = tmp_path / "6A.pdf"
    assert main(["notices", "slips", "--class", "6A", "--out", str(out), *data]) == 0
    text = "".join(p.extract_text() for p in PdfReader(out).pages)
    assert "Phạm Gia Huy" in text and "Trần Thị Bình" in text
