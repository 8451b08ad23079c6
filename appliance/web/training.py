"""Staff training at the desk: the practice-mode switch, the guided exercises, and the
training records (courses attended, entered by admins).

Practice mode is per login session: `install` (called by the app factory) binds the
session owner's practice copy to the request's thread, as its `g.ctx` and as the
database every model uses (core/training/practice.py), for every page but logging in
and out and these training pages, which say themselves which library they read."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _

from ..core.errors import DomainError
from ..core.models import database_proxy
from ..core.reports import period as periods
from ..core.training import certificates, exercises, practice, records
from . import i18n
from .auth import ADMIN, STAFF, identity, requires
from .reports import chosen_period

bp = Blueprint("training", __name__, url_prefix="/training")
PRACTISERS = (*STAFF, "kiosk")
# The endpoints a practice request never binds: the login (accounts are the real
# library's) and the training pages (they read the real records and the copy both).
UNBOUND = ("auth.", "training.", "static")


def _real():
    return current_app.extensions["thuvien"]


def copies(app):
    """The process's practice copies (core/training/practice.py Copies): the digital
    queue's worker works theirs too (`thuvien serve`)."""
    return app.extensions["thuvien_practice"]


def copy_of(username, fresh=False):
    """The PracticeContext of `username`, opened once per process."""
    return copies(current_app).get(username, fresh=fresh)


def _drop(username):
    copies(current_app).drop(username)


# The switch, run on every request.

def _bind():
    owner = session.get("practice")
    endpoint = request.endpoint or ""
    if not owner or endpoint.startswith(UNBOUND):
        return
    who = identity()
    if who is None or who["username"] != owner:
        session.pop("practice", None)  # a session someone else logged into
        return
    g.practice = copy_of(owner)
    g.ctx = g.practice
    database_proxy.bind_thread(g.practice.db)


def _unbind(exc=None):
    database_proxy.bind_thread(None)


# Steps of exercises that leave no event of the library: what was asked of the page.
def _note(response):
    pc = g.get("practice")
    if pc is None or response.status_code != 200 or request.method != "GET":
        return response
    who = identity()
    actor = who["username"] if who else None
    if request.endpoint == "cataloguing.print_labels":
        exercises.note_step(pc, "labels.printed", actor)
    elif request.endpoint in ("reports.export_library", "reports.semiannual_export"):
        try:
            p = chosen_period("half")
        except DomainError:
            return response
        exercises.note_step(pc, "report.exported", actor, period=p.name, half=_is_half(p))
    return response


def _is_half(p):
    """A half-year, whether named (2026-H1) or given as its first and last days."""
    if p.kind == "half":
        return True
    if p.start.day != 1 or p.start.month not in (1, 7):
        return False
    return p.end == periods.half(p.start.year, 1 if p.start.month == 1 else 2).end


def install(app):
    """The practice-mode switch: after the login check and the real context (factory)."""
    app.extensions["thuvien_practice"] = practice.Copies(app.extensions["thuvien"])
    app.before_request(_bind)
    app.after_request(_note)
    app.teardown_request(_unbind)  # threads serve other sessions next

    @app.context_processor
    def _practice():
        return {"practice": g.get("practice") is not None or (
            request.endpoint or "").startswith("training.") and bool(session.get("practice"))}


# Pages.

def _username():
    return identity()["username"]


def _exercise_rows(pc, username):
    """Each exercise with its steps' progress in the copy (when practising) and when it
    was completed (from the real records)."""
    done = {}
    for ex in records.exercises_done(_real().library, username):
        done.setdefault(ex.exercise, ex)
    rows = []
    for ex in exercises.EXERCISES:
        steps, begun = None, None
        if pc is not None:
            with practice.bound(pc.db):
                steps = exercises.progress(ex.code, username)
                begun = exercises.started(ex.code)
        rows.append({"ex": ex, "steps": steps, "begun": begun, "done": done.get(ex.code),
                     "core": ex.code in exercises.CORE})
    return rows


def _check_all(pc, username):
    """Record, in the real library, each started exercise whose steps now all hold."""
    for ex in exercises.EXERCISES:
        with practice.bound(pc.db):
            finished = exercises.check(pc, ex.code, username)
        if finished:
            records.exercise_done(_real(), username, ex.code, finished["started_at"],
                                  finished["seconds"])
            flash(_("Exercise done: %(title)s.", title=_(ex.title)), "info")


