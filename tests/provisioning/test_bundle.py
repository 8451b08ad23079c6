"""Signed bundles: every refusal case, and key rotation with an overlap."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning import bundle
from provisioning.bundle import BundleMalformed, BundleRefused

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def hub_key():
    return Ed25519PrivateKey.generate()


def _config(hub_key, version=2, **kw):
    payload = bundle.make_payload("config", version, {"hub": {"url": "http://hub"}},
                                  library="PY-DH01", now=kw.pop("now", NOW), **kw)
    return bundle.sign(payload, hub_key)


def _verify(doc, ring, **kw):
    kw.setdefault("kind", "config")
    kw.setdefault("now", NOW + timedelta(minutes=1))
    return bundle.verify(doc, ring, **kw)


def test_a_good_bundle_verifies_after_a_text_round_trip(hub_key):
    doc = bundle.loads(bundle.dumps(_config(hub_key)))
    payload = _verify(doc, bundle.trust(hub_key), installed=1, library="PY-DH01", device="d1")
    assert payload["body"] == {"hub": {"url": "http://hub"}}
    assert payload["version"] == 2


def test_canonical_form_ignores_key_order_and_keeps_vietnamese():
    assert bundle.canonical({"b": 1, "a": "Đông Hòa"}) == '{"a":"Đông Hòa","b":1}'.encode()


def _code(exc_info):
    return exc_info.value.code


def test_tampered_payload_is_refused(hub_key):
    doc = _config(hub_key)
    doc["payload"]["body"]["hub"]["url"] = "http://evil"
    with pytest.raises(BundleRefused) as err:
        _verify(doc, bundle.trust(hub_key))
    assert _code(err) == "bundle_bad_signature"
    assert "signature" in str(err.value)


def test_forged_signature_with_the_right_key_id_is_refused(hub_key):
    forger = Ed25519PrivateKey.generate()
    doc = _config(forger)
    doc["key_id"] = bundle.key_id(hub_key.public_key())
    with pytest.raises(BundleRefused) as err:
        _verify(doc, bundle.trust(hub_key))
    assert _code(err) == "bundle_bad_signature"


def test_unknown_key_is_refused(hub_key):
    with pytest.raises(BundleRefused) as err:
        _verify(_config(Ed25519PrivateKey.generate()), bundle.trust(hub_key))
    assert _code(err) == "bundle_unknown_key"


def test_garbage_signature_is_refused(hub_key):
    doc = _config(hub_key)
    doc["signature"] = "!!not base64!!"
    with pytest.raises(BundleRefused) as err:
        _verify(doc, bundle.trust(hub_key))
    assert _code(err) == "bundle_bad_signature"


@pytest.mark.parametrize("installed", [2, 3])
def test_older_or_equal_version_is_refused(hub_key, installed):
    with pytest.raises(BundleRefused) as err:
        _verify(_config(hub_key, version=2), bundle.trust(hub_key), installed=installed)
    assert _code(err) == "bundle_old_version"
    assert f"version {installed}" in str(err.value)


def test_software_versions_compare_numerically(hub_key):
    payload = bundle.make_payload("update", "0.10.0", {}, now=NOW)
    doc = bundle.sign(payload, hub_key)
    assert _verify(doc, bundle.trust(hub_key), kind="update", installed="0.9.3")
    with pytest.raises(BundleRefused):
        _verify(doc, bundle.trust(hub_key), kind="update", installed="0.10.0")


def test_expired_and_not_yet_valid_are_refused(hub_key):
    doc = _config(hub_key, valid_for=timedelta(days=1))
    with pytest.raises(BundleRefused) as err:
        _verify(doc, bundle.trust(hub_key), now=NOW + timedelta(days=1))
    assert _code(err) == "bundle_expired"
    with pytest.raises(BundleRefused) as err:  # a Pi that booted in 1970
        _verify(doc, bundle.trust(hub_key), now=datetime(1970, 1, 1, tzinfo=timezone.utc))
    assert _code(err) == "bundle_not_yet_valid"
    assert "clock" in str(err.value)


def test_wrong_kind_and_scope_are_refused(hub_key):
    doc = _config(hub_key)
    with pytest.raises(BundleRefused) as err:
        _verify(doc, bundle.trust(hub_key), kind="update")
    assert _code(err) == "bundle_wrong_kind"
    with pytest.raises(BundleRefused) as err:
        _verify(doc, bundle.trust(hub_key), library="PY-HH02")
    assert _code(err) == "bundle_wrong_library"
    device_doc = _config(hub_key, device="py-dh01-aaaa")
    with pytest.raises(BundleRefused) as err:
        _verify(device_doc, bundle.trust(hub_key), device="py-dh01-bbbb")
    assert _code(err) == "bundle_wrong_device"


def test_key_rotation_with_overlap(hub_key):
    new_key = Ed25519PrivateKey.generate()
    overlap_end = NOW + timedelta(days=7)
    ring = {**bundle.trust(hub_key, not_after=overlap_end), **bundle.trust(new_key)}
    # during the overlap both keys sign
    assert _verify(_config(hub_key), ring)
    assert _verify(_config(new_key), ring)
    # after it the old key is retired; the new one goes on
    later = overlap_end + timedelta(hours=1)
    with pytest.raises(BundleRefused) as err:
        _verify(_config(hub_key, now=later), ring, now=later)
    assert _code(err) == "bundle_key_retired"
    assert _verify(_config(new_key, now=later), ring, now=later)


def test_trusted_keys_round_trip_through_settings(hub_key):
    entry = bundle.TrustedKey(hub_key.public_key(), NOW)
    back = bundle.TrustedKey.from_dict(json.loads(json.dumps(entry.to_dict())))
    assert back.key_id == entry.key_id and back.not_after == NOW
    with pytest.raises(BundleMalformed):
        bundle.TrustedKey.from_dict({"key": "short"})


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": "other/1"}',
                                  '{"format": "thuvien-bundle/1"}'])
def test_malformed_documents_get_a_clear_error(hub_key, text):
    with pytest.raises((BundleMalformed, BundleRefused)) as err:
        _verify(bundle.loads(text), bundle.trust(hub_key))
    assert err.value.status in (400, 409)


def test_bad_version_values_are_refused(hub_key):
    doc = bundle.sign({**_config(hub_key)["payload"], "version": "1.0rc1"}, hub_key)
    with pytest.raises(BundleMalformed) as err:
        _verify(doc, bundle.trust(hub_key))
    assert _code(err) == "bad_version"
