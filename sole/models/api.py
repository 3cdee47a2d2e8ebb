"""The ``api`` backend: any OpenAI-compatible chat endpoint as a `Reasoner` (our own `sole serve`, a vLLM server
hosting a fine-tuned VLM, or a hosted model).

Each query is the messages of `sole.models.base.query_messages`, as in our exported records and ``hf:``: the
system turn, then one user turn holding one composite PNG (a row per view of first | previous | current frame)
before the SOLE-R1 prompt text (`sole.models.base.prompt_text`). The
answer is read from ``<answer>N%</answer>``; a reply without one falls back to the previous progress, as the
contract says, and is counted as unparsed (`sole.models.base.Judgement.parse_failures`). With `sole serve` the
unrounded progress travels both ways beside the text (the request's previous progress, the reply's answer and
whether the server's model wrote a readable one), so the loop feeds back what it would in process. With
``think=False`` a request to `sole serve` carries ``"think": false``, and it answers from the progress head;
other servers are sent neither field (OpenAI's refuses fields it does not know) and think anyway.

Which views the composite holds: the endpoint's own list where it gives one (``GET /models`` of `sole serve`
lists ``views`` per model), else the external view above the wrist view, as in our records. Spec
(`sole.models.registry`): ``api:URL`` such as ``api:http://127.0.0.1:8000/v1``; the model name, key and request
timeout come from ``SOLE_API_MODEL`` (default: the endpoint's first model), ``SOLE_API_KEY`` and
``SOLE_API_TIMEOUT`` (seconds, default 60). A batch of queries goes out ``SOLE_API_WORKERS`` (default 8)
requests at a time; `sole serve` answers requests that wait together in one batched call. A request refused as
busy (429 or 503) is sent again after the ``Retry-After`` the server gives (1 s without one, at most
`MAX_WAIT_S`), up to ``SOLE_API_RETRIES`` (default 5) times, before the refusal is raised.
"""

from __future__ import annotations

import base64
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from sole.models.base import VIEW_ROWS, Query, Step, answer_step, composite, png_bytes, prompt_text, query_messages

BUSY = (429, 503)
"""Statuses that mean "busy, ask again later"."""
MAX_WAIT_S = 30.0
"""Longest wait between tries, whatever ``Retry-After`` says."""


def retry_after(reply: httpx.Response) -> float:
    """Seconds a busy reply asks the client to wait (``Retry-After`` in seconds; 1 without a readable one)."""
    try:
        return min(max(float(reply.headers.get("retry-after", "1")), 0.0), MAX_WAIT_S)
    except ValueError:  # an HTTP date: not worth parsing for a busy local server
        return 1.0


def data_url(image: np.ndarray) -> str:
    """A uint8 (H, W, 3) image as a ``data:image/png;base64,...`` URL (fast compression: it is sent, not kept)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, compress_level=1)).decode()


def chat_request(query: Query, views: tuple[str, ...], model: str, think: bool | None) -> dict:
    """The chat-completions body asking one query. ``think=None`` is for a server that is not `sole serve` (it may
    refuse fields it does not know); otherwise the body also says whether to think and the unrounded previous
    progress (the prompt text carries it in whole percents)."""
    image = composite(query.first, query.previous, query.current, views)
    messages = query_messages(prompt_text(query.goal, query.prev_progress),
                              image={"type": "image_url", "image_url": {"url": data_url(image)}})
    body = {"model": model, "messages": messages, "temperature": 0.0, "max_tokens": 256}
    return body if think is None else {**body, "think": think, "sole": {"prev_progress": query.prev_progress}}


class ApiReasoner:
    """A `Reasoner` asking an OpenAI-compatible ``/chat/completions`` endpoint, ``workers`` queries at a time."""

    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, workers: int = 8, retries: int = 5, client: httpx.Client | None = None):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"api: needs the endpoint's base URL, e.g. api:http://127.0.0.1:8000/v1, got {base_url!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=timeout)
        self.client.headers.update(headers)
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.pool = ThreadPoolExecutor(workers)
        listed = self._models()
        self.model = model or (listed[0]["id"] if listed else "default")
        entry = next((m for m in listed if m["id"] == self.model), {})
        self.views = tuple(entry.get("views") or VIEW_ROWS)
        self.ours = entry.get("owned_by") == "sole"
        """Whether the endpoint is `sole serve`, which reads the ``think`` field."""

    def _models(self) -> list[dict]:
        """The endpoint's model list, empty where it has none."""
        try:
            reply = self.client.get(f"{self.base_url}/models")
        except httpx.TransportError as err:
            raise ConnectionError(f"cannot reach {self.base_url}: {err}") from None
        return reply.json().get("data", []) if reply.status_code == 200 else []

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        if len(queries) == 1:
            return [self._ask(queries[0], think)]
        return list(self.pool.map(lambda q: self._ask(q, think), queries))

    def _ask(self, query: Query, think: bool) -> Step:
        body = chat_request(query, self.views, self.model, think if self.ours else None)
        reply = self._post(body)
        if reply.status_code != 200:
            raise RuntimeError(f"{self.base_url}/chat/completions answered {reply.status_code}: {reply.text[:300]}")
        answer = reply.json()
        text = answer["choices"][0]["message"]["content"] or ""
        extra = answer.get("sole", {}) if self.ours else {}
        if isinstance(extra.get("progress"), int | float):
            return Step(progress=float(extra["progress"]), text=text if think else "",
                        parsed=extra.get("parsed", True) is not False)
        return answer_step(text, query.prev_progress, keep_text=think)

    def _post(self, body: dict) -> httpx.Response:
        """POST a chat request, asking again while the server says it is busy (see the module docstring)."""
        reply = self._send(body)
        for _ in range(self.retries):
            if reply.status_code not in BUSY:
                break
            time.sleep(retry_after(reply))
            reply = self._send(body)
        return reply

    def _send(self, body: dict) -> httpx.Response:
        try:
            return self.client.post(f"{self.base_url}/chat/completions", json=body)
        except httpx.TransportError as err:
            raise ConnectionError(f"lost {self.base_url}: {err}") from None


def from_spec(url: str) -> ApiReasoner:
    """``api:URL``, with the model, key and timeout from the environment (see the module docstring)."""
    return ApiReasoner(url, model=os.environ.get("SOLE_API_MODEL"), api_key=os.environ.get("SOLE_API_KEY"),
                       timeout=float(os.environ.get("SOLE_API_TIMEOUT", "60")),
                       workers=int(os.environ.get("SOLE_API_WORKERS", "8")),
                       retries=int(os.environ.get("SOLE_API_RETRIES", "5")))
