"""A small planted town for the suggestion tests: who borrowed what is chosen so that
each privacy rule decides what a neighbour list holds."""

from appliance.core import catalogue, circulation, patrons

# title, author, series, subjects, ddc
RECORDS = [
    ("Kính vạn hoa 1", "Nguyễn Nhật Ánh", "Kính vạn hoa", ["Truyện thiếu nhi"], "895.9223"),
    ("Kính vạn hoa 2", "Nguyễn Nhật Ánh", "Kính vạn hoa", ["Truyện thiếu nhi"], "895.9223"),
    ("Số đỏ", "Vũ Trọng Phụng", None, ["Tiểu thuyết"], "895.9223"),
    ("Tắt đèn", "Ngô Tất Tố", None, ["Tiểu thuyết"], "895.9223"),
    ("Bỉ vỏ", "Nguyên Hồng", None, ["Tiểu thuyết"], "895.9223"),
    ("Lịch sử Phú Yên", "Nhiều tác giả", None, ["Lịch sử địa phương"], "959.755"),
    ("Địa chí Phú Yên", "Nhiều tác giả", None, ["Lịch sử địa phương"], "915.97"),
    ("Kỹ thuật nuôi tôm", "Lê Văn Bảy", None, ["Nuôi trồng thuỷ sản"], "639.68"),
]


def build(ctx):
    """Records by title; patrons by group. Pairs planted:
    - Số đỏ + Tắt đèn: 5 adults (kept: exactly the minimum);
    - Số đỏ + Bỉ vỏ: 4 adults (dropped: one short);
    - Lịch sử + Địa chí: 5 adults who turned reading history off (left out);
    - Kính vạn hoa 1 + 2: 5 children (children's list only)."""
    bibs, barcode = {}, 5000
    for title, author, series, subjects, ddc in RECORDS:
        bib = catalogue.save_bib(ctx, {"title": title, "authors": [author], "series": series,
                                       "subjects": subjects, "ddc": ddc, "language": "vie"})
        barcode += 1
        catalogue.save_item(ctx, {"bib": bib.id, "barcode": str(barcode)})
        bibs[title] = (bib, str(barcode))
    cards = iter(range(1, 100))

    def patron(category, **extra):
        card = f"T{next(cards):04d}"
        if category == "child":
            extra.update(guardian="Người giám hộ", guardian_consent=True)
        p = patrons.save(ctx, {"card": card, "name": f"Bạn đọc {card}", "category": category,
                               "expiry": "2030-12-31", **extra})
        return p, card

    def borrow(card, *titles):
        for title in titles:
            circulation.checkout(ctx, card, bibs[title][1])
            circulation.checkin(ctx, bibs[title][1])
    for _ in range(5):
        borrow(patron("adult")[1], "Số đỏ", "Tắt đèn")
    for _ in range(4):
        borrow(patron("adult")[1], "Số đỏ", "Bỉ vỏ")
    for _ in range(5):
        p, card = patron("adult", keep_history=True)
        patrons.save(ctx, {"id": p.id, "keep_history": False})  # turned off
        borrow(card, "Lịch sử Phú Yên", "Địa chí Phú Yên")
    for _ in range(5):
        borrow(patron("child")[1], "Kính vạn hoa 1", "Kính vạn hoa 2")
    return {title: bib for title, (bib, _b) in bibs.items()}
