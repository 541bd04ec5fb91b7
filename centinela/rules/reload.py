"""Hot reload: recompile changed rule files and swap them into the running engine.

`Engine.swap` keeps the state of every rule whose source version is unchanged. `Watcher` polls the
rule files' modification times (no extra dependency); a set of files that does not compile is
rejected with its diagnostics and the running rules stay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from centinela.dsl.program import Program
from centinela.errors import RulesError
from centinela.rules.loading import load_program, rule_files

__all__ = ["Watcher"]

log = logging.getLogger(__name__)


class Watcher:
    """Calls `apply(program)` whenever the `.rules` files under `paths` change and still compile."""

    def __init__(
        self,
        paths: Sequence[Path],
        apply: Callable[[Program], Awaitable[None]],
        *,
        interval: float = 1.0,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.apply = apply
        self.interval = interval
        self.report = report or log.warning
        self._stamps = self._scan()
        self.rejected = 0
        self.reloaded = 0

    def _scan(self) -> dict[Path, float]:
        stamps: dict[Path, float] = {}
        for path in rule_files(self.paths):
            try:
                stamps[path] = path.stat().st_mtime_ns
            except OSError:
                continue
        return stamps

    async def check(self) -> bool:
        """Look once; recompile and apply when something changed. True when a new program was applied."""
        stamps = await asyncio.to_thread(self._scan)
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        try:
            program = await asyncio.to_thread(load_program, self.paths)
        except RulesError as exc:
            self.rejected += 1
            self.report(f"Rules not reloaded, the running rules stay: {exc}")
            return False
        await self.apply(program)
        self.reloaded += 1
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()
