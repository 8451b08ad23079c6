"""Notices at the desk (core/notices): what is due and where each notice goes, the
e-mail queue with its state and the server's words, printed slips per patron or per
class, and (for the branch admin) the mail server and the texts, with a preview. The
OPAC account and the kiosk show a patron's own notices (`patron_notices`)."""

import io
from datetime import date, datetime

from flask import (
    Blueprint,
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
from flask_babel import lazy_gettext as _l

from ... import mail, notice_slips
from ...core import audit
from ...core.errors import DomainError
from ...core.notices import due, mailconf, outbox, routing, texts
from ...core.policy import library_name
from ..auth import ADMIN, STAFF, requires
from ..helpers import library_name as library_called
from ..helpers import vndate
from ..i18n import translate

bp = Blueprint("notices", __name__, url_prefix="/desk/notices")

KIND_LABELS = {"hold_ready": _l("Hold ready"), "overdue": _l("Overdue"),
               "due_soon": _l("Due soon"), "copy_ready": _l("Copy ready")}
STATE_LABELS = {"queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"),
                "failed": _l("Failed"), "unsure": _l("Unsure: may have gone"),
                "dropped": _l("No longer due")}
ROUTE_LABELS = {"own": _l("E-mail to the patron"),
                "guardian": _l("E-mail to the guardian"),
                "no_address": _l("Slip only: no e-mail address"),
                "no_guardian_address": _l("Slip only: a child, no guardian's e-mail"),
                "other_library": _l("Slip only: a card of another library")}


@bp.app_template_global("patron_notices")
def patron_notices(patron):
    """A patron's own notices, in short words, for the OPAC account and the kiosk."""
    said = []
    for n in due.for_patron(g.ctx, patron):
        where = library_called(n.library)
        if n.kind == "hold_ready":
            text = _("“%(title)s” is ready for you at %(library)s: pick it up by %(date)s.",
                     title=n.title, library=where, date=vndate(n.date))
        elif n.kind == "overdue":
            text = _("“%(title)s” was due on %(date)s: please return or renew it.",
                     title=n.title, date=vndate(n.date))
        else:
            text = _("“%(title)s” is due on %(date)s.", title=n.title, date=vndate(n.date))
        said.append({"kind": n.kind, "text": text})
    return said


def _rows():
    today = g.ctx.clock.today()
    rows = []
    for n in due.now_due(g.ctx, today):
        why = (routing.route(n.patron, today).why if n.patron.library == g.ctx.library
               else "other_library")
        rows.append({"notice": n, "route": ROUTE_LABELS[why], "email": why in (
            "own", "guardian")})
    return rows


@bp.route("")
@requires(*STAFF)
def home():
    rows = _rows()
    # the due list shows who is late and where their mail goes: a look at each of them
    audit.seen(g.ctx, session.get("user"), "notices.due", [r["notice"].patron.id for r in rows])
    status = mail_status()
    return render_template("notices/home.html", rows=rows, queue=outbox.recent(200),
                           counts=outbox.counts(), classes=notice_slips.classes(
                               [r["notice"] for r in rows]),
                           kinds=KIND_LABELS, states=STATE_LABELS, ready=mailconf.ready(),
                           status=status)


def mail_status():
    from ...core.notices.store import read
    said = read(mail.STATUS_KEY)
    if not said:
        return None
    return {"at": datetime.fromtimestamp(said["at"]).astimezone(), "error": said.get("error")}


@bp.route("/send", methods=["POST"])
@requires(*STAFF)
def send():
    if not mailconf.ready():
        flash(_("E-mail notices are off: the branch admin sets the mail server first."),
              "error")
        return redirect(url_for("notices.home"))
    done = mail.run_round(g.ctx) or {}
    flash(_("New in the queue: %(new)s. Sent: %(sent)s. Waiting: %(queued)s. Failed: "
            "%(failed)s. Unsure: %(unsure)s.", **{k: done.get(k, 0) for k in (
                "new", "sent", "queued", "failed", "unsure")}),
          "success" if not (done.get("failed") or done.get("unsure")) else "error")
    return redirect(url_for("notices.home"))


@bp.route("/release", methods=["POST"])
@requires(*STAFF)
def release():
    key = request.form.get("key", "")
    if outbox.release(key):
        audit.log_local(session.get("user"), "notices.release", key[:64])
        flash(_("The notice will be sent again with the next round."), "success")
    else:
        flash(_("Only a failed or unsure notice can be sent again."), "error")
    return redirect(url_for("notices.home"))


