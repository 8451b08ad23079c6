"""Fees at the desk, the kiosk and in the statistics: declared on the patron page, the
block in Vietnamese when lending, paid or waived with a reason, the receipt PDF, the
totals in the report page and its XLSX."""

import io
import re

import openpyxl
import pypdf

from appliance.core import policy
from appliance.core.models import Fee, Item
from tests.conftest import staff_login


def _rule(ctx, replacement=150000, limit=0):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     replacement_fee=replacement, fee_limit=limit)


def _lend(client, token, card, barcode):
    return client.post("/desk/checkout", data={"csrf_token": token, "card": card,
                                               "barcode": barcode}, follow_redirects=True)


def _declare(client, token, card, barcode, kind="lost"):
    return client.post("/desk/fees/declare", data={
        "csrf_token": token, "card": card, "barcode": barcode, "kind": kind,
        "next": f"/desk/patrons/{card}"}, follow_redirects=True).get_data(as_text=True)


def test_declare_block_pay_and_receipt_at_the_desk(ctx, client):
    _rule(ctx)
    token = staff_login(client)
    _lend(client, token, "P0001", "1001")
    page = _declare(client, token, "P0001", "1001")
    assert "Đã tính 150.000 ₫ cho bản sách báo mất." in page
    assert "Còn nợ 150.000 ₫" in page and "1 khoản chưa trả" in page
    assert Item.get(Item.barcode == "1001").condition == "lost"
    refused = _lend(client, token, "P0001", "1002").get_data(as_text=True)
    assert ("Bạn đọc còn nợ 150.000 ₫ tiền phí chưa nộp (mức tối đa là 0 ₫): không cho "
            "mượn thêm cho đến khi trả hết.") in refused
    fee = Fee.get()
    assert client.get(f"/desk/fees/{fee.id}/receipt.pdf").status_code == 200  # unpaid too
    paid = client.post(f"/desk/fees/{fee.id}/pay", data={
        "csrf_token": token, "next": "/desk/patrons/P0001"}, follow_redirects=True)
    assert "Đã thu 150.000 ₫. Hãy in biên lai." in paid.get_data(as_text=True)
    assert "Không nợ gì." in paid.get_data(as_text=True)
    pdf = client.get(f"/desk/fees/{fee.id}/receipt.pdf")
    assert pdf.content_type == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    for words in ("BIÊN LAI THU PHÍ BỒI THƯỜNG", "Nguyễn Văn An (P0001)", "Truyện Kiều — 1001",
                  "150.000 ₫", "Mất sách", "đã thu", "thuthu", "Thư viện phường Hòa Hiệp Trung"):
        assert words in text, words
    _lend(client, token, "P0001", "1002")  # the block lifted with the payment
    assert Item.get(Item.barcode == "1002").status == "on_loan"


def test_a_fee_paid_in_parts_at_the_desk_shows_paid_and_balance(ctx, client):
    _rule(ctx)
    token = staff_login(client)
    _lend(client, token, "P0001", "1001")
    _declare(client, token, "P0001", "1001")
    fee = Fee.get()

    def pay(amount):
        return client.post(f"/desk/fees/{fee.id}/pay", data={
            "csrf_token": token, "amount": amount, "next": "/desk/patrons/P0001"},
            follow_redirects=True).get_data(as_text=True)

    page = pay("100.000")
    assert "Đã nhận tiền; khoản phí còn nợ 50.000 ₫." in page
    row = re.search(rf'<tr id="fee-{fee.id}".*?</tr>', page, re.S).group(0)
    assert re.search(r'fee-paid"[^>]*>100.000 ₫<.*fee-balance"[^>]*>50.000 ₫<', row, re.S)
    assert 'name="amount" type="number" min="1" max="50000"' in row
    assert "Còn nợ 50.000 ₫" in page and Fee.get_by_id(fee.id).state == "open"
    assert "60.000 ₫ nhiều hơn số còn nợ: số dư là 50.000 ₫." in pay("60000")
    assert "Đã thu 50.000 ₫. Hãy in biên lai." in pay("50000")  # the rest, this time
    assert Fee.get_by_id(fee.id).state == "paid"


def test_waive_needs_a_reason_and_the_form_needs_its_token(ctx, client):
    _rule(ctx, replacement=40000, limit=100000)
    token = staff_login(client)
    _lend(client, token, "P0002", "1003")
    page = _declare(client, token, "P0002", "1003", kind="damaged")
    assert "Đã tính 40.000 ₫ cho bản sách báo hư hỏng." in page
    fee = Fee.get()
    assert client.post(f"/desk/fees/{fee.id}/waive", data={"reason": "x"}).status_code == 400
    empty = client.post(f"/desk/fees/{fee.id}/waive", data={
        "csrf_token": token, "reason": " ", "next": "/desk/patrons/P0002"},
        follow_redirects=True).get_data(as_text=True)
    assert "Hãy ghi lý do miễn phí." in empty and Fee.get().state == "open"
    done = client.post(f"/desk/fees/{fee.id}/waive", data={
        "csrf_token": token, "reason": "Sách đã cũ", "next": "/desk/patrons/P0002"},
        follow_redirects=True).get_data(as_text=True)
    assert "Đã miễn phí." in done and "đã miễn ngày" in done and "Sách đã cũ" in done
    text = pypdf.PdfReader(io.BytesIO(client.get(
        f"/desk/fees/{fee.id}/receipt.pdf").data)).pages[0].extract_text()
    assert "đã miễn" in text and "Sách đã cũ" in text and "Hỏng sách" in text


