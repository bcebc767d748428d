"""forked_map: answers in input order from forked processes, errors raised in the caller."""

from __future__ import annotations

import os

import pytest

from desivoid_ml.errors import DesivoidError
from desivoid_ml.features.forked_map import can_fork, forked_map

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork on this platform")


def test_answers_come_back_in_input_order_from_other_processes() -> None:
    answers = list(forked_map(lambda i: (i * i, os.getpid()), range(25), 2, in_flight=3))
    assert [a for a, _ in answers] == [i * i for i in range(25)]
    assert os.getpid() not in {pid for _, pid in answers}


def test_one_process_runs_here() -> None:
    assert {pid for pid in forked_map(lambda _: os.getpid(), range(5), 1)} == {os.getpid()}


def test_a_worker_error_reaches_the_caller() -> None:
    def fail_at_three(i: int) -> int:
        if i == 3:
            raise DesivoidError("chunk 3 failed")
        return i

    with pytest.raises(DesivoidError, match="chunk 3 failed"):
        list(forked_map(fail_at_three, range(8), 2))
