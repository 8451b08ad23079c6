"""The running version's systemd units, put where systemd reads them.

The Pi's root is read-only and carries one unit of its own (thuvien-units.service, from
provisioning/image/files). Every other unit is the version's: the wheel carries
systemd/ as `provisioning/systemd/`, and at every start, once the data partition is
mounted, that unit links the units of the version `current` names into
/run/systemd/system, enables them for the targets their [Install] sections name,
reloads systemd and starts them. An update does the same after each switch and each
rollback (updates.Services). So a new version's units (their arguments, limits and
hardening) reach every Pi with the code that needs them; units copied into /etc when a
card was imaged would stay as the image had them for the life of the card.

The links go through `current` (and relative, so that they read the same inside an
image root being built), so a switch changes what they say: linking again is needed only
when a version adds or drops a unit; systemd reads the new text when reloaded."""

import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

RUN_DIR = Path("/run/systemd/system")  # also how a program tells that systemd runs
PREFIX = "thuvien-"
SUFFIXES = (".service", ".timer", ".path")
BOOTSTRAP = "thuvien-units.service"  # the image's own, never a version's
IMAGE_UNIT = Path("/etc/systemd/system") / BOOTSTRAP
SHIPPED = Path("site/provisioning/systemd")  # in a version's folder
TIMEOUT = 120  # a systemctl reload or start --no-block


def shipped(root: Path) -> list[Path]:
    """The unit files of the version `root`/current names, seen through `current`."""
    folder = Path(root) / "current" / SHIPPED
    return sorted(p for p in folder.glob(PREFIX + "*")
                  if p.suffix in SUFFIXES and p.name != BOOTSTRAP)


def wanted_by(unit: Path) -> list[str]:
    """The targets a unit's [Install] section has it wanted by."""
    targets, section = [], None
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and line.startswith("WantedBy="):
            targets += line.split("=", 1)[1].split()
    return targets


def link(root: Path, run_dir: Path = RUN_DIR) -> dict:
    """Link the units of `root`'s current version into `run_dir`, each enabled for the
    targets it names, and unlink those of ours no longer shipped (a version may drop a
    unit, or a rollback bring back one that had fewer). Refuses (FileNotFoundError) a
    version that ships none: a Pi with no units would not even start its web service.
    Returns the unit names linked and enabled, and the links removed."""
    units = shipped(root)
    if not units:
        raise FileNotFoundError(f"{Path(root) / 'current' / SHIPPED}: no units")
    run_dir = Path(run_dir)
    wants = {}  # link path -> what it points to
    for unit in units:
        wants[run_dir / unit.name] = os.path.relpath(unit, run_dir)
        for target in wanted_by(unit):
            wants[run_dir / f"{target}.wants" / unit.name] = f"../{unit.name}"
    removed = [str(p.relative_to(run_dir)) for p in _ours(run_dir) if p not in wants]
    for path in removed:
        (run_dir / path).unlink()
    for path, target in wants.items():
        _symlink(path, target)
    return {"linked": [u.name for u in units],
            "enabled": sorted({p.name for p in wants if p.parent != run_dir}),
            "removed": sorted(removed)}


def _ours(run_dir: Path) -> list[Path]:
    """Our links in `run_dir` and its .wants folders (no one else's is touched)."""
    found = [p for p in run_dir.glob(PREFIX + "*") if p.is_symlink()]
    return found + [p for p in run_dir.glob("*.wants/" + PREFIX + "*") if p.is_symlink()]


def _symlink(path: Path, target: str):
    if path.is_symlink() and os.readlink(path) == target:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_link(path, target)


def replace_link(link: Path, target):
    """`link` made to point at `target` in one step: never a moment without it (the
    units here, the update's `current` and `previous`)."""
    staged = link.with_name(f".{link.name}.tmp")
    staged.unlink(missing_ok=True)
    os.symlink(target, staged)
    os.replace(staged, link)


def systemctl(*args, check=True, timeout=TIMEOUT):
    subprocess.run(["systemctl", *args], check=check, capture_output=True, timeout=timeout)


def start(root: Path, run_dir: Path = RUN_DIR) -> dict:
    """At every start of the Pi (thuvien-units.service): link, reload systemd and start
    what is enabled (without waiting: the web service, the timers, the kiosk...)."""
    done = link(root, run_dir)
    systemctl("daemon-reload")
    if done["enabled"]:
        systemctl("start", "--no-block", *done["enabled"])
    return done


class Linker:
    """What an update does with the units (updates.Services): after each switch, link
    the version now current and reload systemd, before the web service restarts with
    its new unit; once the update has ended, start what the version enables (a unit it
    added; those running already are left as they are). A failure is logged and the
    update goes on: its health check says whether the version serves, and the next
    start of the Pi links again."""

    def __init__(self, root: Path, run_dir: Path = RUN_DIR):
        self.root, self.run_dir = Path(root), Path(run_dir)
        self.enabled: list[str] = []

    def refresh(self):
        try:
            self.enabled = link(self.root, self.run_dir)["enabled"]
            systemctl("daemon-reload")
        except (OSError, subprocess.SubprocessError) as exc:
            log.error("linking the units of %s: %s", self.root / "current", exc)

    def start_enabled(self):
        if self.enabled:
            systemctl("start", "--no-block", *self.enabled, check=False)


def here(root: Path) -> Linker | None:
    """A Linker on a Pi whose units come from its version: systemd runs it (its run
    folder exists) and the image's unit is installed. Elsewhere (a hub's server, a card
    imaged before) None: a machine that keeps its own units must not be given the Pi's."""
    return Linker(root, RUN_DIR) if RUN_DIR.is_dir() and IMAGE_UNIT.exists() else None
