"""The DLE EOT status parser, the drawer kick bytes and the drawer sensor (rules/printer_status.py).

Every bit the parser reads is set alone on a fine byte (0x12: the fixed bits only),
every fixed bit is broken alone, and the bytes are checked against the ESC/POS
command reference's layout (DLE EOT n = 10 04 n; ESC p m t1 t2 = 1B 70 m t1 t2).
"""

from __future__ import annotations

import pytest

from laneserver.rules import printer_status as ps

FINE = 0x12


def test_the_requests_are_dle_eot_1_to_4_and_confirm_is_dle_eot_1():
    assert ps.POLL == bytes.fromhex("100401 100402 100403 100404".replace(" ", ""))
    assert ps.CONFIRM == bytes.fromhex("100401")


def test_a_fine_printer_is_ok_and_printable():
    state = ps.parse_poll(bytes([FINE] * 4))
    assert state is not None
    assert (state.status, state.printable, state.garbage) == ("ok", True, 0)
    assert state.flags == ps.PrinterFlags(offline=False, drawer_pin3_high=False, cover_open=False, feed_button=False,
                                          paper_end_stop=False, error=False, cutter_error=False,
                                          unrecoverable_error=False, recoverable_error=False,
                                          paper_near_end=False, paper_out=False)


# (request n, bit, the flag it sets, the status it gives alone)
BITS = [
    (1, 2, "drawer_pin3_high", "ok"),
    (1, 3, "offline", "offline"),
    (2, 2, "cover_open", "cover_open"),
    (2, 3, "feed_button", "ok"),
    (2, 5, "paper_end_stop", "paper_out"),
    (2, 6, "error", "offline"),
    (3, 3, "cutter_error", "offline"),
    (3, 5, "unrecoverable_error", "offline"),
    (3, 6, "recoverable_error", "offline"),
    (4, 2, "paper_near_end", "paper_near_end"),
    (4, 3, "paper_near_end", "paper_near_end"),
    (4, 5, "paper_out", "paper_out"),
    (4, 6, "paper_out", "paper_out"),
]


@pytest.mark.parametrize("n,bit,flag,status", BITS)
def test_each_bit_alone(n, bit, flag, status):
    reply = bytearray([FINE] * 4)
    reply[n - 1] |= 1 << bit
    state = ps.parse_poll(bytes(reply))
    assert state is not None
    assert getattr(state.flags, flag) is True
    others = {name: value for name, value in vars_of(state.flags).items() if name != flag}
    assert not any(others.values()), others
    assert state.status == status
    assert state.printable == (status in ("ok", "paper_near_end"))


def vars_of(flags: ps.PrinterFlags) -> dict[str, bool | None]:
    return {name: getattr(flags, name) for name in flags.__slots__}


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("bit,bad", [(0, 0x01), (1, 0x00), (4, 0x00), (7, 0x80)])
def test_a_byte_with_a_wrong_fixed_bit_is_garbage(n, bit, bad):
    # bits 0 and 7 must be 0, bits 1 and 4 must be 1: break one at a time.
    byte = FINE | bad if bit in (0, 7) else FINE & ~(1 << bit)
    assert ps.parse_byte(n, byte) is None
    reply = bytearray([FINE] * 4)
    reply[n - 1] = byte
    state = ps.parse_poll(bytes(reply))
    assert state is not None and state.garbage == 1 and state.status == "ok"


def test_garbage_never_reads_as_a_state():
    # A paper-out byte with bit 7 set (noise) is not "paper out".
    state = ps.parse_poll(bytes([FINE, FINE, FINE, 0x80 | 0x12 | 0x60]))
    assert state is not None and state.status == "ok" and state.flags.paper_out is None and state.garbage == 1


def test_only_garbage_or_nothing_tells_nothing():
    assert ps.parse_poll(b"") is None
    assert ps.parse_poll(b"\x00\xff\x01\x80") is None
    assert ps.parse_poll(b"ABCD") is None  # an echo of text


def test_a_short_reply_reads_what_came():
    state = ps.parse_poll(bytes([FINE | 0x08]))  # DLE EOT 1 only: offline
    assert state is not None and state.status == "offline" and state.flags.paper_out is None


