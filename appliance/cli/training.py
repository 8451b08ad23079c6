"""`thuvien training {status,record}`: who is trained (the "staff trained" indicator, per
library and for the town at the hub) and a course attended, entered from the command
line (core/training)."""

import json
from pathlib import Path

from . import data_dir_arg, opened


def register(sub):
    p = sub.add_parser("training", help="staff training: who is trained, courses attended")
    tsub = p.add_subparsers(dest="training_command", metavar="ACTION", required=True)
    s = tsub.add_parser("status", help="staff trained, per library, and who still needs it")
    data_dir_arg(s)
    s.add_argument("--library", help="only this library")
    s.add_argument("--json", action="store_true", help="as JSON")
    s.set_defaults(func=cmd_status)
    r = tsub.add_parser("record", help="a course a staff account attended outside")
    data_dir_arg(r)
    r.add_argument("staff", help="the staff account (username)")
    r.add_argument("--library", help="the account's library (at the hub; default: this one)")
    r.add_argument("--name", required=True, help="the course's name")
    r.add_argument("--organiser", required=True, help="who ran it")
    r.add_argument("--date", required=True, help="the day it ended, YYYY-MM-DD")
    r.add_argument("--hours", required=True, help="its length in hours")
    r.add_argument("--certificate", help="the certificate: a PDF or JPEG file")
    r.add_argument("--by", help="who enters it (kept in the record)")
    r.set_defaults(func=cmd_record)


def _status(ctx, library=None):
    from appliance.core.training import exercises, records

    if ctx.role != "hub":
        records.list_staff(ctx)
        library = ctx.library
    per = records.status(exercises.CORE, [library] if library else None)
    trained = sum(len(v["trained"]) for v in per.values())
    staff = sum(len(v["staff"]) for v in per.values())
    return {"libraries": per, "trained": trained, "staff": staff,
            "percent": round(100.0 * trained / staff, 1) if staff else None,
            "core_exercises": list(exercises.CORE)}


def cmd_status(args):
    with opened(args) as ctx:
        data = _status(ctx, args.library)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    for library, s in data["libraries"].items():
        print(f"{library}: {len(s['trained'])}/{len(s['staff'])} đã được đào tạo"
              + (f"; còn cần đào tạo: {', '.join(s['untrained'])}" if s["untrained"] else ""))
    if data["staff"]:
        print(f"Tổng: {data['trained']}/{data['staff']} ({data['percent']}%)")
    else:
        print("Chưa có danh sách nhân viên nào.")
    return 0


def cmd_record(args):
    from appliance.core.training import certificates, records

    with opened(args) as ctx:
        cert = None
        if args.certificate:
            path = Path(args.certificate)
            cert = certificates.store(ctx.data_dir, path.read_bytes(), path.name)
        course = records.add_course(ctx, args.library or ctx.library, args.staff, args.name,
                                    args.organiser, args.date, args.hours, cert,
                                    actor=args.by)
        print(json.dumps({"id": course.id, "library": course.library, "staff": course.staff,
                          "name": course.name, "day": course.day, "hours": course.hours,
                          "certificate": course.certificate}, ensure_ascii=False, indent=1))
    return 0
