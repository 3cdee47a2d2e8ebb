"""`sole serve`: a reasoner behind HTTP, for clients that score videos and for RL on other machines.

Endpoints (FastAPI, 127.0.0.1 by default):

- ``POST /v1/score``: ``{"goal": ..., "video": <base64 mp4>, "wrist": <base64 mp4>?, "scene": <base64 mp4>?,
  "stride": 1, "think": true}`` -> what ``sole score --json`` prints: per-frame progress, each queried step's
  reasoning, notes and ``parse_failures``. Each view is its own camera: one video given for two views is refused.
- ``POST /v1/chat/completions``: OpenAI-compatible. One user message holding the SOLE-R1 prompt text and one
  composite image (a row per view of first | previous | current frame, as `sole.models.api` sends and our SFT
  records hold) -> ``<think>...</think><answer>N%</answer>``; ``"think": false`` answers from the progress head.
  A request may carry the unrounded previous progress as ``"sole": {"prev_progress": p}`` (it must round to the
  prompt's percent), and the reply carries the unrounded answer and whether the model's text held a readable one as
  ``"sole": {"progress": p, "parsed": true}`` (OpenAI clients ignore it).
- ``GET /v1/models`` lists the one model with the views its composite rows must hold; ``GET /health``.

Every query goes through one `ModelQueue`: queries waiting together, from chat requests and from the steps of
whole-video scores alike, are answered in one batched call, so a long video never holds the model alone and several
RL environments or clients share one server. Videos and images are decoded in worker threads, off the event loop,
within per-request limits. A request whose client has gone is dropped: its queued queries are not answered and a
video score stops at its next step.

Errors, each a clear HTTP status with nothing half-done: a missing, malformed or wrong key when one is set (401;
``Authorization: Bearer KEY`` exactly), a body over ``max_body_mb`` (413), a video or image over ``max_frames``,
``max_pixels`` or ``max_decoded_mb`` (413, naming the limit), a malformed request (400 saying what is wrong, 422
for a field of the wrong JSON type), more than ``max_queue`` requests held at once (429) and a query the model did
not answer within ``queue_timeout_s`` (503); 429 and 503 carry ``Retry-After``. The goal caches of a compact model
are bounded by ``SOLE_GOAL_CACHE`` (`sole.models.goaltext`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import os
import secrets
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio.from_thread
import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from sole.models.base import Clip, Query, Reasoner, Step, parse_prompt, reason
from sole.models.registry import load_reasoner
from sole.models.score import ScoreConfig, check_request, load_clip, reading, to_uint8_frames
from sole.video import DecodeLimits, TooLargeError, check_limits

T = TypeVar("T")


@dataclass(frozen=True)
class ServeConfig:
    """Serve a reasoner over HTTP: /v1/score for videos, an OpenAI-compatible /v1/chat/completions for queries."""

    model: str = "compact"
    """Reasoner spec served (`sole.models.registry`): compact, compact:held-out-a, compact:held-out-b, a checkpoint
    directory. Experimental: checked:SPEC, contrast:SPEC, gated:SPEC and the min:/median:/mean: ensembles."""
    host: str = "127.0.0.1"
    """Interface to listen on; 0.0.0.0 exposes the server to the network."""
    port: int = 8000
    api_key: str | None = None
    """When set, every request but /health must send ``Authorization: Bearer KEY``; default ``SOLE_API_KEY`` from the
    environment (a key on the command line shows in the process list)."""
    max_body_mb: float = 64.0
    """Largest request body accepted (413 over it)."""
    max_queue: int = 64
    """Requests held at once (decoding, waiting for the model or being read); one more is refused with 429."""
    queue_timeout_s: float = 60.0
    """A query the model has not answered this long after it was queued is refused with 503."""
    retry_after_s: int = 1
    """Seconds a client refused with 429 or 503 is told to wait (``Retry-After``)."""
    max_batch: int = 64
    """Queries answered in one batched call of the model."""
    max_frames: int = 1000
    """Frames of one video in /v1/score (413 over it; the model reads every ``stride``-th)."""
    max_pixels: int = 2048 * 2048
    """Pixels of one video frame or chat image at its source size, width x height (413 over it)."""
    max_decoded_mb: float = 512.0
    """RGB megabytes one video or image decodes to at its source size, all frames together (413 over it)."""
    size: int = 64
    """Frames are resized to this square size (the compact model's input)."""

    def limits(self) -> DecodeLimits:
        return DecodeLimits(self.max_frames, self.max_pixels, self.max_decoded_mb)


class ScoreRequest(BaseModel):
    goal: str
    video: str
    """The external view (or the scene view for a scene-only model), a base64 mp4."""
    wrist: str | None = None
    scene: str | None = None
    stride: int = 1
    think: bool = True


class Abandoned(Exception):  # noqa: N818 - a request's client left, not an error of the server
    """The client of a request left; its remaining work is not done."""


@dataclass
class Pending:
    query: Query
    think: bool
    answer: asyncio.Future


class ModelQueue:
    """Who reads the model next. Queries that wait together are answered in one batched call (up to ``max_batch``,
    oldest first, those asking the same ``think``), on one thread of its own; at most ``max_queue`` requests are
    held at once (`admit`), and a query waits at most ``timeout_s``."""

    def __init__(self, reasoner: Reasoner, cfg: ServeConfig):
        self.reasoner, self.cfg = reasoner, cfg
        self.pending: list[Pending] = []
        self.active = 0
        self.model_thread = ThreadPoolExecutor(1, thread_name_prefix="sole-model")
        self._worker: asyncio.Task | None = None

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one of the ``max_queue`` request places for the block (429 when none is free)."""
        if self.active >= self.cfg.max_queue:
            raise HTTPException(429, f"{self.active} requests are being served (max_queue={self.cfg.max_queue}); "
                                     "retry later", headers=self._retry())
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    async def judge(self, queries: list[Query], think: bool) -> list[Step]:
        """The answers to ``queries``, batched with the queries waiting beside them."""
        loop = asyncio.get_running_loop()
        items = [Pending(q, think, loop.create_future()) for q in queries]
        self.pending += items
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work())
        try:
            return await asyncio.wait_for(asyncio.gather(*(it.answer for it in items)), self.cfg.queue_timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(503, f"the model did not answer within queue_timeout_s={self.cfg.queue_timeout_s:g} "
                                     "s; retry later", headers=self._retry()) from None
        except ValueError as err:  # the reasoner's word on a bad query
            raise HTTPException(400, str(err)) from None
        finally:
            for it in items:
                it.answer.cancel()  # a no-op once answered; drops what is still queued when the wait ended early

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while batch := self._take():
            think = batch[0].think
            try:
                steps = await loop.run_in_executor(
                    self.model_thread, partial(self.reasoner.judge, [it.query for it in batch], think=think))
            except Exception as err:  # noqa: BLE001 - each request of the batch gets the batch's error
                for it in batch:
                    if not it.answer.done():
                        it.answer.set_exception(err)
                continue
            for it, step in zip(batch, steps, strict=True):
                if not it.answer.done():
                    it.answer.set_result(step)

    def _take(self) -> list[Pending]:
        """The next batch: the oldest live queries that ask what the oldest asks (think or not)."""
        self.pending = [it for it in self.pending if not it.answer.done()]
        if not self.pending:
            return []
        think = self.pending[0].think
        batch = [it for it in self.pending if it.think == think][: self.cfg.max_batch]
        taken = {id(it) for it in batch}
        self.pending = [it for it in self.pending if id(it) not in taken]
        return batch

    def _retry(self) -> dict[str, str]:
        return {"Retry-After": str(self.cfg.retry_after_s)}


class Queued:
    """The served reasoner as a worker thread sees it: each `judge` goes through the `ModelQueue` on the event loop,
    and raises `Abandoned` once the request's client has left."""

    def __init__(self, queue: ModelQueue, gone: threading.Event):
        self.queue, self.gone = queue, gone
        self.views = tuple(queue.reasoner.views)

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        if self.gone.is_set():
            raise Abandoned
        return anyio.from_thread.run(self.queue.judge, queries, think)


async def unless_gone(request: Request, work: Awaitable[T], gone: threading.Event | None = None) -> T:
    """``work``'s result, unless the client leaves first: then ``work`` is cancelled, ``gone`` is set (for work in a
    thread to see) and `Abandoned` raised."""
    task, left = asyncio.ensure_future(work), asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({task, left}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        left.cancel()
    if task.done():
        return task.result()
    if gone is not None:
        gone.set()
    task.cancel()
    raise Abandoned


async def _disconnect(request: Request) -> None:
    """Returns when the client has gone (the body is read by then, so the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class KeyCheck:
    """ASGI middleware answering 401 to a request without ``Authorization: Bearer KEY`` (all but /health); the
    header is compared as bytes, so any header, ASCII or not, is simply wrong."""

    def __init__(self, app: Any, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] != "/health":
            scheme, _, sent = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not secrets.compare_digest(sent.strip(), self.key):
                return await _answer(send, 401, "missing or wrong API key (Authorization: Bearer KEY)")
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware refusing a request body over ``max_bytes`` with 413: at once by its Content-Length, or, for
    a chunked body, as soon as the bytes read pass the limit (the app then sees the client leave, and its answer to
    that is not sent)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0") or b"0"
        declared = int(length) if length.isdigit() else 0
        if declared > self.max_bytes:
            return await self._refuse(send, declared)
        read, started = 0, False

        async def counted() -> dict:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            return {"type": "http.disconnect"} if read > self.max_bytes else message

        async def watched(message: dict) -> None:
            nonlocal started
            if read > self.max_bytes and not started:
                return  # the app's answer to a body cut short is replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except ClientDisconnect:
            pass
        if read > self.max_bytes and not started:
            await self._refuse(send, read)

    async def _refuse(self, send: Any, size: int) -> None:
        await _answer(send, 413, f"request body of {size / 2**20:.1f} MB or more is over the max_body_mb="
                                 f"{self.max_bytes / 2**20:g} MB limit")


async def _answer(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def build_app(reasoner: Reasoner, cfg: ServeConfig) -> FastAPI:
    """The app serving ``reasoner`` (loaded by the caller, so tests can serve a tiny model)."""
    app = FastAPI(title="sole", description="SOLE-R1 style video-language progress reasoner")
    queue = ModelQueue(reasoner, cfg)
    app.add_middleware(BodyLimit, max_bytes=int(cfg.max_body_mb * 2**20))
    if cfg.api_key:
        app.add_middleware(KeyCheck, key=cfg.api_key)

    @app.exception_handler(Abandoned)
    def abandoned(request: Request, err: Abandoned) -> JSONResponse:
        return JSONResponse({"detail": "the client left before the answer"}, 499)  # never reaches anyone

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": cfg.model, "requests": queue.active,
                "queued": sum(not it.answer.done() for it in queue.pending)}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": cfg.model, "object": "model", "owned_by": "sole",
                                            "views": list(reasoner.views)}]}

    @app.post("/v1/score")
    async def score_video(req: ScoreRequest, request: Request) -> dict[str, Any]:
        with queue.admit():
            sc, clip, notes = await run_in_threadpool(decode_score, req, reasoner.views, cfg)
            gone = threading.Event()
            reader = Queued(queue, gone)
            return await unless_gone(request, run_in_threadpool(
                lambda: reading(sc, clip, notes, reason(reader, [clip], [sc.goal], think=sc.think,
                                                        stride=sc.stride)[0])), gone)

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any], request: Request) -> dict[str, Any]:
        with queue.admit():
            query, think = await run_in_threadpool(chat_query, body, reasoner.views, cfg)
            step = (await unless_gone(request, queue.judge([query], think)))[0]
        text = step.text if think and step.text else f"<answer>{round(100 * step.progress)}%</answer>"
        return completion(body.get("model") or cfg.model, text) | {"sole": {"progress": step.progress,
                                                                            "parsed": step.parsed}}

    return app


# ----------------------------------------------------------------------------------------------- reading requests


def decode_score(req: ScoreRequest, views: tuple[str, ...], cfg: ServeConfig) -> tuple[ScoreConfig, Clip, list[str]]:
    """The score config, clip and notes of a /v1/score request, its videos decoded within the limits through a
    temporary folder; errors name the request's fields, never the folder."""
    given = {"video": req.video, "wrist": req.wrist, "scene": req.scene}
    if empty := [field for field, data in given.items() if data is not None and not data.strip()]:
        raise HTTPException(400, f"{', '.join(empty)}: empty; give a base64 mp4")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {field: str(Path(tmp) / f"{field}.mp4") for field, data in given.items() if data is not None}
        for field, path in paths.items():
            Path(path).write_bytes(_b64(given[field], field))
        sc = ScoreConfig(goal=req.goal, model=cfg.model, stride=req.stride, think=req.think, size=cfg.size, **paths)
        try:
            check_request(sc)
            clip, notes = load_clip(sc, views, cfg.limits())
        except TooLargeError as err:
            raise HTTPException(413, _scrub(err, tmp)) from None
        except (ValueError, FileNotFoundError) as err:
            raise HTTPException(400, _scrub(err, tmp)) from None
    return sc, clip, notes


def _scrub(err: Exception, tmp: str) -> str:
    """The message with the temporary folder left out (``video`` rather than ``/tmp/.../video``)."""
    return str(err).replace(tmp + os.sep, "").replace(tmp, "")


def _b64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(400, f"{field}: not valid base64") from None


def chat_query(body: dict[str, Any], views: tuple[str, ...], cfg: ServeConfig) -> tuple[Query, bool]:
    """The query in a chat-completions body: prompt text and composite image of its last user message."""
    text, url = user_turn(body.get("messages"))
    try:
        goal, prev = parse_prompt(text)
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    prev = exact_prior(body.get("sole"), prev)
    frames = split_composite(read_image(url, cfg), views, cfg.size)
    return Query(goal=goal, first=frames[0], previous=frames[1], current=frames[2], prev_progress=prev), \
        bool(body.get("think", True))


def user_turn(messages: Any) -> tuple[str, str]:
    """The prompt text and the one image URL of the last user message, with a 400 for any other shape."""
    if not isinstance(messages, list):
        raise HTTPException(400, f"messages: a list of {{role, content}} objects, got {type(messages).__name__}")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise HTTPException(400, "messages: no user message")
    content = users[-1].get("content")
    parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
    if bad := [type(p).__name__ for p in parts if not isinstance(p, dict)]:
        raise HTTPException(400, f"content: each part is an object {{type: text | image_url, ...}}, got {bad[0]}")
    texts = [p.get("text") for p in parts if p.get("type") == "text"]
    if not all(isinstance(t, str) for t in texts):
        raise HTTPException(400, "content: a text part's text must be a string")
    images = [p.get("image_url") for p in parts if p.get("type") == "image_url"]
    if len(images) != 1:
        raise HTTPException(400, f"the user message needs exactly one composite image, got {len(images)}")
    if not isinstance(images[0], dict) or not isinstance(images[0].get("url"), str):
        raise HTTPException(400, 'image_url: an object {"url": "data:image/png;base64,..."}')
    return " ".join(texts), images[0]["url"]


def exact_prior(extra: Any, prompt_prev: float) -> float:
    """The unrounded previous progress a `sole.models.api` client sends beside the prompt (``"sole":
    {"prev_progress": p}``), checked against the prompt's whole percent; the prompt's when there is none."""
    p = extra.get("prev_progress") if isinstance(extra, dict) else None
    if p is None:
        return prompt_prev
    if not isinstance(p, int | float) or not -1.0 <= p <= 1.0 or round(100 * p) != round(100 * prompt_prev):
        raise HTTPException(400, f"sole.prev_progress {p!r} does not match the prompt's {round(100 * prompt_prev)}%")
    return float(p)


def read_image(url: str, cfg: ServeConfig) -> np.ndarray:
    """The RGB image of a ``data:image/...;base64`` URL, its size checked from the header before it is decoded."""
    if not url.startswith("data:image/") or ";base64," not in url:
        raise HTTPException(400, "image_url: only data:image/...;base64 URLs are read (this server fetches nothing)")
    data = _b64(url.split(";base64,", 1)[1], "image_url")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            w, h = image.size
            check_limits(cfg.limits(), 1, (w, h))
            return np.asarray(image.convert("RGB"))
    except TooLargeError as err:
        raise HTTPException(413, f"image_url: {err}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise HTTPException(413, f"image_url: over max_pixels={cfg.max_pixels} ({err})") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise HTTPException(400, f"image_url: not a readable image ({err})") from None


def split_composite(image: np.ndarray, views: tuple[str, ...], size: int) -> list[dict[str, np.ndarray]]:
    """First, previous and current frames per view from a composite of ``len(views)`` rows of three square frames."""
    h, w = image.shape[:2]
    side = w // 3
    if w % 3 or side == 0 or h != side * len(views):
        raise HTTPException(400, f"composite of {w}x{h} px: expected {len(views)} row(s) ({', '.join(views)}) of "
                                 "three square frames, first | previous | current")
    cells = [[image[r * side:(r + 1) * side, c * side:(c + 1) * side] for c in range(3)] for r in range(len(views))]
    return [{v: to_uint8_frames(cells[r][c][None], size, v)[0] for r, v in enumerate(views)} for c in range(3)]


def completion(model: str, text: str) -> dict[str, Any]:
    """An OpenAI chat.completion object holding ``text``."""
    return {"id": f"chatcmpl-{secrets.token_hex(8)}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": len(text.split()), "total_tokens": len(text.split())}}


def main(cfg: ServeConfig) -> None:
    import uvicorn

    cfg = replace(cfg, api_key=cfg.api_key or os.environ.get("SOLE_API_KEY"))
    app = build_app(load_reasoner(cfg.model), cfg)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="info")

