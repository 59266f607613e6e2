"""``attnverify run --model`` (docs/theory.md §11.3): the user's model and documents as a population.

* The committed trained fixture run through ``--model`` with its held-out texts (written out as text and read
  back through the vocabulary file and the tokenizer) gives the same records as the ``trained`` population.
* A torch model built here goes through the user's path: ``import`` → ``run --model --texts --vocab`` → the
  report, led by the user's questions.
"""

from __future__ import annotations

import argparse
import json

import pytest

from theory.checking.population import using
from theory.claims import REGISTRY, all_claims
from theory.cli.main import main
from theory.cli.model_options import given_population
from theory.running.runner import run_claim
from theory.sentiment.fixture import load_fixture

#: claims whose trained-population run is cheap (the others cost up to a minute at T = 256), one per kind of
#: strategy: given_cases, perturbed documents, approximation, n/a
EQUALITY_CLAIMS = ("model.forward", "model.sufficient_stats", "lime.eq19", "lime.sampling_law")


@pytest.fixture(scope="module")
def fixture_as_text(tmp_path_factory):
    fx = load_fixture()
    folder = tmp_path_factory.mktemp("fixture")
    (folder / "vocab.txt").write_text("\n".join(fx.words), encoding="utf-8")
    (folder / "held_out.txt").write_text(
        "\n".join(" ".join(fx.words[i] for i in d) for d in fx.docs) + "\n", encoding="utf-8"
    )
    return argparse.Namespace(
        model=str(folder.parent / "sentiment_model.npz"),
        texts=str(folder / "held_out.txt"),
        vocab=str(folder / "vocab.txt"),
        oov="error",
        truncate=False,
        cls_token=None,
        unk_token=None,
        probe=None,
        explained_class=None,
        contrast=None,
    )


def test_fixture_texts_read_back_as_its_documents(fixture_as_text):
    from theory.sentiment.fixture import DATA, MODEL_FILE

    fixture_as_text.model = str(DATA / MODEL_FILE)
    population, _ = given_population(fixture_as_text)
    assert population.name == "model:sentiment_model" and population.docs == load_fixture().docs


@pytest.mark.parametrize("claim_id", EQUALITY_CLAIMS)
def test_fixture_through_model_gives_the_trained_records(fixture_as_text, claim_id):
    from theory.sentiment.fixture import DATA, MODEL_FILE

    fixture_as_text.model = str(DATA / MODEL_FILE)
    population, _ = given_population(fixture_as_text)
    all_claims()
    claim = REGISTRY[claim_id]
    trained = run_claim(claim, "ci", 0, "trained").as_dict()
    with using(population):
        mine = run_claim(claim, "ci", 0, population.name).as_dict()
    for key in ("population", "command", "runtime"):
        trained.pop(key), mine.pop(key)
    assert mine == trained


