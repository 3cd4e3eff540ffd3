"""Redaction: built-in secret patterns, the user's policy (extra regexes, JSON paths, switches).

- `_patterns`: the built-in patterns (RE2 syntax) and their checks (Luhn, assignments);
- `_engine`: `Redactor`, which finds and replaces them in linear time;
- `_emails`: e-mail addresses found without RE2 when they are a text's only matches;
- `_prescan`: Hyperscan's answer to "does any pattern match at all?", before RE2's first pass;
- `_paths`: JSON paths that drop or mask values of structured content;
- `_policy`: the policy (`[tool.agenttrace.redaction]` or a policy file) and its errors.
"""

from otel_agenttrace._redact._engine import Redactor
from otel_agenttrace._redact._paths import ROOTS, PathRule, apply_paths
from otel_agenttrace._redact._patterns import BUILTIN, BUILTIN_NAMES, Pattern
from otel_agenttrace._redact._policy import PolicyError, RedactionPolicy, load_policy_file, parse_policy

__all__ = [
    "BUILTIN",
    "BUILTIN_NAMES",
    "ROOTS",
    "PathRule",
    "Pattern",
    "PolicyError",
    "RedactionPolicy",
    "Redactor",
    "apply_paths",
    "load_policy_file",
    "parse_policy",
]
