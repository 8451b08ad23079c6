"""The OPAC names libraries as readers know them, never by their codes."""

import re


def test_results_and_the_library_filter_name_the_library(client, ctx):
    html = client.get("/opac/?q=truyen%20kieu").get_data(as_text=True)
    hits = html[html.index('class="hits"'):]
    assert "Thư viện phường Hòa Hiệp Trung" in hits
    assert "PY-DH01" not in re.sub(r'<[^>]+>', "", hits)
    option = re.search(r'<option value="PY-DH01"[^>]*>([^<]*)</option>', html)
    assert option and option.group(1).startswith("Thư viện phường Hòa Hiệp Trung")
    record = client.get(f"/opac/record/{ctx.bibs[0].id}").get_data(as_text=True)
    assert "Thư viện phường Hòa Hiệp Trung" in record
    assert "PY-DH01" not in re.sub(r"<script.*?</script>|<[^>]+>", "", record, flags=re.S)
