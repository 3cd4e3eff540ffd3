"""A plain program using the OpenAI and Anthropic SDKs; it knows nothing of otel_agenttrace.

Run by tests/test_autoinstrument.py under `opentelemetry-instrument`; HTTP is served by a fake transport.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from fakes import anthropic_client, fake_transport, json_response, openai_client, slow_sse_response

oa = openai_client(
    fake_transport(json_response("openai/chat_text.json"), slow_sse_response("openai/chat_stream_text.sse"))
)
oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Capital of France?"}])
for _ in oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "again"}], stream=True):
    pass
an = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")))
an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "Capital?"}])
print("app done", file=sys.stderr)
