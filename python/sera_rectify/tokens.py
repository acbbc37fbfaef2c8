"""Token counts for a real tokenizer and chat template: what a trainer sees of each SFT row.

`n_tokens` is the length of `tokenizer.apply_chat_template(sft_messages, tools=tools, tokenize=True)`:
the SFT row as a trainer renders it, with the tokenizer's own chat template or the one the user gives
(the `chat_template` var). Nothing here re-implements the tokenizer or the template: transformers
loads the tokenizer (`AutoTokenizer`, no torch needed) and renders the template.

A Hub model id is read from the local Hugging Face cache or downloaded, tokenizer files only
(huggingface_hub honours HF_HUB_OFFLINE=1); a local folder is used as it is. A tokenizer that cannot
be loaded, or has no chat template, is a `TokenizerError` raised before any row is converted. A row
the template cannot render gets no count (null): a trainer could not take it either.

Counts are cached by (row content, tokenizer and template fingerprint) in a Parquet file per
fingerprint, so a second build with another budget or filter does not tokenize again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .atomic import atomic_file
from .render import ToolSet
from .storage import filesystem_of, join

# the files AutoTokenizer reads (a model's weights are never needed to count tokens)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "spiece.model",
)
CACHE_SCHEMA = pa.schema([("content_key", pa.binary(16)), ("n_tokens", pa.int32())])


class TokenizerError(Exception):
    """The tokenizer or chat template the build names cannot be used: the message says which and why."""


@dataclass(frozen=True)
class TokenizerSpec:
    """What the dbt vars `tokenizer` and `chat_template` name."""

    tokenizer: str
    chat_template: str | None = None


@dataclass(frozen=True)
class TokenCounter:
    """A loaded tokenizer with the template it renders SFT rows with."""

    tokenizer: Any
    chat_template: str


def tokenizer_folder(name: str) -> Path:
    """A local folder as it is; otherwise a Hub model id, its tokenizer files from the cache or the Hub."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not any((folder / file).is_file() for file in TOKENIZER_FILES):
            raise TokenizerError(
                f"tokenizer folder {folder} holds no tokenizer file ({', '.join(TOKENIZER_FILES[:3])}, ...): "
                "point the tokenizer var at a folder saved with tokenizer.save_pretrained(), or at a Hub model id."
            )
        return folder
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise TokenizerError(f"tokenizer folder {name} does not exist: fix the tokenizer var (a local folder or a Hub model id).")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, allow_patterns=list(TOKENIZER_FILES)))
    except LocalEntryNotFoundError:
        raise TokenizerError(
            f"tokenizer {name} is not in the local Hugging Face cache and could not be downloaded "
            "(HF_HUB_OFFLINE=1, or no network): download it once with network, or point the tokenizer var at a local folder."
        ) from None
    except HfHubHTTPError as err:
        raise TokenizerError(
            f"tokenizer {name} cannot be fetched from the Hub ({str(err).splitlines()[0]}): check the model id, "
            "or log in (`hf auth login`) for a gated model."
        ) from None
    except ValueError as err:  # an id huggingface_hub refuses to parse
        raise TokenizerError(f"tokenizer {name} is neither a local folder nor a valid Hub model id ({err}).") from None


def replacement_template(spec: TokenizerSpec) -> str | None:
    """The text of the chat_template var's file, or None for the tokenizer's own template."""
    if not spec.chat_template:
        return None
    path = Path(spec.chat_template).expanduser()
    if not path.is_file():
        raise TokenizerError(f"chat_template {path} is not a file: set the chat_template var to a Jinja file, or unset it.")
    return path.read_text(encoding="utf-8")


def fingerprint(folder: Path, template: str | None) -> str:
    """sha256 of what a count depends on: the tokenizer files (they hold the tokenizer's own chat
    template), the template that replaces it, and the transformers version that renders it. Read
    without loading transformers, so a build whose rows are all in the cache never imports it."""
    digest = hashlib.sha256(b"transformers " + version("transformers").encode() + b"\0")
    for name in TOKENIZER_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(b"template\0" + (b"own" if template is None else b"replaced\0" + template.encode("utf-8")))
    return digest.hexdigest()[:16]


@cache
def resolve(spec: TokenizerSpec) -> tuple[Path, str, str]:
    """The tokenizer's folder, its fingerprint and how the card names it (no transformers needed)."""
    folder = tokenizer_folder(spec.tokenizer)
    described = spec.tokenizer + (f" with chat template {spec.chat_template}" if spec.chat_template else "")
    return folder, fingerprint(folder, replacement_template(spec)), described


