"""Signed software updates: build, verify, install beside, switch, health-check, roll back.

Layout of an installation root (on the Pi: /var/lib/thuvien/app, reached as
/opt/thuvien)::

    versions/<version>/site/       the wheel, `pip install --target`-ed
    versions/<version>/bin/thuvien launcher on the shared runtime's Python
    current  -> versions/<version> (replaced atomically with os.replace)
    previous -> versions/<version>
    state.json                     what happened, and versions that failed here

An update bundle (`.tvu`) is a zip: `manifest.json` (a signed bundle of kind
"update": version, minimum version, expiry, sha256 and size of each file) and
the wheel. Nothing is unpacked before the manifest's signature and every
file's hash check out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import appliance
from appliance.core.errors import N_

from . import bundle, units, window
from .bundle import BundleMalformed, BundleRefused

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SOURCE_PARTS = ["appliance", "sync", "devices", "provisioning", "systemd", "setup.py",
                "setup.cfg", "MANIFEST.in", "pyproject.toml", "README.md"]
WHEEL_NAME = re.compile(r"^thuvien-(?P<version>[0-9][0-9.]*)-py3-none-any\.whl$")
CHUNK = 1 << 16


# --- building (at the hub or on a build machine) ---------------------------------------------

def build_wheel(src: Path, out_dir: Path, version: str | None = None) -> Path:
    """The project's own wheel, built offline from a clean copy of the source.

    `version` rewrites appliance.__version__ in the copy (release builds and tests).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="thuvien-build-") as tmp:
        tree = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
        for part in SOURCE_PARTS:
            path = Path(src) / part
            if path.is_dir():
                shutil.copytree(path, tree / part, ignore=ignore)
            elif path.exists():
                tree.mkdir(exist_ok=True)
                shutil.copy2(path, tree / part)
        if version:
            _set_version(tree / "appliance/__init__.py", version)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "--no-index", "-w", str(out_dir), str(tree)],
                       check=True, capture_output=True, timeout=300)
    wanted = version or _read_version(Path(src) / "appliance/__init__.py")
    return out_dir / f"thuvien-{wanted}-py3-none-any.whl"


def _set_version(init: Path, version: str):
    text = init.read_text(encoding="utf-8")
    init.write_text(re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', text),
                    encoding="utf-8")


def _read_version(init: Path) -> str:
    return re.search(r'__version__ = "([^"]*)"', init.read_text(encoding="utf-8")).group(1)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_bundle(wheel: Path, private_key, out: Path, *, min_version: str,
                 valid_for=timedelta(days=90), library=bundle.ANY, device=bundle.ANY,
                 now=None) -> Path:
    """Sign a manifest for `wheel` and pack both into one update bundle file."""
    wheel = Path(wheel)
    match = WHEEL_NAME.match(wheel.name)
    if not match:
        raise ValueError(f"{wheel.name} is not a thuvien wheel")
    body = {"package": "thuvien", "wheel": wheel.name, "min_version": min_version,
            "files": {wheel.name: {"sha256": sha256_file(wheel), "size": wheel.stat().st_size}}}
    payload = bundle.make_payload("update", match["version"], body, library=library,
                                  device=device, now=now, valid_for=valid_for)
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(MANIFEST, bundle.dumps(bundle.sign(payload, private_key)))
        zf.write(wheel, wheel.name)
    os.replace(tmp, out)
    return out


# --- offering (at the hub): bundles devices fetch on sync ----------------------------------------

OFFER_DIR = "updates/offered"
_offer_cache: dict = {}


def read_manifest(path: Path, trusted, now=None) -> dict:
    """The verified payload of an update bundle's manifest (no version check)."""
    try:
        with zipfile.ZipFile(path) as zf:
            doc = bundle.loads(zf.read(MANIFEST))
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise BundleMalformed("update_unreadable", N_("%(file)s is not an update bundle"),
                              file=Path(path).name) from exc
    return bundle.verify(doc, trusted, kind="update", now=now)


def offer(hub_dir, path: Path, hub_key) -> Path:
    """Put a bundle signed by this hub where devices fetch it from on their next sync."""
    payload = read_manifest(path, bundle.trust(hub_key))
    folder = Path(hub_dir) / OFFER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"thuvien-{payload['version']}.tvu"
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(path, tmp)
    os.replace(tmp, target)
    return target


