"""The update window: when an update that migrates the database may stop the desk."""

import logging
from datetime import datetime, timedelta, timezone

import pytest

from appliance.core.errors import Invalid
from provisioning import config, window

VN = timezone(timedelta(hours=7))  # the library's time, as a fixed offset to write tests in


def at(hour, minute=0):
    return datetime(2026, 12, 2, hour, minute, tzinfo=VN)


def test_the_night_is_the_default_and_crosses_midnight():
    night = window.of({})
    assert str(night) == "21:00-06:00"
    assert [night.holds(at(h, m)) for h, m in [(20, 59), (21, 0), (23, 30), (0, 0), (5, 59),
                                               (6, 0), (12, 0)]] == \
        [False, True, True, True, True, False, False]


def test_a_window_within_a_day_and_in_the_librarys_time():
    lunch = window.parse("11:30-13:30")
    assert [lunch.holds(at(h, m)) for h, m in [(11, 29), (11, 30), (13, 29), (13, 30)]] == \
        [False, True, True, False]
    # 05:00 UTC is 12:00 in the library: a Pi's clock in UTC reads the library's hours
    assert lunch.holds(datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc))
    assert not lunch.holds(datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc))


@pytest.mark.parametrize("text", ["25:00-06:00", "21:00", "9:00-17:00", "21:00-21:00", "",
                                  "21:00-06:00; rm -rf /", 2100])
def test_a_wrong_window_is_refused_in_words(text):
    with pytest.raises(Invalid) as err:
        window.parse(text)
    assert err.value.code == "update_window_invalid" and "HH:MM-HH:MM" in str(err.value)


def test_a_config_bundle_with_a_wrong_window_is_refused_and_a_right_one_taken():
    with pytest.raises(Invalid):
        config.check_body({"update_window": "22h-5h"})
    assert config.check_body({"update_window": "22:00-05:00"}) == {"update_window": "22:00-05:00"}


def test_one_mistyped_in_the_settings_leaves_the_night_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        assert str(window.of({"update_window": "22h-5h"})) == window.DEFAULT
    assert "22h-5h" in caplog.text


def test_it_may_migrate_in_the_window_or_just_after_the_pi_started():
    night = window.of({})
    day, late = at(10), at(22)
    awake = window.BOOT_GRACE_S + 1
    assert not window.may_migrate(night, day, uptime=awake)
    assert window.may_migrate(night, late, uptime=awake)
    assert window.may_migrate(night, day, uptime=60)  # switched on this morning
    # a Pi with no battery clock starts in 1970: it has just started, whatever the hour
    assert window.may_migrate(night, datetime(1970, 1, 1, 3, tzinfo=timezone.utc), uptime=90)


def test_the_boot_clock_is_the_systems():
    assert 0 < window.uptime_s() < 10 * 365 * 86400
