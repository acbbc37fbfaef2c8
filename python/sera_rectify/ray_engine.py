"""The conversion on Ray (the `engine: ray` var): the same write_chunk tasks as the fork pool, run as Ray tasks.

Ray is connected to the cluster at RAY_ADDRESS, or started here on this machine when it is not set. Each
planned chunk is one Ray task running parts.write_chunk, so the parts, their numbers (= source order) and
everything downstream are the same as with `engine: local`. Results are consumed in input order with a
bounded window of tasks in flight, as workers.ordered_map does. Ray retries a task whose worker died;
an exception raised by the function (a bad file) is not retried and surfaces as itself.

The paths in the tasks must be reachable by every node: the sources and the parts folder as object
storage URIs (s3://..., storage.py) or on a file system every node mounts; the tokenizer (a Hub id each
node loads, or a folder at the same path on every node) and the token cache, which the tasks only read
(docs/storage.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")

R = TypeVar("R")

INSTALL_HINT = "pip install -e '.[ray]' (the `ray` extra of sera-rectify pins ray==2.60.0; every node needs the same)"

# a worker that dies (killed, out of memory, node lost) is replaced and its task run again this often
TASK_RETRIES = 3

# Ray's own connect loop retries an address nobody answers for minutes (spike 16, §4): a plain TCP
# connect first fails in milliseconds, and these internal settings bound Ray's loop for the rest
CONNECT_TIMEOUT_SECONDS = 2.0

CONNECT_SETTINGS = {
    "RAY_gcs_server_port_wait_time_s": "1",
    "RAY_gcs_rpc_server_connect_timeout_s": "1",
    "RAY_py_gcs_connect_timeout_s": "1",
}

# set before Ray is first imported: a Ray started here then uses 127.0.0.1 and listens on loopback only
LOOPBACK_SETTING = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class EngineError(Exception):
    """Ray cannot be used for the conversion: the message says why and what to do."""


def import_ray() -> ModuleType:
    """ray, imported only when engine is ray (it is an optional dependency)."""
    try:
        import ray
    except ImportError as err:
        raise EngineError(f"engine ray needs the ray package, which is not installed: {INSTALL_HINT}.") from err
    return ray


def address_host(address: str) -> str:
    """The host of a Ray address (`ray://host:port`, `host:port`)."""
    return address.split("://")[-1].rpartition(":")[0]


def driver_settings(address: str) -> dict[str, str]:
    """Environment for joining the cluster at `address`: bounded connect timeouts, and for a cluster on
    this machine's loopback (a test cluster) Ray's loopback mode, without which the driver swaps
    127.0.0.1 for the machine's own address, where a loopback cluster does not listen."""
    loopback = address_host(address) in ("127.0.0.1", "localhost")
    return CONNECT_SETTINGS | ({LOOPBACK_SETTING: "0"} if loopback else {})


def check_reachable(address: str) -> None:
    """Fail in milliseconds, with one line naming RAY_ADDRESS, when nothing listens at the cluster's address
    (`auto` is left to Ray, which fails fast itself when no cluster runs here)."""
    if address == "auto":
        return
    _, _, port = address.split("://")[-1].rpartition(":")
    host = address_host(address)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS):
            return
    except (OSError, ValueError) as err:
        raise EngineError(
            f"RAY_ADDRESS={address}: no Ray cluster answers there ({err}). Start the cluster (`ray start --head` on its "
            "head node), set RAY_ADDRESS to the head node's host:port, or unset RAY_ADDRESS to run Ray on this machine."
        ) from None


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` set (those already set are kept), as it was afterwards."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update({name: value for name, value in values.items() if before[name] is None})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)


@contextmanager
def ray_session(cpus: int) -> Iterator[ModuleType]:
    """Ray, connected for the block: the cluster at RAY_ADDRESS, else a Ray started here with `cpus` CPUs
    on loopback, in a fresh temporary folder, shut down after the block (also on error). A Ray already
    connected in this process (a test, a notebook) is used as it is and left running."""
    address = os.environ.get("RAY_ADDRESS")
    if address:
        check_reachable(address)
        with environment(driver_settings(address)):
            ray = import_ray()
            if ray.is_initialized():
                yield ray
                return
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as err:
                raise EngineError(f"RAY_ADDRESS={address}: cannot connect to the Ray cluster there ({err}).") from None
            try:
                yield ray
            finally:
                ray.shutdown()
        return
    temp = tempfile.mkdtemp(prefix="sera-ray-")
    try:
        with environment({LOOPBACK_SETTING: "0", "RAY_TMPDIR": temp}):
            ray = import_ray()
            if ray.is_initialized():
                yield ray
                return
            ray.init(num_cpus=cpus, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
            try:
                yield ray
            finally:
                ray.shutdown()
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def task_result(ray: ModuleType, ref: Any) -> Any:
    """A task's result; an exception the function raised is raised here as itself (the same clear error
    as with the fork pool), not wrapped in Ray's RayTaskError."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, Exception):
            raise err.cause from None
        raise


def ray_ordered_map(function: Callable[[T], R], items: Iterable[T], cpus: int) -> Iterator[tuple[T, R]]:
    """(item, function(item)) for each item, in input order, each computed by a Ray task, with at most
    2 x the cluster's CPUs tasks in flight (`cpus`: the CPUs of a Ray started here). `function` must be
    importable on every node (a module-level function of the installed package)."""
    with ray_session(cpus) as ray:
        remote = ray.remote(function).options(max_retries=TASK_RETRIES, retry_exceptions=False)
        window_size = 2 * max(int(ray.cluster_resources().get("CPU", 1)), 1)
        window: deque[tuple[T, Any]] = deque()
        try:
            for item in items:
                window.append((item, remote.remote(item)))
                if len(window) >= window_size:
                    done, ref = window.popleft()
                    yield done, task_result(ray, ref)
            while window:
                done, ref = window.popleft()
                yield done, task_result(ray, ref)
        finally:
            for _, ref in window:  # stopped early (an error): nothing more runs for this conversion
                ray.cancel(ref, force=True)
