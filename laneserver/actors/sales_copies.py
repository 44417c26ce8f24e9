"""Copies (rules/copies.py): a sale's receipt printed again (``Reprint``) and a document's
duplicate (``ReprintDocument``). Each copy's record in the ``copy`` chain (its print
counter) is committed with its event and the remembered answer first, then the job
told to the till's printer.

Not an actor of its own: the sales actor owns it (actors/sales.py ``_do``) and lends it
its events and its answer to a failed commit.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from laneserver.actors.document_pdfs import copy_printed
from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import Caller, Keyed
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.actors.sales_messages import (
    DocumentReprinted,
    Reprint,
    ReprintDocument,
    Reprinted,
)
from laneserver.clock import Clock, shop_zone
from laneserver.config import Config
from laneserver.rules import copies, document_print
from laneserver.rules import payment as payment_rules
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.store.copies import document_copies, sale_copy
from laneserver.store.ops import ChainRecord, RecordEvent, Remember


class SaleCopies:
    """The sales actor's copies (owned by ``SalesActor``)."""

    def __init__(self, *, journal: Address, config: Config, clock: Clock, printers: dict[str, Address],
                 replies: ReplyMemory, log: Any, event: Callable[[Caller, str, Any], RecordEvent],
                 failed: Callable[[str, Keyed, CommitFailed], Refused]) -> None:
        self.journal = journal
        self.config = config
        self.clock = clock
        self.printers = printers  # lane → its printer
        self.replies = replies  # the actor's: a copy's answer is remembered with its key
        self.log = log
        self._event = event
        self._failed = failed

    async def reprint(self, caller: Caller, command: Reprint, keyed: Keyed) -> Any:
        """A copy of a sale's receipt on the till's printer: its ``copy`` record (the print
        counter) committed first, then the job told to the printer. A cashier reprints
        the sales of their own lane; a supervisor or a manager any sale."""
        sale = await read(self.journal, partial(sale_copy, number=command.sale))
        if sale is None:
            return refused(Code.NOT_FOUND, f"no sale {command.sale}", field="sale")
        if caller.lane is None:
            return refused(Code.FORBIDDEN, "a copy is printed on a till's printer: this device has no lane")
        if caller.role == "cashier" and sale.lane != caller.lane:
            return refused(Code.FORBIDDEN, f"sale {sale.number} was made on lane {sale.lane}: a cashier reprints the "
                                           "sales of their own lane (a supervisor or a manager any sale)", field="sale")
        printer = self.printers.get(caller.lane)
        if printer is None:
            return refused(Code.NOT_SUPPORTED, f"lane {caller.lane} has no printer to print the copy on")
        counter = copies.next_print(sale.prints, command.kind)
        if isinstance(counter, Refused):
            return counter
        now = self.clock.now()
        answer = Reprinted(sale=sale.number, kind=command.kind, copy=counter)
        record = copies.copy_record(sale=sale.number, kind=command.kind, counter=counter, lane=caller.lane or "",
                                    device=caller.device, seller=caller.seller)
        failed = await self._commit_copy(caller, keyed, now, record, "SaleReprinted", record, answer)
        if failed is not None:
            return failed
        self.log.info("sale_reprinted", sale=sale.number, kind=command.kind, copy=counter, seller=caller.seller)
        shop = self.config.shop
        receipt = copies.copy_receipt(sale, command.kind, counter, printed_at=now, shop_name=shop.name,
                                      header=tuple(shop.header), footer=tuple(shop.footer), labels=self._labels())
        await printer.tell(PrintReceipt(job=f"copy-{sale.number}-{counter}", receipt=receipt))
        return answer

    async def reprint_document(self, caller: Caller, command: ReprintDocument, keyed: Keyed) -> Any:
        """A copy of a document (a duplicate): its ``copy`` record (the document's print
        counter; its original is print 1) committed first, then the job told to the
        till's printer (``output`` printer or both); the edge renders the PDF from the
        answer (pdf or both). Documents are the shop's, not a lane's: any seller whom
        the roles table lets reprint copies any document."""
        checked = copies.next_document_print(0, command.copy_kind, command.output)
        if isinstance(checked, Refused):
            return checked
        name = document_print.document_name(command.kind, command.number)
        printed = await copy_printed(self.journal, self.config, command.kind, command.number)
        if printed is None:
            return refused(Code.NOT_FOUND, f"no document {name}", field="document")
        printer = None
        if command.output != "pdf":
            if caller.lane is None:
                return refused(Code.FORBIDDEN, "a copy is printed on a till's printer: this device has no lane "
                                               "(ask output pdf)", field="output")
            printer = self.printers.get(caller.lane)
            if printer is None:
                return refused(Code.NOT_SUPPORTED, f"lane {caller.lane} has no printer to print the copy on "
                                                   "(ask output pdf)", field="output")
        counter = copies.next_document_print(await read(self.journal, partial(document_copies, document=name)),
                                             command.copy_kind, command.output)
        assert not isinstance(counter, Refused)  # checked above
        now = self.clock.now()
        answer = DocumentReprinted(document=name, document_kind=command.kind, kind=command.copy_kind, copy=counter,
                                   at=now, output=command.output)
        record = copies.document_copy_record(document=name, kind=command.copy_kind, counter=counter,
                                             lane=caller.lane, device=caller.device, seller=caller.seller)
        failed = await self._commit_copy(caller, keyed, now, record, "DocumentReprinted",
                                         {**record, "output": command.output}, answer)
        if failed is not None:
            return failed
        self.log.info("document_reprinted", document=name, copy=counter, output=command.output,
                      seller=caller.seller)
        if printer is not None:
            copy = document_print.duplicate(printed, counter, now.astimezone(shop_zone(self.config.shop.timezone)))
            receipt = document_print.copy_receipt(copy, lane=caller.lane or "", seller=caller.seller or "",
                                                  footer=tuple(self.config.shop.footer))
            await printer.tell(PrintReceipt(job=f"copy-{name}-{counter}", receipt=receipt))
        return answer

    async def _commit_copy(self, caller: Caller, keyed: Keyed, now: Any, record: dict[str, Any], event: str,
                           data: Any, answer: Any) -> Refused | None:
        """The copy's record chained, its event, and its answer remembered with the request's
        key, in one unit; None once durable (the answer remembered in memory too), or the
        refusal of a failed commit."""
        ops: list[Any] = [ChainRecord(chain="copy", at=now, record=record), self._event(caller, event, data)]
        if keyed.key is not None:
            ops.append(Remember(device=caller.device, key=keyed.key, actor=self.replies.actor,
                                fingerprint=keyed.fingerprint, reply=ReplyMemory.stored(answer), at=now))
        try:
            await commit(self.journal, *ops)
        except CommitFailed as error:
            return self._failed(event, keyed, error)
        self.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, answer)
        return None

    def _labels(self) -> dict[str, str]:
        """The shop's own payment modes' labels (a built-in mode: the printer names it)."""
        builtin = {mode.id for mode in payment_rules.BUILTIN_MODES}
        return {m.id: m.label or m.id for m in self.config.payment_modes if m.id not in builtin}
