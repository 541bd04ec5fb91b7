"""Hot reload: changed rule files are recompiled and applied; files with errors are rejected."""

from __future__ import annotations

import os
from pathlib import Path

from centinela.dsl.program import Program
from centinela.rules.reload import Watcher

GOOD = 'twins T = things "t:*"\nalarm T High severity high when p.x > 10\n'
BETTER = 'twins T = things "t:*"\nalarm T High severity high when p.x > 20\n'
BAD = 'twins T = things "t:*"\nalarm T High severity high when p.x > \n'


def _touch(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


async def test_watcher_applies_good_changes_and_rejects_bad_ones(tmp_path: Path) -> None:
    rules = tmp_path / "t.rules"
    _touch(rules, GOOD, 0)
    applied: list[Program] = []
    reports: list[str] = []

    async def apply(program: Program) -> None:
        applied.append(program)

    watcher = Watcher([tmp_path], apply, report=reports.append)
    assert not await watcher.check()  # nothing changed yet
    _touch(rules, BAD, 1)
    assert not await watcher.check()
    assert applied == [] and watcher.rejected == 1
    assert "t.rules" in reports[0] and "running rules stay" in reports[0]
    _touch(rules, BETTER, 2)
    assert await watcher.check()
    [program] = applied
    [node] = program.classes["T"].nodes
    assert node.name == "High"
