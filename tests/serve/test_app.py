import base64
import io
import json
import tempfile
import threading
import time

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from sole.models.api import chat_request
from sole.models.base import Query
from sole.models.registry import load_reasoner
from sole.serve.app import ServeConfig, build_app
from sole.video import write_mp4

GOAL = "close the window"


@pytest.fixture(scope="module")
def reasoner(tiny_checkpoint):
    return load_reasoner(tiny_checkpoint)


def client(reasoner, **kw):
    return TestClient(build_app(reasoner, ServeConfig(model="tiny", **kw)))


def mp4_b64(tmp_path, name, n=5, seed=0):
    frames = np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    return base64.b64encode(write_mp4(tmp_path / name, frames, fps=10).read_bytes()).decode()


def query(seed=0, prev=0.25):
    rng = np.random.default_rng(seed)
    frame = lambda: {v: rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for v in ("external", "wrist")}  # noqa: E731
    return Query(goal=GOAL, first=frame(), previous=frame(), current=frame(), prev_progress=prev)


def test_score_matches_the_score_command(reasoner, tmp_path):
    from sole.models.score import ScoreConfig, score

    video, wrist = mp4_b64(tmp_path, "a.mp4"), mp4_b64(tmp_path, "b.mp4", seed=1)
    reply = client(reasoner).post("/v1/score", json={"goal": GOAL, "video": video, "wrist": wrist, "stride": 2})
    assert reply.status_code == 200, reply.text
    local = score(ScoreConfig(goal=GOAL, video=str(tmp_path / "a.mp4"), wrist=str(tmp_path / "b.mp4"), stride=2),
                  reasoner)
    assert reply.json()["per_frame"] == local["per_frame"]
    assert [s["text"] for s in reply.json()["steps"]] == [s["text"] for s in local["steps"]]


@pytest.mark.parametrize("think", [True, False])
def test_chat_answers_what_the_reasoner_answers(reasoner, think):
    q = query()
    reply = client(reasoner).post("/v1/chat/completions", json=chat_request(q, reasoner.views, "tiny", think))
    assert reply.status_code == 200, reply.text
    text = reply.json()["choices"][0]["message"]["content"]
    step = reasoner.judge([q], think=think)[0]
    assert text == (step.text if think else f"<answer>{round(100 * step.progress)}%</answer>")
    assert reply.json()["sole"]["progress"] == step.progress  # unrounded, beside the text


def test_models_lists_the_views(reasoner):
    assert client(reasoner).get("/v1/models").json()["data"][0]["views"] == ["external", "wrist"]


@pytest.mark.parametrize("edit,status,match", [
    # the user turn is the last message: the composite image, then the text (sole.models.base.query_messages)
    (lambda b: b["messages"][-1]["content"].pop(0), 400, "exactly one composite image"),
    (lambda b: b["messages"][-1]["content"][1].update(text="how far along is it?"), 400, "SOLE-R1 query text"),
    (lambda b: b["messages"][-1]["content"][0]["image_url"].update(url="http://example.com/a.png"), 400, "data:"),
    (lambda b: b["messages"][-1]["content"][0]["image_url"].update(url="data:image/png;base64,AAAA"), 400,
     "not a readable image"),
    (lambda b: b.update(messages=[]), 400, "no user message"),
    (lambda b: b.update(sole={"prev_progress": 0.5}), 400, "does not match the prompt's"),
    (lambda b: b.update(sole={"prev_progress": "high"}), 400, "does not match the prompt's"),
])
def test_malformed_chat_requests(reasoner, edit, status, match):
    body = chat_request(query(), reasoner.views, "tiny", False)
    edit(body)
    reply = client(reasoner).post("/v1/chat/completions", json=body)
    assert reply.status_code == status and match in reply.json()["detail"]


def test_composite_with_the_wrong_rows(reasoner):
    body = chat_request(query(), ("external",), "tiny", False)
    reply = client(reasoner).post("/v1/chat/completions", json=body)
    assert reply.status_code == 400 and "2 row(s) (external, wrist)" in reply.json()["detail"]


@pytest.mark.parametrize("field,match", [("video", "not valid base64"), ("goal", "empty goal")])
def test_bad_score_requests(reasoner, tmp_path, field, match):
    body = {"goal": GOAL, "video": mp4_b64(tmp_path, "a.mp4")}
    body[field] = "%%%" if field == "video" else " "
    reply = client(reasoner).post("/v1/score", json=body)
    assert reply.status_code == 400 and match in reply.json()["detail"]


