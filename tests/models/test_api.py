import socket
import threading
import time

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient

from sole.models.api import ApiReasoner, chat_request
from sole.models.base import SYSTEM_PROMPT, Clip, Query, prompt_text, reason
from sole.models.registry import load_reasoner
from sole.serve.app import ServeConfig, build_app

GOAL = "close the window"


@pytest.fixture(scope="module")
def local(tiny_checkpoint):
    return load_reasoner(tiny_checkpoint)


def clip(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return Clip({v: rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8) for v in ("external", "wrist")})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(local):
    """`sole serve` on a free local port, in a thread, with an API key."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(build_app(local, ServeConfig(model="tiny", api_key="k")), port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    srv.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("think", [False, True])
def test_api_spec_over_a_real_server_reads_what_the_model_reads(server, local, monkeypatch, think):
    monkeypatch.setenv("SOLE_API_KEY", "k")
    remote = load_reasoner(f"api:{server}")
    assert remote.model == "tiny" and remote.views == local.views
    clips = [clip(seed=0), clip(seed=1)]
    here = reason(local, clips, [GOAL, GOAL], think=think, stride=2)
    there = reason(remote, clips, [GOAL, GOAL], think=think, stride=2)
    for a, b in zip(here, there, strict=True):
        if think:  # the written answer travels as text, so both read the same completion
            assert [s.text for _, s in a.steps] == [s.text for _, s in b.steps]
        # `sole serve` sends the unrounded progress too, so the loop feeds back the same priors
        np.testing.assert_allclose(a.per_frame, b.per_frame, atol=1e-6)


def test_wrong_key_is_a_clear_error(server, monkeypatch):
    monkeypatch.setenv("SOLE_API_KEY", "wrong")
    remote = load_reasoner(f"api:{server}")
    with pytest.raises(RuntimeError, match="401"):
        reason(remote, [clip()], [GOAL], think=False)


def test_unreachable_endpoint_and_missing_url():
    with pytest.raises(ConnectionError, match="cannot reach"):
        ApiReasoner(f"http://127.0.0.1:{free_port()}/v1", timeout=2)
    with pytest.raises(ValueError, match="base URL"):
        load_reasoner("api")


def test_another_endpoint_gets_the_record_views_and_no_think_field(local):
    app = TestClient(build_app(local, ServeConfig()))
    app.get = lambda url: type("R", (), {"status_code": 404})()
    sent = []
    reply = type("R", (), {"status_code": 200,
                           "json": lambda self: {"choices": [{"message": {"content": "<answer>40%</answer>"}}]}})
    app.post = lambda url, json: sent.append(json) or reply()
    remote = ApiReasoner("http://testserver/v1", client=app)
    assert remote.views == ("external", "wrist") and remote.model == "default" and not remote.ours
    judged = reason(remote, [clip()], [GOAL], think=False)[0]
    assert judged.progress == 0.4 and sent and all("think" not in body for body in sent)


def test_malformed_reply_falls_back_to_the_previous_progress(local):
    app = TestClient(build_app(local, ServeConfig()))
    reply = type("R", (), {"status_code": 200, "json": lambda self: {"choices": [{"message": {"content": "hm"}}]}})
    app.post = lambda url, json: reply()
    judged = reason(ApiReasoner("http://testserver/v1", client=app), [clip()], [GOAL], think=False)[0]
    assert judged.progress == 0.0 and all(s.progress == 0.0 for _, s in judged.steps)
    assert judged.parse_failures == len(judged.steps) == 4  # counted, not silent


def test_a_request_holds_the_system_turn_then_the_image_before_the_text():
    q = Query(GOAL, *({v: np.zeros((8, 8, 3), np.uint8) for v in ("external", "wrist")} for _ in range(3)),
              prev_progress=0.35)
    messages = chat_request(q, ("external", "wrist"), "m", None)["messages"]
    assert messages[0] == {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]}
    assert [p["type"] for p in messages[1]["content"]] == ["image_url", "text"]
    assert messages[1]["content"][1]["text"] == prompt_text(GOAL, 0.35)


def busy_endpoint(refusals: int, status: int = 429, retry_after: str = "2"):
    """An httpx client whose endpoint refuses the first ``refusals`` chat requests as busy, then answers 40%."""
    import httpx

    posts = []

    def handle(request):
        if request.method == "GET":
            return httpx.Response(404)
        posts.append(request)
        if len(posts) <= refusals:
            return httpx.Response(status, headers={"Retry-After": retry_after}, text="busy")
        return httpx.Response(200, json={"choices": [{"message": {"content": "<answer>40%</answer>"}}]})
    return httpx.Client(transport=httpx.MockTransport(handle)), posts


def test_a_busy_server_is_asked_again_after_its_retry_after(monkeypatch):
    import sole.models.api as api

    waits = []
    monkeypatch.setattr(api.time, "sleep", waits.append)
    client, posts = busy_endpoint(refusals=2)
    remote = ApiReasoner("http://busy/v1", client=client, retries=5)
    assert reason(remote, [clip(n=2)], [GOAL], think=False)[0].progress == 0.4
    assert waits == [2.0, 2.0] and len(posts) == 3


def test_a_server_still_busy_after_the_retries_is_an_error(monkeypatch):
    import sole.models.api as api

    waits = []
    monkeypatch.setattr(api.time, "sleep", waits.append)
    client, posts = busy_endpoint(refusals=99, status=503, retry_after="600")
    with pytest.raises(RuntimeError, match="answered 503"):
        reason(ApiReasoner("http://busy/v1", client=client, retries=3), [clip(n=2)], [GOAL], think=False)
    assert waits == [api.MAX_WAIT_S] * 3 and len(posts) == 4
