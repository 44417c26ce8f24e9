"""actors/replies.py's domain form: results remembered under a key, journaled as
MessagePack and decoded with the actor's result type; frames from before come back
as ``Replayed``; a key reused for another request is refused."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import msgspec

from laneserver.actors.journal import CommitFailed
from laneserver.actors.replies import Replayed, ReplyMemory
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.server.outcomes import refusal_frame


class Done(msgspec.Struct, frozen=True, tag=True):
    total: Decimal
    level: Fraction


Result = Done | Refused


def test_a_remembered_result_comes_back_for_the_same_key_and_request():
    memory = ReplyMemory("lane:1", Result)
    result = Done(Decimal("2.50"), Fraction(1, 3))
    memory.remember_result("pda-1", "k1", "fp", result)
    assert memory.recall_result("pda-1", "k1", "fp") == result
    assert memory.recall_result("pda-1", "k2", "fp") is None
    assert memory.recall_result("pda-2", "k1", "fp") is None
    assert memory.recall_result("pda-1", None, "fp") is None


def test_a_key_used_for_another_request_is_refused_with_key_reused():
    memory = ReplyMemory("lane:1", Result)
    memory.remember_result("pda-1", "k1", "fp", Done(Decimal(1), Fraction(1)))
    again = memory.recall_result("pda-1", "k1", "other")
    assert isinstance(again, Refused) and again.code == Code.CONFLICT and again.details == {"key_reused": True}


def test_answered_gives_the_first_reply_before_the_edges_refusal_then_the_refusal():
    """Every actor's ``Do`` starts here: a retry's first reply though the edge refused
    translating it now (the catalog changed), else that refusal, else None: carry it out."""
    memory = ReplyMemory("stock:main", Result)
    first = Done(Decimal("4"), Fraction(4))
    memory.remember_result("pda-1", "k1", "fp", first)
    unknown = refused(Code.UNKNOWN_CODE, "unknown code '3451203000279'")
    assert memory.answered("pda-1", "k1", "fp", unknown) == first
    assert memory.answered("pda-1", "k1", "fp", "count") == first
    reused = memory.answered("pda-1", "k1", "other", unknown)
    assert isinstance(reused, Refused) and reused.details == {"key_reused": True}
    assert memory.answered("pda-1", "k2", "fp", unknown) is unknown
    assert memory.answered("pda-1", None, None, unknown) is unknown
    assert memory.answered("pda-1", "k2", "fp", "count") is None


def test_a_journaled_result_is_decoded_with_the_actors_type_and_a_frame_from_before_is_replayed():
    memory = ReplyMemory("lane:1", Result)
    result = Done(Decimal("0.10"), Fraction(7, 2))
    memory._replies[("pda-1", "k1")] = ("fp", ReplyMemory.stored(result))
    memory._replies[("pda-1", "k2")] = (None, b'{"type":"ok","re":1}')
    assert memory.recall_result("pda-1", "k1", "fp") == result
    assert memory.recall_result("pda-1", "k2", "anything") == Replayed(b'{"type":"ok","re":1}')


def test_a_failed_commit_is_a_refusal_naming_a_reused_key():
    failed = ReplyMemory.failed_result(CommitFailed("x", key_reused=True), "k1", "not saved")
    assert failed.code == Code.CONFLICT and failed.details["key_reused"] is True
    assert ReplyMemory.failed_result(CommitFailed("x"), "k1", "not saved") == Refused(Code.INTERNAL, "not saved")


def test_a_refusal_becomes_an_error_frame_with_the_fields_the_frame_has():
    frame = refusal_frame(None, refused(Code.CONFLICT, "line 3 is paid", line=3, unknown_detail="x"))
    assert msgspec.json.decode(frame) == {"type": "error", "code": "conflict", "message": "line 3 is paid", "line": 3}


def test_a_reply_is_forgotten_a_week_after_it_was_remembered(monkeypatch):
    """A running actor's memory holds about a week of keyed requests (what a restart
    loads), not every one since it started: some 0.7 KB each for a lane's, every web
    till request carrying a key."""
    from laneserver.actors import replies

    now = [1000.0]
    monkeypatch.setattr(replies, "_seconds", lambda: now[0])
    memory = ReplyMemory("lane:1", Result)
    for key in ("k1", "k2"):
        memory.remember_result("till-1", key, "fp", Done(Decimal(1), Fraction(1)))
    now[0] += replies.KEEP.total_seconds() - 1
    memory.remember_result("till-1", "k3", "fp", Done(Decimal(3), Fraction(1)))
    assert memory.recall_result("till-1", "k1", "fp") is not None  # not a week yet
    now[0] += 2
    memory.remember_result("till-1", "k4", "fp", Done(Decimal(4), Fraction(1)))
    assert [memory.recall_result("till-1", k, "fp") is not None for k in ("k1", "k2", "k3", "k4")] == [
        False, False, True, True]
    assert len(memory._replies) == 2
