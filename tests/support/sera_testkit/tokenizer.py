"""A small real tokenizer for tests and the benchmark, made here with the `tokenizers` trainer (no download):
a byte-level BPE trained on a few texts, saved with transformers as a folder AutoTokenizer loads, with a
chat template. Nothing about tokenizing is imitated: it is a real tokenizer, only a small one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from sera_testkit.constants import FIXTURES_DIR

QWEN3_TEMPLATE = FIXTURES_DIR / "chat_templates" / "qwen3_official.jinja"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<think>", "</think>"]


def training_texts() -> list[str]:
    """Text shaped like the rows: the real SERA fixture rows and SWE-agent trajectories."""
    return [path.read_text(encoding="utf-8") for path in sorted((FIXTURES_DIR / "swe-agent").glob("*.traj"))[:3]]


def make_tokenizer(folder: Path, chat_template: str | None = None, vocab_size: int = 2000, texts: Iterable[str] | None = None) -> Path:
    """Train a byte-level BPE on `texts` (default: training_texts()) and save it with `chat_template`
    (default: Qwen3's, verbatim) into folder. The trainer stops below vocab_size when every word of the
    texts is already one token."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(training_texts() if texts is None else texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = chat_template if chat_template is not None else QWEN3_TEMPLATE.read_text(encoding="utf-8")
    fast.save_pretrained(str(folder))
    return folder