def test_one_frame_video_is_a_clear_error(reasoner, tmp_path):
    reply = client(reasoner).post("/v1/score", json={"goal": GOAL, "video": mp4_b64(tmp_path, "a.mp4", n=1)})
    assert reply.status_code == 400 and "1 frame" in reply.json()["detail"]


def test_api_key(reasoner):
    app = client(reasoner, api_key="k1")
    assert app.get("/v1/models").status_code == 401
    assert app.get("/v1/models", headers={"Authorization": "Bearer k2"}).status_code == 401
    assert app.get("/v1/models", headers={"Authorization": "Bearer k1"}).status_code == 200
    assert app.get("/health").status_code == 200


def test_body_limit(reasoner, tmp_path):
    app = client(reasoner, max_body_mb=0.001)
    body = {"goal": GOAL, "video": mp4_b64(tmp_path, "a.mp4")}
    reply = app.post("/v1/score", json=body)
    assert reply.status_code == 413 and "limit" in reply.json()["detail"]
    # chunked: no Content-Length, the limit is found while reading
    chunks = (json.dumps(body).encode()[i:i + 256] for i in range(0, len(json.dumps(body)), 256))
    reply = app.post("/v1/score", content=chunks, headers={"content-type": "application/json"})
    assert reply.status_code == 413 and "limit" in reply.json()["detail"]
    small = (b"x" for _ in range(1))  # under the limit, chunked: read whole and judged on its content
    assert app.post("/v1/chat/completions", content=small, headers={"content-type": "application/json"}).status_code \
        in (400, 422)


class Slow:
    """A reasoner that holds the model until released."""

    views = ("external", "wrist")

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()
        self.batches = []

    def judge(self, queries, *, think=True):
        from sole.models.base import Step

        self.batches.append(len(queries))
        self.started.set()
        self.release.wait(10)
        return [Step(progress=0.5) for _ in queries]


def wait_for(check, timeout=10):
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


def test_busy_model_refuses_past_the_queue_and_past_the_wait():
    slow = Slow()
    body = chat_request(query(), slow.views, "tiny", False)
    with TestClient(build_app(slow, ServeConfig(max_queue=2, queue_timeout_s=30))) as app:
        post = lambda: app.post("/v1/chat/completions", json=body)  # noqa: E731
        threads = [threading.Thread(target=post) for _ in range(2)]
        threads[0].start()
        assert slow.started.wait(10)
        threads[1].start()
        wait_for(lambda: app.get("/health").json()["requests"] >= 2)
        refused = post()
        slow.release.set()
        for t in threads:
            t.join()
    assert refused.status_code == 429 and "max_queue=2" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "1"
    slow = Slow()
    with TestClient(build_app(slow, ServeConfig(queue_timeout_s=0.2, retry_after_s=3))) as app:
        first = threading.Thread(target=app.post, args=("/v1/chat/completions",), kwargs={"json": body})
        first.start()
        assert slow.started.wait(10)
        late = app.post("/v1/chat/completions", json=body)
        slow.release.set()
        first.join()
    assert late.status_code == 503 and "queue_timeout_s=0.2" in late.json()["detail"]
    assert late.headers["retry-after"] == "3"


def test_queries_that_wait_together_are_answered_in_one_batch():
    slow = Slow()
    body = chat_request(query(), slow.views, "tiny", False)
    replies = []
    with TestClient(build_app(slow, ServeConfig())) as app:
        post = lambda: replies.append(app.post("/v1/chat/completions", json=body))  # noqa: E731
        threads = [threading.Thread(target=post) for _ in range(4)]
        threads[0].start()
        assert slow.started.wait(10)
        for t in threads[1:]:
            t.start()
        wait_for(lambda: app.get("/health").json()["queued"] >= 3)
        slow.release.set()
        for t in threads:
            t.join()
    assert slow.batches == [1, 3]
    assert [r.json()["choices"][0]["message"]["content"] for r in replies] == ["<answer>50%</answer>"] * 4


class Ticking:
    """A reasoner taking ``tick`` seconds a call, counting the queries it answered."""

    views = ("external", "wrist")

    def __init__(self, tick=0.03):
        self.tick, self.answered = tick, 0

    def judge(self, queries, *, think=True):
        from sole.models.base import Step

        time.sleep(self.tick)
        self.answered += len(queries)
        return [Step(progress=0.5, text="<answer>50%</answer>" if think else "") for _ in queries]


