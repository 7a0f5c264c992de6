# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""What a mail queue holds, read from Postfix's two descriptions of it.

- ``postqueue -j`` (postqueue(1), Postfix 3.1 and later): one JSON object per message, with its
  ``queue_name`` and ``arrival_time`` among other fields. Only those two are read here: the sender
  and recipient addresses are never kept.
- A queue file itself: a sequence of records (record type byte, length in 7-bit groups low first,
  data; Postfix's rec_get()), whose time record (``T``, "seconds microseconds") is the message's
  arrival time, as showq(8) reports it.

Text in, counts and times out; nothing here runs a command or opens a file.
"""

from __future__ import annotations

import json
import typing as t

# The queues showq(8) lists, in its order; corrupt and saved are never listed (postqueue(1)).
LISTED_QUEUES = ("maildrop", "hold", "incoming", "active", "deferred")
# The record that holds the arrival time (rec_type.h: REC_TYPE_TIME).
_TIME_RECORD = ord("T")
# Records read before giving up on finding the time record (it comes first or second).
_RECORDS_READ = 8


class QueueListing(t.NamedTuple):
    """Per queue: how many messages, and the arrival time (epoch seconds) of the oldest, or None."""

    counts: dict[str, int]
    oldest: dict[str, int | None]


def _tally(arrivals: t.Iterable[tuple[str, int | None]]) -> QueueListing:
    counts: dict[str, int] = {}
    oldest: dict[str, int | None] = {}
    for queue, arrival in arrivals:
        counts[queue] = counts.get(queue, 0) + 1
        known = oldest.setdefault(queue, None)
        if arrival is not None and (known is None or arrival < known):
            oldest[queue] = arrival
    return QueueListing(counts, oldest)


def parse_postqueue_json(text: str) -> QueueListing:
    """The messages per queue and the oldest arrival of each from ``postqueue -j`` output.

    ValueError when a line is not a JSON object with a ``queue_name`` (an older postqueue that
    does not know ``-j`` prints its usage instead)."""
    arrivals: list[tuple[str, int | None]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} of postqueue -j is not JSON: {exc}") from exc
        if not isinstance(message, dict) or not isinstance(message.get("queue_name"), str):
            raise ValueError(f"line {number} of postqueue -j has no queue_name")
        arrival = message.get("arrival_time")
        arrivals.append((message["queue_name"], int(arrival) if isinstance(arrival, (int, float)) and not isinstance(arrival, bool) else None))
    return _tally(arrivals)


def read_record(data: bytes, pos: int) -> tuple[int, int, int]:
    """The queue file record at ``pos`` as rec_get() reads it (record.c): a type byte, the length
    in groups of 7 bits (least significant first, the high bit set on all but the last), the data.
    Returns (type, start, end) of its data, ``end`` possibly past the end of ``data``; ValueError
    when the length is cut short or has too many bits."""
    size = len(data)
    rtype = data[pos]
    pos += 1
    length = shift = 0
    while True:
        if pos >= size:
            raise ValueError(f"truncated record length at offset {pos}")
        if shift + 7 >= 32:
            raise ValueError(f"too many length bits at offset {pos}")
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return rtype, pos, pos + length


def arrival_time(data: bytes) -> int | None:
    """The arrival time (epoch seconds) that the time record at the start of a queue file gives, or
    None when the first records hold none (a file being written, a damaged one)."""
    pos = 0
    for _record in range(_RECORDS_READ):
        if pos >= len(data):
            return None
        try:
            kind, start, pos = read_record(data, pos)
        except ValueError:
            return None
        if pos > len(data):
            return None
        if kind == _TIME_RECORD:
            seconds = data[start:pos].split(b" ", 1)[0]
            return int(seconds) if seconds.isdigit() else None
    return None


def tally_files(arrivals: t.Mapping[str, t.Sequence[int | None]]) -> QueueListing:
    """The listing of queue files: per queue, the arrival time of each file (None: unknown)."""
    return _tally((queue, arrival) for queue, times in arrivals.items() for arrival in times)
