"""Test helpers for the layout tests: sample values derived from a layout, and the
construct-tests style round-trip check (parse, build, sizeof and the compiled variant)."""
import random
import re

from construct import (Array, BitsInteger, Bytes, Construct, Container, Flag, FormatField, Padded,
                       Pass, Peek, Renamed, Struct, Subconstruct)

from ntinspect.layouts import CountedArray, parse
from ntinspect.layouts.base import static_size

_THIS_FIELD = re.compile(r"^this\['(\w+)'\]$")


def _length_field(expression):
    """The field name of a ``this.Field`` length, or None for a constant."""
    match = _THIS_FIELD.match(repr(expression))
    return match.group(1) if match else None


def _integer(field: FormatField, rng: random.Random) -> int:
    bits = 8 * field.length
    if field.fmtstr[-1].islower():
        return rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))
    return rng.randrange(1 << bits)


def sample(con: Construct, rng: random.Random, max_count: int = 3):
    """A random value ``con`` can build: counts and lengths agree with their arrays."""
    if isinstance(con, Renamed):
        return sample(con.subcon, rng, max_count)
    if isinstance(con, FormatField):
        return _integer(con, rng)
    if isinstance(con, Struct):
        value = Container()
        for field in con.subcons:
            body = field
            while isinstance(body, Renamed):
                body = body.subcon
            if not field.name or isinstance(body, Peek) or (isinstance(body, Padded) and body.subcon is Pass):
                continue
            if isinstance(body, CountedArray):
                count = rng.randint(0, max_count)
                value[body.count_field] = count
                value[field.name] = [sample(body.subcon, rng, max_count) for _ in range(count)]
            elif isinstance(body, Bytes) and _length_field(body.length):
                data = rng.randbytes(rng.randint(0, 20))
                value[_length_field(body.length)] = len(data)
                value[field.name] = data
            else:
                value[field.name] = sample(body, rng, max_count)
        return value
    if isinstance(con, Bytes):
        return rng.randbytes(con.length)
    if isinstance(con, Array):
        return [sample(con.subcon, rng, max_count) for _ in range(con.count)]
    if con is Flag or type(con) is type(Flag):
        return rng.random() < 0.5
    if isinstance(con, BitsInteger):
        low = -(1 << (con.length - 1)) if con.signed else 0
        return rng.randrange(low, low + (1 << con.length))
    if isinstance(con, Subconstruct):  # ByteSwapped / Bitwise wrappers of bit structures
        return sample(con.subcon, rng, max_count)
    raise TypeError(f"no sampler for {con!r}")


def contains(parsed, built_from) -> bool:
    """Every field given to build comes back from parse (parse may add overlay members)."""
    if isinstance(built_from, dict):
        return all(contains(parsed[key], value) for key, value in built_from.items())
    if isinstance(built_from, list):
        return len(parsed) == len(built_from) and all(map(contains, parsed, built_from))
    return parsed == built_from


def check_roundtrip(struct: Construct, value) -> bytes:
    """Build ``value``, parse it back, rebuild; the compiled variant must agree on all of it,
    and sizeof must equal the built length for static structures. Returns the bytes."""
    data = struct.build(value)
    parsed = struct.parse(data)
    assert contains(parsed, value)
    assert struct.build(parsed) == data
    compiled = struct.compile()
    assert compiled.parse(data) == parsed
    assert compiled.build(parsed) == data
    assert parse(struct, data) == parsed
    assert parse(compiled, data) == parsed
    size = static_size(struct)
    if size is not None:
        assert size == len(data) == compiled.sizeof()
    return data
