"""The official tokenizer before the approximation (issue 30): a reply without usage is counted with the
model's own tokenizer.json when it is cached; else 4 characters a token. The tests build their own small
tokenizer file (test equipment), never fetching one."""

import json

import pytest

from sweboard.gateway.accounting import token_counts
from sweboard.gateway.tokenizer import load, tokenizer_path


@pytest.fixture
def small_tokenizer(tmp_path, monkeypatch):
    from tokenizers import Tokenizer, models, pre_tokenizers

    monkeypatch.setenv("SWEBOARD_CACHE", str(tmp_path / "cache"))
    vocab = {w: i for i, w in enumerate(["[UNK]", "fix", "the", "bug", "in", "utils", ".", "py", "done"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tokenizer_path("test-org/tiny")
    path.parent.mkdir(parents=True)
    tok.save(str(path))
    return load("test-org/tiny")


def _payload(text):
    return json.dumps({"model": "m", "messages": [{"role": "system", "content": "fix"},
                                                  {"role": "user", "content": [{"type": "text", "text": text}]}]}).encode()


def test_a_reply_without_usage_is_counted_by_the_models_tokenizer(small_tokenizer):
    reply = {"choices": [{"message": {"role": "assistant", "content": "done ."}}]}
    got = token_counts({}, _payload("fix the bug in utils.py"), reply, small_tokenizer)
    assert got == {"prompt_tokens": 1 + 7, "completion_tokens": 2, "source": "tokenizer"}
    provider = token_counts({"prompt_tokens": 40, "completion_tokens": 9}, _payload("x"), reply, small_tokenizer)
    assert provider["source"] == "provider" and provider["prompt_tokens"] == 40, "the provider's count comes first"
    half = token_counts({"prompt_tokens": 40}, _payload("x"), reply, small_tokenizer)
    assert half == {"prompt_tokens": 40, "completion_tokens": 2, "source": "tokenizer"}


def test_without_a_tokenizer_file_the_approximation_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEBOARD_CACHE", str(tmp_path / "cache"))
    assert load("test-org/absent") is None and load(None) is None
    bad = tokenizer_path("test-org/broken")
    bad.parent.mkdir(parents=True)
    bad.write_text("{not a tokenizer")
    assert load("test-org/broken") is None, "a damaged file is the approximation's case"
    payload = _payload("fix the bug")
    got = token_counts({}, payload, {"choices": [{"message": {"content": "done"}}]}, load("test-org/absent"))
    assert got["source"] == "approx" and got["prompt_tokens"] == -(-len(payload) // 4)


def test_the_catalog_names_a_tokenizer_as_a_repo_id(tmp_path):
    from sweboard.catalog import load_catalog
    from sweboard.errors import SweboardError

    catalog = tmp_path / "model_catalog.yaml"
    catalog.write_text("providers: {p: {}}\nmodels:\n  - {id: a/b, provider: p, tokenizer: '../etc', "
                       "price_per_1k_input: 0, price_per_1k_output: 0}\n")
    with pytest.raises(SweboardError, match=r"models\[0\]\.tokenizer: expected a Hugging Face repo id"):
        load_catalog(catalog)
    catalog.write_text(catalog.read_text().replace("'../etc'", "org/name"))
    assert load_catalog(catalog).models["a/b"].tokenizer == "org/name"
