"""Stocktake fixtures: the shared test library with shelves (locations and call numbers)
on its five copies."""

import pytest

from appliance.core import catalogue

# barcode: (location, call number)
SHELVES = {"1001": ("Kho mở", "895.922 NG-D"), "1002": ("Kho mở", "895.922 VU-P"),
           "1003": ("Kho mở", "895.9223 TO-H"), "1004": ("Địa chí", "959.755 LI-S"),
           "1005": ("Tra cứu", "495.922 HO-P")}


@pytest.fixture
def shelved(ctx):
    for barcode, (location, call_number) in SHELVES.items():
        item = catalogue.get_item(ctx, barcode)
        catalogue.save_item(ctx, {"id": item.id, "location": location,
                                  "call_number": call_number})
    return ctx
