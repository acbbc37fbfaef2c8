"""sera_rectify.tokens on a small real tokenizer made here (sera_testkit.tokenizer): the fingerprint that
keys the cache, the cache itself, a template that refuses a row, and a fully cached build that never
loads transformers. The end-to-end behaviour (dbt builds, budgets, the card) is tests/integration/test_tokens.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sera_rectify import tokens
from sera_rectify.render import sera_tools
from sera_rectify.spec import tool_schemas
from sera_testkit.tokenizer import make_tokenizer

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Fix the bug."},
    {"role": "assistant", "reasoning_content": "Done.", "content": "diff --git a/x b/x"},
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tokenizer") / "tok")


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test loads and resolves for itself (the functions cache per process)."""
    for function in (tokens.load_counter, tokens.resolve, tokens.known_counts):
        function.cache_clear()
    yield


def test_the_count_is_the_length_of_apply_chat_template(folder: Path) -> None:
    counter = tokens.load_counter(tokens.TokenizerSpec(str(folder)))
    expected = counter.tokenizer.apply_chat_template(MESSAGES, tools=tool_schemas(), tokenize=True, return_dict=True)["input_ids"]
    assert tokens.count_tokens(counter, MESSAGES, tool_schemas()) == len(expected) > 0


def test_a_template_that_refuses_the_row_gives_no_count(folder: Path, tmp_path: Path) -> None:
    template = tmp_path / "refuses.jinja"
    template.write_text("{{ raise_exception('no tools here') if tools else '' }}{% for m in messages %}{{ m.content }}{% endfor %}")
    counter = tokens.load_counter(tokens.TokenizerSpec(str(folder), str(template)))
    assert tokens.count_tokens(counter, MESSAGES, tool_schemas()) is None
    assert tokens.count_tokens(counter, MESSAGES, []) > 0


def test_the_fingerprint_follows_the_tokenizer_files_and_the_template(folder: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    copy = shutil.copytree(folder, tmp_path / "copy")
    own = tokens.resolve(tokens.TokenizerSpec(str(folder)))[1]
    assert tokens.resolve(tokens.TokenizerSpec(str(copy)))[1] == own  # same bytes, other place
    assert tokens.resolve(tokens.TokenizerSpec(str(folder), str(template)))[1] != own
    (copy / "tokenizer_config.json").write_text((copy / "tokenizer_config.json").read_text().replace("<|im_end|>", "<|end|>"))
    tokens.resolve.cache_clear()
    assert tokens.resolve(tokens.TokenizerSpec(str(copy)))[1] != own


def test_the_cache_round_trips(tmp_path: Path) -> None:
    counts = {tokens.content_key("a", sera_tools()): 3, tokens.content_key("b", sera_tools()): 70_000}
    path = tmp_path / "cache" / "n_tokens-x.parquet"
    tokens.write_cache(path, counts)
    assert tokens.read_cache(path) == counts
    assert tokens.read_cache(tmp_path / "none.parquet") == {}


def test_a_build_whose_rows_are_all_cached_never_loads_the_tokenizer(folder: Path, tmp_path: Path, monkeypatch) -> None:
    spec = tokens.TokenizerSpec(str(folder))
    first = tokens.TokenSettings.prepare(spec, tmp_path)  # no cache yet: loads (checks) the tokenizer
    counter = first.chunk_counter()
    n = counter.n_tokens(MESSAGES, "row one", sera_tools())
    assert counter.new == {tokens.content_key("row one", sera_tools()): n} and counter.n_cached == 0
    tokens.write_cache(Path(first.cache_file), counter.new)

    tokens.load_counter.cache_clear()
    monkeypatch.setattr(tokens, "load_counter", lambda spec: pytest.fail("the tokenizer was loaded"))
    second = tokens.TokenSettings.prepare(spec, tmp_path)
    cached = second.chunk_counter()
    assert cached.n_tokens(MESSAGES, "row one", sera_tools()) == n and cached.n_cached == 1 and not cached.new


@pytest.mark.parametrize(
    ("name", "message"),
    [("./missing/folder", "does not exist"), ("a/b/c", "does not exist")],
)
def test_a_tokenizer_that_is_neither_folder_nor_hub_id_is_refused(name: str, message: str) -> None:
    with pytest.raises(tokens.TokenizerError, match=message):
        tokens.tokenizer_folder(name)


def test_a_folder_without_tokenizer_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(tokens.TokenizerError, match="holds no tokenizer file"):
        tokens.tokenizer_folder(str(tmp_path))
