"""``clock.shop_zone`` keeps the machine's zone (``[shop] timezone = ""``) between
calls (the lane edge asks once a payment), and reads it again when what it comes from
changes."""

from __future__ import annotations

import datetime as dt

from laneserver.clock import shop_day, shop_zone

SUMMER_NIGHT = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.timezone.utc)


def test_the_machines_zone_is_kept_and_follows_a_change_of_tz(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    first = shop_zone("")
    assert shop_zone("") is first  # kept: not read and parsed again
    assert shop_day(SUMMER_NIGHT, first) == dt.date(2026, 7, 2)  # UTC+2 in July
    monkeypatch.setenv("TZ", "America/New_York")
    moved = shop_zone("")
    assert shop_day(SUMMER_NIGHT, moved) == dt.date(2026, 7, 1)  # UTC-4: the same day
    assert shop_day(SUMMER_NIGHT, moved) == shop_day(SUMMER_NIGHT, shop_zone(""))


def test_a_named_zone_is_the_clocks(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    assert shop_zone("Europe/Paris") is shop_zone("Europe/Paris")
    assert shop_day(SUMMER_NIGHT, shop_zone("Europe/Paris")) == dt.date(2026, 7, 2)