def offered(hub_dir, hub_key, now=None) -> dict | None:
    """The newest valid offered bundle: {"file", "version", "min_version", "size", "sha256",
    "scope"}; cached by the folder's names and times, as every exchange asks."""
    folder = Path(hub_dir) / OFFER_DIR
    try:
        files = sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                       for p in folder.iterdir() if bundle.UPDATE_FILE.match(p.name))
    except OSError:
        return None
    best = None
    for name, mtime, size in files:
        key = (str(folder), name, mtime, size)
        if key not in _offer_cache:
            try:
                payload = read_manifest(folder / name, bundle.trust(hub_key), now=now)
                _offer_cache[key] = {"file": name, "version": str(payload["version"]),
                                     "min_version": payload["body"]["min_version"],
                                     "size": size, "sha256": sha256_file(folder / name),
                                     "scope": payload["scope"],
                                     "expires_at": payload["expires_at"]}
            except (BundleRefused, BundleMalformed, KeyError) as exc:
                log.warning("offered update %s is not usable: %s", name, exc)
                _offer_cache[key] = None
        entry = _offer_cache[key]
        if entry and (best is None or bundle.version_key(entry["version"]) >
                      bundle.version_key(best["version"])):
            best = entry
    if best and bundle.parse_time(best["expires_at"]) <= (now or bundle.utcnow()):
        return None
    return best


def offer_for(entry: dict | None, library: str, device: str, running) -> dict | None:
    """What to tell a device running `running` about an offered bundle, if it applies."""
    if entry is None or not isinstance(running, str):
        return None
    scope = entry["scope"]
    if scope.get("library", bundle.ANY) not in (bundle.ANY, library) or \
            scope.get("device", bundle.ANY) not in (bundle.ANY, device):
        return None
    try:
        newer = bundle.version_key(entry["version"]) > bundle.version_key(running)
        able = bundle.version_key(running) >= bundle.version_key(entry["min_version"])
    except BundleMalformed:
        return None
    if not (newer and able):
        return None
    return {k: entry[k] for k in ("file", "version", "size", "sha256")}


# --- verifying (on the device) ---------------------------------------------------------------

def verify_bundle(path: Path, trusted, installed: str, dest: Path, *, library=None,
                  device=None, now=None) -> tuple[dict, Path]:
    """Check signature, expiry, versions and every hash; copy the wheel into `dest`."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleMalformed("update_unreadable", N_("%(file)s is not an update bundle"),
                              file=Path(path).name) from exc
    with zf:
        try:
            doc = bundle.loads(zf.read(MANIFEST))
        except KeyError as exc:
            raise BundleMalformed("update_no_manifest", N_("The update bundle has no "
                                  "manifest")) from exc
        payload = bundle.verify(doc, trusted, kind="update", installed=installed,
                                library=library, device=device, now=now)
        body = payload["body"]
        _check_manifest(body, payload["version"], installed)
        names = set(zf.namelist()) - {MANIFEST}
        if names != set(body["files"]):
            raise BundleRefused("update_files_differ", N_("The update bundle's files do not "
                                "match its manifest"))
        for name, meta in body["files"].items():
            _extract_checked(zf, name, meta, Path(dest) / name)
    return payload, Path(dest) / body["wheel"]


def _check_manifest(body, version, installed):
    try:
        wheel, files, min_version = body["wheel"], body["files"], body["min_version"]
    except KeyError as exc:
        raise BundleMalformed("update_bad_manifest", N_("The update manifest lacks "
                              "%(field)s"), field=str(exc)) from exc
    match = WHEEL_NAME.match(wheel)
    if not match or match["version"] != str(version) or wheel not in files:
        raise BundleMalformed("update_bad_manifest", N_("The update manifest names an "
                              "unexpected wheel %(wheel)s"), wheel=str(wheel))
    for name in files:
        if "/" in name or "\\" in name or name.startswith("."):
            raise BundleMalformed("update_bad_manifest", N_("The update manifest names an "
                                  "unsafe file %(name)s"), name=name)
    if bundle.version_key(installed) < bundle.version_key(min_version):
        raise BundleRefused("update_needs_newer", N_("This update needs version %(min)s or "
                            "later first; this device runs %(have)s"), min=min_version,
                            have=installed)


def _extract_checked(zf, name, meta, target: Path):
    """Copy one member out while hashing it; a mismatch leaves nothing behind."""
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zf.open(name) as src, open(target, "wb") as out:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                size += len(chunk)
                if size > meta["size"]:
                    break
                digest.update(chunk)
                out.write(chunk)
    except (zipfile.BadZipFile, OSError) as exc:  # a corrupt member fails its CRC here
        target.unlink(missing_ok=True)
        raise BundleRefused("update_hash_mismatch", N_("The file %(name)s in the update "
                            "bundle is damaged"), name=name) from exc
    if size != meta["size"] or digest.hexdigest() != meta["sha256"]:
        target.unlink(missing_ok=True)
        raise BundleRefused("update_hash_mismatch", N_("The file %(name)s in the update "
                            "bundle does not match its signed hash"), name=name)


# --- installing, switching, rolling back ------------------------------------------------------

LAUNCHER = """#!{python}
# thuvien {version}: this version's code on the shared runtime (dependencies)
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))),
                                "site"))
