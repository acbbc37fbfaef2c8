"""The Ray engine's ordered map (sera_rectify.ray_engine), on Ray started here on loopback.

Why: `engine: ray` must give the same parts as the fork pool. That holds when results come back in input
order (part numbers = source order), when at most a window of tasks is in flight (memory stays bounded
whatever the input's size), when an exception of the function (a bad file) surfaces once as itself
instead of being retried, and when a worker killed mid-task is replaced by Ray and the result is the same.
Every Ray here listens on 127.0.0.1 only (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, ../shared/notes/ray-local.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sera_rectify import chunks
from sera_rectify.chunks import Dataset
from sera_rectify.parts import ChunkTask, ChunkWritten, chunk_tasks, write_chunk
from sera_rectify.ray_engine import LOOPBACK_SETTING, EngineError, check_reachable, ray_ordered_map, ray_session
from sera_rectify.sources import SourceError, SourceFile
from sera_testkit.constants import SAMPLE_DIR

MODULE = sys.modules[__name__]
KILLED_CHUNK = 1


def square_slowly(item: int) -> int:
    """Later items finish first, so an ordered result is the map's doing."""
    time.sleep(0.05 * (5 - item % 5))
    return item * item


def fail_on_three(item: tuple[int, str]) -> int:
    """Counts its attempts in a file, and fails for item 3 as write_chunk does for a bad file."""
    number, attempts = item
    with open(attempts, "a") as handle:
        handle.write(f"{number}\n")
    if number == 3:
        raise SourceError("rows/3.jsonl: cannot read. Re-download the file.")
    return number


def write_chunk_killed_once(task: ChunkTask) -> ChunkWritten:
    """write_chunk, except that the first attempt at KILLED_CHUNK records its pid (for the test to kill) and waits."""
    marker = Path(task.parts_dir) / f"chunk-{task.chunk_number:06d}.pid"
    if task.chunk_number == KILLED_CHUNK and not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(60)
    return write_chunk(task)


@pytest.fixture(scope="module", autouse=True)
def loopback_ray() -> Iterator[None]:
    """Ray on loopback only (the setting must be there when ray is first imported); the Ray workers cannot
    import this test module, so its functions travel by value."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOOPBACK_SETTING, "0")
        patch.delenv("RAY_ADDRESS", raising=False)
        import ray.cloudpickle

        ray.cloudpickle.register_pickle_by_value(MODULE)
        yield
        ray.cloudpickle.unregister_pickle_by_value(MODULE)


def sample_tasks(parts_dir: Path) -> list[ChunkTask]:
    """The chunk tasks of one sample file (690 KB of real-shaped rows), in byte ranges of 100 KB."""
    dataset = "Sera-4.6-Lite-T1"
    relative = f"{dataset}/sera-4.6-lite-t1_sample.jsonl"
    path = SAMPLE_DIR / relative
    source = SourceFile(dataset, relative, str(path), "jsonl", path.stat().st_size)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chunks, "CHUNK_MAX_BYTES", 100_000)
        return list(chunk_tasks([(source, Dataset(dataset, 3, "GLM-4.6", "lite", "T1"))], str(parts_dir), None))


def summary(written: ChunkWritten) -> list[tuple]:
    """What a task wrote, without the folder (the two runs write to different folders)."""
    return [(Path(part.path).name, part.first_row, part.n_rows, part.n_rejected, part.part_bytes) for part in written.parts]


def digests(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.glob("part-*.parquet"))}


@pytest.fixture(scope="class")
def local_ray() -> Iterator[None]:
    """One Ray of 2 CPUs started by ray_session, as `engine: ray` without RAY_ADDRESS starts it."""
    with ray_session(2) as ray:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        yield


@pytest.mark.usefixtures("local_ray")
class TestLocalRay:
    def test_results_in_input_order(self) -> None:
        assert list(ray_ordered_map(square_slowly, range(12), 2)) == [(i, i * i) for i in range(12)]

    def test_at_most_two_tasks_per_cpu_in_flight(self) -> None:
        submitted: list[int] = []

        def items() -> Iterator[int]:
            for item in range(12):
                submitted.append(item)
                yield item

        for n_done, (item, _) in enumerate(ray_ordered_map(square_slowly, items(), 2)):
            assert item == n_done
            assert len(submitted) - n_done <= 4

    def test_an_exception_of_the_function_surfaces_once_as_itself(self, tmp_path: Path) -> None:
        attempts = tmp_path / "attempts"
        with pytest.raises(SourceError) as err:
            list(ray_ordered_map(fail_on_three, [(number, str(attempts)) for number in range(6)], 2))
        assert type(err.value) is SourceError
        assert str(err.value) == "rows/3.jsonl: cannot read. Re-download the file."
        assert attempts.read_text().split().count("3") == 1


def test_unreachable_address_fails_fast_with_one_line() -> None:
    started = time.perf_counter()
    with pytest.raises(EngineError) as err:
        check_reachable("127.0.0.1:1")
    assert time.perf_counter() - started < 1
    assert str(err.value).startswith("RAY_ADDRESS=127.0.0.1:1: no Ray cluster answers there")
    assert "\n" not in str(err.value)


def test_worker_killed_mid_task_gives_the_same_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two nodes of 1 CPU on loopback; the worker converting part 1 is SIGKILLed; Ray runs the task again."""
    local = tmp_path / "local"
    local.mkdir()
    expected = [summary(write_chunk(task)) for task in sample_tasks(local)]
    assert len(expected) > KILLED_CHUNK + 1
    # a short fresh folder (Ray's socket paths must stay under 108 bytes); Cluster writes $RAY_TMPDIR/ray/ray_current_cluster
    ray_tmp = Path(tempfile.mkdtemp(prefix="sera-ray-test-"))
    (ray_tmp / "ray").mkdir()
    monkeypatch.setenv("RAY_TMPDIR", str(ray_tmp))
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        monkeypatch.setenv("RAY_ADDRESS", cluster.address)
        parts = tmp_path / "ray"
        parts.mkdir()
        marker = parts / f"chunk-{KILLED_CHUNK:06d}.pid"

        def kill_when_started() -> None:
            while not marker.exists() or not marker.read_text():
                time.sleep(0.05)
            os.kill(int(marker.read_text()), signal.SIGKILL)

        killer = threading.Thread(target=kill_when_started, daemon=True)
        killer.start()
        results = list(ray_ordered_map(write_chunk_killed_once, sample_tasks(parts), 2))
        killer.join(timeout=5)
    finally:
        cluster.shutdown()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert not killer.is_alive(), "the worker converting the part was never killed"
    assert [summary(written) for _, written in results] == expected
    assert digests(parts) == digests(local)
