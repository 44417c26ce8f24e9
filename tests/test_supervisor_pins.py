"""A supervisor's PIN checked good once (a sign-in or an approval) is recalled without a
scrypt; a changed PIN hash or another approver's name is not."""

from __future__ import annotations

from laneserver.rules.auth import PinMemory, hash_pin
from laneserver.server.supervisor_pins import recalled_approver


def test_a_good_pin_is_recalled_for_its_approver_only_and_not_after_a_change():
    anne, bruno = hash_pin("4321"), hash_pin("9876")
    approvers = [("anne", anne), ("bruno", bruno)]
    memory = PinMemory()
    assert recalled_approver("4321", approvers, memory) is None  # nothing checked yet: scrypt
    memory.remember("anne", anne, "4321")
    assert recalled_approver("4321", approvers, memory) == "anne"
    assert recalled_approver("9876", approvers, memory) is None  # bruno's: never checked here
    assert recalled_approver("0000", approvers, memory) is None
    changed = [("anne", hash_pin("4321")), ("bruno", bruno)]  # a new hash (new salt): scrypt again
    assert recalled_approver("4321", changed, memory) is None