def test_a_long_video_does_not_hold_the_model_from_a_chat_query(tmp_path):
    ticking = Ticking()
    done = {}
    with TestClient(build_app(ticking, ServeConfig())) as app:
        video = {"goal": GOAL, "video": mp4_b64(tmp_path, "a.mp4", n=60), "think": False}
        scoring = threading.Thread(target=lambda: done.update(score=app.post("/v1/score", json=video)))
        scoring.start()
        wait_for(lambda: ticking.answered > 0)
        t0 = time.time()
        chat = app.post("/v1/chat/completions", json=chat_request(query(), ticking.views, "tiny", False))
        waited, score_running = time.time() - t0, scoring.is_alive()
        scoring.join()
    assert chat.status_code == 200 and done["score"].status_code == 200
    assert score_running and waited < 1.0  # answered between the video's steps, not after all 59 of them


def png_claiming(width, height):
    """A PNG whose header says ``width`` x ``height`` (a decompression bomb; the pixels are never there)."""
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (3, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return "data:image/png;base64," + base64.b64encode(bytes(data)).decode()


def with_image(body, url):
    body["messages"][-1]["content"][0]["image_url"]["url"] = url
    return body


@pytest.mark.parametrize("edit,status,match", [
    (lambda b: b.update(messages=5), 400, "messages: a list"),
    (lambda b: b["messages"][-1].update(content=["the robot's task is", "an image"]), 400, "each part is an object"),
    (lambda b: b["messages"][-1]["content"][0].update(image_url="data:image/png;base64,AAAA"), 400,
     'image_url: an object {"url"'),
    (lambda b: b["messages"][-1]["content"][1].update(text=5), 400, "text must be a string"),
    (lambda b: with_image(b, png_claiming(30000, 15000)), 413, "max_pixels"),
    (lambda b: with_image(b, png_claiming(9000, 9000)), 413, "max_pixels"),
])
def test_malformed_and_oversized_chat_requests_are_4xx(reasoner, edit, status, match):
    body = chat_request(query(), reasoner.views, "tiny", False)
    edit(body)
    reply = client(reasoner).post("/v1/chat/completions", json=body)
    assert reply.status_code == status and match in reply.json()["detail"], reply.text


@pytest.mark.parametrize("edit,status,match", [
    (lambda b, v: b.update(video=""), 400, "video: empty"),
    (lambda b, v: b.update(wrist=b["video"]), 400, "external and wrist views are the same video"),
    (lambda b, v: b.update(video=base64.b64encode(b"not a video").decode()), 400, "Invalid data found"),
    (lambda b, v: b.update(video=v(n=12)), 413, "max_frames=10"),
    (lambda b, v: b.update(video=v(size=128)), 413, "max_pixels=10000"),
    (lambda b, v: b.update(stride=0), 400, "stride must be"),
    (lambda b, v: b.update(goal=None), 422, "goal"),
    (lambda b, v: b.update(goal=5), 422, "goal"),
])
def test_bad_and_oversized_score_requests_are_4xx_without_paths(reasoner, tmp_path, edit, status, match):
    def video(n=5, size=64):
        frames = np.random.default_rng(n).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        return base64.b64encode(write_mp4(tmp_path / f"{n}-{size}.mp4", frames, fps=10).read_bytes()).decode()

    body = {"goal": GOAL, "video": mp4_b64(tmp_path, "a.mp4")}
    edit(body, video)
    reply = client(reasoner, max_frames=10, max_pixels=100 * 100).post("/v1/score", json=body)
    detail = json.dumps(reply.json()["detail"])
    assert reply.status_code == status and match in detail, reply.text
    assert tempfile.gettempdir() not in detail and "ffmpeg version" not in detail


def test_decoded_bytes_are_capped(reasoner, tmp_path):
    reply = client(reasoner, max_decoded_mb=0.05).post("/v1/score", json={"goal": GOAL,
                                                                         "video": mp4_b64(tmp_path, "a.mp4")})
    assert reply.status_code == 413 and "max_decoded_mb=0.05" in reply.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer k\xe9".encode("latin-1"), "Bearer k\u00e9".encode(), "k1", "Basic k1",
                                    "Bearer"])
def test_a_malformed_or_bare_key_is_401(reasoner, header):
    app = client(reasoner, api_key="k1")
    assert app.get("/v1/models", headers={"Authorization": header}).status_code == 401
    assert app.get("/v1/models", headers={"Authorization": "bearer k1"}).status_code == 200


