"""cluster.yaml passes Ray's own autoscaler validation (offline) and keeps the properties raydim relies on."""

import re
import tomllib

import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.conftest import REPO

CONFIG = yaml.safe_load((REPO / "cluster.yaml").read_text())


def test_cluster_yaml_is_valid_for_ray_up():
    validate_config(prepare_config(CONFIG))


def test_image_runs_the_pinned_ray():
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    [ray_pin] = [p for p in pins if p.startswith("ray[")]
    version = re.search(r"==([\d.]+)", ray_pin).group(1)
    assert version == ray.__version__
    for image in (CONFIG["docker"]["image"], CONFIG["docker"]["head_image"]):
        assert image.startswith(f"rayproject/ray:{version}-")


def test_trials_run_on_gpu_workers_not_the_head():
    nodes = CONFIG["available_node_types"]
    assert nodes[CONFIG["head_node_type"]]["resources"] == {"CPU": 0}
    assert {name for name in nodes if name.startswith("gpu")} == {"gpu-1", "gpu-8"}
    assert all(nodes[name]["min_workers"] == 0 for name in ("gpu-1", "gpu-8"))  # autoscaled from zero


def test_dashboard_is_not_open_to_the_internet():
    [start] = [c for c in CONFIG["head_start_ray_commands"] if "ray start" in c]
    assert "--dashboard-host=127.0.0.1" in start and "0.0.0.0" not in start


def test_header_says_how_to_run_and_that_results_go_to_s3():
    header = (REPO / "cluster.yaml").read_text().split("cluster_name")[0]
    assert "ray up cluster.yaml" in header and "--address auto" in header and "s3://" in header
    assert "ray dashboard cluster.yaml" in header and "ray job submit" in header
