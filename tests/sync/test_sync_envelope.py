"""The sealed batch: what opens, and every way it must refuse."""

import os
import stat

import pytest

from sync import envelope, keys
from sync.envelope import EnvelopeError


@pytest.fixture
def branch(tmp_path):
    return keys.load_or_create(tmp_path / "branch")


@pytest.fixture
def hub(tmp_path):
    return keys.load_or_create(tmp_path / "hub")


def seal(sender_keys, recipient_keys, payload=b"events" * 50, **kw):
    args = dict(sender="branch-1", recipient="hub", first_seq=1, last_seq=3)
    args.update(kw)
    return envelope.seal(payload, sign_key=sender_keys.sign,
                         recipient_box=recipient_keys.box.public_key(), **args)


def open_(data, hub_keys, signer_keys, recipient="hub"):
    return envelope.open_sealed(data, recipient=recipient, box_key=hub_keys.box,
                                sender_key_for=lambda _id: signer_keys.sign.public_key())


def test_keys_are_made_once_and_private(tmp_path):
    k1 = keys.load_or_create(tmp_path)
    k2 = keys.load_or_create(tmp_path)
    assert k1.sign_public == k2.sign_public and k1.box_public == k2.box_public
    folder = keys.key_dir(tmp_path)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    pub = k1.public_dict()
    assert keys.unb64(pub["sign_key"]) == k1.sign_public


def test_malformed_key_file_is_a_clear_error(tmp_path):
    keys.load_or_create(tmp_path)
    (keys.key_dir(tmp_path) / keys.SIGN_FILE).write_bytes(b"short")
    with pytest.raises(keys.KeyFileError, match="expected 32"):
        keys.load(tmp_path)
    with pytest.raises(keys.KeyFileError):
        keys.unb64("AAAA")


def test_round_trip_and_header(branch, hub):
    payload = os.urandom(3000) + b"x" * 5000
    data = seal(branch, hub, payload, first_seq=7, last_seq=9)
    header, out = open_(data, hub, branch)
    assert out == payload
    assert (header.sender, header.recipient, header.first_seq, header.last_seq) == (
        "branch-1", "hub", 7, 9)
    assert header.version == envelope.VERSION and len(header.batch_id) == 16
    assert payload[:100] not in data  # encrypted, not just compressed


def test_every_flipped_byte_is_refused(branch, hub):
    data = seal(branch, hub, b"loan" * 20)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01
        with pytest.raises(EnvelopeError):
            open_(bytes(bad), hub, branch)


def test_every_truncation_is_refused(branch, hub):
    data = seal(branch, hub, b"loan" * 20)
    for n in range(len(data)):
        with pytest.raises(EnvelopeError) as err:
            open_(data[:n], hub, branch)
        assert err.value.code in {"truncated", "bad_magic", "bad_signature", "bad_header"}
    with pytest.raises(EnvelopeError, match="trailing_bytes"):
        open_(data + b"\0", hub, branch)


def test_signed_by_another_device(branch, hub, tmp_path):
    other = keys.load_or_create(tmp_path / "other")
    data = seal(other, hub)  # claims to be branch-1
    with pytest.raises(EnvelopeError, match="bad_signature"):
        open_(data, hub, branch)


def test_for_another_recipient(branch, hub, tmp_path):
    other_hub = keys.load_or_create(tmp_path / "other-hub")
    data = seal(branch, other_hub, recipient="hub-2")
    with pytest.raises(EnvelopeError) as err:
        open_(data, hub, branch)
    assert err.value.code == "wrong_recipient"
    # relabelled to us, it no longer verifies; re-signed by the sender, it cannot be opened
    forged = seal(branch, other_hub, recipient="hub")
    with pytest.raises(EnvelopeError, match="decrypt_failed"):
        open_(forged, hub, branch)


def test_header_checks(branch, hub):
    with pytest.raises(EnvelopeError, match="bad_magic"):
        envelope.parse(b"XXXX" + b"\0" * 200)
    data = bytearray(seal(branch, hub))
    data[4] = 9
    with pytest.raises(EnvelopeError, match="bad_version"):
        envelope.parse(bytes(data))
    with pytest.raises(ValueError):
        seal(branch, hub, first_seq=5, last_seq=4)
    with pytest.raises(ValueError):
        seal(branch, hub, sender="")


def test_decompression_bomb_is_refused(branch, hub, monkeypatch):
    monkeypatch.setattr(envelope, "MAX_PAYLOAD", 1000)
    data = seal(branch, hub, b"\0" * 5000)
    with pytest.raises(EnvelopeError, match="bad_payload"):
        open_(data, hub, branch)
