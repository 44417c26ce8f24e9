import pytest

from tests.support import LiveServer


@pytest.fixture
def live_server(tmp_path):
    """A real server process on a loopback port with its own data folder."""
    server = LiveServer(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()
