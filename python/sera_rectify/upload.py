"""`python -m sera_rectify upload`: publish an export folder to the Hugging Face Hub as a dataset repo.

`python -m sera_rectify upload --repo-id NAMESPACE/NAME [--private] [--folder output] [--revision BRANCH]`

What goes up is exactly what the dataset card names, because the card is what the Hub reads: the folder's
README.md (the card `dbt build` writes, sera_rectify.card), every `path` under `configs[*].data_files` in its
YAML header (the files the dataset viewer and `datasets.load_dataset` open) and every local image its Markdown
body shows (`![alt](relative/path.png)`; http(s) links are not files). Nothing else in the folder goes: not
subset exports, temporary files (`*.tmp-*`), `.cache/`, older parquet files. Every named file must be a file
inside the folder; a card that names a missing file, or a path above the folder, stops the command before the
Hub is contacted, so a half-built export is never published.

huggingface_hub does the work:
- `create_repo(repo_type="dataset", exist_ok=True)` first (`upload_folder` does not create repos); `--private`
  makes a new repo private (an existing repo keeps its visibility). A repo id without a namespace goes to the
  token's user;
- with `--revision`, a branch that does not exist yet is created from main (as `hf upload --revision` does);
- `upload_folder(allow_patterns=<the named files>)` uploads them: large files in several commits, and a re-run
  of the same command skips what the Hub already has (it compares each file with the Hub; no local cache).

The token comes from where huggingface_hub looks: HF_TOKEN, else the login cached by `hf auth login` (in
HF_HOME). HF_ENDPOINT points at another Hub. Errors (no card, a missing file, offline mode, no or a refused
token, an invalid repo id, no network) print one line on stderr saying what to do, and exit with status 2.
"""

from __future__ import annotations

import argparse
import glob
import os
import posixpath
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

# the same one-line helpers as download (first line of an error, what counts as "no connection")
from .download import _default_endpoint, _is_connection_error, _short

CARD_NAME = "README.md"
EXIT_ERROR = 2
AGAIN = "then run the same command again (files the Hub already has are skipped)"
LOGIN = "log in with `hf auth login` or set HF_TOKEN to a token with write access"
OFFLINE = (
    "HF_HUB_OFFLINE is set: huggingface_hub does not contact the Hub, so nothing can be uploaded; "
    "unset it (and TRANSFORMERS_OFFLINE) and run again"
)

