"""A full disk: a loan is refused in plain words, nothing is half written, and once space
is freed the library works on and verifies clean. Backups to a full disk leave nothing."""

import os
import subprocess

import pytest

from appliance.core import backup, circulation, verify
from appliance.core.context import Context
from appliance.core.errors import DomainError
from appliance.core.models import Event, Item, Loan
from tests.conftest import unavailable
from tests.factories import make_library, seed


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own (tmpfs), so filling it touches nothing else."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]).returncode:
        unavailable("mounting a small tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)])


def _fill(folder):
    filler = folder / "filler"
    # unbuffered: a buffered file would keep the bytes that did not fit and fail again
    # when it is closed
    with open(filler, "wb", buffering=0) as f:
        try:
            while f.write(b"\0" * 65536):
                pass
        except OSError:
            pass
    return filler


def test_loans_on_a_full_disk(small_disk):
    ctx = make_library(small_disk / "data")
    seed(ctx)
    circulation.checkout(ctx, "P0001", "1001")
    before = Event.select().count()
    filler = _fill(small_disk)
    with pytest.raises(DomainError) as info:
        for barcode in ("1002", "1003", "1004"):  # the WAL may still hold a page or two
            circulation.checkout(ctx, "P0002", barcode)
            before = Event.select().count()
    assert info.value.code == "disk_full" and info.value.status == 507
    assert Event.select().count() == before
    filler.unlink()
    ctx.close()
    ctx = Context.open(small_disk / "data")
    assert verify.verify(ctx) == []
    free = Item.get((Item.status == "available") & (Item.item_type == "book"))
    loans = Loan.select().count()
    circulation.checkout(ctx, "S0001", free.barcode)  # space again: the library works on
    assert Loan.select().count() == loans + 1
    assert verify.verify(ctx) == []
    ctx.close()


def test_backup_to_a_full_disk_leaves_nothing(tmp_path, small_disk, ctx):
    filler = _fill(small_disk)
    with pytest.raises(backup.BackupError):
        backup.backup(ctx.data_dir / "thuvien.db", small_disk / "thuvien-backup.db")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    filler.unlink()
