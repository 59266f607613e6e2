"""Train the authors' architecture on the sentiment dataset and write the fixture to ``theory/sentiment/data/``.

    python -m theory.sentiment.train --seed 0 --out theory/sentiment/data/      (needs pip install '.[train,oracles]')

Model: :class:`reference.oracles.torch_one_layer.AttentionClassifier` at the authors' widths — 2 classes
(negative, positive), K = 6 heads, T = 256, d_e = 128, d_att = d_out = 64, sinusoidal positional encoding,
CLS at position 0 and UNK padding.  The training steps compute the same logits with the products
reassociated (:func:`logits`), 11 times faster at these widths than the module's textbook forward pass.
Training: cross-entropy, Adam (lr 1e-3: at these widths 1e-2 and 3e-3 did not leave chance level within two
epochs, judged on the training loss), fixed epochs and batch size, no
early stopping and no model selection on the held-out documents; float32, with every random draw seeded
(dataset by numpy, initialisation and batch order by torch).  The weights are exported in float64 with
the positive-class logit as the explained output, and the recorded accuracies are measured in float64 on
the exported weights (the numpy forward pass re-measures them: ``trained.dataset``).

Not part of CI: CI loads the committed fixture (:mod:`theory.sentiment.fixture`).
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from reference.oracles.torch_one_layer import AttentionClassifier
from theory.errors import InputError
from theory.sentiment import dataset
from theory.sentiment.fixture import save_fixture

WIDTHS = {"K": 6, "d_e": 128, "d_att": 64, "d_out": 64, "T": 256}


def padded(docs: Sequence[np.ndarray], T: int, cls_id: int, unk_id: int) -> torch.Tensor:
    """Documents ``(CLS, words…, UNK…)`` of length T, as in the authors' pipeline.

    Args:
        docs: word-id arrays without CLS or padding, each of at most ``T − 1`` words.
        T: the padded length (the model's ``max_len``).
        cls_id: the CLS token id put at position 0.
        unk_id: the UNK token id the documents are padded with.

    Returns:
        ``(len(docs), T)`` long tensor of token ids.
    """
    out = torch.full((len(docs), T), unk_id, dtype=torch.long)
    out[:, 0] = cls_id
    for i, words in enumerate(docs):
        out[i, 1 : 1 + len(words)] = torch.from_numpy(words)
    return out


def logits(module: AttentionClassifier, docs: torch.Tensor) -> torch.Tensor:
    """The module's class logits, with the products reassociated: the scores ``qᵢᵀ W_k x_t = (W_kᵀ qᵢ)ᵀ x_t``
    and the head outputs ``W_l W_v Σ_t αᵢ,t x_t``, so no (B, K, T, d_att) keys or values are formed.

    Args:
        module: the classifier whose weights are used (its own forward pass is not called).
        docs: ``(B, T)`` long tensor of padded documents.

    Returns:
        ``(B, C)`` class logits, the mean over the ``K`` heads.
    """
    X = module.embed(docs)
    q = torch.einsum("kad,bd->bka", module.Wq, X[:, 0])
    divisor = math.sqrt(module.Wq.shape[1]) if module.scale else 1.0
    alpha = torch.softmax(torch.einsum("kad,bka,btd->bkt", module.Wk, q, X) / divisor, dim=-1)
    pooled = torch.einsum("bkt,btd->bkd", alpha, X)
    return torch.einsum("kco,kod,bkd->bkc", module.Wl, module.Wv, pooled).mean(dim=1)


def accuracy(module: AttentionClassifier, docs: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    """Share of documents whose largest class logit (:func:`logits`) is the label.

    Args:
        module: the classifier.
        docs: ``(n, T)`` long tensor of padded documents.
        labels: ``(n,)`` long tensor of class labels.
        batch: how many documents one forward pass takes (bounds the memory, not the result).

    Returns:
        The accuracy in [0, 1].
    """
    with torch.no_grad():
        predicted = torch.cat([logits(module, docs[i : i + batch]).argmax(dim=1) for i in range(0, len(docs), batch)])
    return float((predicted == labels).double().mean())


def train(
    seed: int, n_train: int, n_test: int, epochs: int, batch: int, lr: float, threads: int
) -> tuple[dataset.Dataset, AttentionClassifier, list[float], dict[str, float], dict[str, float]]:
    """Build the dataset and train :class:`AttentionClassifier` on it as the module docstring says.

    Args:
        seed: seeds the dataset (numpy), the initialisation and the batch order (torch).
        n_train: training documents drawn.
        n_test: held-out documents drawn.
        epochs: passes over the training documents (fixed; no early stopping).
        batch: documents per Adam step.
        lr: Adam's learning rate.
        threads: torch's CPU threads.

    Returns:
        The dataset, the trained module (converted to float64), the mean training loss of each epoch, the CPU
        and wall seconds (``cpu_seconds``, ``wall_seconds``), and the float64 train and held-out accuracies
        (``train_accuracy``, ``test_accuracy``).
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    data = dataset.build(seed, n_train, n_test)
    V, T = len(data.vocab.words), WIDTHS["T"]
    train_docs = padded(data.train.docs, T, 0, 1)
    test_docs = padded(data.test.docs, T, 0, 1)
    train_labels = torch.from_numpy(data.train.labels.astype(np.int64))
    test_labels = torch.from_numpy(data.test.labels.astype(np.int64))
    module = AttentionClassifier(
        V,
        WIDTHS["d_e"],
        WIDTHS["K"],
        WIDTHS["d_att"],
        WIDTHS["d_out"],
        2,
        T,
        True,
        cls_id=0,
        unk_id=1,
        dtype=torch.float32,
    )
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    start, wall = time.process_time(), time.perf_counter()
    for epoch in range(epochs):
        total = 0.0
        for idx in torch.randperm(n_train, generator=order).split(batch):
            optimizer.zero_grad()
            loss = loss_fn(logits(module, train_docs[idx]), train_labels[idx])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n_train)
        print(
            f"epoch {epoch + 1}/{epochs}: mean training loss {losses[-1]:.4f} "
            f"({time.process_time() - start:.0f} s CPU)",
            flush=True,
        )
    seconds = {
        "cpu_seconds": round(time.process_time() - start, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
    }
    module = module.double()
    result = {
        "train_accuracy": accuracy(module, train_docs, train_labels),
        "test_accuracy": accuracy(module, test_docs, test_labels),
    }
    return data, module, losses, seconds, result


def main(argv: list[str] | None = None) -> None:
    """``python -m theory.sentiment.train``: train, then write the fixture with :func:`save_fixture`.

    Args:
        argv: the command-line arguments (``None``: ``sys.argv[1:]``).

    Raises:
        InputError: ``--epochs``, ``--batch`` or ``--threads`` below 1, or ``--lr`` not positive.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="theory/sentiment/data/")
    parser.add_argument("--n-train", type=int, default=50000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if min(args.epochs, args.batch, args.threads) < 1 or args.lr <= 0:
        raise InputError("--epochs, --batch and --threads must be at least 1 and --lr positive")
    data, module, losses, seconds, result = train(
        args.seed, args.n_train, args.n_test, args.epochs, args.batch, args.lr, args.threads
    )
    training = {
        "seed": args.seed,
        "n_train": args.n_train,
        "n_test": args.n_test,
        "epochs": args.epochs,
        "batch_size": args.batch,
        "optimizer": f"Adam(lr={args.lr})",
        "loss": "cross-entropy, 2 classes",
        "precision": "trained in float32; exported and evaluated in float64",
        "widths": WIDTHS,
        "positional_encoding": True,
        "cls_id": 0,
        "unk_id": 1,
        "explained_class": "1 (positive)",
        **result,
        "test_positive_share": float(data.test.labels.mean()),
        "epoch_training_loss": [round(x, 5) for x in losses],
        **seconds,
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "dataset": data.params,
    }
    class_rows = np.stack([module.npz_arrays(explained_class=c)["Wl"] for c in (0, 1)], axis=1)
    save_fixture(
        args.out,
        module.npz_arrays(explained_class=1),
        class_rows,
        data.vocab.words,
        data.vocab.ratings,
        data.test.docs,
        data.test.labels,
        data.test.totals,
        training,
    )
    print(
        f"train accuracy {result['train_accuracy']:.4f}, held-out accuracy {result['test_accuracy']:.4f}; "
        f"wrote {args.out}"
    )


if __name__ == "__main__":
    main()
