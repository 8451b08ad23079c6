"""Fixtures for provisioning tests: the hub's signing key and real wheels of this project."""

import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning import updates
from tests.conftest import built_once

ROOT = Path(__file__).resolve().parents[2]


def fake_systemctl(tmp_path, monkeypatch, fail=False):
    """A `systemctl` first on PATH that notes each call's arguments in the file it
    returns (one line a call), and fails every call when `fail`: the edge of the world
    for what an update and the units ask of systemd."""
    said = tmp_path / "systemctl.log"
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {said}\n' + ("exit 1\n" if fail else ""))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    return said


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
    """This tree's wheel, built exactly as `make image` and a release build it (once a
    run, whatever the number of workers)."""
    path = Path(built_once(tmp_path_factory, "wheel",
                           lambda out: str(updates.build_wheel(ROOT, out))))
    assert path.exists(), path
    return path


def _wheels(out):
    built = {v: updates.build_wheel(ROOT, out, version=v) for v in ("0.1.0", "0.2.0")}
    (out / "broken-src").mkdir()
    broken_src = source_copy(out / "broken-src")
    init = broken_src / "appliance/__init__.py"
    init.write_text(init.read_text() + '\nraise RuntimeError("broken release")\n')
    built["0.3.0"] = updates.build_wheel(broken_src, out, version="0.3.0")
    return {v: str(p) for v, p in built.items()}


@pytest.fixture(scope="session")
def wheels(tmp_path_factory):
    """Wheels built from this source tree: 0.1.0 (base), 0.2.0 (good), 0.3.0 (broken:
    its package raises on import, as a bad release would)."""
    built = {v: Path(p) for v, p in built_once(tmp_path_factory, "wheels", _wheels).items()}
    for path in built.values():
        assert path.exists(), path
    return built


def _templateless(out):
    (out / "src").mkdir()
    src = source_copy(out / "src")
    shutil.rmtree(src / "appliance/web/templates")
    return str(updates.build_wheel(src, out / "wheel", version="99.0.0"))


@pytest.fixture(scope="session")
def templateless_wheel(tmp_path_factory):
    """Version 99.0.0 without its templates: it imports, starts and answers
    /api/v1/health, but every page is a 500, as the wheels before setup.py were."""
    path = Path(built_once(tmp_path_factory, "templateless", _templateless))
    assert path.exists(), path
    return path


# Steps a test release appends to MIGRATIONS: a table made (and committed, as a real
# step's work is), and in the failing release a step after it that raises.
NEW_TABLE = ('\nMIGRATIONS.append((MIGRATIONS[-1][0] + 1, "a table of a test release", '
             'lambda db: db.execute_sql("CREATE TABLE upgrade_probe (id INTEGER)")))\n')
FAILING_STEP = ('\ndef _failing_step(db):\n'
                '    db.execute_sql("INSERT INTO upgrade_probe VALUES (1)")\n'
                '    raise RuntimeError("a step of a test release failed")\n\n\n'
                'MIGRATIONS.append((MIGRATIONS[-1][0] + 1, "a failing step", _failing_step))\n')
SCHEMA_LINE = "\nSCHEMA_VERSION = MIGRATIONS[-1][0]\n"


def _schema_wheel(out, version, steps):
    src = source_copy(out / version)
    db_py = src / "appliance/core/db.py"
    text = db_py.read_text()
    assert SCHEMA_LINE in text
    db_py.write_text(text.replace(SCHEMA_LINE, steps + SCHEMA_LINE))
    return str(updates.build_wheel(src, out / "wheels", version=version))


def _schema_wheels(out):
    return {"0.4.0": _schema_wheel(out, "0.4.0", NEW_TABLE),
            "0.5.0": _schema_wheel(out, "0.5.0", NEW_TABLE + FAILING_STEP)}


@pytest.fixture(scope="session")
def schema_wheels(tmp_path_factory):
    """Releases with a new schema, built from copies of this tree: 0.4.0 adds one
    migration step; 0.5.0 adds that step (which commits) and one after it that raises."""
    built = {v: Path(p) for v, p in
             built_once(tmp_path_factory, "schema-wheels", _schema_wheels).items()}
    for path in built.values():
        assert path.exists(), path
    return built
