"""The Collector pipelines in collector-config/: parsed, cross-referenced, and every component's
settings validated against collector-config/schema/components.schema.json, which was written from
the components' documentation (collector-config/README.md lists the sources).

No Collector binary runs here, so these checks are what stands between a typo and a Collector
that refuses to start: unknown keys, undefined or unused components, deprecated component names,
env references where a number is due, and the pipeline rules the project relies on (memory_limiter
first, every failed run kept, every GenAI content attribute stripped or hashed).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from otel_agenttrace import semconv

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "collector-config"
SCHEMA_PATH = CONFIG_DIR / "schema" / "components.schema.json"
README_PATH = CONFIG_DIR / "README.md"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
EXPECTED = {"jaeger.yaml", "tempo.yaml", "file.yaml"}

KINDS = ("receivers", "processors", "exporters", "extensions")
PIPELINE_KINDS = ("receivers", "processors", "exporters")
# Where content can sit on a span: its attributes, and its events' (EVENT_ONLY puts it there).
CONTENT_CONTEXTS = ("span", "spanevent")


# --- loading ----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """The Collector rejects a key given twice in one mapping; PyYAML would keep the last silently."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_config(text: str) -> dict[str, Any]:
    document = yaml.load(text, Loader=_StrictLoader)
    assert isinstance(document, dict), "a Collector configuration is a mapping"
    return document


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def component_type(component_id: str) -> str:
    """`otlp_grpc/jaeger` -> `otlp_grpc`: the id is TYPE or TYPE/NAME."""
    return component_id.split("/", 1)[0]


def _section(config: dict[str, Any], kind: str) -> dict[str, Any]:
    section = config.get(kind) or {}
    assert isinstance(section, dict), f"{kind} must be a mapping"
    return section


