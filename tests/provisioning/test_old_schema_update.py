"""A Pi of an old version updated to this tree's wheel, installed as an update installs
it: the wheel's own code migrates the old database (tests/fixtures/schemas), which then
passes `thuvien verify` and lends and takes back a copy."""

from appliance.core.db import SCHEMA_VERSION
from provisioning import updates
from tests.core.test_old_schemas import unpack
from tests.provisioning.served import run

# Run by the installed version's Python, with only its own code on the path.
DESK = """
import sys
sys.path.insert(0, sys.argv[1])
from appliance.core import circulation, db, verify
from appliance.core.context import Context
assert circulation.__file__.startswith(sys.argv[1]), circulation.__file__
ctx = Context.open(sys.argv[2])
circulation.checkin(ctx, "100001")
circulation.checkout(ctx, "TV0002", "100001")  # the hold it kept, filled
circulation.checkin(ctx, "100001")
print(db.schema_version(ctx.db), verify.verify(ctx))
"""


def test_the_wheel_updates_a_schema_6_pi(tmp_path, wheel):
    inst = updates.Installation(tmp_path / "app")
    version = updates.WHEEL_NAME.match(wheel.name)["version"]
    inst.install(wheel, version)
    inst.switch(version)
    data = unpack(6, tmp_path / "data")  # older than migrations 7, 12 and 23
    cwd = tmp_path / "run"  # outside the source tree
    cwd.mkdir()
    out = run(inst.current / "bin/thuvien", "verify", "--data", data, cwd=cwd)
    assert out.startswith("ok: integrity, event chains and state all check out")
    site = (inst.current / "site").resolve()
    out = run(inst.runtime, "-c", DESK, site, data, cwd=cwd)
    assert out.split() == [str(SCHEMA_VERSION), "[]"]
