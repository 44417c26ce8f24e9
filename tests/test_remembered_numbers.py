"""store/writes.py ``filled``: the numbers a unit hands out put into a result to
remember, as plain data (no caller's code in the journal's thread). The bytes are the
ones the result built with those numbers encodes to, so a replay is exact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from laneserver.actors.replies import ReplyMemory
from laneserver.actors.sales_messages import SaleCancelled, VoucherIssued
from laneserver.actors.stock_messages import OrderNow
from laneserver.rules.corrections import Row, SaleMoney
from laneserver.rules.replenishment import OrderLine, PurchaseOrder
from laneserver.store.writes import filled

D = Decimal
AT = dt.datetime(2026, 12, 6, 10, 30, tzinfo=dt.UTC)


def test_an_order_number_is_put_where_the_hole_is():
    def order(number: int) -> OrderNow:
        return OrderNow(PurchaseOrder(number=number, stock_point="main", supplier="Cave",
                                      lines=(OrderLine("W1", D("12"), unit_cost=D("3.10")),)), {"W1": "Vin"})

    assert filled(ReplyMemory.stored(order(0)), ((0, ("order", "number")),), (417,)) == ReplyMemory.stored(order(417))


def test_a_cancel_gets_its_number_and_its_rows_numbers_also_under_int_keys():
    sale = SaleMoney(number=12, at=AT.isoformat(), lane="1", seller="marie", customer=None, total=D("8.90"),
                     paid=D("8.90"), change=D(0), rows=(Row(number=5, type="", mode="cash", amount=D("8.90")),
                                                        Row(number=6, type="", mode="card", amount=D("1"))))

    def result(number: int, numbers: tuple[int, ...]) -> SaleCancelled:
        refers = (5, 6, 5)  # two rows refer to the same: the last one is kept, as in a dict
        voucher = VoucherIssued(code="V1", amount=D("2"), valid_until=dt.date(2027, 1, 1), at=AT, origin="cancel")
        return SaleCancelled(number=number, sale=SaleMoney(**{**{f: getattr(sale, f) for f in sale.__struct_fields__},
                                                             "cancelled_by": number}),
                             others={r: (n, "ANL") for r, n in zip(refers, numbers)}, given_back={"cash": D("8.90")},
                             vouchers=(voucher,))

    holes = ((0, ("number",)), (0, ("sale", "cancelled_by")),
             *((i + 1, ("others", r, 0)) for i, r in enumerate((5, 6, 5))))
    template = ReplyMemory.stored(result(0, (0, 0, 0)))
    assert filled(template, holes, (40, 90, 91, 92)) == ReplyMemory.stored(result(40, (90, 91, 92)))


def test_no_holes_leaves_the_bytes_as_they_are():
    assert filled(b"\x81\xa1a\x01", (), (1,)) == b"\x81\xa1a\x01"
