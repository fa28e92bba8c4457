"""Which number does the handle table use for each object type? Decided by calibration.

ObjectTypesInformation lists the types in order, each with a TypeIndex (Windows 8.1+).
Handle tables report TypeIndex on 8.1+, the position + 2 before 8.1, and under Wine the
position itself (NtQueryObject says position + 2). Rather than trusting the version, we
compare candidate rules with a few handles whose type we asked directly, and keep the
first rule that explains all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

from ..errors import NtInspectError


@dataclass(frozen=True)
class TypeRule:
    """``table index = (TypeIndex if base == "type_index" else position) + offset``."""

    base: str
    offset: int

    def index(self, position: int, type_index: int) -> int:
        return (type_index if self.base == "type_index" else position) + self.offset


CANDIDATES: Tuple[TypeRule, ...] = (
    TypeRule("type_index", 0),  # Windows 8.1 and later
    TypeRule("position", 2),  # Windows before 8.1
    TypeRule("position", 0),  # Wine 8 (TypeIndex there is position + 2)
    *(TypeRule("type_index", d) for d in (-2, -1, 1, 2)),
    *(TypeRule("position", d) for d in (1, 3)),
)


def candidates_for(numbering: str) -> Tuple[TypeRule, ...]:
    """:data:`CANDIDATES` with the rule a dialect expects first (``"type_index"``,
    ``"position+2"``, ``"position"``: :attr:`ntinspect.system.Dialect.type_numbering`)."""
    base, _, offset = numbering.partition("+")
    expected = TypeRule(base, int(offset or 0))
    return (expected, *(rule for rule in CANDIDATES if rule != expected))


class CalibrationError(NtInspectError):
    """No candidate rule explains the observed handle types."""


def calibrate(
    types: Sequence[Tuple[int, str]],
    observed: Mapping[int, str],
    candidates: Iterable[TypeRule] = CANDIDATES,
) -> Tuple[TypeRule, Dict[int, str]]:
    """The rule and the ``{table index: type name}`` map that agree with ``observed``.

    ``types`` lists ``(TypeIndex, name)`` in ObjectTypesInformation order; ``observed`` maps
    table indices to the names NtQueryObject gave for handles of ours. Needs at least two
    observations of distinct types, so one coincidence cannot decide. An index whose
    handles have no type name (Wine reports some objects so, at index 0) decides nothing
    and stays out of the map: its handles show as ``#index``, not as a guessed type.
    """
    unnamed = {index for index, name in observed.items() if not name}
    observed = {index: name for index, name in observed.items() if name}
    if len({name.lower() for name in observed.values()}) < 2:
        raise CalibrationError(f"need handles of two or more types to calibrate, have {dict(observed)}")
    for rule in candidates:
        mapping = {rule.index(position, type_index): name for position, (type_index, name) in enumerate(types)}
        if all(mapping.get(index, "").lower() == name.lower() for index, name in observed.items()):
            return rule, {index: name for index, name in mapping.items() if index not in unnamed}
    raise CalibrationError(f"no rule maps table indices {dict(observed)} onto the {len(types)} object types")


def lookup_rule(types: Sequence[Tuple[int, str]], rule: Optional[TypeRule]) -> Dict[int, str]:
    """The map for a known rule (after calibration once)."""
    if rule is None:
        return {}
    return {rule.index(position, type_index): name for position, (type_index, name) in enumerate(types)}