@bp.route("/")
@requires(*STAFF)
def home():
    username = _username()
    pc = copy_of(username) if session.get("practice") == username else None
    if pc is not None:
        _check_all(pc, username)
    if _real().role != "hub":
        records.list_staff(_real())
    return render_template("training/home.html", rows=_exercise_rows(pc, username),
                           practising=pc is not None, practice_pin=practice.PRACTICE_PIN,
                           courses=records.courses(_real().library, username))


def _domain(fn):
    try:
        return fn()
    except DomainError as e:
        flash(i18n.translate(e), "error")
        return None


@bp.route("/practice/enter", methods=["POST"])
@requires(*PRACTISERS)
def enter():
    username = _username()
    if _domain(lambda: copy_of(username, fresh=request.form.get("fresh") == "1")) is None:
        return redirect(url_for("training.home"))
    session["practice"] = username
    flash(_("Practice mode: you are working in a practice copy of the library. Nothing "
            "here is real, syncs, prints or is sent."), "info")
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//")
                    else url_for("desk.home"))


@bp.route("/practice/leave", methods=["POST"])
@requires(*PRACTISERS)
def leave():
    session.pop("practice", None)
    flash(_("You left practice mode: this is the real library again."), "info")
    return redirect(url_for("training.home") if identity()["role"] in STAFF
                    else url_for("kiosk.start"))


@bp.route("/practice/reset", methods=["POST"])
@requires(*STAFF)
def reset():
    username = _username()
    _drop(username)
    if _domain(lambda: copy_of(username, fresh=True)) is not None:
        flash(_("A fresh practice copy was made from the library as it is now."), "info")
    return redirect(url_for("training.home"))


@bp.route("/exercises/<code>/start", methods=["POST"])
@requires(*STAFF)
def start(code):
    username = _username()
    if session.get("practice") != username:
        flash(_("Enter practice mode first: exercises are done in the practice copy."),
              "error")
        return redirect(url_for("training.home"))
    pc = copy_of(username)
    with practice.bound(pc.db):
        exercises.start(pc, exercises.get(code).code)
    flash(_("Exercise started: %(title)s. Follow its steps, then come back here.",
            title=_(exercises.get(code).title)), "info")
    return redirect(url_for("training.home") + f"#ex-{code}")


# Records: an admin's page.

def _library_arg():
    library = (request.values.get("library") or "").strip()
    if _real().role != "hub":
        return _real().library
    return library or None


@bp.route("/records")
@requires(*ADMIN)
def records_page():
    real = _real()
    if real.role != "hub":
        records.list_staff(real)
    library = _library_arg()
    status = records.status(exercises.CORE, [library] if library else None)
    return render_template("training/records.html", status=status, library=library,
                           courses=records.courses(library), done=records.exercises_done(
                               library), titles={e.code: e.title for e in exercises.EXERCISES},
                           core=exercises.CORE, max_mb=certificates.MAX_BYTES // 1048576,
                           hub=real.role == "hub")


@bp.route("/records/courses", methods=["POST"])
@requires(*ADMIN)
def add_course():
    real, form = _real(), request.form

    def save():
        upload = request.files.get("certificate")
        cert = None
        if upload is not None and upload.filename:
            cert = certificates.store(real.data_dir, upload.read(certificates.MAX_BYTES + 1),
                                      upload.filename)
        return records.add_course(real, form.get("library") or real.library,
                                  form.get("staff"), form.get("name"), form.get("organiser"),
                                  form.get("day"), form.get("hours"), cert,
                                  actor=_username())
    if _domain(save) is not None:
        flash(_("The course was recorded."), "info")
    return redirect(url_for("training.records_page", library=form.get("library") or None))


@bp.route("/records/courses/<course_id>/remove", methods=["POST"])
@requires(*ADMIN)
def remove_course(course_id):
    if _domain(lambda: records.remove_course(_real(), course_id, actor=_username()) or True):
        flash(_("The course record was removed."), "info")
    return redirect(url_for("training.records_page"))


@bp.route("/records/courses/<course_id>/certificate")
@requires(*ADMIN)
def certificate(course_id):
    course = next((c for c in records.courses() if c.id == course_id), None)
    if course is None or not course.certificate or (
            _real().role != "hub" and course.library != _real().library):
        abort(404)
    try:
        path = certificates.path_of(_real().data_dir, course.certificate)
    except DomainError:
        abort(404)
    return send_file(path, mimetype=course.certificate["type"], as_attachment=True,
                     download_name=course.certificate.get("filename") or path.name)

