"""The map server answers only local pages: no listings, no foreign Host, clean 400s for odd paths."""

from __future__ import annotations

import http.client
import threading

import pytest

from omnivec.explore.server import make_server


@pytest.fixture
def served(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>map</title>")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "points.json").write_text("[]")
    server = make_server(tmp_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def test_local_pages_get_the_files(served):
    assert get(served, "/index.html")[0] == 200
    assert get(served, "/data/points.json", host=f"localhost:{served}") == (200, b"[]")
    assert get(served, "/", host="[::1]")[0] == 200


def test_folders_are_never_listed(served):
    status, body = get(served, "/data/")
    assert status == 404 and b"points.json" not in body


@pytest.mark.parametrize("host", ["evil.example:8765", "attacker.test", "127.0.0.1.nip.io", ""])
def test_a_foreign_host_is_refused(served, host):
    status, body = get(served, "/index.html", host=host)
    assert status == 400 and b"map" not in body


@pytest.mark.parametrize("path", ["/index.html%00.js", "/data/%00", "/../../etc/passwd", "/api/neighbors?point=x"])
def test_odd_paths_get_clean_answers(served, path):
    status, body = get(served, path)
    assert status in (400, 404) and b"Traceback" not in body and b"root:" not in body
