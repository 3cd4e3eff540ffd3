"""Attribute names come only from otel_agenttrace/semconv.py, and those constants are the registry."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from otel_agenttrace import semconv

ROOT = Path(__file__).parent.parent


def registry() -> dict[str, dict]:
    doc = yaml.safe_load((ROOT / "semconv" / "registry.yaml").read_text())
    return {a["name"]: a for group in doc["groups"] for a in group["attributes"]}


def test_constants_equal_registry() -> None:
    assert semconv.attribute_names() == set(registry())


def test_registry_entries_are_complete() -> None:
    for name, entry in registry().items():
        assert entry["type"] in {"string", "int", "double", "boolean", "string[]"}, name
        assert entry["stability"] in {"stable", "development", "deprecated"}, name
        assert entry["brief"].strip(), name


def test_content_attributes_are_registered() -> None:
    assert set(semconv.CONTENT_ATTRIBUTES) <= set(registry())


def test_no_attribute_literals_outside_semconv() -> None:
    literal = re.compile(r"""["'](?:gen_ai|agenttrace|server|error|mcp|exception)\.[a-z_.]+["']""")
    offenders = []
    for path in (ROOT / "otel_agenttrace").rglob("*.py"):
        if path.name == "semconv.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if literal.search(line) and "# semconv-ok" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
