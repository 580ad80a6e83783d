"""A local, stateful, scriptable fake of the OpenAI HTTP API, driven through the real SDK.

In a test (same event loop)::

    async with FakeOpenAI(assistant_ids=["asst_test"]) as fake:
        fake.script(ToolCalls([("get_time", {"tz": "UTC"})]), Text("It is noon."))
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test-key")
        ...
        assert fake.calls[-1].last_user_text == "what time is it?"

From synchronous code: ``with FakeOpenAI.in_thread(latency=0.2) as fake: ...``; from a shell:
``python -m tests.fake_openai --port 0 --latency 0.2`` (prints the base URL first).
"""

from .script import Citation, Fail, Gate, ModelCall, RunEnds, Step, Text, ToolCalls
from .server import FakeOpenAI
from .state import RecordedRequest

__all__ = [
    "Citation",
    "Fail",
    "FakeOpenAI",
    "Gate",
    "ModelCall",
    "RecordedRequest",
    "RunEnds",
    "Step",
    "Text",
    "ToolCalls",
]
