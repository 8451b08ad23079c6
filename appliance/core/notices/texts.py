"""The words of a notice: a subject and a body per kind and language, with placeholders
in braces ({name}, {title}...). The branch admin may edit them; a placeholder that is
not one of PLACEHOLDERS, a brace left open or a field reached into ({name.upper}) is
refused when saved, so a text that was saved always renders."""

from datetime import date
from string import Formatter

from ..errors import N_, Invalid
from . import store

KEY = "notices.texts"
LANGUAGES = ("vi", "en")
KINDS = ("hold_ready", "overdue", "copy_ready")
PLACEHOLDERS = {
    "name": N_("the patron's name"),
    "to_name": N_("whom the notice greets: the patron, or a child's guardian"),
    "card": N_("the card number"),
    "class": N_("the patron's class"),
    "title": N_("the title"),
    "barcode": N_("the copy's barcode"),
    "date": N_("the last day to pick up or to download a copy, or the due date"),
    "days": N_("days overdue"),
    "library": N_("the library's name"),
}
MAX_LENGTH = 4000

DEFAULTS = {
    "vi": {
        "hold_ready": {
            "subject": "Sách bạn đặt đã có: {title}",
            "body": "Kính gửi {to_name},\n\n"
                    "Cuốn «{title}» mà bạn đọc {name} (thẻ {card}) đặt mượn đã có tại "
                    "{library}. Xin mời đến nhận trước hết ngày {date}.\n\n"
                    "Trân trọng,\n{library}",
        },
        "overdue": {
            "subject": "Sách quá hạn trả: {title}",
            "body": "Kính gửi {to_name},\n\n"
                    "Cuốn «{title}» (mã {barcode}) mà bạn đọc {name} (thẻ {card}) mượn "
                    "đã quá hạn trả từ ngày {date} ({days} ngày). Xin vui lòng mang trả "
                    "hoặc gia hạn tại {library}.\n\nTrân trọng,\n{library}",
        },
        "copy_ready": {
            "subject": "Bản sao bạn yêu cầu đã sẵn sàng: {title}",
            "body": "Kính gửi {to_name},\n\n"
                    "Bản sao các trang của «{title}» mà bạn đọc {name} (thẻ {card}) yêu cầu "
                    "đã sẵn sàng. Xin mời đăng nhập tài khoản bạn đọc trên trang của "
                    "{library}, mục «Yêu cầu của tôi», để tải về trước hết ngày {date}.\n\n"
                    "Trân trọng,\n{library}",
        },
    },
    "en": {
        "hold_ready": {
            "subject": "Your hold is ready: {title}",
            "body": "Dear {to_name},\n\n"
                    "“{title}”, on hold for {name} (card {card}), is ready at {library}. "
                    "Please pick it up by {date}.\n\nKind regards,\n{library}",
        },
        "overdue": {
            "subject": "Overdue: {title}",
            "body": "Dear {to_name},\n\n"
                    "“{title}” (barcode {barcode}), borrowed by {name} (card {card}), was "
                    "due on {date} ({days} days ago). Please return or renew it at "
                    "{library}.\n\nKind regards,\n{library}",
        },
        "copy_ready": {
            "subject": "Your copy is ready: {title}",
            "body": "Dear {to_name},\n\n"
                    "The copy of pages of “{title}” asked for by {name} (card {card}) is "
                    "ready. Please log in to your account on the website of {library} "
                    "(My requests) to download it by {date}.\n\nKind regards,\n{library}",
        },
    },
}


def check(text):
    """Refuse a text that would not render: a bad brace or an unknown placeholder."""
    if len(text) > MAX_LENGTH:
        raise Invalid("text_too_long", N_("A notice text is at most %(max)s characters."),
                      max=MAX_LENGTH)
    try:
        parts = list(Formatter().parse(text))
    except ValueError:
        raise Invalid("text_braces", N_("A brace is not closed: write placeholders as "
                                        "{name}, and a brace itself as {{ or }}."))
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            raise Invalid("text_placeholder",
                          N_("Unknown placeholder {%(field)s}. Use only: %(allowed)s."),
                          field=field + (f"!{conversion}" if conversion else "")
                          + (f":{spec}" if spec else ""),
                          allowed=", ".join("{%s}" % p for p in PLACEHOLDERS))


def saved():
    return store.read(KEY, {}) or {}


def language():
    lang = saved().get("language")
    return lang if lang in LANGUAGES else "vi"


def get(kind, lang=None):
    """{"subject", "body"} of a kind in a language: the admin's text, else the default."""
    lang = lang if lang in LANGUAGES else language()
    own = saved().get(lang, {}).get(kind, {})
    return {part: own.get(part) or DEFAULTS[lang][kind][part] for part in ("subject", "body")}


def save(values, lang_choice=None):
    """`values`: {(lang, kind, part): text}; an empty text means the default again."""
    for text in values.values():
        check(text)
    data = saved()
    for (lang, kind, part), text in values.items():
        if lang not in LANGUAGES or kind not in KINDS or part not in ("subject", "body"):
            continue
        text = text.replace("\r\n", "\n").strip()
        if part == "subject" and "\n" in text:
            raise Invalid("subject_one_line", N_("A subject is one line."))
        slot = data.setdefault(lang, {}).setdefault(kind, {})
        if text and text != DEFAULTS[lang][kind][part]:
            slot[part] = text
        else:
            slot.pop(part, None)
    if lang_choice in LANGUAGES:
        data["language"] = lang_choice
    store.write(KEY, data)
    return data


def dmy(iso):
    try:
        return date.fromisoformat(iso).strftime("%d/%m/%Y")
    except (TypeError, ValueError):
        return iso or ""


def values_of(notice, route, library_name, today):
    days = max(0, (today - date.fromisoformat(notice.date)).days) if notice.date else 0
    p = notice.patron
    return {"name": p.name, "to_name": route.to_name, "card": p.card,
            "class": p.school_class or "", "title": notice.title, "barcode": notice.barcode,
            "date": dmy(notice.date), "days": str(days), "library": library_name}


def render(kind, values, lang=None, text=None):
    """(subject, body) of a notice: `text` ({"subject", "body"}) for a preview of words
    not saved yet, checked first."""
    text = text or get(kind, lang)
    for part in text.values():
        check(part)
    subject = text["subject"].format_map(values)
    return " ".join(subject.split()), text["body"].format_map(values)