def test_what_a_person_must_do_first_wins():
    cover_and_paper = bytes([FINE | 0x08, FINE | 0x04 | 0x20, FINE, FINE | 0x6C])
    assert ps.parse_poll(cover_and_paper).status == "cover_open"
    paper_and_error = bytes([FINE | 0x08, FINE | 0x40, FINE | 0x20, FINE | 0x60])
    assert ps.parse_poll(paper_and_error).status == "paper_out"
    error_and_near_end = bytes([FINE, FINE, FINE | 0x08, FINE | 0x0C])
    assert ps.parse_poll(error_and_near_end).status == "offline"


def test_confirm_needs_a_valid_byte():
    assert ps.confirmed(bytes([FINE]))
    assert ps.confirmed(bytes([FINE | 0x08]))  # an offline printer still answered: it has the bytes
    assert not ps.confirmed(b"")
    assert not ps.confirmed(b"\x00")


def test_parse_byte_wants_n_1_to_4():
    with pytest.raises(ValueError):
        ps.parse_byte(5, FINE)


# --- the drawer ------------------------------------------------------------------------------


def test_drawer_kick_bytes():
    assert ps.drawer_kick() == b"\x1bp\x00\x32\x32"  # python-escpos's pin 2 kick: 100 ms on, 100 ms off
    assert ps.drawer_kick(5) == b"\x1bp\x01\x32\x32"
    assert ps.drawer_kick(2, 50, 500) == b"\x1bp\x00\x19\xfa"
    assert ps.drawer_kick(2, 1, 510) == b"\x1bp\x00\x01\xff"
    assert ps.drawer_kick(5, 99, 101) == b"\x1bp\x01\x32\x33"  # rounded up to 2 ms steps


@pytest.mark.parametrize("pin,on,off", [(1, 100, 100), (3, 100, 100), (2, 0, 100), (2, 100, 0), (2, 511, 100),
                                        (2, 100, 600)])
def test_drawer_kick_refuses_what_the_command_cannot_say(pin, on, off):
    with pytest.raises(ValueError):
        ps.drawer_kick(pin, on, off)


def test_drawer_sensor_polarity():
    assert ps.drawer_open(True, "high") is True
    assert ps.drawer_open(False, "high") is False
    assert ps.drawer_open(True, "low") is False
    assert ps.drawer_open(False, "low") is True
    assert ps.drawer_open(True, "") is None
    assert ps.drawer_open(None, "high") is None


def test_drawer_left_open_after_the_delay():
    sensor = ps.DrawerSensor()
    sensor = ps.drawer_seen(sensor, True, now=100.0, left_open_after=60)
    assert sensor == ps.DrawerSensor(open=True, since=100.0, left_open=False)
    sensor = ps.drawer_seen(sensor, True, now=159.0, left_open_after=60)
    assert not sensor.left_open
    sensor = ps.drawer_seen(sensor, True, now=160.0, left_open_after=60)
    assert sensor == ps.DrawerSensor(open=True, since=100.0, left_open=True)
    sensor = ps.drawer_seen(sensor, False, now=161.0, left_open_after=60)
    assert sensor == ps.DrawerSensor(open=False)
    sensor = ps.drawer_seen(sensor, True, now=200.0, left_open_after=60)
    assert sensor.since == 200.0 and not sensor.left_open
    assert ps.drawer_seen(sensor, None, now=300.0, left_open_after=60) == ps.DrawerSensor(open=None)


def test_real_time_drawer_pulse_bytes():
    # DLE DC4 fn=1 m t: t in 100 ms units, 1 to 8.
    assert ps.drawer_pulse_now() == b"\x10\x14\x01\x00\x01"
    assert ps.drawer_pulse_now(5, 250) == b"\x10\x14\x01\x01\x03"
    assert ps.drawer_pulse_now(2, 1) == b"\x10\x14\x01\x00\x01"
    assert ps.drawer_pulse_now(2, 510) == b"\x10\x14\x01\x00\x06"
    with pytest.raises(ValueError):
        ps.drawer_pulse_now(3)
