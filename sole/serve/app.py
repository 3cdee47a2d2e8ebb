"""`sole serve`: a reasoner behind HTTP, for clients that score videos and for RL on other machines.

Endpoints (FastAPI, 127.0.0.1 by default):

- ``POST /v1/score``: ``{"goal": ..., "video": <base64 mp4>, "wrist": <base64 mp4>?, "scene": <base64 mp4>?,
  "stride": 1, "think": true}`` -> what ``sole score --json`` prints: per-frame progress and each queried step's
  reasoning.
- ``POST /v1/chat/completions``: OpenAI-compatible. One user message holding the SOLE-R1 prompt text and one
  composite image (a row per view of first | previous | current frame, as `sole.models.api` sends and our SFT
  records hold) -> ``<think>...</think><answer>N%</answer>``; ``"think": false`` answers from the progress head.
  A request may carry the unrounded previous progress as ``"sole": {"prev_progress": p}`` (it must round to the
  prompt's percent), and the reply carries the unrounded answer as ``"sole": {"progress": p}`` (OpenAI clients
  ignore it); `sole.models.api` uses both: fed back as the next prior, whole percents made a long episode drift.
- ``GET /v1/models`` lists the one model with the views its composite rows must hold; ``GET /health``.

Limits, each a clear HTTP error with nothing half-done: a wrong or missing key when one is set (401), a body over
``max_body_mb``, declared or chunked (413), a malformed request (400 with what is wrong, 422 for a wrong JSON
shape), more than ``max_queue`` requests waiting for the model (429, retry later), and a wait over
``queue_timeout_s`` (503).
Chat queries that arrive while the model is busy are answered together in one batched call (`ModelQueue`), so
several RL environments or runs can share one server.
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
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from sole.models.base import Query, Reasoner, Step, parse_prompt
from sole.models.registry import load_reasoner
from sole.models.score import ScoreConfig, score, to_uint8_frames


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
    """Largest request body accepted."""
    max_queue: int = 16
    """Requests allowed to wait for the model; one more is refused with 429."""
    queue_timeout_s: float = 60.0
    """A request that waited this long for the model is refused with 503."""
    size: int = 64
    """Frames are resized to this square size (the compact model's input)."""


class ScoreRequest(BaseModel):
    goal: str
    video: str
    """The external view (or the scene view for a scene-only model), a base64 mp4."""
    wrist: str | None = None
    scene: str | None = None
    stride: int = 1
    think: bool = True


class ModelQueue:
    """Who reads the model next. Chat queries that wait together are answered in one batched call (the compact
    model reads a query of a batch in 0.7 ms against 1.2 ms alone; a larger model behind `api:` gains more); a
    whole-video score holds the model alone. At most ``max_queue`` requests wait, each at most ``timeout_s``."""

    def __init__(self, reasoner: Reasoner, max_queue: int, timeout_s: float, max_batch: int = 64):
        self.reasoner = reasoner
        self.lock = asyncio.Lock()
        self.pending: list[tuple[Query, bool, asyncio.Future]] = []
        self.exclusive = 0
        self.max_queue, self.timeout_s, self.max_batch = max_queue, timeout_s, max_batch

    @property
    def waiting(self) -> int:
        return len(self.pending) + self.exclusive

    async def judge(self, query: Query, think: bool) -> Step:
        """One query's answer, batched with the chat queries waiting beside it."""
        self._admit()
        item = (query, think, asyncio.get_running_loop().create_future())
        self.pending.append(item)
        try:
            await self._acquire()
        except HTTPException:
            if item in self.pending:
                self.pending.remove(item)
            raise
        try:
            if not item[2].done():
                batch = [it for it in self.pending if it[1] == think][: self.max_batch]
                for it in batch:
                    self.pending.remove(it)
                await self._answer(batch, think)
        finally:
            self.lock.release()
        return await _or_400(item[2])

    async def _answer(self, batch: list[tuple[Query, bool, asyncio.Future]], think: bool) -> None:
        try:
            steps = await run_in_threadpool(lambda: self.reasoner.judge([q for q, _, _ in batch], think=think))
        except Exception as err:  # noqa: BLE001 - each waiting request gets the error of its batch
            for _, _, fut in batch:
                fut.set_exception(err)
            return
        for (_, _, fut), step in zip(batch, steps, strict=True):
            fut.set_result(step)

    async def run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` with the model to itself (a whole video)."""
        self._admit()
        self.exclusive += 1
        try:
            await self._acquire()
        finally:
            self.exclusive -= 1
        try:
            return await _or_400(run_in_threadpool(fn, *args))
        finally:
            self.lock.release()

    def _admit(self) -> None:
        if self.waiting >= self.max_queue:
            raise HTTPException(429, f"{self.waiting} requests are waiting for the model; retry later")

    async def _acquire(self) -> None:
        try:
            await asyncio.wait_for(self.lock.acquire(), self.timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(503, f"the model stayed busy for {self.timeout_s:.0f} s; retry later") from None


async def _or_400(result: Any) -> Any:
    """The awaited result, with a bad input (ValueError, FileNotFoundError) as HTTP 400."""
    try:
        return await result
    except (ValueError, FileNotFoundError) as err:
        raise HTTPException(400, str(err)) from None


class BodyLimit:
    """ASGI middleware refusing a request body over ``max_bytes`` with 413: at once by its Content-Length, or, for
    a chunked body, as soon as the bytes read pass the limit (the app then sees the client leave, and its answer to
    that is not sent)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = int(dict(scope["headers"]).get(b"content-length", b"0") or 0)
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
        body = json.dumps({"detail": f"request body of {size / 2**20:.1f} MB or more is over the "
                                     f"{self.max_bytes / 2**20:g} MB limit"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def build_app(reasoner: Reasoner, cfg: ServeConfig) -> FastAPI:
    """The app serving ``reasoner`` (loaded by the caller, so tests can serve a tiny model)."""
    app = FastAPI(title="sole", description="SOLE-R1 style video-language progress reasoner")
    queue = ModelQueue(reasoner, cfg.max_queue, cfg.queue_timeout_s)

    @app.middleware("http")
    async def limits(request: Request, call_next: Any) -> Any:
        if cfg.api_key and request.url.path != "/health":
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not secrets.compare_digest(sent, cfg.api_key):
                return JSONResponse({"detail": "missing or wrong API key (Authorization: Bearer KEY)"}, 401)
        return await call_next(request)

    app.add_middleware(BodyLimit, max_bytes=int(cfg.max_body_mb * 2**20))

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": cfg.model, "waiting": queue.waiting}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": cfg.model, "object": "model", "owned_by": "sole",
                                            "views": list(reasoner.views)}]}

    @app.post("/v1/score")
    async def score_video(req: ScoreRequest) -> dict[str, Any]:
        return await queue.run(score_request, reasoner, req, cfg)

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> dict[str, Any]:
        query, think = chat_query(body, reasoner.views, cfg.size)
        step = await queue.judge(query, think)
        text = step.text if think and step.text else f"<answer>{round(100 * step.progress)}%</answer>"
        return completion(body.get("model") or cfg.model, text) | {"sole": {"progress": step.progress}}

    return app


def score_request(reasoner: Reasoner, req: ScoreRequest, cfg: ServeConfig) -> dict[str, Any]:
    """`sole score` on the request's videos, written to a temporary folder for the decoder."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {view: _write_video(Path(tmp) / f"{view}.mp4", data, view)
                 for view, data in (("video", req.video), ("wrist", req.wrist), ("scene", req.scene)) if data}
        return score(ScoreConfig(goal=req.goal, model=cfg.model, stride=req.stride, think=req.think, size=cfg.size,
                                 **paths), reasoner)


def _write_video(path: Path, data: str, field: str) -> str:
    path.write_bytes(_b64(data, field))
    return str(path)


def _b64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(400, f"{field}: not valid base64") from None


def chat_query(body: dict[str, Any], views: tuple[str, ...], size: int) -> tuple[Query, bool]:
    """The query in a chat-completions body: prompt text and composite image of its last user message."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise HTTPException(400, "messages: no user message")
    content = users[-1].get("content")
    parts = content if isinstance(content, list) else [{"type": "text", "text": str(content or "")}]
    text = " ".join(p.get("text", "") for p in parts if p.get("type") == "text")
    urls = [p.get("image_url", {}).get("url", "") for p in parts if p.get("type") == "image_url"]
    if len(urls) != 1:
        raise HTTPException(400, f"the user message needs exactly one composite image, got {len(urls)}")
    try:
        goal, prev = parse_prompt(text)
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    prev = exact_prior(body.get("sole"), prev)
    frames = split_composite(_image(urls[0]), views, size)
    return Query(goal=goal, first=frames[0], previous=frames[1], current=frames[2], prev_progress=prev), \
        bool(body.get("think", True))


def exact_prior(extra: Any, prompt_prev: float) -> float:
    """The unrounded previous progress a `sole.models.api` client sends beside the prompt (``"sole":
    {"prev_progress": p}``), checked against the prompt's whole percent; the prompt's when there is none."""
    p = extra.get("prev_progress") if isinstance(extra, dict) else None
    if p is None:
        return prompt_prev
    if not isinstance(p, int | float) or not -1.0 <= p <= 1.0 or round(100 * p) != round(100 * prompt_prev):
        raise HTTPException(400, f"sole.prev_progress {p!r} does not match the prompt's {round(100 * prompt_prev)}%")
    return float(p)


def _image(url: str) -> np.ndarray:
    if not url.startswith("data:image/") or ";base64," not in url:
        raise HTTPException(400, "image_url: only data:image/...;base64 URLs are read (this server fetches nothing)")
    try:
        return np.asarray(Image.open(io.BytesIO(_b64(url.split(";base64,", 1)[1], "image_url"))).convert("RGB"))
    except OSError as err:
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
