"""The pure rules of the shop: no Trio, no I/O.

Everything here takes plain values (and ``now`` when time matters) and returns new
values; actors apply these rules, journal the result and talk to the world.
"""
