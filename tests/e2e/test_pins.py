"""PINs and sessions end to end, as an attacker on the shop's network would try them:
a real server process, real websockets, the real SQLite file.

- wrong PINs are counted per seller and per device, durably (a restart keeps the lock),
  atomically (parallel connections get no more tries than allowed), on every path that
  checks a PIN (``sign_in`` and every ``supervisor_pin``), and a good PIN of someone else
  resets nothing;
- the error says how many tries are left and how long the lock lasts; each lock-out is
  an event (``pin_locked``);
- a copied token opens a connection that is not signed in: only the page's own resume
  secret (kept in its memory) brings the seller back, through a restart too, and
  ``sign_out`` ends it.
"""

from __future__ import annotations

import re
import urllib.request

import trio

from laneserver.rules.auth import hash_pin
from tests.e2e.configured import open_db, rows
from tests.support import DEMO_SELLER, connect

GALETS = "3760245001015"
SOPHIE = ("sophie", "4321")
LIMIT = 5  # [server] pin_failures, default


def _add_sophie(server) -> None:
    server.cli("seller", "add", SOPHIE[0], "--pin", SOPHIE[1], "--role", "supervisor")


async def test_parallel_connections_get_no_more_guesses_than_allowed(live_server):
    """Connections guessing at once (as many as a device may hold, [server]
    max_sessions_per_device: 4), 20 guesses in all: at most 5 wrong PINs are even
    checked; then the right PIN is refused too, with the lock's length."""
    _add_sophie(live_server)
    token = live_server.pair("till", "1")
    replies: list[dict] = []

    async def guess(first: int) -> None:
        async with connect(live_server.ws_url, token, seller=None) as till:
            for n in range(first, first + 5):
                replies.append(await till.call("sign_in", seller=SOPHIE[0], pin=f"{1000 + n}"))

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for connection in range(4):
                nursery.start_soon(guess, connection * 5)
        wrong = [r for r in replies if r["code"] == "wrong_pin"]
        locked = [r for r in replies if r["code"] == "forbidden"]
        assert len(wrong) == LIMIT and len(locked) == 20 - LIMIT, replies
        assert sorted(r["tries_left"] for r in wrong) == [0, 1, 2, 3, 4]
        assert all(0 < r["locked_seconds"] <= 60 for r in locked)
        async with connect(live_server.ws_url, token, seller=None) as till:
            refused = await till.call("sign_in", seller=SOPHIE[0], pin=SOPHIE[1])
            assert refused["code"] == "forbidden" and refused["locked_seconds"] > 0, refused
    events = rows(live_server, "SELECT data->>'scope', device, seller FROM events WHERE kind='pin_locked'")
    assert sorted(events) == [("device", "till-1-1", "sophie"), ("seller", "till-1-1", "sophie")], events


async def test_a_good_sign_in_of_someone_else_resets_nothing(live_server):
    """A cashier who knows her own PIN cannot reset the count between guesses at a
    supervisor's: the device locks after 5 wrong PINs whatever succeeded in between."""
    _add_sophie(live_server)
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, token, seller=None) as till:
            for n in range(LIMIT):
                await till.ok("sign_in", seller=DEMO_SELLER[0], pin=DEMO_SELLER[1])
                wrong = await till.call("sign_in", seller=SOPHIE[0], pin=f"{5000 + n}")
                assert wrong["code"] == "wrong_pin" and wrong["tries_left"] == LIMIT - 1 - n, wrong
            refused = await till.call("sign_in", seller=DEMO_SELLER[0], pin=DEMO_SELLER[1])
            assert refused["code"] == "forbidden" and refused["locked_seconds"] > 0, refused


async def test_a_seller_locked_on_one_device_is_locked_on_every_device(live_server):
    _add_sophie(live_server)
    first, second = live_server.pair("till", "1"), live_server.pair("pda")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, first, seller=None) as till:
            for n in range(LIMIT - 1):
                assert (await till.call("sign_in", seller=SOPHIE[0], pin=f"{6000 + n}"))["code"] == "wrong_pin"
        async with connect(live_server.ws_url, second, seller=None) as pda:
            last = await pda.call("sign_in", seller=SOPHIE[0], pin="6100")
            assert last["code"] == "wrong_pin" and last["tries_left"] == 0 and last["locked_seconds"] > 0, last
            refused = await pda.call("sign_in", seller=SOPHIE[0], pin=SOPHIE[1])
            assert refused["code"] == "forbidden", refused
            # The PDA itself is not locked: another seller signs in on it.
            await pda.ok("sign_in", seller=DEMO_SELLER[0], pin=DEMO_SELLER[1])


async def test_a_restart_keeps_the_lock(live_server):
    _add_sophie(live_server)
    token = live_server.pair("till", "1")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, token, seller=None) as till:
            for n in range(LIMIT):
                assert (await till.call("sign_in", seller=SOPHIE[0], pin=f"{7000 + n}"))["code"] == "wrong_pin"
        await trio.to_thread.run_sync(live_server.kill)
        await trio.to_thread.run_sync(live_server.restart)
        async with connect(live_server.ws_url, token, seller=None) as till:
            refused = await till.call("sign_in", seller=SOPHIE[0], pin=SOPHIE[1])
            assert refused["code"] == "forbidden" and refused["locked_seconds"] > 0, refused