# Markdown images: ![alt](target "title"), the target optionally in <...>; and HTML <img src="...">
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*(<[^>\n]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
# code shows Markdown, it does not render it: fenced blocks and inline code spans are skipped
FENCED_CODE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//|#)")  # http:, https:, data:, mailto:, //host, #anchor


class UploadError(Exception):
    """A problem found before anything is sent; its message is the one line for the user."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo-id", required=True, metavar="NAME", help="Hub dataset repo, NAMESPACE/NAME (a bare NAME goes to the token's user)"
    )
    parser.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps its visibility)")
    parser.add_argument("--folder", default="output", metavar="DIR", help="export folder holding the card README.md (default: output)")
    parser.add_argument(
        "--revision", default=None, metavar="BRANCH", help="branch to commit to (default: main); created from main when missing"
    )


def run(args: argparse.Namespace) -> int:
    from huggingface_hub import constants

    folder = Path(args.folder)
    try:
        check_repo_id(args.repo_id)
        files = card_files(folder)
        if constants.is_offline_mode():
            raise UploadError(OFFLINE)
    except UploadError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    endpoint = (os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None
    try:
        commit_url = upload(folder, files, repo_id=args.repo_id, private=args.private, revision=args.revision, endpoint=endpoint)
    except KeyboardInterrupt:
        print(f"error: interrupted; {AGAIN}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as err:  # every failure becomes one line; no traceback for the user
        print(f"error: {explain(err, repo_id=args.repo_id, revision=args.revision, endpoint=endpoint)}", file=sys.stderr)
        return EXIT_ERROR
    print(f"done: {commit_url}", file=sys.stderr)
    return 0


def upload(folder: Path, files: list[str], *, repo_id: str, private: bool, revision: str | None, endpoint: str | None) -> str:
    """Create the repo if needed and upload `files` (paths relative to folder); the commit's URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RevisionNotFoundError

    api = HfApi(endpoint=endpoint)
    repo_url = api.create_repo(repo_id, repo_type="dataset", private=True if private else None, exist_ok=True)
    repo_id = repo_url.repo_id  # with the namespace, also when --repo-id had none
    if revision is not None:
        try:
            api.repo_info(repo_id, repo_type="dataset", revision=revision)
        except RevisionNotFoundError:
            print(f"{repo_id}: creating branch {revision} from main", file=sys.stderr)
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
    size = sum((folder / name).stat().st_size for name in files)
    print(f"{repo_url}: uploading {len(files)} file(s), {size / 1e6:,.1f} MB from {folder}: {', '.join(files)}", file=sys.stderr)
    info = api.upload_folder(
        folder_path=folder,
        repo_id=repo_id,
        repo_type="dataset",
        revision=revision,
        # glob.escape: a name with [ ] * ? matches itself only (huggingface_hub matches with fnmatch)
        allow_patterns=[glob.escape(name) for name in files],
        commit_message="Upload the dataset card and the files it names (python -m sera_rectify upload)",
        commit_description="\n".join(f"- {name}" for name in files),
    )
    return info.commit_url


# ---------------------------------------------------------------------------------------------
# what the card names (no network)


def check_repo_id(repo_id: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise UploadError(
            f"{repo_id!r} is not a valid repo id: use NAMESPACE/NAME (letters, digits, '-', '_', '.'; "
            "no '--' or '..', not starting or ending with '-' or '.', at most 96 characters)"
        ) from None


def card_files(folder: Path) -> list[str]:
    """The card and the files it names, as paths relative to folder ('/'-separated, each once, card first).
    UploadError when the card is missing or unreadable, or names a file that is not in the folder."""
    card = folder / CARD_NAME
    if not card.is_file():
        raise UploadError(f"no dataset card at {card}: run `dbt build` first")
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as err:
        raise UploadError(f"cannot read the dataset card {card} ({_short(err)})") from None
    header, body = split_card(text, card)
    named = [CARD_NAME, *data_file_paths(header, card), *image_paths(body)]
    return list(dict.fromkeys(checked_path(folder, card, name) for name in named))


def split_card(text: str, card: Path) -> tuple[dict[str, Any], str]:
    """The YAML header (between the first two `---` lines) as a dict, and the Markdown body after it."""
    lines = text.splitlines(keepends=True)
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == "---"]
    if not lines or lines[0].rstrip("\r\n") != "---" or len(ends) < 2:
        raise UploadError(f"the dataset card {card} has no YAML header (between two `---` lines); run `dbt build` again")
    try:
        header = yaml.safe_load("".join(lines[1 : ends[1]]))
    except yaml.YAMLError as err:
        raise UploadError(f"the YAML header of {card} does not parse ({_short(err)}); run `dbt build` again") from None
    if not isinstance(header, dict):
        raise UploadError(f"the YAML header of {card} is not a mapping; run `dbt build` again")
    return header, "".join(lines[ends[1] + 1 :])


def data_file_paths(header: dict[str, Any], card: Path) -> list[str]:
    """Every `path` under configs[*].data_files (also the short forms: a string, a list of strings)."""
    configs = header.get("configs")
    if not isinstance(configs, list) or not configs:
        raise UploadError(f"the dataset card {card} names no data file (no `configs` in its YAML header); run `dbt build` again")
    paths: list[str] = []
    for config in configs:
        name = config.get("config_name", "?") if isinstance(config, dict) else "?"
        data_files = config.get("data_files") if isinstance(config, dict) else None
        entries = [data_files] if isinstance(data_files, str) else data_files
        if not isinstance(entries, list) or not entries:
            raise UploadError(f"config {name!r} of the dataset card {card} has no data_files; run `dbt build` again")
        for entry in entries:
            value = entry.get("path") if isinstance(entry, dict) else entry
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) and v for v in values):
                raise UploadError(f"config {name!r} of the dataset card {card} has a data_files entry without a path: {entry!r}")
            paths += values
    return paths


