"""Columnar history for the vectorized backtest: numeric readings as numpy arrays, the rest as rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from centinela.rules.vector_expr import NotVectorizable, to_python

__all__ = ["ComputedRows", "Floats", "History", "Ints", "Row"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Row = tuple[float, str, str, Any, Any]


@dataclass(frozen=True, slots=True)
class History:
    """Readings of a span of history.

    Numeric readings are columns sorted by (thing, path, time); `things` and `paths` are sorted, so
    code order is string order. `other` holds the rows whose value is JSON or null (definitions...).
    """

    things: tuple[str, ...]
    paths: tuple[str, ...]
    thing: Ints
    path: Ints
    time: Floats
    value: Floats
    other: tuple[Row, ...] = ()
    # Optional: `times` every distinct time of the span in order (a superset of the readings' times,
    # the rows apart included) and `rank` each reading's index in it, when they came at no cost.
    times: Floats | None = None
    rank: Ints | None = None

    def __len__(self) -> int:
        return len(self.time) + len(self.other)

    def slice_things(self, first: int, stop: int) -> History:
        """The readings of things `first` .. `stop - 1` (codes), as a history of their own."""
        a, b = (int(i) for i in np.searchsorted(self.thing, [first, stop], side="left"))
        names = set(self.things[first:stop])
        return History(
            self.things[first:stop], self.paths, self.thing[a:b] - first, self.path[a:b], self.time[a:b],
            self.value[a:b], tuple(r for r in self.other if r[1] in names), self.times,
            None if self.rank is None else self.rank[a:b],
        )  # fmt: skip

    @classmethod
    def from_rows(cls, rows: Iterable[Row]) -> History:
        """From plain history rows `(time, thing_id, path, value, value_json)` in any order."""
        numeric: list[tuple[str, str, float, float]] = []
        other: list[Row] = []
        for time, thing, path, value, value_json in rows:
            if value_json is None and value.__class__ is float:
                numeric.append((thing, path, float(time), value))
            elif value_json is None and value.__class__ is int:
                msg = f"The integer reading {value!r} of {thing} {path} is not vectorized."
                raise NotVectorizable(msg)
            else:
                other.append((float(time), thing, path, value, value_json))
        things = sorted({r[0] for r in numeric} | {r[1] for r in other})
        paths = sorted({r[1] for r in numeric})
        tcode = {t: i for i, t in enumerate(things)}
        pcode = {p: i for i, p in enumerate(paths)}
        n = len(numeric)
        return cls.from_columns(
            tuple(things),
            tuple(paths),
            np.fromiter((tcode[r[0]] for r in numeric), dtype=np.int64, count=n),
            np.fromiter((pcode[r[1]] for r in numeric), dtype=np.int64, count=n),
            np.fromiter((r[2] for r in numeric), dtype=np.float64, count=n),
            np.fromiter((r[3] for r in numeric), dtype=np.float64, count=n),
            tuple(other),
        )

    @classmethod
    def from_columns(
        cls,
        things: tuple[str, ...],
        paths: tuple[str, ...],
        thing: Ints,
        path: Ints,
        time: Floats,
        value: Floats,
        other: tuple[Row, ...] = (),
    ) -> History:
        """Sorts the columns by (thing, path, time); two readings of one path at one time are refused."""
        order = np.lexsort((time, path, thing))
        thing, path, time, value = thing[order], path[order], time[order], value[order]
        same = (thing[1:] == thing[:-1]) & (path[1:] == path[:-1]) & (time[1:] == time[:-1])
        if same.any():
            msg = "Two readings of one path at one time are left to the engine."
            raise NotVectorizable(msg)
        return cls(things, paths, thing, path, time, value, other)


class ComputedRows(Sequence[tuple[float, str, str, Any]]):
    """Computed-value rows `(time, thing_id, key, value)`, kept columnar and made into tuples on demand."""

    def __init__(
        self, time: Floats, thing: Ints, key: Ints, value: Floats, kinds: tuple[str, ...],
        things: tuple[str, ...], keys: tuple[str, ...], phase: Ints | None = None,
    ) -> None:  # fmt: skip
        self.time, self.thing, self.key, self.value = time, thing, key, value
        self._kinds, self._things, self._keys = kinds, things, keys
        # What happens first at one instant (readings, binds, timers): for merging partitions.
        self.phase = np.zeros(len(time), dtype=np.int64) if phase is None else phase

    @staticmethod
    def merge(parts: Sequence[ComputedRows]) -> ComputedRows:
        """Rows of partitions over ascending, disjoint thing ranges, in one table in the same order."""
        things = tuple(t for p in parts for t in p._things)
        keys = sorted({k for p in parts for k in p._keys})
        kinds = {k: kind for p in parts for k, kind in zip(p._keys, p._kinds, strict=True)}
        key_code = {k: i for i, k in enumerate(keys)}
        time = np.concatenate([p.time for p in parts])
        phase = np.concatenate([p.phase for p in parts])
        order = np.lexsort((phase, time))  # stable: within an instant, partitions keep thing order
        # Each part's columns are scattered to their merged places: no concatenated copy of them.
        n = len(order)
        dest = np.empty(n, dtype=np.int64)
        dest[order] = np.arange(n)
        thing, key, value = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n)
        offset, start = 0, 0
        for p in parts:
            at = dest[start : start + len(p)]
            remap = np.array([key_code[k] for k in p._keys] or [0], dtype=np.int64)
            thing[at] = p.thing + offset if offset else p.thing
            key[at] = p.key if np.array_equal(remap, np.arange(len(remap))) else remap[p.key]
            value[at] = p.value
            offset += len(p._things)
            start += len(p)
        return ComputedRows(
            time[order], thing, key, value, tuple(kinds[k] for k in keys), things, tuple(keys), phase[order]
        )

    def __len__(self) -> int:
        return len(self.time)

    def _row(self, i: int) -> tuple[float, str, str, Any]:
        k = int(self.key[i])
        return (
            float(self.time[i]),
            self._things[int(self.thing[i])],
            self._keys[k],
            to_python(self._kinds[k], self.value[i]),
        )

    @overload
    def __getitem__(self, i: int) -> tuple[float, str, str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[float, str, str, Any]]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._row(i)

    def __iter__(self) -> Iterator[tuple[float, str, str, Any]]:
        times, things, keys, values = (a.tolist() for a in (self.time, self.thing, self.key, self.value))
        names, kinds, tnames = self._keys, self._kinds, self._things
        for t, th, k, v in zip(times, things, keys, values, strict=True):
            yield t, tnames[th], names[k], to_python(kinds[k], v)