def test_images_are_decoded_off_the_event_loop(reasoner, monkeypatch):
    import sole.serve.app as served

    decoding, finish = threading.Event(), threading.Event()
    read_image = served.read_image
    monkeypatch.setattr(served, "read_image", lambda url, cfg: decoding.set() or finish.wait(10) and
                        read_image(url, cfg))
    body = chat_request(query(), reasoner.views, "tiny", False)
    with TestClient(build_app(reasoner, ServeConfig())) as app:
        chat = threading.Thread(target=app.post, args=("/v1/chat/completions",), kwargs={"json": body})
        chat.start()
        assert decoding.wait(10)
        t0 = time.time()
        assert app.get("/health").status_code == 200
        waited = time.time() - t0
        finish.set()
        chat.join()
    assert waited < 1.0


def test_unparsed_answers_are_counted_in_the_replies(reasoner, tmp_path):
    """The untrained tiny model writes no <answer> tag: the replies say so instead of a silent fallback."""
    app = client(reasoner)
    scored = app.post("/v1/score", json={"goal": GOAL, "video": mp4_b64(tmp_path, "a.mp4"), "think": True}).json()
    assert scored["parse_failures"] == len(scored["steps"]) == 4 and "did not parse" in scored["notes"][-1]
    chat = app.post("/v1/chat/completions", json=chat_request(query(), reasoner.views, "tiny", True)).json()
    assert chat["sole"]["parsed"] is False


def test_main_serves_the_named_model_with_the_key_from_the_environment(tiny_checkpoint, monkeypatch):
    import uvicorn

    from sole.serve.app import main

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.setenv("SOLE_API_KEY", "env-key")
    main(ServeConfig(model=tiny_checkpoint, port=8123))
    app = TestClient(served["app"])
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    assert app.get("/v1/models").status_code == 401
    listed = app.get("/v1/models", headers={"Authorization": "Bearer env-key"}).json()["data"][0]
    assert listed["id"] == tiny_checkpoint and listed["views"] == ["external", "wrist"]


@pytest.mark.parametrize("think", [True, False])
def test_the_openai_client_reads_the_chat_endpoint(reasoner, think):
    """The official OpenAI client, pointed at `sole serve`, gets the answer the reasoner gives."""
    from openai import OpenAI

    q = query(seed=3)
    body = chat_request(q, reasoner.views, "tiny", None)
    api = OpenAI(base_url="http://testserver/v1", api_key="k", http_client=client(reasoner, api_key="k"))
    reply = api.chat.completions.create(model="tiny", messages=body["messages"], temperature=0,
                                        extra_body={"think": think})
    step = reasoner.judge([q], think=think)[0]
    expected = step.text if think else f"<answer>{round(100 * step.progress)}%</answer>"
    assert reply.choices[0].message.content == expected
    assert api.models.list().data[0].id == "tiny"


def leave_after(url, seconds, **kw):
    """POST and leave: the client closes its connection after ``seconds`` without an answer."""
    with pytest.raises(httpx.TimeoutException):
        httpx.post(url, timeout=seconds, **kw)


def test_a_query_whose_client_left_is_not_answered(serving):
    slow = Slow()
    body = chat_request(query(), slow.views, "tiny", False)
    app = build_app(slow, ServeConfig())
    with serving(app) as url:
        first = threading.Thread(target=httpx.post, args=(f"{url}/v1/chat/completions",), kwargs={"json": body})
        first.start()
        assert slow.started.wait(10)
        leave_after(f"{url}/v1/chat/completions", 0.5, json=body)
        wait_for(lambda: httpx.get(f"{url}/health").json() == {"status": "ok", "model": "compact", "requests": 1,
                                                                 "queued": 0})
        slow.release.set()
        first.join()
    assert slow.batches == [1]  # the query of the client that left never reached the model


def test_a_video_score_stops_when_its_client_leaves(serving, tmp_path):
    ticking = Ticking(tick=0.05)
    with serving(build_app(ticking, ServeConfig())) as url:
        video = {"goal": GOAL, "video": mp4_b64(tmp_path, "a.mp4", n=60), "think": False}
        leave_after(f"{url}/v1/score", 0.6, json=video)
        wait_for(lambda: httpx.get(f"{url}/health").json()["requests"] == 0)
        time.sleep(0.2)  # the step under way when the client left may still finish
        answered = ticking.answered
        time.sleep(0.3)
    assert ticking.answered == answered < 59  # stopped, and well before the video's end