@bp.route("/slips.pdf")
@requires(*STAFF)
def slips():
    school_class = request.args.get("class", "").strip() or None
    cards = [c for c in request.args.getlist("card") if c.strip()]
    chosen = notice_slips.chosen(g.ctx, school_class, cards)
    audit.seen(g.ctx, session.get("user"), "notices.slips", [n.patron.id for n in chosen])
    out = io.BytesIO()
    try:
        notice_slips.write_pdf(g.ctx, chosen, out, words=slip_words(),
                               by_class=not cards)
    except DomainError as e:
        flash(translate(e), "error")
        return redirect(url_for("notices.home"))
    out.seek(0)
    name = f"phieu-bao-{school_class or (cards[0] if cards else 'tat-ca')}.pdf"
    return send_file(out, mimetype="application/pdf", as_attachment=False,
                     download_name=name)


def slip_words():
    return notice_slips.Words(
        title=_("READER NOTICE"), patron=_("Patron"), card=_("Card"),
        school_class=_("Pupil's class"), guardian=_("To the parent or guardian"),
        printed=_("Printed on"),
        hold_ready=_("Your hold is here: pick it up by %(date)s"),
        overdue=_("Overdue since %(date)s: please return or renew it"),
        barcode=_("Barcode"), no_class=_("No class"), none=_("No notices are due."))


@bp.route("/settings", methods=["GET", "POST"])
@requires(*ADMIN)
def settings():
    preview = None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "smtp":
                mailconf.save(request.form, clear_password=bool(
                    request.form.get("clear_password")))
                audit.log_local(session.get("user"), "notices.smtp", g.ctx.library)
                flash(_("Mail server saved."), "success")
                return redirect(url_for("notices.settings"))
            values = {(lang, kind, part): request.form.get(f"{lang}-{kind}-{part}", "")
                      for lang in texts.LANGUAGES for kind in texts.KINDS
                      for part in ("subject", "body")}
            if action == "preview":  # the words typed stay on the page, not saved yet
                preview = _preview(values, request.form.get("preview_kind", "overdue"),
                                   request.form.get("preview_lang", "vi"))
                return render_template("notices/settings.html", **_settings_page(
                    request.form, preview))
            else:
                texts.save(values, request.form.get("language"))
                audit.log_local(session.get("user"), "notices.texts", g.ctx.library)
                flash(_("Notice texts saved."), "success")
                return redirect(url_for("notices.settings"))
        except DomainError as e:
            flash(translate(e), "error")
            return render_template("notices/settings.html", **_settings_page(
                request.form, preview)), 400
    return render_template("notices/settings.html", **_settings_page(None, preview))


def _settings_page(form, preview):
    current = {(lang, kind): texts.get(kind, lang) for lang in texts.LANGUAGES
               for kind in texts.KINDS}
    if form is not None:  # what was typed stays on the page, refused or previewed
        current = {(lang, kind): {part: form.get(f"{lang}-{kind}-{part}", "")
                                  for part in ("subject", "body")}
                   for lang, kind in current}
    return {"smtp": mailconf.shown(), "tls_modes": mailconf.TLS_MODES, "current": current,
            "text_languages": texts.LANGUAGES, "kinds": KIND_LABELS, "text_kinds": texts.KINDS,
            "placeholders": texts.PLACEHOLDERS, "language": texts.language(),
            "preview": preview}


SAMPLE_DAY = date(2026, 9, 15)


def _preview(values, kind, lang):
    """The words as a sample patron would get them, before they are saved."""
    kind = kind if kind in texts.KINDS else "overdue"
    lang = lang if lang in texts.LANGUAGES else "vi"
    text = {part: values.get((lang, kind, part)) or texts.DEFAULTS[lang][kind][part]
            for part in ("subject", "body")}
    sample = {"name": "Phạm Gia Huy", "to_name": "Phạm Văn Đức", "card": "TV0042",
              "class": "6A", "title": "Dế Mèn phiêu lưu ký", "barcode": "100042",
              "date": texts.dmy(SAMPLE_DAY.isoformat()), "days": "5",
              "library": library_name(g.ctx)}
    subject, body = texts.render(kind, sample, lang, text)
    return {"subject": subject, "body": body, "kind": kind, "lang": lang}
