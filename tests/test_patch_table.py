"""The patch table: one neutral module that every patching package uses, one table for wrap and unwrap."""

from __future__ import annotations

import ast
import logging
import sys
import types
from pathlib import Path

import pytest
import wrapt

from otel_agenttrace import _patch_table
from otel_agenttrace._patch_table import Patched, Target, report_unresolved, resolve

PACKAGE = Path(__file__).parent.parent / "otel_agenttrace"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_table_module_is_at_the_bottom_of_the_package() -> None:
    assert not {name for name in _imports(PACKAGE / "_patch_table.py") if name.startswith("otel_agenttrace")}


@pytest.mark.parametrize("folder", ["providers", "tools"])
def test_patching_packages_do_not_reach_up_into_the_instrumentor(folder: str) -> None:
    for path in (PACKAGE / folder).glob("*.py"):
        assert "otel_agenttrace.instrumentor" not in _imports(path), path


@pytest.fixture
def lib(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("fake_lib_for_table")

    class Client:
        def call(self, x: int) -> int:
            return x + 1

    module.Client = Client  # type: ignore[attr-defined]
    module.Alias = Client  # type: ignore[attr-defined]  # the same class under a second name
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def _doubling(tel: object) -> object:
    def wrapper(wrapped, instance, args, kwargs):  # type: ignore[no-untyped-def]
        return wrapped(*args, **kwargs) * 2

    return wrapper


def test_one_table_wraps_and_unwraps(lib: types.ModuleType) -> None:
    table = (
        Target(lib.__name__, "Client", "call", _doubling),
        Target(lib.__name__, "Alias", "call", _doubling),  # same method: wrapped once
        Target(lib.__name__, "Missing", "call", _doubling),  # not in this version: skipped
        Target("no_such_module_for_table", None, "f", _doubling),
    )
    original = lib.Client.__dict__["call"]
    patched = Patched()
    patched.wrap(table, object())
    assert lib.Client().call(1) == 4  # doubled once, not twice
    assert isinstance(lib.Client.__dict__["call"], wrapt.BaseObjectProxy)
    assert len(patched.methods) == 1
    patched.unwrap()
    assert lib.Client.__dict__["call"] is original
    assert lib.Client().call(1) == 2


def test_unresolved_rows_are_named_once(lib: types.ModuleType, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_patch_table, "_reported", set())
    table = (Target(lib.__name__, "Client", "call", _doubling), Target(lib.__name__, "Client", "gone", _doubling))
    assert resolve(table[0]) is not None and resolve(table[1]) is None
    with caplog.at_level(logging.WARNING, logger="otel_agenttrace"):
        report_unresolved(table, "fakelib", "calls are traced without it")
        report_unresolved(table, "fakelib", "calls are traced without it")
    (message,) = [r.getMessage() for r in caplog.records]
    assert "fake_lib_for_table.Client.gone" in message and "Client.call" not in message