def test_the_kiosk_says_why_no_loan_in_vietnamese(ctx, client):
    from appliance.core import circulation
    from appliance.core.fees import commands

    _rule(ctx)
    circulation.checkout(ctx, "P0001", "1001")
    commands.declare(ctx, "1001", "lost")
    staff_login(client, "kiosk", landing="/kiosk/")
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/kiosk/").get_data(as_text=True)).group(1)
    client.post("/kiosk/identify", data={"csrf_token": token, "card": "P0001"})
    r = client.post("/kiosk/checkout", data={"csrf_token": token, "barcode": "1002"},
                    follow_redirects=True)
    assert "Bạn đọc còn nợ 150.000 ₫ tiền phí chưa nộp" in r.get_data(as_text=True)


def test_totals_appear_in_the_statistics_and_the_xlsx(ctx, client):
    from appliance.core import circulation
    from appliance.core.fees import commands

    _rule(ctx, replacement=50000, limit=500000)
    for card, barcode in (("P0001", "1001"), ("P0002", "1002"), ("P0001", "1003")):
        circulation.checkout(ctx, card, barcode)
    paid = commands.declare(ctx, "1001", "lost")
    waived = commands.declare(ctx, "1002", "damaged")
    part = commands.declare(ctx, "1003", "lost")
    commands.pay(ctx, paid.id)
    commands.pay(ctx, waived.id, amount=10000)  # a part, then the rest waived
    commands.waive(ctx, waived.id, "tìm thấy")
    commands.pay(ctx, part.id, amount=20000)  # a part, the fee still open
    staff_login(client, "quanly")
    today = ctx.clock.today()
    args = {"kind": "month", "year": today.year, "number": today.month}
    html = client.get("/reports/", query_string=args).get_data(as_text=True)
    assert re.search(r'data-key="fees.charged"><td>Phí đã tính: bồi thường tài liệu mất, hỏng và '
                     r'trả quá hạn \(đồng\)</td><td class="num">150[.,]?000</td>', html), html[-3000:]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/reports/statistics.xlsx",
                                                        query_string=args).data))
    rows = {r[0]: r[1] for r in book.active.iter_rows(values_only=True) if r and r[0]}
    assert rows["Phí đã tính: bồi thường tài liệu mất, hỏng và trả quá hạn (đồng)"] == 150000
    # what was taken, part by part: 50.000 + 10.000 + 20.000; waived what was left
    assert rows["đã thu (đồng)"] == 80000 and rows["đã miễn (đồng)"] == 40000


def test_the_copy_page_records_a_price_that_the_charge_then_uses(ctx, client):
    _rule(ctx, replacement=50000)
    token = staff_login(client)
    page = client.post("/desk/items/1004/price", data={"csrf_token": token,
                                                       "price": "215.000"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Đã lưu giá." in page and 'value="215000"' in page
    bad = client.post("/desk/items/1004/price", data={"csrf_token": token, "price": "nhiều"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Giá là một số đồng nguyên." in bad
    _lend(client, token, "P0002", "1004")
    assert "Đã tính 215.000 ₫" in _declare(client, token, "P0002", "1004")


def test_a_patron_sees_what_they_owe_in_their_opac_account(ctx, client):
    """The patron's own account says what is still owed of each fee, where it is paid,
    and that it stops new loans; a settled fee leaves the list, another card's fee never
    shows, and a card owing nothing sees no fees section."""
    from appliance.core import circulation
    from appliance.core.fees import commands
    from tests.conftest import csrf_token

    _rule(ctx)
    for card, barcode in (("P0001", "1001"), ("P0001", "1002"), ("P0002", "1003")):
        circulation.checkout(ctx, card, barcode)
    part = commands.declare(ctx, "1001", "lost")
    commands.pay(ctx, part.id, amount=60000)
    commands.pay(ctx, commands.declare(ctx, "1002", "damaged").id)
    commands.declare(ctx, "1003", "lost")  # P0002's

    def account(card):
        client.get("/opac/logout")
        token = csrf_token(client, "/opac/login")
        client.post("/opac/login", data={"csrf_token": token, "card": card, "pin": "1234"})
        return client.get("/opac/account").get_data(as_text=True)

    page = account("P0001")
    fees = page[page.index('id="fees"'):page.index("</table>", page.index('id="fees"'))]
    assert "Còn nợ 90.000 ₫" in page and "Chưa mượn thêm được" in page
    assert fees.count("<tr>") == 2  # the heading and the one open fee, not the paid one
    assert all(said in fees for said in ("150.000 ₫", "60.000 ₫", "90.000 ₫", "Truyện Kiều"))
    assert "Số đỏ" not in fees  # its fee is paid
    assert "Dế Mèn phiêu lưu ký" not in page  # P0002's copy and fee
    circulation.checkin(ctx, "1003")
    commands.pay(ctx, Fee.get(Fee.state == "open", Fee.amount == 150000,
                              Fee.patron != part.patron).id)
    assert 'id="fees"' not in account("P0002")
