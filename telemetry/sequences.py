"""Gateway sequence numbers: gaps counted, not guessed, across sessions.

A gateway numbers its telemetry messages ``seq`` = 0, 1, 2, ... within a session (DESIGN.md).
`advance_sequence()` is the arithmetic the ingest applies, per gateway and batch, to the
``last_seq`` and ``seq_missing`` kept on its `telemetry.models.GatewayStatus` row: pure, no
database; the caller reads and writes that row under a row lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# How many sequence numbers back a late message can still un-count its gap.
SEQ_WINDOW = 1000


@dataclass(frozen=True, slots=True)
class SeqOutcome:
    """A gateway's sequence state after a batch, and how its gap count moved."""

    last_seq: int | None
    missing: list[int]
    gaps_delta: int


def advance_sequence(
    last_seq: int | None, missing: Iterable[int], seqs: Iterable[int], *, window: int = SEQ_WINDOW
) -> SeqOutcome:
    """Count sequence gaps for one gateway, in arrival order.

    A jump past ``last_seq + 1`` counts every skipped number as a gap and remembers it; a
    remembered number that arrives later un-counts its gap, so mere reordering nets zero.
    A number at or below ``last_seq`` that is not remembered is a redelivered duplicate and
    changes nothing. ``0`` (or a number far below the window) starts a new gateway session.
    """
    pending = set(missing)
    gaps = 0
    for seq in seqs:
        if last_seq is None:
            last_seq = seq
        elif seq > last_seq:
            if seq > last_seq + 1:
                gaps += seq - last_seq - 1
                pending.update(range(max(last_seq + 1, seq - window), seq))
            last_seq = seq
        elif seq in pending:
            pending.discard(seq)
            gaps -= 1
        elif seq == 0 or seq < last_seq - window:
            # The gateway restarted its numbering; what it skipped before stays counted.
            last_seq = seq
            pending.clear()
    floor = (last_seq or 0) - window
    return SeqOutcome(
        last_seq=last_seq, missing=sorted(s for s in pending if s >= floor), gaps_delta=gaps
    )
