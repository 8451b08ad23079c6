"""The desk's sync banner says what to do, in Vietnamese first: enrol (and how), or what
the last error means, rather than only counting the changes waiting."""

from sync.models import set_state
from tests.conftest import staff_login


def banner(client, lang="vi"):
    page = client.get(f"/desk/?lang={lang}").get_data(as_text=True)
    return page.split('id="sync-status"')[1].split("</section>")[0]


def test_not_enrolled_says_to_ask_for_a_token(client, ctx):
    staff_login(client)
    text = banner(client)
    assert "chưa đăng ký với máy chủ thành phố" in text
    assert "hãy xin thư viện thành phố một mã đăng ký" in text
    assert "thay đổi đang chờ" in text
    english = banner(client, "en")
    assert "ask the town library for an enrolment token" in english


def test_last_error_is_said_in_vietnamese(client, ctx):
    ctx.settings["sync"] = {"hub_id": "hub-1", "hub_url": "https://127.0.0.1:9"}
    set_state(last_error="unreachable: The hub did not answer: the hub refused the connection")
    staff_login(client)
    text = banner(client)
    assert "Không kết nối được máy chủ thành phố: hãy kiểm tra đường mạng" in text
    assert "Chi tiết kỹ thuật" in text  # the English detail, folded away
    set_state(last_error="bad_answer: the answer is not for the batch sent")
    text = banner(client)
    assert "Lần đồng bộ trước không thành công (bad_answer)" in text
    assert "hãy gọi thư viện thành phố" in text