from appliance.cli import main  # noqa: E402

sys.exit(main())
"""


class Installation:
    """The versions installed under one root and which one is current."""

    def __init__(self, root: Path, python: str | None = None, runtime: str | None = None):
        """`python` runs pip here; `runtime` is the interpreter the launchers use, which
        differs only when installing into an image root being built."""
        self.root = Path(root)
        self.python = python or sys.executable
        self.runtime = runtime or self.python
        self.versions = self.root / "versions"
        self.current = self.root / "current"
        self.previous = self.root / "previous"
        self.state_file = self.root / "state.json"

    def current_version(self) -> str | None:
        try:
            return Path(os.readlink(self.current)).name
        except OSError:
            return None

    def previous_version(self) -> str | None:
        try:
            return Path(os.readlink(self.previous)).name
        except OSError:
            return None

    def installed(self) -> list[str]:
        if not self.versions.is_dir():
            return []
        done = [p.name for p in self.versions.iterdir() if (p / "installed.json").exists()]
        return sorted(done, key=bundle.version_key)

    @contextmanager
    def locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise BundleRefused("update_busy", N_("Another update is being installed")) \
                    from exc
            yield

    def install(self, wheel: Path, version: str) -> Path:
        """Install beside the running version; a half-done install never looks done."""
        target = self.versions / version
        if (target / "installed.json").exists():
            return target
        staging = self.versions / f".{version}.part"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        (staging / "bin").mkdir(parents=True)
        result = subprocess.run(
            [self.python, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
             "--disable-pip-version-check", "--target", str(staging / "site"), str(wheel)],
            capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise BundleRefused("update_install_failed", N_("Installing version %(version)s "
                                "failed: %(why)s"), version=version,
                                why=result.stderr.strip()[-300:])
        launcher = staging / "bin" / "thuvien"
        launcher.write_text(LAUNCHER.format(python=self.runtime, version=version))
        launcher.chmod(0o755)
        _write_json(staging / "installed.json", {"version": version, "wheel": wheel.name,
                                                 "sha256": sha256_file(wheel)})
        os.replace(staging, target)
        return target

    def switch(self, version: str):
        """Point `current` at `version` in one rename; keep the old one as `previous`."""
        old = self.current_version()
        _symlink_atomic(self.current, Path("versions") / version)
        if old and old != version:
            _symlink_atomic(self.previous, Path("versions") / old)

    def prune(self, keep: set[str]):
        for version in self.installed():
            if version not in keep:
                shutil.rmtree(self.versions / version, ignore_errors=True)

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"failed": {}, "log": []}

    def record(self, **entry):
        state = self.state()
        state.setdefault("log", []).append({"at": bundle.iso(bundle.utcnow()), **entry})
        state["log"] = state["log"][-20:]
        if entry.get("result") == "rolled_back":
            state.setdefault("failed", {})[entry["version"]] = entry.get("reason", "")
        _write_json(self.state_file, state)

    def status(self) -> dict:
        state = self.state()
        return {"current": self.current_version(), "previous": self.previous_version(),
                "installed": self.installed(), "failed": state.get("failed", {}),
                "last": (state.get("log") or [None])[-1]}


def _symlink_atomic(link: Path, target: Path):
    units.replace_link(link, target)
    _fsync_dir(link.parent)  # the switch survives a power cut


def _write_json(path: Path, data):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- health checks --------------------------------------------------------------------------

HEALTH_TIMEOUT = 60.0  # how long the restarted web service has to answer as the new version


def command_health(url: str | None = None, timeout: float = HEALTH_TIMEOUT):
    """The default health check: the new launcher runs and reports its version, and (when a
    URL is given) the restarted web service answers /api/v1/health with that version and
    renders its pages (HEALTH_PAGES)."""

    def check(version_dir: Path, version: str) -> tuple[bool, str]:
        ok, why = import_health(version_dir, version, timeout)
        if not ok:
            return ok, why
        try:
            out = subprocess.run([str(version_dir / "bin" / "thuvien"), "--version"],
                                 capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"thuvien --version: {exc}"
        if out.returncode != 0 or out.stdout.split()[-1:] != [version]:
            return False, f"thuvien --version exited {out.returncode}: " + \
                (out.stderr.strip() or out.stdout.strip())[-300:]
        return (True, "ok") if url is None else web_health(url, version, timeout)

    return check


def import_health(version_dir: Path, version: str, timeout: float = 60.0) -> tuple[bool, str]:
    """The installed code imports, on the runtime's Python, from its own folder."""
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import appliance; "
             "print(appliance.__version__); print(appliance.__file__)")
    site = version_dir / "site"
    python = sys.executable
    launcher = version_dir / "bin" / "thuvien"
    if launcher.exists():  # the runtime this version was installed for
        python = launcher.read_text().splitlines()[0][2:].strip()
    try:
        out = subprocess.run([python, "-c", probe, str(site)], capture_output=True, text=True,
                             timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"import: {exc}"
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2:
        return False, "import failed: " + out.stderr.strip()[-300:]
    if lines[0] != version or not Path(lines[1]).resolve().is_relative_to(site.resolve()):
        return False, f"import found {lines[0]} at {lines[1]}, not {version}"
    return True, "ok"


# Pages a new version must render after its restart. The JSON health answer needs no
# template or catalogue, so a release that lost them would pass on that alone.
HEALTH_PAGES = ("/login", "/opac/")


def web_health(url: str, version: str, timeout: float = 60.0) -> tuple[bool, str]:
    """The service at `url` runs `version` and renders the desk login and the OPAC."""
    # requests (5 MB with urllib3 and its character tables) is imported here, not with
    # this module: the hub's web server imports it for the offered bundles
    import requests

    ok, why = _api_health(url, version, timeout)
    if not ok:
        return ok, why
    for page in HEALTH_PAGES:
        try:
            answer = requests.get(url.rstrip("/") + page, timeout=min(timeout, 30))
        except requests.RequestException as exc:
            return False, f"{page}: {exc}"
        # a page that cannot render answers 500 at once: no point waiting for it
        if answer.status_code != 200 or \
                not answer.headers.get("Content-Type", "").startswith("text/html"):
            return False, f"{page} answered HTTP {answer.status_code}: version {version} " \
                "does not render its pages"
    return True, "ok"


def _api_health(url: str, version: str, timeout: float) -> tuple[bool, str]:
    """Wait for the restarted service to answer /api/v1/health as `version`."""
    import requests  # as in web_health

    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            answer = requests.get(url.rstrip("/") + "/api/v1/health", timeout=5)
            data = answer.json() if answer.ok else {}
            if data.get("version") == version and data.get("status") == "ok":
                return True, "ok"
            last = f"HTTP {answer.status_code} {data.get('status')} {data.get('version')}"
        except (requests.RequestException, ValueError) as exc:
            last = str(exc)
        time.sleep(0.5)
    return False, f"health check of {url}: {last}"


# --- the whole apply ------------------------------------------------------------------------

def apply(bundle_path: Path, inst: Installation, trusted, *, restart=lambda: None,
          stop=lambda: None, health=None, data=None, library=None, device=None,
          now=None, notice=None, may_migrate=None) -> dict:
    """Verify, install, switch, restart and health-check one update; roll back on failure.

    With the library's `data` folder, a new schema is migrated as a step of its own
    (migrate_and_switch): `stop` stops the web service first, `notice` answers on its
    ports meanwhile; when `may_migrate()` says not now (provisioning/window.py), nothing
    changes and the update waits.

    Returns {"result": "installed"|"rolled_back"|"waiting", "version", "previous",
    "reason"?, "database"?: "migrated"|"restored", "schema"?: [now, new]}.
    Refusals (bad signature, hash, version, disk space...) raise before anything changes.
    """
    health = health or command_health()
    with inst.locked():
        installed = inst.current_version() or appliance.__version__
        with tempfile.TemporaryDirectory(dir=inst.root, prefix=".incoming-") as tmp:
            payload, wheel = verify_bundle(bundle_path, trusted, installed, Path(tmp),
                                           library=library, device=device, now=now)
            version = str(payload["version"])
            failed = inst.state().get("failed", {})
            if version in failed:
                raise BundleRefused("update_failed_before", N_("Version %(version)s failed its "
                                    "health check on this device before: %(why)s"),
                                    version=version, why=failed[version])
            target = inst.install(wheel, version)
        if data is not None:
            return migrate_and_switch(inst, target, version, installed, Path(data),
                                      stop=stop, restart=restart, health=health,
                                      notice=notice, may_migrate=may_migrate)
        return _switch_and_check(inst, target, version, installed, restart, health)


def _switch_and_check(inst, target, version, old, restart, health, undo=None) -> dict:
    """Switch, restart, health-check; on failure switch back and restart the old version.
    `undo` (given after a migration) stops the service and puts the old database back
    while neither version runs."""
    had_current = inst.current_version() is not None
    inst.switch(version)
    ok, reason = _run_health(restart, health, target, version)
    if ok:
        inst.record(result="installed", version=version, previous=old)
        inst.prune({version, old})
        result = {"result": "installed", "version": version, "previous": old}
        return {**result, "database": "migrated"} if undo else result
    log.error("update to %s failed its health check (%s); rolling back to %s", version,
              reason, old)
    if had_current:
        _symlink_atomic(inst.current, Path("versions") / old)
    else:
        inst.current.unlink(missing_ok=True)
    undone = undo() if undo else {}
    return _rolled_back(inst, target, version, old, restart, reason, undone)


def _rolled_back(inst, target, version, old, restart, reason, undone) -> dict:
    """Restart the old version, remember the new one as failed here, and say so (what
    became of the database, and of what the new version wrote, in `update status` too)."""
    restart_ok, restart_why = _run_health(restart, lambda *a: (True, ""), target, old)
    inst.record(result="rolled_back", version=version, previous=old, reason=reason, **undone)
    shutil.rmtree(target, ignore_errors=True)
    result = {"result": "rolled_back", "version": version, "previous": old, "reason": reason,
              **undone}
    if not restart_ok:
        result["restart_error"] = restart_why
    return result


# --- the library's database across an update -------------------------------------------------

COPY_DIR = "updates/before"
# A migration that rebuilds the state from a year of loans takes many minutes on a Pi.
# The update unit (systemd/thuvien-update.service) allows more than this, a restart and
# a health check each way, so a slow migration is stopped and rolled back by this code,
# never cut off by systemd half way through the rollback (tests/provisioning/test_units).
MIGRATE_TIMEOUT = 2 * 3600
CHECK_TIMEOUT = 300  # `thuvien migrate --check`: open the database, read one row
RESTART_TIMEOUT = 300  # a systemctl stop or restart; more than the web unit's start timeout
CARRY_TIMEOUT = 300  # the old version takes what the rolled-back one wrote (a minute's work)
SPACE_MARGIN = 32 << 20


def as_owner(data: Path) -> dict:
    """subprocess.run's arguments to run as the user the data folder belongs to (the web
    service's), when this runs as root (the update unit): a file a migration makes or
    leaves (the database's -wal and -shm among them) must be one the service can write."""
    st = data.stat()
    if os.geteuid() != 0 or st.st_uid == 0:
        return {}
    return {"user": st.st_uid, "group": st.st_gid, "extra_groups": []}


def schemas(target: Path, data: Path) -> tuple[int, int]:
    """(the database's schema, the schema of the version installed at `target`)."""
    try:
        out = subprocess.run([str(target / "bin" / "thuvien"), "migrate", "--data", str(data),
                              "--check"], capture_output=True, text=True, timeout=CHECK_TIMEOUT,
                             **as_owner(data))
        found = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        out, found = None, {"error": str(exc)}
    if "database" not in found:  # a release that cannot even start: it fails here
        why = found.get("error") or (out.stderr.strip()[-300:] if out else "")
        raise RuntimeError(f"thuvien migrate --check: {why}")
    return int(found["database"]), int(found["software"])


def _database_file(data: Path) -> Path:
    from appliance.core.context import database_of, load_settings

    target, _ = database_of(data, load_settings(data))
    if "://" in target:
        raise BundleRefused("update_needs_staff", N_("This library's database is on a "
                            "PostgreSQL server: its staff back it up and migrate it"))
    return Path(target)


def check_space(db: Path, folder: Path):
    """Room for the copy, and as much again for the migration, whose rebuilds write every
    state row anew into the database and its log; refuse before anything changes."""
    folder.mkdir(parents=True, exist_ok=True)
    size = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    need, free = 2 * size + SPACE_MARGIN, shutil.disk_usage(folder).free
    if free < need:
        raise BundleRefused("update_no_space", N_("Not enough free disk to keep a copy of "
                            "the library's database before the update: %(need)s MB needed, "
                            "%(free)s MB free"), need=need >> 20, free=free >> 20)


def copy_database(db: Path, folder: Path, label: str) -> Path:
    """A consistent, checked, fsynced copy of `db` (the backup API: a live writer could
    not tear it); only the newest copy is kept, so copies never pile up."""
    from appliance.core import backup

    dest = folder / f"thuvien-before-{label}.db"
    try:
        backup.backup(db, dest)
    except (backup.BackupError, OSError) as exc:  # a full disk: nothing half written
        raise BundleRefused("update_copy_failed", N_("Could not copy the library's database "
                            "before the update: %(why)s"), why=str(exc)) from exc
    _fsync_dir(folder)
    for other in folder.glob("thuvien-before-*.db*"):
        if other != dest:
            other.unlink(missing_ok=True)
    return dest


def restore_database(copy: Path, db: Path):
    """Put the copy back in one rename, owned as the database was (the web service's user),
    with the new version's -wal and -shm gone first: a log must never meet another file."""
    st = db.stat()
    tmp = db.with_name(db.name + ".before")
    shutil.copyfile(copy, tmp)
    if os.geteuid() == 0:  # the update runs as root, the web service as its own user
        os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, st.st_mode & 0o7777)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, db)
    _fsync_dir(db.parent)


