"""The SIP2 codec against the specification's vectors and the spec-based client."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.sip2 import codec
from appliance.sip2.codec import ChecksumError, Message, SipError

from .client import Reply, add_checksum, checksum_ok


def test_known_vectors():
    assert codec.checksum(b"941AY0AZ") == "FDFD"
    assert codec.checksum(b"97AZ") == "FEF5"
    assert codec.encode(Message("94", {"ok": "1"}), seq=0) == b"941AY0AZFDFD\r"
    assert codec.encode(Message("97")) == b"97AZFEF5\r"
    assert codec.resend_request() == b"96AZFEF6\r"


def test_parse_login_with_cr_or_crlf():
    for end in (b"\r", b"\r\n"):
        line = add_checksum(b"9300CNkiosk|COs3cret|CPPY-DH01|AY4AZ") + end
        msg = codec.parse(line)
        assert msg.code == "93" and msg.seq == 4 and msg.checksummed
        assert msg.get("CN") == "kiosk" and msg.get("CO") == "s3cret"
        assert msg.get("CP") == "PY-DH01"


def test_bad_checksum_is_reported():
    with pytest.raises(ChecksumError) as err:
        codec.parse(b"941AY0AZFDFE\r")
    assert err.value.reason == "bad_checksum"
    assert "FDFD" in str(err.value)


def test_messages_without_error_detection():
    msg = codec.parse(b"2300020240102    101112AOPY-DH01|AA0001|AC|AD|\r")
    assert msg.seq is None and not msg.checksummed
    assert msg.fixed["language"] == "000"
    assert msg.fixed["transaction_date"] == "20240102    101112"
    assert msg.get("AA") == "0001" and msg.get("AD") == ""


def test_checksum_over_utf8_bytes():
    msg = Message("24", {"patron_status": " " * 14, "language": "000",
                         "transaction_date": codec.sip_date()},
                  [("AO", "PY-DH01"), ("AA", "0001"), ("AE", "Nguyễn Thị Đào")])
    for enc in ("utf-8", "cp1258"):
        data = codec.encode(msg, encoding=enc, seq=3)
        assert checksum_ok(data[:-1])
        back = codec.parse(data, encoding=enc)
        assert back.get("AE") == "Nguyễn Thị Đào"


def test_framing_characters_in_values_are_neutralised():
    msg = Message("94", {"ok": "1"}, [("AF", "a|b\rc\nd")])
    data = codec.encode(msg, seq=1)
    assert data.count(b"\r") == 1 and data.endswith(b"\r")
    assert codec.parse(data).get("AF") == "a/b c d"


def test_repeated_fields_and_order_kept():
    line = b"64              00020240102    101112000000000002000000000000AOX|AAP|AUi1|AUi2|"
    msg = codec.parse(line)
    assert msg.getall("AU") == ["i1", "i2"]
    assert msg.fixed["charged_items_count"] == "0002"


@pytest.mark.parametrize("line, reason", [
    (b"", "too_short"),
    (b"9", "too_short"),
    (b"XX123", "unknown_code"),
    (b"11NN2024", "short_fixed"),
    (b"9300CNa|x|", "bad_field"),
    (b"9300CN\xff\xfe|", "bad_encoding"),
    (b"93" + b"0" * 9000, "too_long"),
    (b"17notadate", "short_fixed"),
])
def test_clear_errors(line, reason):
    with pytest.raises(SipError) as err:
        codec.parse(line)
    assert err.value.reason == reason


def test_dates():
    assert codec.parse_date(" " * 18) is None
    assert codec.parse_date("20240102    101112").hour == 10
    with pytest.raises(SipError):
        codec.parse_date("2024-01-02 10:11:12")


def test_spec_client_reads_what_codec_writes():
    msg = Message("12", {"ok": "1", "renewal_ok": "N", "magnetic_media": "N",
                         "desensitize": "Y", "transaction_date": codec.sip_date()},
                  [("AO", "PY-DH01"), ("AA", "0001"), ("AB", "I1"), ("AJ", "Truyện Kiều"),
                   ("AH", "20240116    235959")])
    data = codec.encode(msg, seq=7)
    reply = Reply(data[:-1], "utf-8", 22)
    assert reply.code == "12" and reply.seq == 7 and reply.fixed[0] == "1"
    assert reply.f("AJ") == "Truyện Kiều"


field_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(code=st.sampled_from(sorted(codec.FIXED)), values=st.lists(
    st.tuples(st.sampled_from(sorted(codec.FIELDS)), field_text), max_size=8),
    seq=st.one_of(st.none(), st.integers(0, 9)))
def test_roundtrip(code, values, seq):
    fixed = {name: "Y" * length for name, length in codec.FIXED[code]}
    fields = [(k, v) for k, v in values if k not in ("AY", "AZ")]
    data = codec.encode(Message(code, fixed, fields), seq=seq)
    back = codec.parse(data)
    assert back.code == code and back.fixed == fixed and back.seq == seq
    assert back.fields == [(k, codec.clean(v)) for k, v in fields]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_sip_errors(data):
    try:
        msg = codec.parse(data)
    except SipError:
        return
    assert msg.code in codec.FIXED


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=60), st.integers(0, 9))
def test_any_corruption_of_a_checksummed_message_is_caught(junk, seq):
    good = codec.encode(Message("17", {"transaction_date": codec.sip_date()},
                                [("AO", "PY"), ("AB", "123")]), seq=seq)[:-1]
    pos = len(junk) % (len(good) - 6)
    bad = good[:pos] + bytes([(good[pos] + junk[0] % 255 + 1) % 256]) + good[pos + 1:]
    try:
        codec.parse(bad)
    except SipError:
        return
    pytest.fail(f"corrupted message accepted: {bad!r}")


def test_requests_ignore_fields_the_specification_does_not_list():
    line = b"17" + b"20240102    101112" + b"AOPY|AAP1|ZZx|5x|ABI1|AC|"
    msg = codec.parse_request(line)
    assert msg.fields == [("AO", "PY"), ("AB", "I1"), ("AC", "")]
    with pytest.raises(SipError):  # a message read in general keeps refusing them
        codec.parse(line)


def test_item_information_with_a_language_field_first():
    msg = codec.parse_request(b"17001" + b"20240102    101112" + b"AOPY|ABI1|AC|")
    assert msg.fixed == {"language": "001", "transaction_date": "20240102    101112"}
    assert msg.get("AO") == "PY" and msg.get("AB") == "I1"
    plain = codec.parse_request(b"17" + b"20240102    101112" + b"AOPY|ABI1|AC|")
    assert plain.fixed == {"transaction_date": "20240102    101112"}


@pytest.mark.parametrize("line", [
    b"17" + b"20240102    101112" + b"AOPY|ABI1|AC|AY1AZ123",
    b"17" + b"20240102    101112" + b"AOPY|ABI1|ACAY1AZ",
    b"17" + b"20240102    101112" + b"AOPY|ABI1|AC|AZ12",
    b"9900302.00AY1AZ12",
    b"97AZFEF",
])
def test_a_broken_trailer_is_a_bad_checksum(line):
    for parse in (codec.parse, codec.parse_request):
        with pytest.raises(SipError) as err:
            parse(line)
        assert err.value.reason == "bad_checksum"
