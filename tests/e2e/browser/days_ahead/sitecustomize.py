"""Put on a server process's PYTHONPATH (``DAYS_AHEAD`` below): Python imports this at
start-up, and the shop's one clock (``laneserver.clock.SystemClock``) then reads the
system time ``LANESERVER_TEST_DAYS_AHEAD`` days ahead, as ``faketime`` would. For a
browser test that needs a server living in the future (a quote past its validity:
tests/e2e/browser/test_till_documents_expired.py); the server is otherwise untouched."""

import datetime as dt
import os

_days = os.environ.get("LANESERVER_TEST_DAYS_AHEAD")
if _days:
    from laneserver import clock as _clock

    _now = _clock.SystemClock.now
    _clock.SystemClock.now = lambda self: _now(self) + dt.timedelta(days=int(_days))  # type: ignore[method-assign]
