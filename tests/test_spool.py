"""The store-and-forward spool: FIFO, every field kept, bounded, and nothing appended lost to a crash or kill -9."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from line_adapters.spool import Spool
from mes.telemetry import Reading

T0 = datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def batch(number: int, size: int = 10) -> list[Reading]:
    """A batch whose readings carry their batch number as value, so order and duplicates show."""
    return [Reading(i, T0 + timedelta(seconds=number, microseconds=i), float(number), None, 0,
                    T0 + timedelta(seconds=number, milliseconds=20)) for i in range(size)]


def numbers(readings: list[Reading]) -> list[int]:
    """The batch numbers in order of appearance, one per batch."""
    out: list[int] = []
    for r in readings:
        if not out or out[-1] != int(r.value or 0):
            out.append(int(r.value or 0))
    return out


def drain(spool: Spool) -> list[Reading]:
    """Everything spooled, read without acknowledging it."""
    return spool.peek(10**9)[1]


def segment_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.seg"))


def test_batches_come_out_oldest_first_and_whole(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        for n in range(5):
            assert spool.append(batch(n))
        token, first = spool.peek(25)
        assert numbers(first) == [0, 1] and len(first) == 20  # a third batch would pass 25 readings
        spool.ack(token)
        assert numbers(spool.peek(25)[1]) == [2, 3]


def test_a_batch_larger_than_the_peek_limit_still_comes_out_whole(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        spool.append(batch(0, size=100))
        assert len(spool.peek(10)[1]) == 100


def test_peeking_without_ack_gives_the_same_batches_again(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        spool.append(batch(0))
        spool.append(batch(1))
        assert spool.peek(10) == spool.peek(10)
        assert numbers(spool.peek(10)[1]) == [0]


def test_every_field_round_trips(tmp_path: Path) -> None:
    readings = [
        Reading(1, T0, None, None, 0x808B0000, T0 + timedelta(microseconds=1)),
        Reading(2, T0, math.inf, None, 0, T0, backfilled=True),
        Reading(3, T0, -math.inf, "", 0x40000000, T0),
        Reading(4, datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), -0.0, "Läuft – ОК ✓", 0, T0),
        Reading(2**32 - 1, datetime(2099, 1, 1, 0, 0, 0, 1, tzinfo=UTC), 1e308, "x" * 5000, 2**32 - 1, T0),
        Reading(6, T0, 42.125, "42", 0, T0, backfilled=False),
    ]
    nan = Reading(5, T0, math.nan, None, 0, T0)
    with Spool(tmp_path, 1 << 20) as spool:
        spool.append([*readings, nan])
        out = drain(spool)
    assert out[:-1] == readings
    assert out[-1].value is not None and math.isnan(out[-1].value)
    assert all(r.source_time.tzinfo is UTC and r.received_at.tzinfo is UTC for r in out)
    assert out[3].value is not None and math.copysign(1, out[3].value) == -1


def test_an_aware_non_utc_time_comes_back_as_the_same_instant_in_utc(tmp_path: Path) -> None:
    cet = datetime(2026, 11, 24, 9, 0, 0, 7, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    with Spool(tmp_path, 1 << 20) as spool:
        spool.append([Reading(1, cet, 1.0, None, 0, cet)])
        assert drain(spool)[0].source_time == datetime(2026, 11, 24, 9, 0, 0, 7, tzinfo=UTC)


def test_an_empty_batch_is_accepted_and_spools_nothing(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        assert spool.append([])
        assert spool.depth == (0, 0)


def test_depth_counts_the_readings_and_bytes_not_yet_acked(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        spool.append(batch(0, 7))
        spool.append(batch(1, 3))
        assert spool.depth.readings == 10
        assert spool.depth.bytes == sum(f.stat().st_size for f in segment_files(tmp_path))
        spool.ack(spool.peek(7)[0])
        assert spool.depth.readings == 3


def test_a_full_spool_refuses_the_batch_and_names_each_tags_span(tmp_path: Path) -> None:
    with Spool(tmp_path, 2000) as spool:
        while spool.append(batch(0)):
            pass
        depth = spool.depth
        refused = batch(1) + batch(2)
        result = spool.append(refused)
        assert not result and not result.accepted
        assert result.rejected[3] == (refused[3].source_time, refused[13].source_time)
        assert set(result.rejected) == set(range(10))
        assert spool.depth == depth  # nothing of the refused batch went to disk
        assert spool.near_full and spool.fill <= 1


def test_acking_makes_room_again(tmp_path: Path) -> None:
    with Spool(tmp_path, 2000) as spool:
        while spool.append(batch(0)):
            pass
        spool.ack(spool.peek(10)[0])
        assert spool.append(batch(1))


def test_near_full_turns_true_past_the_threshold(tmp_path: Path) -> None:
    with Spool(tmp_path, 10_000, near_full=0.8) as spool:
        while spool.fill < 0.8:
            assert not spool.near_full
            spool.append(batch(0))
        assert spool.near_full


def test_reopening_after_close_yields_the_unacked_batches_in_order(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        for n in range(4):
            spool.append(batch(n))
    with Spool(tmp_path, 1 << 20) as spool:
        assert numbers(drain(spool)) == [0, 1, 2, 3]
        assert spool.depth.readings == 40
        spool.append(batch(4))
        assert numbers(drain(spool)) == [0, 1, 2, 3, 4]


def test_a_batch_acked_is_not_replayed_after_reopen(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20, segment_bytes=1000) as spool:
        for n in range(6):
            spool.append(batch(n))
        spool.ack(spool.peek(30)[0])
    with Spool(tmp_path, 1 << 20) as spool:
        assert numbers(drain(spool)) == [3, 4, 5]


@pytest.mark.parametrize("damage", ["truncated mid-payload", "truncated mid-header", "payload garbled",
                                    "zero-filled tail"])
def test_a_torn_tail_is_discarded_and_the_rest_kept(tmp_path: Path, damage: str) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        for n in range(3):
            spool.append(batch(n))
    [segment] = segment_files(tmp_path)
    data = segment.read_bytes()
    if damage == "truncated mid-payload":
        segment.write_bytes(data[:-5])
    elif damage == "truncated mid-header":
        segment.write_bytes(data + b"\x01\x02\x03")
    elif damage == "zero-filled tail":  # what a filesystem may show of an extent allocated but never written
        segment.write_bytes(data + bytes(4096))
    else:
        segment.write_bytes(data[:-5] + b"\xff" + data[-4:])
    with Spool(tmp_path, 1 << 20) as spool:
        kept = 3 if damage in ("truncated mid-header", "zero-filled tail") else 2
        assert numbers(drain(spool)) == list(range(kept))
        spool.append(batch(9))  # lands right after the last whole record, not after the garbage
    with Spool(tmp_path, 1 << 20) as spool:
        assert numbers(drain(spool)) == [*range(kept), 9]


def test_segment_files_are_deleted_once_acked(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20, segment_bytes=1000) as spool:
        for n in range(20):
            spool.append(batch(n))
        assert len(segment_files(tmp_path)) > 5
        token, _ = spool.peek(100)
        spool.ack(token)
        assert numbers(drain(spool))[0] == 10
        assert len(segment_files(tmp_path)) < 20 - 5
        assert all(int(p.stem) >= token.segment for p in segment_files(tmp_path))
        spool.ack(spool.peek(10**9)[0])
        assert len(segment_files(tmp_path)) == 1  # the one being written to
        assert spool.depth == (0, 0)
    with Spool(tmp_path, 1 << 20) as spool:
        assert drain(spool) == []


def test_a_second_opening_of_the_same_folder_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20), pytest.raises(RuntimeError, match="another process"):
        Spool(tmp_path, 1 << 20)


CHILD = textwrap.dedent("""
    import sys
    from tests.test_spool import batch
    from line_adapters.spool import Spool

    def say(*words):
        sys.stdout.write(" ".join(map(str, words)) + "\\n")
        sys.stdout.flush()

    spool = Spool(sys.argv[1], 1 << 30, segment_bytes=64 << 10)
    n = int(sys.argv[2])
    while True:
        spool.append(batch(n, size=50))
        say("appended", n)
        if n % 10 == 9:  # drain the oldest five batches, as the writer does after a commit
            token, readings = spool.peek(250)
            say("peeked", readings[-1].value)
            spool.ack(token)
            say("acked", readings[-1].value)
        n += 1
