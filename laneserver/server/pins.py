"""Every PIN the server checks goes through here: a seller's sign-in and every
supervisor's PIN (discount above the cap, refund, drawer, balance correction, sales
corrections).

Wrong PINs are counted on two keys, durably (table ``pin_failures``, through the
journal), with the pure rules of ``rules/auth.py`` (``PinPolicy``):

- the **device** the PIN was typed on: every wrong PIN, whatever the name (an unknown
  name, a supervisor PIN that matches no one);
- the **seller** named by a sign-in (the name typed, whether such a seller exists or
  not, so the count does not tell which names exist): a lock follows the seller to
  every device.

A good PIN forgets that seller's own count and nothing else: never the device's count,
so a cashier who knows her own PIN cannot wipe the count between guesses at another's.

Check and count are one step per key: a lock per device and per seller name is held
from reading the count to writing it, so parallel connections wait for each other and
together get no more tries than one would. Locks are taken device first, then seller
(a seller's lock is only ever taken while holding a device's), so two checks cannot wait
on each other. One server owns a data folder, so locks in this process are enough.

A good sign-in PIN is remembered in memory (``rules/auth.py`` ``PinMemory``: a keyed
hash of the seller, the stored hash and the PIN), so the same seller signing in again
costs microseconds, not a scrypt; it is looked at only once the locks are held and the
key is not locked out, exactly where the scrypt was, so the lock-out counts the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial

import trio

from laneserver.actors.journal import commit, read
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.log import get_logger
from laneserver.rules import jet
from laneserver.rules.auth import (
    PinMemory,
    PinPolicy,
    PinRecord,
    check_pin,
    locked_seconds,
    pin_current,
    pin_failed,
    seller_name_problem,
    tries_left,
)
from laneserver.server.supervisor_pins import approving_supervisor
from laneserver.store import reads
from laneserver.store.ops import ChainRecord, Op, PutPinRecord, RecordEvent

# Hashed for an unknown seller too, so the answer's timing does not tell which names exist.
_DUMMY_HASH = "scrypt$16384$8$1$00$" + "00" * 32


@dataclass(frozen=True)
class PinRefused:
    """A PIN not accepted: ``locked`` (nothing was checked: wait ``locked_seconds``) or
    wrong (``tries_left`` before a lock-out; ``locked_seconds`` set when this one locked)."""

    locked: bool
    tries_left: int
    locked_seconds: int


class _KeyedLocks:
    """One ``trio.Lock`` per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[trio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = trio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class PinGate:
    def __init__(self, journal: Address, clock: Clock, policy: PinPolicy) -> None:
        self.journal = journal
        self.clock = clock
        self.policy = policy
        self._locks = _KeyedLocks()
        # Good sign-in PINs, remembered as a keyed hash in this process only.
        self.memory = PinMemory()
        self.recalled = 0  # sign-ins checked by ``memory`` (no scrypt)
        self.log = get_logger("pins")

    async def check_sign_in(self, device: str, name: str, pin: str) -> reads.Seller | PinRefused:
        """The seller ``name`` when ``pin`` is theirs and they may sign in, else why not.

        Raises:
            ReadFailed, CommitFailed, ActorFailed: the journal could not read or count.
        """
        seller = await read(self.journal, partial(reads.seller, name=name))
        # Counted under the name typed whether or not such a seller exists, so that
        # ``tries_left`` does not tell which names exist; a name no seller can have
        # (rules/auth.py) is counted on the device only.
        named = seller_name_problem(name) is None
        keys = [("device", device)] + ([("seller", name)] if named else [])
        async with AsyncExitStack() as held:
            for scope, key in keys:  # device first: see the module's docstring
                await held.enter_async_context(self._locks.hold(f"{scope}:{key}"))
            records = await self._records(keys)
            refused = self._locked(records)
            if refused is not None:
                return refused
            stored = seller.pin_hash if seller is not None else _DUMMY_HASH
            # A seller signing in again with the PIN last checked good against this very
            # hash: a keyed hash in memory, microseconds. Anything else (a wrong PIN
            # included, so guessing costs what it did) is the full scrypt.
            good = seller is not None and seller.active and self.memory.recalls(seller.name, stored, pin)
            if good:
                self.recalled += 1
            else:
                good = await trio.to_thread.run_sync(check_pin, pin, stored)
                if good and seller is not None:
                    self.memory.remember(seller.name, stored, pin)
            if seller is None or not seller.active or not good:
                return await self._failed(records, device=device, seller=name if named else None, purpose="sign_in")
            await self._succeeded(seller.name)
            return seller

    async def check_supervisor(self, device: str, pin: str, *, request: str | None = None,
                               seller: str | None = None) -> str | PinRefused:
        """The active supervisor or manager whose PIN ``pin`` is, else why not. A PIN that
        matches no one counts against the device only (it names no seller).

        ``request``: the verb approved (with ``seller``, who asked): a good PIN writes
        the JET's ``approval`` entry with it, in the unit that forgets the supervisor's
        wrong PINs.

        Raises:
            ReadFailed, CommitFailed, ActorFailed: the journal could not read or count.
        """
        keys = [("device", device)]
        async with self._locks.hold(f"device:{device}"):
            records = await self._records(keys)
            refused = self._locked(records)
            if refused is not None:
                return refused
            name = await approving_supervisor(self.journal, pin, self.memory)
            if name is None:
                return await self._failed(records, device=device, seller=None, purpose="approval")
        approval = None if request is None else ChainRecord(chain="jet", at=self.clock.now(), record=jet.jet_record(
            jet.APPROVAL, device=device, supervisor=name, request=request, seller=seller))
        async with self._locks.hold(f"seller:{name}"):
            await self._succeeded(name, approval)
        return name

    async def _records(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], PinRecord]:
        stored = await read(self.journal, partial(reads.pin_records, keys=keys))
        now = self.clock.now()
        return {key: pin_current(stored.get(key), now, self.policy) for key in keys}

    def _locked(self, records: dict[tuple[str, str], PinRecord]) -> PinRefused | None:
        now = self.clock.now()
        wait = max(locked_seconds(record, now) for record in records.values())
        if wait > 0:
            return PinRefused(locked=True, tries_left=0, locked_seconds=wait)
        return None

    async def _failed(self, records: dict[tuple[str, str], PinRecord], *, device: str,
                      seller: str | None, purpose: str) -> PinRefused:
        """Count a wrong PIN (``purpose``: ``sign_in`` or ``approval``) on every key, with
        its JET entries (``pin_failed``, and ``pin_locked`` per key it locks) in the same unit."""
        now = self.clock.now()
        ops: list[Op] = [ChainRecord(chain="jet", at=now, record=jet.jet_record(
            jet.PIN_FAILED, device=device, purpose=purpose, seller=seller))]
        left, wait = self.policy.max_failures, 0
        for (scope, name), record in records.items():
            after, locked = pin_failed(record, now, self.policy)
            ops.append(PutPinRecord(scope=scope, name=name, record=after))
            left = min(left, tries_left(after, self.policy) if not locked else 0)
            if locked:
                seconds = locked_seconds(after, now)
                wait = max(wait, seconds)
                ops.append(RecordEvent(at=now, source="pins", kind="pin_locked", device=device, seller=seller,
                                       data={"scope": scope, "name": name, "seconds": seconds,
                                             "lockouts": after.lockouts}))
                ops.append(ChainRecord(chain="jet", at=now, record=jet.jet_record(
                    jet.PIN_LOCKED, device=device, scope=scope, name=name, seconds=seconds)))
                self.log.warning("pin_locked", scope=scope, name=name, device=device, seconds=seconds)
        await commit(self.journal, *ops)
        return PinRefused(locked=False, tries_left=left, locked_seconds=wait)

    async def _succeeded(self, seller: str, *also: Op) -> None:
        await commit(self.journal, PutPinRecord(scope="seller", name=seller, record=None), *also)
