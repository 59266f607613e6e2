"""``attnverify explain`` on text: ``--text``/``--texts --jsonl`` with ``--vocab``, and the methods ``eq19`` and
``lime-large-d`` (the approximations next to ``lime-inf``)."""

import json

import numpy as np
import pytest

from theory.checking.strategies.models import ModelSpec
from theory.cli.main import main
from theory.explainers.lime_approx import eq19, large_d_limit
from theory.models.one_layer import document

TOKENS = ["[cls]", "<unk>", "good", "bad", "film", ".", "great", "not"]


@pytest.fixture
def files(tmp_path):
    model = ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=len(TOKENS), T=8, pe=True, seed=5).build()
    model.save(tmp_path / "m.npz")
    (tmp_path / "v.txt").write_text("\n".join(TOKENS), encoding="utf-8")
    (tmp_path / "t.txt").write_text("Good film.\nnot a great film\n", encoding="utf-8")
    return model, tmp_path


def test_text_is_tokenized_like_tokens(files, capsys):
    _, d = files
    main(
        [
            "explain",
            str(d / "m.npz"),
            "--text",
            "Good film.",
            "--vocab",
            str(d / "v.txt"),
            "--method",
            "grad-l2",
            "--json",
        ]
    )
    by_text = json.loads(capsys.readouterr().out)
    main(["explain", str(d / "m.npz"), "--tokens", "2,4,5", "--method", "grad-l2", "--json"])
    assert by_text.pop("text") == "Good film." and by_text.pop("token_strings") == ["[cls]", "good", "film", "."]
    assert by_text == json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("method, formula", [("eq19", eq19), ("lime-large-d", large_d_limit)])
def test_jsonl_batch_and_approximation_methods(files, capsys, method, formula):
    model, d = files
    assert (
        main(
            [
                "explain",
                str(d / "m.npz"),
                "--texts",
                str(d / "t.txt"),
                "--vocab",
                str(d / "v.txt"),
                "--method",
                method,
                "--jsonl",
                "--oov",
                "unk",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["text"] for r in lines] == ["Good film.", "not a great film"]
    assert lines[1]["tokens"] == [0, 7, 1, 6, 4]  # 'a' is OOV -> UNK (id 1)
    assert "look like removed words" in captured.err
    doc = document(model, (7, 1, 6, 4), allow_unk=True)
    np.testing.assert_array_equal(lines[1]["scores"], formula(model, doc, 4))
    assert lines[1]["words"] == [7, 1, 6, 4] and lines[1]["semantics"] == "replace"


def test_bad_line_writes_nothing(files, capsys):
    _, d = files
    assert (
        main(
            [
                "explain",
                str(d / "m.npz"),
                "--texts",
                str(d / "t.txt"),
                "--vocab",
                str(d / "v.txt"),
                "--method",
                "eq19",
                "--jsonl",
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    assert captured.out == "" and "line 2 has out-of-vocabulary words 'a'" in captured.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "eq19"], "give the document: --tokens IDS, --text TEXT or --texts FILE"),
        (["--method", "eq19", "--text", "good"], "--text needs --vocab FILE"),
    ],
)
def test_missing_inputs(files, capsys, args, message):
    _, d = files
    assert main(["explain", str(d / "m.npz"), *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tokens", "2,4", "--text", "good film"], "--tokens gives word ids, so --text would be ignored"),
        (["--tokens", "2,4", "--texts", "t.txt", "--jsonl"], "so --texts, --jsonl would be ignored"),
        (["--tokens", "2,4", "--vocab", "v.txt", "--oov", "drop"], "so --vocab, --oov would be ignored"),
        (["--tokens", "2,4", "--truncate", "--unk-token", "<unk>"], "so --truncate, --unk-token would be ignored"),
    ],
)
def test_options_tokens_would_ignore_are_errors(files, capsys, args, message):
    _, d = files
    assert main(["explain", str(d / "m.npz"), *args, "--method", "grad-l2"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1 and captured.out == ""


def test_cls_and_unk_tokens_are_checked_when_given(files, capsys):
    _, d = files
    base = ["explain", str(d / "m.npz"), "--text", "good film", "--vocab", str(d / "v.txt"), "--method", "grad-l2"]
    assert main([*base, "--cls-token", "[cls]", "--unk-token", "<unk>"]) == 0
    capsys.readouterr()
    assert main([*base, "--unk-token", "[UNK]"]) == 2
    assert (
        "line 2 (id 1, the model's UNK id) holds '<unk>', not --unk-token '[UNK]' ('[UNK]' is on no line)"
        in capsys.readouterr().err
    )