def run_migration(target: Path, data: Path) -> tuple[bool, str]:
    """`thuvien migrate` of the new version; its step-by-step progress goes to standard
    error (the update unit's journal), its last words are the reason if it fails."""
    try:
        out = subprocess.run([str(target / "bin" / "thuvien"), "migrate", "--data", str(data)],
                             stdout=2, stderr=subprocess.PIPE, text=True,
                             timeout=MIGRATE_TIMEOUT, **as_owner(data))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"migration: {exc}"
    if out.returncode != 0:
        return False, f"migration failed (exit {out.returncode}): " + out.stderr.strip()[-300:]
    return True, "ok"


def migrate_and_switch(inst, target, version, old, data: Path, *, stop, restart,
                       health, notice=None, may_migrate=None) -> dict:
    """A new schema: copy the database, migrate it with the new version while the web
    service is stopped, then switch and health-check; any failure puts the copy back
    before the old version starts again. The same schema: switch as before. `notice()`
    answers on the web's ports meanwhile (provisioning/notice.py) and returns the
    function that stops it, called before the web service starts again. When
    `may_migrate()` says not now, the new version is removed and the update waits."""
    try:
        have, wants = schemas(target, data)
    except RuntimeError as exc:
        return _rolled_back(inst, target, version, old, restart, str(exc), {})
    if have == wants:
        return _switch_and_check(inst, target, version, old, restart, health)
    if may_migrate is not None and not may_migrate():
        shutil.rmtree(target, ignore_errors=True)
        inst.record(result="waiting", version=version, previous=old, schema=[have, wants])
        log.warning("update to %s waits for the update window: it migrates the database "
                    "from schema %s to %s", version, have, wants)
        return {"result": "waiting", "version": version, "previous": old,
                "schema": [have, wants]}
    try:
        db = _database_file(data)
        check_space(db, data / COPY_DIR)
    except BundleRefused:
        shutil.rmtree(target, ignore_errors=True)
        raise
    try:
        stop()
        quiet = (notice or _no_notice)()  # the notice's stop
        restart = _first(quiet, restart)
        copy = copy_database(db, data / COPY_DIR, old)
    except Exception as exc:
        _run_health(restart, lambda *a: (True, ""), target, old)
        shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, BundleRefused):
            raise
        raise BundleRefused("update_copy_failed", N_("Could not copy the library's database "
                            "before the update: %(why)s"), why=str(exc)) from exc
    try:
        log.warning("migrating the database from schema %s to %s with version %s", have,
                    wants, version)
        ok, reason = run_migration(target, data)
        if not ok:
            log.error("update to %s: %s; rolling back to %s", version, reason, old)
            return _rolled_back(inst, target, version, old, restart, reason,
                                put_back(copy, db, stop=lambda: None))
        return _switch_and_check(
            inst, target, version, old, restart, health,
            undo=lambda: put_back(copy, db, stop,
                                  carry=lambda ev: carry_back(ev, inst, old, data)))
    finally:
        quiet()