def _pipelines(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return (config.get("service") or {}).get("pipelines") or {}


# --- checks (each returns the problems it finds; empty means clean) ----------------------------


def reference_problems(config: dict[str, Any]) -> list[str]:
    """Every referenced component is defined, and every defined component is referenced."""
    problems: list[str] = []
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for pipeline_id, pipeline in _pipelines(config).items():
        for kind in PIPELINE_KINDS:
            ids = pipeline.get(kind) or []
            for component_id in ids:
                used[kind].add(component_id)
                if component_id not in _section(config, kind):
                    problems.append(f"pipeline {pipeline_id}: {kind[:-1]} {component_id!r} is not defined under {kind}")
            for component_id in {c for c in ids if ids.count(c) > 1}:
                problems.append(f"pipeline {pipeline_id}: {kind[:-1]} {component_id!r} is listed twice")
    for extension_id in (config.get("service") or {}).get("extensions") or []:
        used["extensions"].add(extension_id)
        if extension_id not in _section(config, "extensions"):
            problems.append(f"service.extensions: {extension_id!r} is not defined under extensions")
    for kind in KINDS:
        for component_id in _section(config, kind):
            if component_id not in used[kind]:
                where = "service.extensions" if kind == "extensions" else "any pipeline"
                problems.append(f"{kind[:-1]} {component_id!r} is defined but not used in {where}")
    return problems


def _closed_schema_problems(node: Any, path: str = "#") -> Iterator[str]:
    """Object schemas must say what else they accept; x-mixin parts are closed by their user."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _closed_schema_problems(item, f"{path}/{i}")
        return
    if not isinstance(node, dict):
        return
    describes_object = node.get("type") == "object" or "properties" in node
    open_ok = "additionalProperties" in node or node.get("unevaluatedProperties") is False
    if describes_object and not (open_ok or node.get("x-mixin") or node.get("x-open")):
        yield f"{path} is an object schema that is neither closed nor marked x-open"
    for key, value in node.items():
        if key == "if":  # a condition only reads properties; it describes no object
            continue
        yield from _closed_schema_problems(value, f"{path}/{key}")


def _component_schema(schema: dict[str, Any], kind: str, component_id: str) -> dict[str, Any] | None:
    for pattern, subschema in schema["properties"][kind]["patternProperties"].items():
        if re.match(pattern, component_id):
            return {"$schema": schema["$schema"], "$defs": schema["$defs"], **subschema}
    return None


def _error_messages(validator: jsonschema.protocols.Validator, instance: Any, prefix: str) -> list[str]:
    errors = list(validator.iter_errors(instance))
    found: list[tuple[tuple[Any, ...], str]] = []
    for error in errors:
        # anyOf/oneOf report "not valid under any"; the branch whose type fitted says why
        # (a mapping given to "null or settings" is about the settings, not about null).
        branches = [e for e in error.context or [] if e.validator != "type" or e.relative_path] or error.context
        shown = (jsonschema.exceptions.best_match(branches) if branches else None) or error
        # A rule the schema states in words ("not" something) is reported in those words.
        message = shown.message
        if shown.validator == "not" and isinstance(shown.schema, dict) and "description" in shown.schema:
            message = shown.schema["description"]
        found.append((tuple(shown.absolute_path), message))
    # A failing mixin hides its keys from unevaluatedProperties, which then calls valid keys
    # unexpected; that echo is dropped when a deeper error explains the failure.
    messages = []
    for path, message in found:
        echo = message.startswith("Unevaluated properties") and any(
            other != path and other[: len(path)] == path for other, _ in found
        )
        if not echo:
            location = "/".join([prefix, *map(str, path)])
            messages.append(f"{location}: {message}")
    return messages


def schema_problems(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The document's shape, then each component against the schema of its type."""
    skeleton = copy.deepcopy(schema)
    for kind in KINDS:
        skeleton["properties"][kind] = {"type": "object"}
    problems = _error_messages(jsonschema.Draft202012Validator(skeleton), config, "")
    deprecated = schema["x-deprecated-types"]
    for kind in KINDS:
        for component_id, settings in _section(config, kind).items():
            kind_type = component_type(component_id)
            if kind_type in deprecated.get(kind, {}):
                problems.append(f"{kind}/{component_id}: {kind_type!r} is deprecated: {deprecated[kind][kind_type]}")
                continue
            subschema = _component_schema(schema, kind, component_id)
            if subschema is None:
                problems.append(f"{kind}/{component_id}: no schema for {kind[:-1]} type {kind_type!r}")
                continue
            validator = jsonschema.Draft202012Validator(subschema)
            problems.extend(_error_messages(validator, settings, f"{kind}/{component_id}"))
    return problems


def _processors_of(config: dict[str, Any], pipeline: dict[str, Any], kind_type: str) -> list[tuple[str, Any]]:
    return [
        (p, _section(config, "processors").get(p))
        for p in pipeline.get("processors") or []
        if component_type(p) == kind_type
    ]


def _statements(transform: dict[str, Any]) -> list[tuple[str, bool]]:
    """(statement with explicit context paths, unconditional?) for every trace statement."""
    found: list[tuple[str, bool]] = []
    for item in transform.get("trace_statements") or []:
        if isinstance(item, str):
            found.append((item.strip(), " where " not in item))
            continue
        context = item.get("context")
        grouped_condition = bool(item.get("conditions"))
        for statement in item.get("statements") or []:
            if context:
                statement = re.sub(r"(?<![\w.])attributes\b", f"{context}.attributes", statement)
            found.append((statement.strip(), " where " not in statement and not grouped_condition))
    return found


def content_coverage_problems(transform: dict[str, Any], attributes: frozenset[str]) -> list[str]:
    """Each content attribute, on spans and on span events, is deleted outright or hashed.

    Hashing counts only with a delete_key for the same attribute next to it: SHA256 takes strings,
    and with error_mode ignore a value it cannot hash would otherwise pass through untouched.
    """
    statements = _statements(transform)
    problems = []
    for attribute in sorted(attributes):
        for context in CONTENT_CONTEXTS:
            path = rf"{context}\.attributes"
            key = re.escape(attribute)
            delete = re.compile(rf'^delete_key\(\s*{path}\s*,\s*"{key}"\s*\)')
            hashed = re.compile(rf'^set\(\s*{path}\["{key}"\]\s*,.*\bSHA(256|512)\(\s*{path}\["{key}"\]\s*\)')
            deleted_always = any(delete.match(s) and unconditional for s, unconditional in statements)
            deleted_sometimes = any(delete.match(s) for s, _ in statements)
            hashes = any(hashed.match(s) for s, _ in statements)
            if not (deleted_always or (hashes and deleted_sometimes)):
                how = (
                    "is hashed but what is not a string is never deleted" if hashes else "is neither deleted nor hashed"
                )
                problems.append(f"{context}.attributes[{attribute!r}] {how}")
    return problems


def pipeline_problems(config: dict[str, Any], content_attributes: frozenset[str]) -> list[str]:
    """The rules every shipped pipeline follows."""
    problems: list[str] = []
    for pipeline_id, pipeline in _pipelines(config).items():
        processors = pipeline.get("processors") or []
        if not processors or component_type(processors[0]) != "memory_limiter":
            problems.append(f"pipeline {pipeline_id}: memory_limiter must be the first processor, got {processors}")
        if not pipeline_id.startswith("traces"):
            continue
        samplers = _processors_of(config, pipeline, "tail_sampling")
        if not samplers:
            problems.append(f"pipeline {pipeline_id}: no tail_sampling processor")
        for sampler_id, sampler in samplers:
            policies = (sampler or {}).get("policies") or []
            keeps_errors = any(
                p.get("type") == "status_code" and "ERROR" in (p.get("status_code") or {}).get("status_codes", [])
                for p in policies
            )
            samples_rest = any(p.get("type") == "probabilistic" for p in policies)
            if not keeps_errors:
                problems.append(f"{sampler_id}: no top-level status_code policy keeps ERROR traces (failed runs)")
            if not samples_rest:
                problems.append(f"{sampler_id}: no probabilistic policy samples the other runs")
        transforms = _processors_of(config, pipeline, "transform")
        if not transforms:
            problems.append(f"pipeline {pipeline_id}: no transform processor strips or hashes GenAI content")
        covered = [content_coverage_problems(t or {}, content_attributes) for _, t in transforms]
        if transforms and all(covered):
            problems.extend(f"{transforms[0][0]}: {p}" for p in covered[0])
        # Content goes before tail_sampling buffers whole traces in memory.
        if samplers and transforms and processors.index(transforms[0][0]) > processors.index(samplers[0][0]):
            problems.append(f"pipeline {pipeline_id}: the content transform must run before tail_sampling")
    for exporter_id, exporter in _section(config, "exporters").items():
        if component_type(exporter_id) != "file":
            continue
        # agenttrace dump --from FILE reads OTLP/JSON lines: no protobuf, no compression, no encoding extension.
        exporter = exporter or {}
        if exporter.get("format", "json") != "json" or "compression" in exporter or "encoding" in exporter:
            problems.append(
                f"{exporter_id}: must write plain OTLP/JSON lines (format json, no compression or encoding)"
            )
    return problems


def all_problems(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    return (
        reference_problems(config)
        + schema_problems(config, schema)
        + pipeline_problems(config, semconv.CONTENT_ATTRIBUTES)
    )


# --- the shipped files ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


def _load(path: Path) -> dict[str, Any]:
    return load_config(path.read_text(encoding="utf-8"))


def test_every_backend_has_a_config() -> None:
    assert {p.name for p in CONFIGS} >= EXPECTED


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_closes_every_documented_object(schema: dict[str, Any]) -> None:
    assert list(_closed_schema_problems(schema)) == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_parses_with_the_sections_a_collector_needs(path: Path) -> None:
    config = _load(path)
    assert {"receivers", "exporters", "service"} <= set(config)
    assert _pipelines(config), "no pipelines"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_references_only_defined_components_and_uses_all(path: Path) -> None:
    assert reference_problems(_load(path)) == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_matches_the_component_schemas(path: Path, schema: dict[str, Any]) -> None:
    assert schema_problems(_load(path), schema) == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_follows_the_pipeline_rules(path: Path) -> None:
    assert pipeline_problems(_load(path), semconv.CONTENT_ATTRIBUTES) == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_names_only_registered_gen_ai_attributes(path: Path) -> None:
    names = set(re.findall(r'"(gen_ai\.[a-z0-9_.]+)"', path.read_text(encoding="utf-8")))
    assert names, "the content stage names no attribute"
    assert names <= semconv.attribute_names()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_redaction_patterns_are_re2_compatible(path: Path) -> None:
    # Go's RE2 has no lookaround or backreferences; Python's re stands in for the rest of the syntax.
    for component_id, settings in _section(_load(path), "processors").items():
        if component_type(component_id) != "redaction":
            continue
        for pattern in (settings or {}).get("blocked_values", []) + (settings or {}).get("allowed_values", []):
            re.compile(pattern)
            assert not re.search(r"\(\?<?[=!]|\\[1-9]", pattern), f"{component_id}: {pattern!r} is not RE2"


def test_configs_and_readme_name_one_collector_version(schema: dict[str, Any]) -> None:
    version = schema["x-collector-version"]
    for path in CONFIGS:
        assert set(re.findall(r"otelcol-contrib v(\d+\.\d+\.\d+)", path.read_text(encoding="utf-8"))) == {version}, path
        assert f"opentelemetry-collector-contrib:{version}" in path.read_text(encoding="utf-8"), path
    assert f"v{version}" in README_PATH.read_text(encoding="utf-8")


def test_tempo_config_hashes_and_jaeger_and_file_configs_delete() -> None:
    def mode(name: str) -> set[str]:
        transform = _section(_load(CONFIG_DIR / name), "processors")["transform/genai_content"]
        return {s.split("(", 1)[0] for s, _ in _statements(transform)}

    assert mode("tempo.yaml") == {"delete_key", "set"}
    assert mode("jaeger.yaml") == mode("file.yaml") == {"delete_key"}


# --- the checks catch what they are for -------------------------------------------------------


@pytest.fixture
def jaeger() -> dict[str, Any]:
    return _load(CONFIG_DIR / "jaeger.yaml")


def _only(problems: list[str], fragment: str) -> None:
    assert problems, "expected a problem"
    assert any(fragment in p for p in problems), problems


def test_a_typo_in_a_key_fails_validation(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    limiter = jaeger["processors"]["memory_limiter"]
    limiter["check_intervall"] = limiter.pop("check_interval")
    _only(schema_problems(jaeger, schema), "'check_intervall' was unexpected")


def test_a_typo_in_a_nested_key_is_reported_where_it_is(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    jaeger["exporters"]["otlp_grpc/jaeger"]["tls"]["insecur"] = True
    problems = schema_problems(jaeger, schema)
    assert problems == [
        "exporters/otlp_grpc/jaeger/tls: Unevaluated properties are not allowed ('insecur' was unexpected)"
    ]


def test_a_typo_in_the_batch_settings_fails_validation(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    jaeger["exporters"]["otlp_grpc/jaeger"]["sending_queue"]["batch"]["flush_timout"] = "1s"
    _only(schema_problems(jaeger, schema), "'flush_timout' was unexpected")


def test_an_undefined_component_fails(jaeger: dict[str, Any]) -> None:
    jaeger["service"]["pipelines"]["traces"]["exporters"].append("otlp_grpc/tempo")
    _only(reference_problems(jaeger), "'otlp_grpc/tempo' is not defined")


def test_an_undefined_extension_fails(jaeger: dict[str, Any]) -> None:
    jaeger["service"]["extensions"].append("zpages")
    _only(reference_problems(jaeger), "'zpages' is not defined")


def test_an_unused_component_fails(jaeger: dict[str, Any]) -> None:
    jaeger["exporters"]["otlp_grpc/spare"] = {"endpoint": "spare:4317"}
    jaeger["extensions"]["health_check/spare"] = None
    problems = reference_problems(jaeger)
    _only(problems, "'otlp_grpc/spare' is defined but not used")
    _only(problems, "'health_check/spare' is defined but not used in service.extensions")


def test_a_component_type_without_schema_fails(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    jaeger["processors"]["attributes/x"] = {"actions": []}
    _only(schema_problems(jaeger, schema), "no schema for processor type 'attributes'")


@pytest.mark.parametrize(
    ("kind", "component_id", "settings", "advice"),
    [
        ("exporters", "otlp/jaeger", {"endpoint": "jaeger:4317"}, "otlp_grpc"),
        ("exporters", "otlphttp", {"endpoint": "http://tempo:4318"}, "otlp_http"),
        ("processors", "batch", {}, "sending_queue.batch"),
    ],
)
def test_deprecated_component_names_fail_with_the_replacement(
    jaeger: dict[str, Any], schema: dict[str, Any], kind: str, component_id: str, settings: dict[str, Any], advice: str
) -> None:
    jaeger[kind][component_id] = settings
    _only(schema_problems(jaeger, schema), advice)


def test_env_references_are_accepted_where_values_are_strings(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    jaeger["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "${env:OTLP_GRPC_LISTEN}"
    jaeger["exporters"]["otlp_grpc/jaeger"]["timeout"] = "${env:JAEGER_TIMEOUT:-10s}"
    assert schema_problems(jaeger, schema) == []


def test_env_references_are_refused_where_a_number_is_due(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    jaeger["processors"]["memory_limiter"]["limit_percentage"] = "${env:LIMIT}"
    _only(schema_problems(jaeger, schema), "processors/memory_limiter/limit_percentage")


def test_a_bad_duration_fails(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    jaeger["processors"]["tail_sampling/runs"]["decision_wait"] = "5 minutes"
    _only(schema_problems(jaeger, schema), "processors/tail_sampling/runs/decision_wait")


def test_a_policy_without_its_settings_fails(jaeger: dict[str, Any], schema: dict[str, Any]) -> None:
    del jaeger["processors"]["tail_sampling/runs"]["policies"][1]["probabilistic"]
    _only(schema_problems(jaeger, schema), "'probabilistic' is a required property")


def test_the_file_exporter_refuses_append_with_rotation(schema: dict[str, Any]) -> None:
    config = _load(CONFIG_DIR / "file.yaml")
    config["exporters"]["file/runs"]["append"] = True
    _only(schema_problems(config, schema), "exporters/file/runs: append: true cannot be combined with rotation")


def test_a_file_exporter_writing_what_agenttrace_cannot_read_fails() -> None:
    config = _load(CONFIG_DIR / "file.yaml")
    config["exporters"]["file/runs"]["format"] = "proto"
    _only(pipeline_problems(config, semconv.CONTENT_ATTRIBUTES), "plain OTLP/JSON lines")


def test_memory_limiter_must_come_first(jaeger: dict[str, Any]) -> None:
    processors = jaeger["service"]["pipelines"]["traces"]["processors"]
    processors.append(processors.pop(0))
    _only(pipeline_problems(jaeger, semconv.CONTENT_ATTRIBUTES), "memory_limiter must be the first processor")


def test_tail_sampling_must_keep_failed_runs(jaeger: dict[str, Any]) -> None:
    policies = jaeger["processors"]["tail_sampling/runs"]["policies"]
    policies[:] = [p for p in policies if p["type"] != "status_code"]
    _only(pipeline_problems(jaeger, semconv.CONTENT_ATTRIBUTES), "keeps ERROR traces")


def test_a_content_attribute_left_out_of_the_transform_fails(jaeger: dict[str, Any]) -> None:
    statements = jaeger["processors"]["transform/genai_content"]["trace_statements"]
    statements[:] = [s for s in statements if semconv.GEN_AI_TOOL_CALL_RESULT not in s]
    problems = pipeline_problems(jaeger, semconv.CONTENT_ATTRIBUTES)
    assert sorted(problems) == sorted(
        f"transform/genai_content: {ctx}.attributes[{semconv.GEN_AI_TOOL_CALL_RESULT!r}] is neither deleted nor hashed"
        for ctx in CONTENT_CONTEXTS
    )


def test_content_on_span_events_must_be_handled_too(jaeger: dict[str, Any]) -> None:
    statements = jaeger["processors"]["transform/genai_content"]["trace_statements"]
    statements[:] = [s for s in statements if not s.startswith("delete_key(spanevent.")]
    problems = pipeline_problems(jaeger, semconv.CONTENT_ATTRIBUTES)
    assert len(problems) == len(semconv.CONTENT_ATTRIBUTES)
    assert all("spanevent.attributes" in p for p in problems)


def test_a_conditional_delete_does_not_count_as_stripping() -> None:
    attribute = semconv.GEN_AI_INPUT_MESSAGES
    transform = {
        "trace_statements": [
            f'delete_key({ctx}.attributes, "{attribute}") where {ctx}.attributes["x"] == "y"'
            for ctx in CONTENT_CONTEXTS
        ]
    }
    assert len(content_coverage_problems(transform, frozenset({attribute}))) == 2


def test_hashing_needs_a_delete_for_what_it_cannot_hash() -> None:
    attribute = semconv.GEN_AI_OUTPUT_MESSAGES
    hashed = [f'set({c}.attributes["{attribute}"], SHA256({c}.attributes["{attribute}"]))' for c in CONTENT_CONTEXTS]
    problems = content_coverage_problems({"trace_statements": hashed}, frozenset({attribute}))
    assert len(problems) == 2 and all("never deleted" in p for p in problems)
    fallback = [
        f'delete_key({c}.attributes, "{attribute}") where not IsString({c}.attributes["{attribute}"])'
        for c in CONTENT_CONTEXTS
    ]
    assert content_coverage_problems({"trace_statements": fallback + hashed}, frozenset({attribute})) == []


def test_grouped_statements_with_an_explicit_context_count() -> None:
    transform = {
        "trace_statements": [
            {
                "context": ctx,
                "statements": [f'delete_key(attributes, "{a}")' for a in sorted(semconv.CONTENT_ATTRIBUTES)],
            }
            for ctx in CONTENT_CONTEXTS
        ]
    }
    assert content_coverage_problems(transform, semconv.CONTENT_ATTRIBUTES) == []
    transform["trace_statements"][0]["conditions"] = ['attributes["x"] == "y"']
    assert len(content_coverage_problems(transform, semconv.CONTENT_ATTRIBUTES)) == len(semconv.CONTENT_ATTRIBUTES)


def test_a_duplicate_yaml_key_fails_to_load() -> None:
    text = "receivers:\n  otlp:\n    protocols: {grpc: }\nreceivers:\n  otlp: {}\n"
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'receivers'"):
        load_config(text)


def test_every_shipped_config_is_clean(schema: dict[str, Any]) -> None:
    for path in CONFIGS:
        assert all_problems(_load(path), schema) == [], path.name
