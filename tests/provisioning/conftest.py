"""Fixtures for provisioning tests: the hub's signing key and real wheels of this project."""

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning import updates

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hub_signing_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def wheels(tmp_path_factory):
    """Wheels built from this source tree: 0.1.0 (base), 0.2.0 (good), 0.3.0 (broken:
    its package raises on import, as a bad release would)."""
    out = tmp_path_factory.mktemp("wheels")
    built = {v: updates.build_wheel(ROOT, out, version=v) for v in ("0.1.0", "0.2.0")}
    broken_src = tmp_path_factory.mktemp("broken-src")
    for part in updates.SOURCE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, broken_src / part,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, broken_src / part)
    init = broken_src / "appliance/__init__.py"
    init.write_text(init.read_text() + '\nraise RuntimeError("broken release")\n')
    built["0.3.0"] = updates.build_wheel(broken_src, out, version="0.3.0")
    for path in built.values():
        assert path.exists(), path
    return built
