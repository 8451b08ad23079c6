"""The seeded town, built once per database for the whole run: a year of four libraries
takes seconds on SQLite and more on PostgreSQL. The modules that read it share one xdist
group (TOWN), so one worker builds it once for all of them; they only read it, but for
the hub's accounts, register and devices, which `hub` sets the same each time."""

import contextlib
from datetime import datetime, timedelta, timezone

import pytest

from appliance.core import users
from appliance.core.context import Context
from appliance.core.reports import town as townmod
from sync.models import Device
from tests.factories import PASSWORD
from tests.sync.syncsupport import hub_database

from .town import Town

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TOWN = pytest.mark.xdist_group("reports-town")


@pytest.fixture(scope="session", params=BACKENDS)
def town(request, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(hub_database(request.param))
        target = url or str(tmp_path_factory.mktemp("town") / "thuvien.db")
        built = Town(target)
        stack.callback(built.close)
        built.run_year()
        yield built


UNITS = "code,name,level,parent,valid_from,valid_to\nDH,Thị xã Đông Hòa,town,,,\n" \
        "HHB,Phường Hòa Hiệp Bắc,ward,DH,2025-07-01,\nHH,Phường Hòa Hiệp,ward,DH,,2025-06-30\n"
REGISTER = "code,name,kind,unit,key_library,active\n" \
    "PY-TT01,Thư viện thị xã Đông Hòa,public,DH,1,1\n" \
    "PY-HH02,Thư viện phường Hòa Hiệp Bắc,public,HHB,1,1\n" \
    "PY-TH03,Thư viện trường THCS Hòa Xuân,school,HHB,0,1\n" \
    "PY-BP04,Thư viện Đồn Biên phòng,armed_forces,HHB,0,1\n"


@pytest.fixture(scope="module")
def hub(town):
    ctx = Context.for_db(town.db, "PY-TT01", origin="hub-device", role="hub",
                         settings={"library_name": "Trung tâm Văn hóa thị xã"})
    ctx.clock = town.ctxs["PY-TT01"].clock
    from appliance.web import create_app

    app = create_app(ctx, testing=True)
    if not users.User.get_or_none(users.User.username == "baocao"):
        users.create(ctx, "baocao", PASSWORD, "report_viewer")
        users.create(ctx, "hub", PASSWORD, "hub_admin")
        users.create(ctx, "thuthu", PASSWORD, "librarian")
    townmod.import_csv(UNITS, "units")
    townmod.import_csv(REGISTER, "libraries")
    now = datetime.now(timezone.utc)
    Device.delete().execute()
    for code, seen, status in (("PY-TT01", now - timedelta(days=2), "active"),
                               ("PY-HH02", now - timedelta(days=45), "active"),
                               ("PY-TH03", now - timedelta(days=1), "revoked")):
        Device.create(id=f"dev-{code}", library=code, sign_key="k", box_key="k",
                      status=status, enrolled_at=now.isoformat(), last_seen=seen.isoformat())
    return app
