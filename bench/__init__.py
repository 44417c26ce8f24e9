"""laneserver's benchmark: a load generator, its same-run baselines, and one table.

Run from the repository root::

    python -m bench            # the full run (about 15 minutes on 2 cores, the store's curve most of it)
    python -m bench --quick    # small counts, about 40 s (the test suite runs it)

Modules:
  loadgen         N tills and M PDAs over websockets against a real server process
  baselines       a Hypercorn + Starlette websocket echo process, and SQLite commits
  growth          ticket_growth: a scan on a long ticket, beside held tickets (issue 12)
  store           a whole store at human pace, its capacity curve, a reconnect storm (issue 12)
  catalog_million a generated catalog of a million articles, measured in process
  server          starting, preparing and watching server processes (/proc readings)
  scenarios       the scenarios of a run, each with the baselines it is compared to
  report          the table: value, baseline, ratio, target, PASS/MISS
  stats           percentiles from raw samples

Nothing here is imported by laneserver; nothing here talks to anything but 127.0.0.1.
"""
