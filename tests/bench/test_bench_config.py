"""The bench's bounds: a pinned rate basis for before/after pairs, checked where it enters."""

from __future__ import annotations

import pytest

from devtools.bench.__main__ import parse
from devtools.bench.config import FULL


def test_the_rate_basis_is_measured_unless_pinned() -> None:
    measured, _ = parse(["--mode", "full"])
    pinned, _ = parse(["--mode", "full", "--rate-basis", "8600"])
    assert measured.rate_basis == 0
    assert pinned.rate_basis == 8600


@pytest.mark.parametrize("basis", [-1.0, FULL.offered_rate_max + 1])
def test_a_rate_basis_out_of_bounds_is_refused(basis: float) -> None:
    with pytest.raises(ValueError, match="rate_basis"):
        parse(["--mode", "full", "--rate-basis", str(basis)])


def test_the_progress_poll_is_a_tenth_of_a_second_unless_given() -> None:
    default, _ = parse(["--mode", "full"])
    given, _ = parse(["--mode", "full", "--progress-poll-s", "1"])
    assert default.progress_poll_s == 0.1
    assert given.progress_poll_s == 1.0


@pytest.mark.parametrize("poll_s", [0.0, 0.001, 5.5])
def test_a_progress_poll_out_of_bounds_is_refused(poll_s: float) -> None:
    with pytest.raises(ValueError, match="progress_poll_s"):
        parse(["--mode", "full", "--progress-poll-s", str(poll_s)])