def _no_notice():
    return lambda: None


def _first(before, then):
    """`then`, with `before` run first: the notice leaves the web's ports before the web
    service starts again on them."""
    def run():
        before()
        then()
    return run


def put_back(copy: Path, db: Path, stop, carry=None) -> dict:
    """Stop the service and restore the copy; what the result says about the database.
    A failed stop does not stop the rollback: the rename leaves a process still running
    its own (replaced) file, and the old version must get the old database. With `carry`
    (the new version has served, for its health check), what it wrote since the copy is
    read first and handed to `carry` once the copy is back: a loan made in that minute
    is not lost with the new version's database."""
    try:
        stop()
    except Exception as exc:
        log.error("stopping the web service before restoring the database: %s", exc)
    written = []
    if carry is not None:
        try:
            written = written_after(copy, db)
        except sqlite3.Error as exc:
            log.error("reading what %s holds beyond its copy: %s", db, exc)
    try:
        restore_database(copy, db)
    except OSError as exc:
        log.error("restoring %s failed: %s", copy, exc)
        return {"database": "not_restored", "copy": copy.name, "restore_error": str(exc)}
    result = {"database": "restored", "copy": copy.name}
    if written:  # (only read when there is a `carry`)
        result.update(carry(written))
    return result


EVENT_FIELDS = ("id", "origin", "seq", "hlc", "wall", "library", "kind", "body", "prev_hash",
                "hash")


