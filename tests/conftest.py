import pytest
from hypothesis import HealthCheck, settings

from tests.support import LiveServer

# The suite runs on a shared 2-core machine, its tests in parallel: how fast Hypothesis
# draws examples says nothing about the code under test. Its "too slow" health check
# failed a CSV round-trip under load (9 examples in 1.2 s), and a per-example deadline
# measures the machine too; every other check stays.
settings.register_profile("suite", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("suite")


@pytest.fixture
def live_server(tmp_path):
    """A real server process on a loopback port with its own data folder."""
    server = LiveServer(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()
