"""Synthetic Vietnamese catalogue records, deterministic for a seed.

`python -m bench.gen_records N FILE` writes N rows in the vn-catalogue CSV layout
(title, authors, publisher, year, isbn, language, ddc, subjects, series,
local_history); `records(n, seed)` yields the same rows as dicts.
"""

import csv
import random
import sys

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
            "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Thuỳ", "Gia"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Đông", "Hà", "Hải", "Hoà", "Hùng", "Hương", "Khánh",
         "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Quý", "Sơn", "Tâm", "Thảo",
         "Thuý", "Trung", "Tuấn", "Uyên", "Việt", "Xuân", "Yến"]
WORDS = ["lịch sử", "văn hoá", "đất nước", "quê hương", "mùa xuân", "biển", "núi rừng",
         "tuổi thơ", "người lính", "làng quê", "thành phố", "dòng sông", "cánh đồng", "ký ức",
         "tình yêu", "khoa học", "toán học", "địa lý", "kinh tế", "nông nghiệp", "y học",
         "giáo dục", "thiếu nhi", "truyện cổ", "Phú Yên", "Đông Hòa", "Tuy Hoà", "miền Trung",
         "Việt Nam", "hoà bình", "chiến tranh", "gia đình", "bài học", "câu chuyện",
         "thơ ca", "âm nhạc", "hội hoạ", "ẩm thực", "du lịch", "môi trường", "khí hậu",
         "công nghệ", "máy tính", "sức khoẻ", "thể thao", "bóng đá", "cây lúa", "con thuyền"]
SHAPES = ["{a} và {b}", "{a} của {b}", "{a}", "Những {a}", "{a} {b}", "Tìm hiểu {a}",
          "Câu chuyện {a}", "{a} qua {b}", "Sổ tay {a}", "Giáo trình {a}"]
PUBLISHERS = ["NXB Kim Đồng", "NXB Trẻ", "NXB Giáo dục Việt Nam", "NXB Văn học",
              "NXB Hội Nhà văn", "NXB Chính trị quốc gia", "NXB Phụ nữ", "NXB Khoa học xã hội"]
SUBJECTS = ["Văn học Việt Nam", "Lịch sử địa phương", "Thiếu nhi", "Khoa học tự nhiên",
            "Giáo dục", "Nông nghiệp", "Địa lý", "Thơ", "Tiểu thuyết", "Y học", "Kinh tế"]
DDC = ["895.9223", "895.9221", "959.7", "372.4", "630", "915.97", "510", "610", "330", "398.2"]
SERIES = ["Tủ sách Tuổi thơ", "Văn học nhà trường", "Danh nhân Việt Nam", "", "", "", ""]


def isbn13(n):
    body = f"978604{n:06d}"[:12]
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    return body + str(check)


def records(n, seed=7):
    rnd = random.Random(seed)
    for k in range(n):
        a, b = rnd.sample(WORDS, 2)
        title = rnd.choice(SHAPES).format(a=a, b=b)
        title = title[0].upper() + title[1:]
        authors = [f"{rnd.choice(SURNAMES)} {rnd.choice(MIDDLE)} {rnd.choice(GIVEN)}"
                   for _ in range(rnd.choice((1, 1, 1, 2)))]
        yield {"title": title, "authors": "; ".join(authors),
               "publisher": rnd.choice(PUBLISHERS), "year": rnd.randint(1960, 2025),
               "isbn": isbn13(k) if k < 10**6 else "", "language": rnd.choice(("vie",) * 9
                                                                              + ("eng",)),
               "ddc": rnd.choice(DDC), "subjects": "; ".join(rnd.sample(SUBJECTS, 2)),
               "series": rnd.choice(SERIES), "local_history": "yes" if rnd.random() < .05
               else "no"}


def write_csv(n, path, seed=7):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["title", "authors", "publisher", "year", "isbn",
                                                "language", "ddc", "subjects", "series",
                                                "local_history"])
        writer.writeheader()
        writer.writerows(records(n, seed))


if __name__ == "__main__":
    write_csv(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000,
              sys.argv[2] if len(sys.argv) > 2 else "records.csv")


# --- rows for bulk loading (benchmarks) ---------------------------------------------

ITEM_TYPES = ["book"] * 17 + ["reference"] * 2 + ["periodical"]
STATUSES = ["available"] * 16 + ["on_loan"] * 3 + ["in_transit"]


def libraries(n):
    return [f"PY-{k:03d}" for k in range(1, n + 1)] if n > 10 else \
        [f"PY-DH{k:02d}" for k in range(1, n + 1)]


def catalogue_rows(n, copies_per_record, n_libraries, seed=2):
    """(bib row, [item rows]) per record, as the projector would hold them: every
    column of `bib` and `item`, JSON as text. Ids are deterministic for a seed."""
    import json
    import uuid

    rnd = random.Random(seed + 1)
    libs = libraries(n_libraries)
    per_lib = dict.fromkeys(libs, 0)
    now = "2025-01-01T00:00:00+07:00"
    for r in records(n, seed=seed):
        bib_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        bib = {"id": bib_id, "title": r["title"],
               "authors": json.dumps(r["authors"].split("; "), ensure_ascii=False),
               "publisher": r["publisher"], "year": r["year"], "isbn": r["isbn"] or None,
               "language": r["language"], "ddc": r["ddc"],
               "subjects": json.dumps(r["subjects"].split("; "), ensure_ascii=False),
               "series": r["series"] or None, "notes": None, "marc": None,
               "control_number": None, "local_history": r["local_history"] == "yes",
               "created_at": now, "updated_hlc": 0, "deleted": False, "field_hlc": "{}"}
        items = []
        for _ in range(copies_per_record):
            lib = rnd.choice(libs)
            per_lib[lib] += 1
            items.append({
                "id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "bib_id": bib_id,
                "library": lib, "barcode": f"{per_lib[lib]:08d}",
                "item_type": rnd.choice(ITEM_TYPES), "location": None,
                "call_number": f"{r['ddc']} {r['title'][:3].upper()}",
                "status": rnd.choice(STATUSES),
                "accession_date": f"{rnd.randint(2005, 2025)}-{rnd.randint(1, 12):02d}-"
                                  f"{rnd.randint(1, 28):02d}",
                "transit_to": None, "field_hlc": "{}", "condition": "available",
                "transit_hlc": 0})
        yield bib, items