def test_torch_model_import_run_report(tmp_path):
    torch = pytest.importorskip("torch", reason="the importer needs torch: pip install '.[import]'")
    from reference.oracles.torch_multihead import MultiHead

    torch.manual_seed(3)
    words = ["[cls]", "<unk>", "good", "bad", "film", "plot", "not", "great", ".", ",", "boring", "fun"]
    torch.save(MultiHead(len(words), 6, 2, 4, 3, 2, max_len=10, scale=False).state_dict(), tmp_path / "m.pt")
    (tmp_path / "vocab.txt").write_text("\n".join(words), encoding="utf-8")
    (tmp_path / "texts.txt").write_text("A good film, not boring.\nBad plot.\nFun, fun film!\n", encoding="utf-8")
    assert (
        main(
            [
                "import",
                str(tmp_path / "m.pt"),
                "--out",
                str(tmp_path / "m.npz"),
                "--contrast",
                "1,0",
                "--cls-id",
                "0",
                "--unk-id",
                "1",
                "--max-len",
                "10",
                "--no-scale",
            ]
        )
        == 0
    )
    only = ["model.forward", "gradient.closed_form", "attention.non_identifiable", "lime.eq19", "lime.sampling_law"]
    code = main(
        [
            "run",
            "--model",
            str(tmp_path / "m.npz"),
            "--texts",
            str(tmp_path / "texts.txt"),
            "--vocab",
            str(tmp_path / "vocab.txt"),
            "--oov",
            "unk",
            "--out",
            str(tmp_path / "report"),
            "--only",
            *only,
        ]
    )
    assert code == 0
    data = json.loads((tmp_path / "report" / "summary.json").read_text())
    verdicts = {r["id"]: r["verdict"] for r in data["claims"]}
    assert data["population"] == "model:m" and {r["population"] for r in data["claims"]} == {"model:m"}
    assert verdicts["model.forward"] == verdicts["gradient.closed_form"] == "holds"
    assert verdicts["lime.sampling_law"] == "n/a" and verdicts["lime.eq19"] == "measured"
    lead = data["extras"][0]["data"]
    assert lead["oov"] == {"policy": "unk", "unknown": 2, "dropped": 0}  # "a" and "!" are not in the vocabulary
    assert set(lead["top_word_disagreement"]["rates"]) == {
        "attention vs gradient",
        "attention vs LIME",
        "gradient vs LIME",
    }
    assert lead["figure1"]["words"] == ["<unk>", "good", "film", ",", "not", "boring", "."]
    report = (tmp_path / "report" / "REPORT.md").read_text()
    for heading in (
        "## Which identities hold on this model",
        "### Where the model sits on the regime map",
        "### Eq. (19) and the large-d limit",
        "### Do attention, the gradient and LIME agree",
        "### Figure 1 on the first document",
        "looks exactly like a removed one",
        "not divided by √d_att",
    ):
        assert heading in report, heading
    assert report.index("Which identities hold") < report.index("Every claim on this model")


def test_without_texts_hypothesis_draws_word_sequences(tmp_path):
    from theory.checking.strategies.models import ModelSpec

    ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=9, T=6, pe=True, seed=1).build().save(tmp_path / "m.npz")
    assert (
        main(["run", "--model", str(tmp_path / "m.npz"), "--only", "model.forward", "--out", str(tmp_path / "r")]) == 0
    )
    record = json.loads((tmp_path / "r" / "summary.json").read_text())["claims"][0]
    assert record["verdict"] == "holds" and record["worst_instance"].startswith("GivenCase(drawn=(")
    assert record["command"].startswith(f"attnverify run --model {tmp_path / 'm.npz'} ")


def test_texts_without_model_is_an_error(tmp_path, capsys):
    assert main(["run", "--texts", "t.txt", "--out", str(tmp_path / "r")]) == 2
    assert "--texts needs --model" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_a_claim_about_models_without_pe_runs_on_one(tmp_path):
    """model.delete_equals_replace_without_pe is n/a on the trained model (positional encoding on) but a
    statement about the user's model when it has none."""
    from theory.checking.strategies.models import ModelSpec

    for pe in (False, True):
        ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=9, T=6, pe=pe, seed=1).build().save(tmp_path / "m.npz")
        assert (
            main(
                [
                    "run",
                    "--model",
                    str(tmp_path / "m.npz"),
                    "--only",
                    "model.delete_equals_replace_without_pe",
                    "--out",
                    str(tmp_path / "r"),
                ]
            )
            == 0
        )
        record = json.loads((tmp_path / "r" / "summary.json").read_text())["claims"][0]
        assert record["verdict"] == ("n/a" if pe else "holds"), record


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--model", "m.npz", "--population", "random"],
            (
                "--population random is for the suite's own models; with "
                "--model the population is model:m: drop --population"
            ),
        ),
        (["--model", "m.npz", "--vocab", "v.txt"], "--vocab: only for --texts FILE (run has no --text)"),
        (["--model", "m.npz", "--oov", "unk", "--truncate"], "--oov, --truncate: only for --texts FILE"),
        (["--vocab", "v.txt"], "--vocab needs --model M.npz"),
        (["--cls-token", "[cls]"], "--cls-token needs --model M.npz"),
    ],
)
def test_ignored_run_options_are_errors(tmp_path, capsys, args, message):
    """Options run would ignore are refused before anything is read or written."""
    assert main(["run", *args, "--only", "model.simplex", "--out", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1 and not (tmp_path / "r").exists(), error
