"""The background queue of derivatives and OCR: rows in the database (DigitalJob), so
what was queued survives a restart; a job a stopped process left running is queued
again when the next one starts (`recover`). `thuvien serve` runs a Worker thread;
`thuvien digital work` runs the queue to its end.

The worker also works the jobs of the staff's practice copies (training/practice.py),
after the real library's and one job a copy at a time: the same `run_one` in the
copy's context, its database bound to the worker's thread as a practice request binds
it, its files written only in the copy's folder. Nothing of it reaches the real
library: the copy's log is never synced."""

import logging
import threading
import time
import weakref

from .. import events
from ..models import DigitalDocument, DigitalJob, DigitalPage
from ..training import practice
from . import derive, store

log = logging.getLogger(__name__)
KINDS = ("derive", "ocr")  # in this order: OCR reads the derived full image
MAX_ATTEMPTS = 3


def enqueue(page_ids, kinds=KINDS):
    now = time.time()
    rows = [{"page": pid, "kind": kind, "state": "queued", "queued_at": now}
            for pid in page_ids for kind in kinds]
    for start in range(0, len(rows), 200):
        DigitalJob.insert_many(rows[start:start + 200]).execute()


def recover():
    """Jobs a stopped process left running go back to the queue."""
    return DigitalJob.update(state="queued").where(DigitalJob.state == "running").execute()


def pending():
    return DigitalJob.select().where(DigitalJob.state.in_(("queued", "running"))).count()


def _claim(ctx):
    with events.writing(ctx):
        job = (DigitalJob.select().where(DigitalJob.state == "queued")
               .order_by(DigitalJob.id).first())
        if job is None:
            return None
        DigitalJob.update(state="running", attempts=DigitalJob.attempts + 1).where(
            DigitalJob.id == job.id).execute()
        return job


def _finish(ctx, job, error=None):
    with events.writing(ctx):
        if error is None:
            DigitalJob.delete().where(DigitalJob.id == job.id).execute()
        else:
            state = "failed" if job.attempts + 1 >= MAX_ATTEMPTS else "queued"
            DigitalJob.update(state=state, error=error[:2000]).where(
                DigitalJob.id == job.id).execute()


def run_one(ctx, job):
    """Do one job: its page's images, or its OCR (text as an event)."""
    page = DigitalPage.get_or_none(DigitalPage.id == job.page)
    if page is None:
        return  # the document was deleted or replaced since
    doc = DigitalDocument.get_or_none(DigitalDocument.id == page.document)
    if job.kind == "derive":
        derive.make_images(ctx.files, page)
        return
    if not store.derived(ctx.files, page.id, "full.jpg").exists():
        derive.make_images(ctx.files, page)
    text, words = derive.ocr(store.derived(ctx.files, page.id, "full.jpg"))
    size = derive.full_size(page.width, page.height)
    derive.save_words(store.derived_dir(ctx.files, page.id), words, size)
    events.record(ctx, "digital.text", {"page": page.id, "document_id": page.document,
                                        "text": text, "engine": "tesseract-vie"},
                  library=doc.library if doc else None,
                  local=bool(doc and doc.access == "restricted"))


def run_pending(ctx, limit=None, progress=None, stop=None):
    """Work the queue until it is empty (or `limit` jobs, or `stop` is set); returns
    (done, failed)."""
    done = failed = 0
    total = pending()
    while limit is None or done + failed < limit:
        if stop is not None and stop.is_set():
            break
        job = _claim(ctx)
        if job is None:
            break
        try:
            run_one(ctx, job)
        except Exception as exc:  # one bad page must not stop the queue: kept with its error
            log.warning("digital job %s (%s of %s) failed: %s", job.id, job.kind, job.page, exc)
            _finish(ctx, job, f"{type(exc).__name__}: {exc}")
            failed += 1
        else:
            _finish(ctx, job)
            done += 1
        if progress:
            progress(done + failed, total)
    return done, failed


class Worker(threading.Thread):
    """Works the queue in the background of `thuvien serve`; `wake()` after a new
    document, else it looks every `interval` seconds. With `copies` (the web app's
    practice.Copies) it works the practice copies' queues too."""

    def __init__(self, ctx, interval=5.0, copies=None):
        super().__init__(name="digital-worker", daemon=True)
        self.ctx, self.interval, self.copies = ctx, interval, copies
        self._wake, self._halt = threading.Event(), threading.Event()  # (Thread has a _stop)
        self._recovered: weakref.WeakSet = weakref.WeakSet()  # copies whose stale jobs went back

    def wake(self):
        self._wake.set()

    def stop(self):
        self._halt.set()
        self._wake.set()

    def run(self):
        try:
            with events.writing(self.ctx):
                recover()
        except Exception:
            log.exception("digital worker: could not recover the queue")
        while not self._halt.is_set():
            try:
                run_pending(self.ctx, stop=self._halt)
            except Exception:
                log.exception("digital worker: the queue stalled")
            if self._practice_round():
                continue  # the real queue first again, then the copies' next jobs
            self._wake.wait(self.interval)
            self._wake.clear()

    def _practice_round(self):
        """One job of each practice copy that has some; whether any was worked."""
        if self.copies is None or self._halt.is_set():
            return False
        try:
            held = self.copies.with_jobs()
        except Exception:
            log.exception("digital worker: could not open the practice copies")
            return False
        worked = False
        for pc in held:
            try:
                worked = self._practice_job(pc) or worked
            except Exception:
                log.exception("digital worker: practice copy of %s stalled", pc.owner)
        return worked

    def _practice_job(self, pc):
        with self.copies.working(pc.owner), practice.bound(pc.db):
            if self.copies.current(pc.owner) is not pc:
                return False  # made again or dropped since: its jobs went with it
            try:
                if pc not in self._recovered:  # a copy made while a real job ran holds it
                    with events.writing(pc):
                        recover()
                    self._recovered.add(pc)
                return sum(run_pending(pc, limit=1)) > 0
            finally:
                pc.db.close()  # this thread's connection: none is left to a replaced copy