async def test_every_supervisor_pin_counts_against_the_device(live_server):
    """Wrong supervisor PINs (a discount above the cap, a drawer withdrawal) count like
    wrong sign-in PINs; once locked, even the right one waits."""
    _add_sophie(live_server)
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, token) as till:
            await till.ok("scan", code=GALETS)
            for n in range(LIMIT - 1):
                wrong = await till.call("discount", percent="50", supervisor_pin=f"{8000 + n}")
                assert wrong["code"] == "supervisor_required" and wrong["tries_left"] == LIMIT - 1 - n, wrong
            wrong = await till.call("drawer_movement", kind="withdrawal", amount="10.00", reason="bank",
                                    destination="bank", count={"10.00": 1}, supervisor_pin="8100")
            assert wrong["code"] == "supervisor_required" and wrong["locked_seconds"] > 0, wrong
            refused = await till.call("discount", percent="50", supervisor_pin=SOPHIE[1])
            assert refused["code"] == "forbidden" and refused["locked_seconds"] > 0, refused
            assert (await till.ok("ticket"))["ticket"]["lines"][0].get("discount") in (None, "0.00")
    events = rows(live_server, "SELECT data->>'scope', device, seller FROM events WHERE kind='pin_locked'")
    assert events == [("device", "till-1-1", None)], events


async def test_a_copied_token_is_not_signed_in(live_server):
    """Another connection with the same token (a copied token) must type a PIN."""
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, token) as till:
            await till.ok("scan", code=GALETS)
            async with connect(live_server.ws_url, token, seller=None) as thief:
                assert thief.hello["seller"] is None
                assert (await thief.call("scan", code=GALETS))["code"] == "not_signed_in"
                wrong = await thief.call("hello", token=token, resume="x" * 43)
                assert wrong["type"] == "ok" and wrong["seller"] is None


async def test_the_resume_secret_keeps_the_seller_through_a_restart(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, token, seller=None) as till:
            signed = await till.ok("sign_in", seller=DEMO_SELLER[0], pin=DEMO_SELLER[1])
            resume = signed["resume"]
            assert len(resume) >= 43
            await till.ok("scan", code=GALETS)
        stored = rows(live_server, "SELECT secret_hash, device, seller FROM resume_secrets")
        assert [(d, s) for _, d, s in stored] == [("till-1-1", "marie")] and resume not in stored[0][0]
        await trio.to_thread.run_sync(live_server.stop)
        await trio.to_thread.run_sync(live_server.restart)
        async with connect(live_server.ws_url, None) as till:
            back = await till.ok("hello", token=token, resume=resume)
            assert back["seller"] == "marie" and back["role"] == "manager"
            await till.ok("scan", code=GALETS)
            # Another device's token with this secret gets nothing.
            other = live_server.pair("pda")
            assert (await till.ok("hello", token=other, resume=resume))["seller"] is None
            await till.ok("hello", token=token, resume=resume)
            await till.ok("sign_out")
        async with connect(live_server.ws_url, None) as till:
            assert (await till.ok("hello", token=token, resume=resume))["seller"] is None


async def test_tries_left_does_not_tell_which_names_exist(live_server):
    """Wrong PINs are counted under the name typed, existing or not: from a second device
    an unknown name and a real seller show the same tries left."""
    _add_sophie(live_server)
    first, second = live_server.pair("till", "1"), live_server.pair("till", "2")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, first, seller=None) as till:
            for name in ("ghost", "sophie", "ghost", "sophie"):
                assert (await till.call("sign_in", seller=name, pin="9090"))["code"] == "wrong_pin"
        async with connect(live_server.ws_url, second, seller=None) as till:
            ghost = await till.call("sign_in", seller="ghost", pin="9091")
            real = await till.call("sign_in", seller="sophie", pin="9091")
            assert ghost["tries_left"] == real["tries_left"] == 2, (ghost, real)


def _recalled(server) -> int:
    """Sign-ins whose PIN was recalled from memory (no scrypt): the /metrics gauge."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return int(float(re.search(r"^laneserver_sign_ins_recalled (\S+)$", text, re.MULTILINE).group(1)))


async def test_signing_in_again_is_recalled_but_a_changed_pin_or_a_disabled_seller_is_not(live_server):
    """Issue 12: every sign-in cost a scrypt (~45 ms of CPU), 1,200 of them ~54 s of a
    core. A seller signing in again with the PIN last checked good is now checked
    from memory (a keyed hash); a changed PIN is a new stored hash, so the old PIN is
    refused and the new one takes the full check once; a disabled seller (the CLI) is
    refused whatever the memory holds."""
    marie, pin = DEMO_SELLER
    token = live_server.pair("till", "1")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, token, seller=None) as till:
            await till.ok("sign_in", seller=marie, pin=pin)
            assert _recalled(live_server) == 0  # the first one: scrypt
            await till.ok("sign_out")
            await till.ok("sign_in", seller=marie, pin=pin)
            assert _recalled(live_server) == 1
            wrong = await till.call("sign_in", seller=marie, pin="9999")
            assert wrong["code"] == "wrong_pin" and wrong["tries_left"] == LIMIT - 1, wrong
            # The PIN changed (what a PIN change writes: a new scrypt hash in the row).
            db = open_db(live_server)
            try:
                with db:
                    db.execute("UPDATE sellers SET pin_hash=? WHERE name=?", (hash_pin("8642"), marie))
            finally:
                db.close()
            old = await till.call("sign_in", seller=marie, pin=pin)
            assert old["code"] == "wrong_pin", old
            await till.ok("sign_in", seller=marie, pin="8642")
            assert _recalled(live_server) == 1  # checked by scrypt against the new hash
            await till.ok("sign_in", seller=marie, pin="8642")
            assert _recalled(live_server) == 2
        await trio.to_thread.run_sync(live_server.cli, "seller", "disable", marie)
        async with connect(live_server.ws_url, token, seller=None) as till:
            refused = await till.call("sign_in", seller=marie, pin="8642")
            assert refused["code"] == "wrong_pin", refused
            assert _recalled(live_server) == 2
