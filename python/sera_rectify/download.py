"""`python -m sera_rectify download`: fetch the SERA source datasets from the Hugging Face Hub.

Each dataset goes to `<dest>/<dataset>/`, keeping the repo's paths, which is the layout spec/sources.md reads:
build with `dbt build --vars '{sources_dir: <dest>}'`. Only data files come (*.jsonl, *.jsonl.gz, *.jsonl.zst,
*.parquet at any depth), never the card or .gitattributes.

huggingface_hub's `snapshot_download` does the work (local_dir mode):
- it lists the repo at one commit (`/api/datasets/<repo>/revision/<rev>`, then `/api/datasets/<repo>/tree/<commit>`)
  and fetches each file from `/datasets/<repo>/resolve/<commit>/<path>` (or from Xet storage, as the Hub serves
  large files);
- it records each finished file (commit and ETag) under `<dest>/<dataset>/.cache/huggingface/`, so a re-run
  fetches only what is missing or changed: an interrupted download resumes at the first unfinished file (a file
  cut off mid-way is fetched again; within one run a dropped connection resumes at the byte it stopped at). The
  dot-folder is skipped by the source reader (spec/sources.md);
- progress bars are huggingface_hub's (HF_HUB_DISABLE_PROGRESS_BARS=1 turns them off); HF_ENDPOINT (or --endpoint)
  points it at a mirror, HF_TOKEN / `hf auth login` supplies a token.

Errors (no network, repo or revision missing, disk full) print one line on stderr naming the dataset and what to
do, and exit with status 2; finished files stay, so running the same command again continues.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from .datasets import SERA_DATASETS

# Dataset folder name -> Hub dataset repo id, in spec/sources.md order (sera_rectify.datasets, kept equal to
# seeds/sera_datasets.csv by a unit test).
HUB_REPOS: dict[str, str] = {dataset.name: dataset.hub_repo_id for dataset in SERA_DATASETS}
# The data files spec/sources.md reads. huggingface_hub matches with fnmatch, whose "*" also matches "/", so
# these match at any depth (e.g. the Hub's Parquet conversion, revision refs/convert/parquet: default/train/0000.parquet).
DATA_PATTERNS = ["*.jsonl", "*.jsonl.gz", "*.jsonl.zst", "*.parquet"]
# Names the source reader skips anyway (spec/sources.md: names starting with ".").
SKIPPED_PATTERNS = [".*", "*/.*"]
EXIT_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", required=True, metavar="DIR", help="sources folder: each dataset goes to DIR/<dataset>/")
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(HUB_REPOS),
        default=list(HUB_REPOS),
        metavar="NAME",
        help=f"datasets to download (default: all four: {', '.join(HUB_REPOS)})",
    )
    parser.add_argument("--revision", default=None, metavar="REV", help="branch, tag or commit of every repo (default: main)")
    parser.add_argument(
        "--endpoint",
        default=None,
        metavar="URL",
        help="Hub address (default: $HF_ENDPOINT, else https://huggingface.co)",
    )


def run(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    endpoint = (args.endpoint or os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None
    datasets = list(dict.fromkeys(args.datasets))  # each once, in the order given
    for dataset in datasets:
        message = download_dataset(dataset, dest, revision=args.revision, endpoint=endpoint)
        if message is not None:
            print(f"error: {dataset}: {message}", file=sys.stderr)
            return EXIT_ERROR
    print(f"done: {', '.join(datasets)} in {dest}. Build with: dbt build --vars '{{sources_dir: {dest}}}'", file=sys.stderr)
    return 0


def download_dataset(dataset: str, dest: Path, *, revision: str | None, endpoint: str | None) -> str | None:
    """Download one dataset into dest/dataset; None when it worked, else the one-line reason and remedy."""
    from huggingface_hub import snapshot_download

    from . import sources

    repo_id = HUB_REPOS[dataset]
    local_dir = dest / dataset
    print(f"{dataset}: {repo_id} -> {local_dir}", file=sys.stderr)
    try:
        local_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot create {local_dir} ({_short(err)}); choose a writable --dest"
    try:
        snapshot_download(
            repo_id,
            repo_type="dataset",
            revision=revision,
            local_dir=local_dir,
            allow_patterns=DATA_PATTERNS,
            ignore_patterns=SKIPPED_PATTERNS,
            endpoint=endpoint,
        )
    except KeyboardInterrupt:
        return "interrupted; run the same command again to continue (finished files are kept)"
    except Exception as err:  # every failure becomes one line; no traceback for the user
        return explain(err, repo_id=repo_id, revision=revision, endpoint=endpoint, local_dir=local_dir)
    try:
        found = sources.list_source_files(str(local_dir), dataset)
    except sources.SourceError:
        return (
            f"{repo_id} (revision {revision or 'main'}) has no data file ({', '.join(DATA_PATTERNS)}); "
            f"check --revision (the Hub's Parquet conversion is refs/convert/parquet)"
        )
    size = sum(os.path.getsize(f.path) for f in found)
    print(f"{dataset}: {len(found)} data file(s), {size / 1e6:,.1f} MB in {local_dir}", file=sys.stderr)
    return None


def explain(err: BaseException, *, repo_id: str, revision: str | None, endpoint: str | None, local_dir: Path) -> str:
    """One line: what went wrong and what to do (huggingface_hub's own messages span several lines)."""
    from huggingface_hub import errors

    hub = endpoint or _default_endpoint()
    again = "then run the same command again (finished files are kept)"
    if isinstance(err, errors.GatedRepoError):
        return f"{repo_id} is gated: accept its terms on {hub}/datasets/{repo_id} and log in (`hf auth login` or HF_TOKEN), {again}"
    if isinstance(err, errors.RevisionNotFoundError):
        return f"revision {revision!r} does not exist in {repo_id} on {hub}; check --revision"
    if isinstance(err, errors.RepositoryNotFoundError):
        return (
            f"{hub} has no dataset repo {repo_id} (or it is private: log in with `hf auth login` or set HF_TOKEN); "
            f"check the endpoint (HF_ENDPOINT / --endpoint)"
        )
    if isinstance(err, errors.DisabledRepoError):
        return f"{repo_id} is disabled on {hub}; it cannot be downloaded"
    if isinstance(err, errors.OfflineModeIsEnabled) or (
        isinstance(err, errors.LocalEntryNotFoundError) and isinstance(err.__cause__, errors.OfflineModeIsEnabled)
    ):
        return f"HF_HUB_OFFLINE is set, so the Hub is not contacted and {local_dir} is not complete; unset it, {again}"
    if isinstance(err, errors.LocalEntryNotFoundError) or _is_connection_error(err):
        cause = err.__cause__ if isinstance(err, errors.LocalEntryNotFoundError) and err.__cause__ else err
        return f"cannot reach the Hub at {hub} ({_short(cause)}); check the network, proxy or HF_ENDPOINT, {again}"
    if isinstance(err, errors.HfHubHTTPError):
        status = err.response.status_code if err.response is not None else "?"
        return f"the Hub at {hub} answered HTTP {status} for {repo_id} ({_short(err)}); try again later, {again}"
    if isinstance(err, OSError):
        if err.errno == errno.ENOSPC:
            return f"no space left on the disk of {local_dir}; free space or choose another --dest, {again}"
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
            return f"cannot write to {local_dir} ({_short(err)}); choose a writable --dest"
        return f"file error in {local_dir} ({_short(err)}); {again}"
    return f"download of {repo_id} failed ({_short(err)}); {again}"


def _is_connection_error(err: BaseException) -> bool:
    import httpx2

    return isinstance(err, (httpx2.TransportError, ConnectionError, TimeoutError))


def _default_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _short(err: BaseException, limit: int = 200) -> str:
    """The error's type and the first line of its message, cut to limit characters."""
    text = " ".join(str(err).split("\n")[0].split()) or type(err).__name__
    text = f"{type(err).__name__}: {text}" if type(err).__name__ not in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"
