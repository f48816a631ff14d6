"""One real local Ray for every test that needs it (starting one takes seconds)."""

import pytest
import ray


@pytest.fixture(scope="session")
def ray_cluster():
    """A 2-CPU local Ray; the address lets a second driver (a subprocess) join it."""
    context = ray.init(num_cpus=2, include_dashboard=False)
    yield context.address_info["address"]
    ray.shutdown()
