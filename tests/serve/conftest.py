import contextlib
import socket
import threading
import time

import pytest


@contextlib.contextmanager
def _serving(app):
    """``app`` on a free local port in a thread (a real server: its clients can leave)."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not srv.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def serving():
    """A context manager serving an app over real HTTP: ``with serving(app) as url: ...``."""
    return _serving
