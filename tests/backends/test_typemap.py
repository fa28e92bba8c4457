"""Type calibration on the three known numbering schemes, and where it must refuse."""
import pytest

from ntinspect.backends.typemap import CalibrationError, TypeRule, calibrate

NAMES = ["Type", "Directory", "SymbolicLink", "Token", "Job", "Process", "Thread", "DebugObject", "Event", "Mutant"]


def types_with(type_index_of):
    return [(type_index_of(position), name) for position, name in enumerate(NAMES)]


def test_windows_81_uses_type_index():
    types = types_with(lambda p: p + 2)
    rule, mapping = calibrate(types, {10: "Event", 7: "Process"})
    assert rule == TypeRule("type_index", 0)
    assert mapping[10] == "Event" and mapping[2] == "Type"


def test_wine_reports_positions():
    # Wine: NtQueryObject's TypeIndex is position + 2, the handle table reports the position
    types = types_with(lambda p: p + 2)
    rule, mapping = calibrate(types, {8: "Event", 5: "Process", 6: "Thread"})
    assert rule == TypeRule("position", 0)
    assert mapping[8] == "Event"


def test_before_81_position_plus_two_with_no_type_index():
    types = types_with(lambda p: 0)
    rule, mapping = calibrate(types, {10: "event", 7: "PROCESS"})  # names compare case-insensitively
    assert rule == TypeRule("position", 2)
    assert mapping[2] == "Type"


def test_one_type_is_not_enough():
    with pytest.raises(CalibrationError, match="two or more"):
        calibrate(types_with(lambda p: p + 2), {8: "Event", 9: "event"})


def test_contradictory_observations_refuse():
    with pytest.raises(CalibrationError, match="no rule"):
        calibrate(types_with(lambda p: p + 2), {8: "Event", 8 + 40: "Process"})


def test_unnamed_observations_decide_nothing_and_stay_unmapped():
    # Wine: some handles sit at table index 0 and NtQueryObject gives them no type name
    types = types_with(lambda p: p + 2)
    rule, mapping = calibrate(types, {0: "", 8: "Event", 5: "Process"})
    assert rule == TypeRule("position", 0)
    assert 0 not in mapping and mapping[8] == "Event"
