"""The OCR text of digitised pages, indexed folded like every other search here: a
query typed without marks ("lich su dong hoa") finds a page that says "Lịch sử Đông
Hòa". SQLite: an FTS5 table over the folded text; PostgreSQL: a `tsvector` of the
folded words under the 'simple' configuration (no stemming, no extension) with a GIN
index. One row per page, kept by the projector (`keep`), so a rebuild makes it again."""

import re
import unicodedata

from .. import dialect
from ..errors import N_, Invalid
from ..fold import fold

MAX_QUERY = 200
MAX_WORDS = 12
WORD_RE = re.compile(r"\w+", re.UNICODE)


def create(db):
    if dialect.is_postgres(db):
        db.execute_sql("CREATE TABLE IF NOT EXISTS digital_fts (page TEXT PRIMARY KEY, "
                       "document TEXT NOT NULL, folded TSVECTOR NOT NULL)")
        db.execute_sql("CREATE INDEX IF NOT EXISTS digital_fts_folded ON digital_fts "
                       "USING gin (folded)")
        db.execute_sql("CREATE INDEX IF NOT EXISTS digital_fts_document ON digital_fts "
                       "(document)")
    else:
        db.execute_sql("CREATE VIRTUAL TABLE IF NOT EXISTS digital_fts USING fts5("
                       "page UNINDEXED, document UNINDEXED, folded, "
                       "tokenize = 'unicode61 remove_diacritics 0')")


def folded_words(text):
    return [w for w in WORD_RE.findall(fold(text or "")) if w]


def keep(db, page_id, document_id, text):
    """Index (again) one page's text."""
    dialect.run("DELETE FROM digital_fts WHERE page = ?", (page_id,))
    words = " ".join(folded_words(text))
    if not words:
        return
    if dialect.is_postgres(db):
        dialect.run("INSERT INTO digital_fts (page, document, folded) "
                    "VALUES (?, ?, to_tsvector('simple', ?))", (page_id, document_id, words))
    else:
        dialect.run("INSERT INTO digital_fts (page, document, folded) VALUES (?, ?, ?)",
                    (page_id, document_id, words))


def forget_document(document_id):
    dialect.run("DELETE FROM digital_fts WHERE document = ?", (document_id,))


def query_words(q):
    """The folded words of a query, or Invalid when it says nothing or too much."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY:
        raise Invalid("query_too_long", N_("A search may be at most %(max)s characters "
                                           "long."), max=MAX_QUERY)
    words = folded_words(q)[:MAX_WORDS]
    if not words:
        raise Invalid("empty_query", N_("Type a word to search for."))
    return words


def matching_pages(db, words, document=None, limit=200):
    """(page id, document id) of the pages holding every word, in document and page
    order (not ranked: ranking every page of a thousand books that holds a common word
    costs more than a reader gains; a document's pages read in order)."""
    params: list = []
    if dialect.is_postgres(db):
        text = ("SELECT page, document FROM digital_fts "
                "WHERE folded @@ to_tsquery('simple', ?)")
        params.append(" & ".join(words))
        if document:
            text += " AND document = ?"
            params.append(document)
        text += " ORDER BY page LIMIT ?"
        params.append(limit)
    else:
        text = "SELECT page, document FROM digital_fts WHERE digital_fts MATCH ?"
        params.append(" ".join(f'"{w}"' for w in words))
        if document:
            text += " AND document = ?"
            params.append(document)
        text += " LIMIT ?"  # in rowid order: the order pages were indexed
        params.append(limit)
    return [(row[0], row[1]) for row in dialect.run(text, tuple(params))]


def snippet(text, words, width=12):
    """A short piece of `text` around its first stretch of the sought words, and the
    words as they are written there (for highlighting). The text is folded once; where
    folding kept its length (NFC Vietnamese does), positions in the folded text are
    positions in the text."""
    text = unicodedata.normalize("NFC", text or "")
    folded = fold(text)
    if len(folded) != len(text):  # decomposed marks: fold word by word
        return _snippet_by_word(text, words, width)
    pattern = re.compile(r"\b(?:%s)\b" % "|".join(re.escape(w) for w in words))
    first = pattern.search(folded)
    if first is None:
        return "", []
    before = [m.start() for m in WORD_RE.finditer(folded, 0, first.start())][-(width // 2):]
    start = before[0] if before else first.start()
    after = list(WORD_RE.finditer(folded, first.start()))[:width]
    end = after[-1].end() if after else first.end()
    marked = sorted({text[m.start():m.end()] for m in pattern.finditer(folded, start, end)})
    return (("…" if start else "") + " ".join(text[start:end].split())
            + ("…" if end < len(text.rstrip()) else "")), marked


def _snippet_by_word(text, words, width):
    found = [(m.start(), m.end(), fold(m.group(0))) for m in WORD_RE.finditer(text)]
    wanted = set(words)
    hits = [i for i, (_, _, w) in enumerate(found) if w in wanted]
    if not hits:
        return "", []
    first = hits[0]
    start, end = max(0, first - width // 2), min(len(found), first + width)
    piece = text[found[start][0]:found[end - 1][1]]
    marked = sorted({text[found[i][0]:found[i][1]] for i in hits if start <= i < end})
    return ("…" if start else "") + " ".join(piece.split()) + (
        "…" if end < len(found) else ""), marked
