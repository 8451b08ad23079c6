"""Property tests of Vietnamese folding and collation."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.core.fold import canonical_tone, fold, has_marks, normalize, sort_key

VN_LOWER = "aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvxyỳỷỹýỵ"
VN_LETTERS = VN_LOWER + VN_LOWER.upper()
vn_text = st.text(alphabet=VN_LETTERS + " -.,0123456789", max_size=40)
vn_word = st.text(alphabet=VN_LOWER, min_size=1, max_size=8)
TONE_MARKS = ["\u0300", "\u0309", "\u0303", "\u0301", "\u0323"]


@given(vn_text)
def test_fold_is_idempotent(s):
    assert fold(fold(s)) == fold(s)
    assert normalize(normalize(s)) == normalize(s)


@given(vn_text)
def test_fold_output_has_no_marks_and_no_d_bar(s):
    out = fold(s)
    assert "đ" not in out and "Đ" not in out
    assert not any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", out))
    assert out.isascii()


@given(vn_text)
def test_nfc_and_nfd_inputs_fold_and_normalize_equal(s):
    nfd = unicodedata.normalize("NFD", s)
    nfc = unicodedata.normalize("NFC", s)
    assert fold(nfd) == fold(nfc)
    assert normalize(nfd) == normalize(nfc)
    assert sort_key(nfd) == sort_key(nfc)


@given(vn_text)
def test_normalize_then_fold_equals_fold(s):
    assert fold(normalize(s)) == fold(s)


@given(st.sampled_from(["oa", "oe", "uy"]), st.sampled_from(TONE_MARKS), st.sampled_from(["h", "th", "kh", "x", ""]))
def test_old_and_new_tone_placement_are_one_spelling(nucleus, tone, onset):
    old = unicodedata.normalize("NFC", onset + nucleus[0] + tone + nucleus[1])
    new = unicodedata.normalize("NFC", onset + nucleus[0] + nucleus[1] + tone)
    assert normalize(old) == normalize(new)
    assert fold(old) == fold(new)


def test_known_spellings():
    assert fold("Đông Hòa") == "dong hoa"
    assert fold("ĐỒNG") == "dong"
    assert normalize("hòa") == normalize("hoà")
    assert normalize("thúy") == normalize("thuý")
    assert normalize("Hóa học") == normalize("hoá học")
    assert normalize("người") == "người"
    assert canonical_tone("quả") == "quả"
    assert canonical_tone("giữa") == "giữa"
    assert fold("Nguyễn Thị Thuý Hằng") == "nguyen thi thuy hang"
    assert has_marks("hòa") and not has_marks("hoa")


def test_vietnamese_collation_letters():
    expected = ["a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "g", "o", "ô", "ơ", "p", "u", "ư", "v"]
    assert sorted(reversed(expected), key=sort_key) == expected


def test_vietnamese_collation_titles():
    titles = ["Ánh trăng", "Đất rừng phương Nam", "Dế Mèn phiêu lưu ký", "Ăn quả nhớ kẻ trồng cây",
              "Ông già và biển cả", "Ơn nghĩa", "Ước mơ", "Úm ba la", "An Nam"]
    assert sorted(titles, key=sort_key) == [
        "An Nam", "Ánh trăng", "Ăn quả nhớ kẻ trồng cây", "Dế Mèn phiêu lưu ký",
        "Đất rừng phương Nam", "Ông già và biển cả", "Ơn nghĩa", "Úm ba la", "Ước mơ"]


@settings(max_examples=200)
@given(vn_word, vn_word)
def test_collation_key_is_a_total_order_on_spellings(a, b):
    # equal spellings (after tone canonicalisation) share a key; others never do
    assert (sort_key(a) == sort_key(b)) == (normalize(a) == normalize(b))


@given(vn_word)
def test_tone_breaks_ties_only(w):
    # the unaccented word never sorts after an accented word with the same letters
    assert sort_key(fold(w)) <= sort_key(w)


def _reference_fold(text):
    """Folding written plainly: the fast table-driven fold must agree with it."""
    text = unicodedata.normalize("NFD", text.lower()).replace("đ", "d")
    return unicodedata.normalize("NFC", "".join(c for c in text if not unicodedata.combining(c)))


@settings(max_examples=300)
@given(st.one_of(vn_text, st.text(max_size=30)))
def test_fast_fold_equals_the_plain_definition(s):
    assert fold(s) == _reference_fold(s)
