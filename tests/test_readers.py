"""The field and path readers on every call's path (providers/_common.py, _paths.py): the fast forms read
what the plain `get()` and a fresh split read, for SDK objects, dicts, None and objects that lack a field."""

from __future__ import annotations

from typing import Any

from otel_agenttrace._paths import read, steps
from otel_agenttrace.providers._common import fields, get, get_each


class Model:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getattr__(self, key: str) -> Any:  # as pydantic's: only for what is not a field
        raise AttributeError(key)


class Lacking:  # an older SDK's object: no `tier` field
    def __init__(self) -> None:
        self.id, self.model = "r1", "m"


def test_fields_reads_objects_dicts_none_and_objects_that_lack_a_field() -> None:
    read_fields = fields("id", "model", "tier")
    assert tuple(read_fields(Model(id="r1", model="m", tier="default"))) == ("r1", "m", "default")
    assert list(read_fields({"id": "r2", "tier": "flex"})) == ["r2", None, "flex"]
    assert list(read_fields(None)) == [None, None, None]
    for _ in range(2):  # the second time from the remembered type
        assert list(read_fields(Lacking())) == ["r1", "m", None]


def test_get_each_is_get_of_each() -> None:
    objs = [Model(finish_reason="stop"), {"finish_reason": "length"}, None, Model(), {}]
    assert (
        get_each(objs, "finish_reason")
        == [get(o, "finish_reason") for o in objs]
        == [
            "stop",
            "length",
            None,
            None,
            None,
        ]
    )


def test_read_takes_a_path_or_its_steps() -> None:
    view = {"__self__": Model(model="local-7b", cfg={"deep": {"x": 1}}), "messages": [1], "n": None}
    result = Model(usage=Model(input_tokens=3))
    cases = [
        ("self.model", view, None, "local-7b"),
        ("self.cfg.deep.x", view, None, 1),
        ("self.cfg.missing.x", view, None, None),
        ("args.messages", view, None, [1]),
        ("args.n.x", view, None, None),
        ("args", view, None, {"messages": [1], "n": None}),
        ("return.usage.input_tokens", {}, result, 3),
        ("return", {}, result, result),
        ("other.x", view, None, None),
    ]
    for path, v, res, expected in cases:
        assert read(path, v, res) == expected, path
        assert read(steps(path), v, res) == expected, path
    assert steps("self.model") is steps("self.model")  # split once
