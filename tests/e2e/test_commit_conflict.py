"""Two requests on the same money at once: the later one is refused ``conflict``, never
``internal`` (store/writes.py ``BooksChanged``, actors/replies.py ``failed_result``).

A sale that topped a wallet up is cancelled (the top-up taken back). The customers
actor decides the give-back on the balance it holds; if the wallet was spent before the
cancel is written, the journal's own check of the balance fails the unit. Here the
spend is written straight through the journal (as another actor's unit would be), so
the customers actor decides on a balance that is no longer there: deterministic, the
race the review found between a sale cancel and a top-up cancel. The cancel is refused
``conflict`` naming the account, nothing is written, and the sale can be cancelled
once the money is back.
"""

from __future__ import annotations

from decimal import Decimal

import trio

from laneserver.actors.journal import commit
from laneserver.store.ops import MoveAccount
from tests.e2e.in_process import pair_till, serving
from tests.support import connect


async def test_a_cancel_whose_money_was_spent_meanwhile_is_a_conflict_and_changes_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with trio.fail_after(60):
        async with serving(data) as running:
            token = await trio.to_thread.run_sync(pair_till, data, "1")
            async with connect(running.ws_url, token) as till:
                jeanne = (await till.ok("customer_create", name="Jeanne", wallet=True))["customer"]
                await till.ok("set_customer", customer=jeanne)
                await till.ok("topup_line", amount="20.00")
                await till.ok("pay", mode="cash", amount="20.00")
                sale = (await till.ok("finish"))["number"]

                async def spend(amount: str) -> None:
                    await commit(running.shop.journal, MoveAccount(
                        at=running.shop.clock.now(), customer=jeanne, account="wallet", delta=Decimal(amount),
                        kind="spend" if amount.startswith("-") else "topup", mode="cash", lane="2"))

                await spend("-15.00")  # behind the customers actor's back: it still counts 20.00
                refused = await till.call("sale_cancel", sale=sale, reason="erreur de saisie")
                assert (refused["type"], refused["code"]) == ("error", "conflict"), refused
                assert f"customer {jeanne}'s wallet would be -15.00" in refused["message"], refused
                shown = await till.ok("sale", sale=sale)
                assert shown["sale"].get("cancelled_by") is None, shown

                await spend("15.00")  # the money back: the same cancel goes through
                done = await till.ok("sale_cancel", sale=sale, reason="erreur de saisie")
                assert done["sale"]["cancelled_by"] == done["number"], done