""")


@pytest.mark.parametrize("round_", range(3))
def test_kill_9_loses_no_batch_that_was_appended_and_replays_none_acked(tmp_path: Path, round_: int) -> None:
    start, heads = 0, {0}  # heads: where the spool may begin, given the acks the child reported
    for _ in range(2):  # killed twice in a row: recovery itself must leave a spool that survives the next kill
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(start)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.startswith("appended"), "the child died before its first append"
        time.sleep(0.05 + 0.07 * round_)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        said = [line.split() for line in (first + child.stdout.read()).split("\n")[:-1]]  # last: cut short or ""
        appended = [int(float(n)) for word, n in said if word == "appended"]
        for word, n in said:  # an ack that returned is final; one in flight may or may not have landed
            if word == "peeked":
                heads = heads | {int(float(n)) + 1}
            elif word == "acked":
                heads = {int(float(n)) + 1}
        with Spool(tmp_path, 1 << 30) as spool:
            readings = drain(spool)
        found = numbers(readings)
        assert len(readings) == 50 * len(found)  # no batch torn, none doubled
        assert found == list(range(found[0], found[-1] + 1))
        assert found[0] in heads
        assert found[-1] in {appended[-1], appended[-1] + 1}  # the append in flight may or may not be there
        start, heads = found[-1] + 1, {found[0]}