@cache
def load_counter(spec: TokenizerSpec) -> TokenCounter:
    """Load the tokenizer once per process (forked workers inherit the parent's)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # not the "PyTorch was not found" advisory
    from transformers import AutoTokenizer

    folder, _, _ = resolve(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError) as err:
        raise TokenizerError(f"tokenizer {spec.tokenizer} cannot be loaded by transformers.AutoTokenizer: {err}".splitlines()[0]) from None
    template = replacement_template(spec)
    if template is None and isinstance(tokenizer.chat_template, str):
        template = tokenizer.chat_template
    if template is None:
        raise TokenizerError(
            f"tokenizer {spec.tokenizer} has no chat template (or several, by name): set the chat_template var to a Jinja file."
        )
    return TokenCounter(tokenizer, template)


def count_tokens(counter: TokenCounter, messages: list[dict], tools: list[dict]) -> int | None:
    """len(apply_chat_template(messages, tools=tools, tokenize=True)): the row as a trainer tokenizes it;
    None when the template cannot render the row (it raises on what it does not accept)."""
    try:
        encoded = counter.tokenizer.apply_chat_template(
            messages, tools=tools, chat_template=counter.chat_template, tokenize=True, return_dict=True
        )
    except Exception:  # noqa: BLE001 - a template may raise anything (TemplateError, TypeError, KeyError...)
        return None
    return len(encoded["input_ids"])


@lru_cache(maxsize=8)
def tool_schemas_of(tools: ToolSet) -> list[dict]:
    """The schemas of a tool set as Python values for apply_chat_template, parsed once per tool set."""
    return json.loads(tools.schemas_json)


def content_key(sft_messages_json: str, tools: ToolSet) -> bytes:
    """The cache key of a row: its tools and its SFT messages (what the chat template renders)."""
    text = tools.schemas_json + "\n" + sft_messages_json
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


# what content_key hashes; a new layout gets new cache files instead of keys that never match
CACHE_KEY_LAYOUT = "tools-messages"


def cache_path(cache_dir: str | Path, fingerprint: str) -> str:
    """The cache file of a tokenizer + template: in a local folder or under an object storage prefix
    (token_cache_dir on S3: every node of a Ray cluster reads the same cache)."""
    return join(str(cache_dir), f"n_tokens-{CACHE_KEY_LAYOUT}-{fingerprint}.parquet")


def cache_version(path: str | Path) -> int:
    """The cache file's modification time in ns, 0 when there is none: a new version after every write."""
    filesystem, inner = filesystem_of(str(path))
    info = filesystem.get_file_info(inner)
    return info.mtime_ns or 1 if info.type == pafs.FileType.File else 0


def read_cache(path: str | Path) -> dict[bytes, int]:
    """Counts of earlier builds with the same tokenizer and template (empty when there are none)."""
    filesystem, inner = filesystem_of(str(path))
    if filesystem.get_file_info(inner).type != pafs.FileType.File:
        return {}
    table = pq.read_table(inner, filesystem=filesystem, schema=CACHE_SCHEMA)
    return dict(zip(table.column("content_key").to_pylist(), table.column("n_tokens").to_pylist(), strict=True))


def write_cache(path: str | Path, counts: dict[bytes, int]) -> None:
    """All counts known for this fingerprint, written atomically (a killed build keeps the old cache)."""
    table = pa.table({"content_key": list(counts), "n_tokens": list(counts.values())}, schema=CACHE_SCHEMA)
    with atomic_file(str(path)) as temporary:
        filesystem, inner = filesystem_of(str(temporary))
        pq.write_table(table, inner, filesystem=filesystem, compression="zstd")


@cache
def known_counts(path: str, version: int) -> dict[bytes, int]:
    """read_cache, once per process and cache version (the parent loads it before it forks the
    workers, which then share it; a Ray worker reads it on its first task)."""
    return read_cache(path)


@dataclass(frozen=True)
class TokenSettings:
    """What a conversion worker needs to count tokens: the tokenizer to load and the cache to read.
    Small and picklable: it travels with every chunk; the loaded objects stay in each process."""

    spec: TokenizerSpec
    cache_file: str
    cache_version: int

    @classmethod
    def prepare(cls, spec: TokenizerSpec, cache_dir: str | Path) -> TokenSettings:
        """Check the tokenizer and read the cache in this process, before any row (a TokenizerError).

        The tokenizer is loaded here (and inherited by forked workers) unless a cache of its
        fingerprint exists: an earlier build loaded those very files then, and a build whose rows are
        all cached then never imports transformers; a row missing from the cache loads it in its worker.
        """
        _, fingerprint_hex, _ = resolve(spec)
        path = cache_path(cache_dir, fingerprint_hex)
        version = cache_version(path)
        if not version:
            load_counter(spec)
        settings = cls(spec, path, version)
        known_counts(settings.cache_file, settings.cache_version)
        return settings

    def chunk_counter(self) -> ChunkCounter:
        return ChunkCounter(self.spec, known_counts(self.cache_file, self.cache_version))


@dataclass
class ChunkCounter:
    """Counts the rows of one chunk: from the cache when the row was counted before (`n_cached`), else
    with the tokenizer. `new` holds what the chunk added to the cache, `n_failed` the rows the template
    refused."""

    spec: TokenizerSpec
    known: dict[bytes, int]
    new: dict[bytes, int] = field(default_factory=dict)
    n_cached: int = 0
    n_failed: int = 0

    def n_tokens(self, messages: list[dict], messages_json: str, tools: ToolSet) -> int | None:
        key = content_key(messages_json, tools)
        if key in self.known:
            self.n_cached += 1
            return self.known[key]
        n_tokens = count_tokens(load_counter(self.spec), messages, tool_schemas_of(tools))
        if n_tokens is None:
            self.n_failed += 1
        else:
            self.new[key] = n_tokens
        return n_tokens

