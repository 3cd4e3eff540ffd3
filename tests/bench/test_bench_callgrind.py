"""bench/bench_callgrind.py's cost models: what each flag charges for a dump's counts.

Valgrind is not run here (minutes a scenario); this keeps the arithmetic the README's tables are read by from
drifting unseen. The flags are read from the command line when the module loads, so each case loads it afresh."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_callgrind.py"
COUNTS = {"Ir": 1000, "I1mr": 3, "D1mr": 5, "D1mw": 2, "ILmr": 1, "DLmr": 0, "DLmw": 1, "Bcm": 7, "Bim": 4}


def _load(flags: list[str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(sys, "argv", ["bench_callgrind.py", *flags])
    spec = importlib.util.spec_from_file_location("bench_callgrind_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_instructions_alone_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _load([], monkeypatch)._cost(COUNTS) == 1000


def test_cycles_charge_cache_misses_not_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    # 10 more for each first-level miss (3 + 5 + 2), 100 more for each last-level one (1 + 0 + 1)
    assert _load(["--cycles"], monkeypatch)._cost(COUNTS) == 1000 + 10 * 10 + 100 * 2


def test_branches_charge_each_mispredicted_branch_too(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load(["--branches"], monkeypatch)
    assert module.CYCLES and module.BRANCHES
    assert module._cost(COUNTS) == 1000 + 10 * 10 + 100 * 2 + module.MISPREDICT * (7 + 4)


def test_summary_reads_every_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dump = tmp_path / "callgrind.out.1-01"
    dump.write_text("version: 1\nevents: Ir Bc Bcm Bi Bim\nfn=x\n0 1 2 3 4 5\nsummary: 10 20 30 40 50\n")
    assert _load(["--branches"], monkeypatch)._summary(dump) == {"Ir": 10, "Bc": 20, "Bcm": 30, "Bi": 40, "Bim": 50}
