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


def source_copy(dest: Path) -> Path:
    """The parts of this tree a wheel is built from, copied to `dest` to be spoilt."""
    for part in updates.SOURCE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """This tree's wheel, built exactly as `make image` and a release build it."""
    path = updates.build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))
    assert path.exists(), path
    return path


@pytest.fixture(scope="session")
def wheels(tmp_path_factory):
    """Wheels built from this source tree: 0.1.0 (base), 0.2.0 (good), 0.3.0 (broken:
    its package raises on import, as a bad release would)."""
    out = tmp_path_factory.mktemp("wheels")
    built = {v: updates.build_wheel(ROOT, out, version=v) for v in ("0.1.0", "0.2.0")}
    broken_src = source_copy(tmp_path_factory.mktemp("broken-src"))
    init = broken_src / "appliance/__init__.py"
    init.write_text(init.read_text() + '\nraise RuntimeError("broken release")\n')
    built["0.3.0"] = updates.build_wheel(broken_src, out, version="0.3.0")
    for path in built.values():
        assert path.exists(), path
    return built


@pytest.fixture(scope="session")
def templateless_wheel(tmp_path_factory):
    """Version 99.0.0 without its templates: it imports, starts and answers
    /api/v1/health, but every page is a 500, as the wheels before setup.py were."""
    src = source_copy(tmp_path_factory.mktemp("templateless-src"))
    shutil.rmtree(src / "appliance/web/templates")
    path = updates.build_wheel(src, tmp_path_factory.mktemp("templateless"), version="99.0.0")
    assert path.exists(), path
    return path