def written_after(copy: Path, db: Path) -> list[dict]:
    """The events `db` holds and its copy does not, in the order they were written: what
    a version wrote after the copy was taken. Plain SQL on the columns every schema's
    log has, so the updating code reads any version's database."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        con.execute("ATTACH DATABASE ? AS copy", (f"file:{copy}?mode=ro",))
        rows = con.execute(
            f"SELECT {', '.join('e.' + f for f in EVENT_FIELDS)} FROM main.event e "
            "WHERE NOT EXISTS (SELECT 1 FROM copy.event c WHERE c.origin = e.origin "
            "AND c.seq = e.seq) ORDER BY e.pos").fetchall()
        # a new card's key travels beside its event, as sync sends it (core/rights/keys)
        keys = dict(con.execute("SELECT id, key FROM main.patron_key WHERE id IN (%s)" % (
            ", ".join("?" * len(rows))), [r[0] for r in rows]).fetchall()) if rows else {}
    finally:
        con.close()
    written = []
    for row in rows:
        event = dict(zip(EVENT_FIELDS, row, strict=True))
        event["body"] = json.loads(event["body"])
        if event["id"] in keys:
            event["key"] = keys[event["id"]]
        written.append(event)
    return written


def carry_back(written: list[dict], inst, old: str, data: Path) -> dict:
    """Hand `written` to the old version's `thuvien update carry`, as the data folder's
    owner: its own code takes them into the database put back (and keeps in the log,
    unapplied, a kind it does not know). Should it fail (a version from before the
    command), the events stay in a file beside the copy for staff, and the result
    says so."""
    path = data / COPY_DIR / f"written-by-the-rolled-back-version-{len(written)}.json"
    path.write_text(json.dumps(written, ensure_ascii=False), encoding="utf-8")
    owner = as_owner(data)
    if owner:
        os.chown(path, owner["user"], owner["group"])
    try:
        out = subprocess.run([str(inst.versions / old / "bin" / "thuvien"), "update", "carry",
                              "--data", str(data), str(path)], capture_output=True, text=True,
                             timeout=CARRY_TIMEOUT, **owner)
        why = "" if out.returncode == 0 else out.stderr.strip()[-300:]
    except (OSError, subprocess.TimeoutExpired) as exc:
        why = str(exc)
    if why:
        log.error("carrying %s events into the database put back: %s", len(written), why)
        return {"carried": 0, "not_carried": len(written), "events_file": path.name,
                "carry_error": why}
    path.unlink()
    return {"carried": len(written)}


def _run_health(restart, health, target, version) -> tuple[bool, str]:
    try:
        restart()
    except Exception as exc:  # systemctl failing counts as a failed update
        return False, f"restart failed: {exc}"
    try:
        return health(target, version)
    except Exception as exc:
        return False, f"health check raised: {exc}"


class Services:
    """The units an update stops and starts with systemctl: the web service it restarts,
    and those `paused` while a new schema is migrated (the sync timer and a sync run under
    way), which write the library's database too: the old version must not write to a
    database the new one is migrating, nor after its copy was taken (a rollback would
    lose it). They start again (`resume`, without waiting) once the update has ended:
    not before its health check passed, lest a sync send the hub events of a version
    that is then rolled back, and with them the database they were written in.
    `units`: the version's units (units.Linker), linked and reloaded before each restart,
    since a switch or a rollback brings other units; what they enable starts at the end."""

    def __init__(self, web: str, paused=(), units=None):
        self.web, self.paused, self.units = web, tuple(paused), units
        self._stopped = False

    def stop(self):
        _systemctl("stop", self.web)
        if self.paused:
            self._stopped = True
            try:  # a unit this machine lacks (a hub runs no sync timer) stops nothing
                _systemctl("stop", *self.paused)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                log.error("pausing %s for the migration: %s", " ".join(self.paused), exc)

    def restart(self):
        if self.units:
            self.units.refresh()
        _systemctl("restart", self.web)

    def resume(self):
        if self._stopped:
            self._stopped = False
            _systemctl("start", "--no-block", *self.paused, check=False)
        if self.units:
            self.units.start_enabled()


def _systemctl(*args, check=True):
    units.systemctl(*args, check=check, timeout=RESTART_TIMEOUT)


def apply_pending(incoming: Path, inst: Installation, trusted, *, may_migrate=None,
                  **kw) -> list[dict]:
    """Apply every bundle in `incoming` (from sync or a USB stick), oldest first; each
    file moves to done/ or refused/ so it is tried once, or, when it has a new schema
    and `may_migrate()` says not now, to waiting/ beside `incoming`. Those waiting go
    first when it says yes (sync hands them back to `incoming` when the window opens:
    sync.fetch.release_waiting) or when there is none to ask (staff's `--now`)."""
    kept = _bundles(window.waiting_beside(incoming))
    results = []
    if kept and (may_migrate is None or may_migrate()):
        results += [_apply_one(path, inst, trusted, kw, incoming) for path in kept]
    kw = dict(kw, may_migrate=may_migrate)
    return results + [_apply_one(path, inst, trusted, kw, incoming)
                      for path in _bundles(incoming)]


def _bundles(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("*.tvu"), key=lambda p: p.stat().st_mtime)


def _apply_one(path, inst, trusted, kw, incoming) -> dict:
    try:
        outcome = apply(path, inst, trusted, **kw)
    except (BundleRefused, BundleMalformed) as exc:
        outcome = {"result": "refused", "file": path.name, "code": exc.code,
                   "reason": str(exc)}
    incoming = Path(incoming)
    dest = {"installed": incoming / "done", "waiting": window.waiting_beside(incoming)}.get(
        outcome["result"], incoming / "refused")
    _folder_like(dest, incoming)
    os.replace(path, dest / path.name)
    return outcome


def _folder_like(folder: Path, model: Path):
    """`folder`, made if need be (and any parent missing) with the owner of `model`, or of
    the nearest folder above it: the update runs as root, and sync (as the web service's
    user) moves bundles out of waiting/ into incoming/ when the window opens."""
    if folder.is_dir():
        return
    owner = next(p for p in (model, *model.parents) if p.exists()).stat()
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(mode=0o750, parents=True)
    if os.geteuid() == 0:
        for path in missing:
            os.chown(path, owner.st_uid, owner.st_gid)


def main(argv=None):
    """`python -m provisioning.updates install-into ROOT WHEEL RUNTIME`: the image build
    installs the first version with the same code that installs every later one."""
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 4 or args[0] != "install-into":
        print("usage: python -m provisioning.updates install-into ROOT WHEEL RUNTIME",
              file=sys.stderr)
        return 2
    root, wheel, runtime = Path(args[1]), Path(args[2]), args[3]
    match = WHEEL_NAME.match(wheel.name)
    if not match:
        print(f"{wheel.name} is not a thuvien wheel", file=sys.stderr)
        return 2
    inst = Installation(root, runtime=runtime)
    inst.install(wheel, match["version"])
    inst.switch(match["version"])
    inst.record(result="installed", version=match["version"], previous=None)
    print(json.dumps(inst.status()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