def image_paths(body: str) -> list[str]:
    """The local images the Markdown body shows (![alt](path), <img src="path">), not URLs, not inside code."""
    text = INLINE_CODE.sub("", FENCED_CODE.sub("", body))
    targets = [m.group(1).strip("<>").strip() for m in MARKDOWN_IMAGE.finditer(text)]
    targets += [m.group(1).strip() for m in HTML_IMAGE.finditer(text)]
    return [unquote(target.split("#")[0].split("?")[0]) for target in targets if target and not URL.match(target)]


def checked_path(folder: Path, card: Path, name: str) -> str:
    """`name` as a normalized path relative to folder; UploadError unless it is a file inside folder."""
    relative = posixpath.normpath(name)
    named = f"the dataset card {card} names {name!r}"
    if name.startswith("/") or "\\" in name or relative in (".", "..") or relative.startswith("../"):
        raise UploadError(f"{named}, which is not a path inside {folder}; fix the card or run `dbt build` again")
    parts = relative.split("/")
    if ".git" in parts or any(parts[i : i + 2] == [".cache", "huggingface"] for i in range(len(parts))):
        raise UploadError(f"{named}, inside a folder huggingface_hub never uploads (.git, .cache/huggingface); fix the card")
    if not (folder / relative).is_file():
        raise UploadError(f"{named}, which is not a file in {folder}; run `dbt build` again")
    return relative


# ---------------------------------------------------------------------------------------------
# errors


def explain(err: BaseException, *, repo_id: str, revision: str | None, endpoint: str | None) -> str:
    """One line: what went wrong and what to do (huggingface_hub's own messages span several lines)."""
    from huggingface_hub import errors

    hub = endpoint or _default_endpoint()
    if isinstance(err, errors.OfflineModeIsEnabled):
        return OFFLINE
    if isinstance(err, errors.HFValidationError):
        return f"{repo_id!r} is not a valid repo id ({_short(err)}); use NAMESPACE/NAME"
    if isinstance(err, errors.HfHubHTTPError):
        status = err.response.status_code if err.response is not None else None
        if status == 401:
            if _token() is None:
                return f"the Hub at {hub} wants a token to upload (HTTP 401) and none is set: {LOGIN}"
            return f"the Hub at {hub} refused the token (HTTP 401): {LOGIN}"
        if status == 403:
            return (
                f"the token may not write to {repo_id} on {hub} (HTTP 403): {LOGIN} to that namespace, "
                "or choose a --repo-id in your own namespace"
            )
        if isinstance(err, errors.RevisionNotFoundError):
            return f"revision {revision!r} does not exist in {repo_id} on {hub} and could not be created; check --revision"
        if isinstance(err, errors.RepositoryNotFoundError):
            return f"{hub} has no dataset repo {repo_id} that the token can see: check --repo-id and HF_ENDPOINT, or {LOGIN}"
        if status == 429:
            return f"the Hub at {hub} asks to slow down (HTTP 429); wait a few minutes, {AGAIN}"
        return f"the Hub at {hub} answered HTTP {status or '?'} for {repo_id} ({_short(err)}); {AGAIN}"
    if isinstance(err, ValueError) and str(err).startswith("Invalid metadata in README.md"):
        detail = " ".join(str(err).split("\n")[1:]).strip() or "no detail"
        return f"the Hub rejected the YAML header of the dataset card ({detail}); fix it and run again"
    if _is_connection_error(err):
        return f"cannot reach the Hub at {hub} ({_short(err)}); check the network, proxy or HF_ENDPOINT, {AGAIN}"
    if isinstance(err, OSError):
        return f"cannot read the files to upload ({_short(err)}); {AGAIN}"
    return f"upload to {repo_id} failed ({_short(err)}); {AGAIN}"


def _token() -> str | None:
    from huggingface_hub import get_token

    try:
        return get_token()
    except Exception:  # e.g. HF_OIDC_RESOURCE set but no OIDC token: that is "no token" here
        return None
