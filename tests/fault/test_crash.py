"""SIGKILL the server at random moments during a stream of checkouts over HTTP: every
checkout answered 201 is there after a restart, and `thuvien verify` passes."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import requests

from appliance.core import catalogue, policy
from tests.conftest import free_port, login_token
from tests.factories import make_library, seed

ROUNDS = 4
ITEMS = 400


def _thuvien(*args):
    return [sys.executable, "-m", "appliance.cli", *args]


def _start(data_dir, port):
    proc = subprocess.Popen(_thuvien("serve", "--data", str(data_dir), "--port", str(port),
                                     "--sip2-port", "0"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(f"{url}/api/v1/health", timeout=1).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start")


def _prepare(data_dir):
    ctx = make_library(data_dir)
    bibs = seed(ctx)
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=10_000, max_renewals=2)
    for n in range(ITEMS):
        catalogue.save_item(ctx, {"bib": bibs[n % 4].id, "barcode": f"C{n:05d}"})
    ctx.close()


def _stream(url, barcodes, answered, stop):
    auth = login_token(url)
    session = requests.Session()
    while barcodes and not stop.is_set():
        barcode = barcodes[0]
        try:
            r = session.post(f"{url}/api/v1/checkouts", headers=auth, timeout=5,
                             json={"patron": "P0001", "item": barcode})
        except requests.RequestException:
            return  # the server died mid-request: the answer never came
        barcodes.pop(0)
        if r.status_code == 201:
            answered.append((barcode, r.json()["loan_id"]))


def test_answered_checkouts_survive_sigkill(tmp_path):
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    rng = random.Random(int(os.environ.get("CRASH_SEED", "28560")))
    barcodes = [f"C{n:05d}" for n in range(ITEMS)]
    answered = []
    for _ in range(ROUNDS):
        proc, url = _start(data_dir, free_port())
        stop = threading.Event()
        worker = threading.Thread(target=_stream, args=(url, barcodes, answered, stop))
        worker.start()
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        worker.join(10)
    assert len(answered) > 20, "the stream should have made real progress"
    result = subprocess.run(_thuvien("verify", "--data", str(data_dir)), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    from appliance.core.context import Context
    from appliance.core.models import Item, Loan
    ctx = Context.open(data_dir)
    for barcode, loan_id in answered:
        loan = Loan.get_or_none(Loan.id == loan_id)
        assert loan is not None and loan.returned_at is None, barcode
        assert Item.get(Item.barcode == barcode).status == "on_loan"
    ctx.close()
