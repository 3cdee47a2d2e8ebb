import base64
import json
import threading

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


def test_busy_model_refuses_past_the_queue_and_past_the_wait():
    slow = Slow()
    body = chat_request(query(), slow.views, "tiny", False)
    with TestClient(build_app(slow, ServeConfig(max_queue=1, queue_timeout_s=30))) as app:
        post = lambda: app.post("/v1/chat/completions", json=body)  # noqa: E731
        threads = [threading.Thread(target=post) for _ in range(2)]
        threads[0].start()
        assert slow.started.wait(10)
        threads[1].start()
        while app.get("/health").json()["waiting"] < 1:
            pass
        refused = post()
        slow.release.set()
        for t in threads:
            t.join()
    assert refused.status_code == 429 and "retry later" in refused.json()["detail"]
    slow = Slow()
    with TestClient(build_app(slow, ServeConfig(queue_timeout_s=0.2))) as app:
        first = threading.Thread(target=app.post, args=("/v1/chat/completions",), kwargs={"json": body})
        first.start()
        assert slow.started.wait(10)
        late = app.post("/v1/chat/completions", json=body)
        slow.release.set()
        first.join()
    assert late.status_code == 503


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
        while app.get("/health").json()["waiting"] < 3:
            pass
        slow.release.set()
        for t in threads:
            t.join()
    assert slow.batches == [1, 3]
    assert [r.json()["choices"][0]["message"]["content"] for r in replies] == ["<answer>50%</answer>"] * 4


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
