"""The command-line options of the user's-model path (docs/theory.md §11.3): ``attnverify import`` (checked against
the user's outputs with ``--expect``: :mod:`theory.models.import_check`) and the ``--text``, ``--texts``, ``--vocab``,
``--oov``, ``--truncate`` and ``--model`` options of ``explain`` and ``run``.  Kept
out of :mod:`theory.cli.main` so that the shared parser only calls in here."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from theory.errors import InputError
from theory.models.removal import PIECES

if TYPE_CHECKING:
    from theory.checking.population import Population
    from theory.models.protocol import AttentionClassifier
    from theory.models.vocabulary import Encoded, Vocabulary

EXIT_OK = 0


def _class_pair(text: str) -> tuple[int, int]:
    try:
        a, b = (int(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"--contrast {text!r} must be two class indices C,C' (e.g. 1,0)") from None
    return a, b


def add_import_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``import`` (a state_dict or a Hugging Face folder to the ``.npz`` format) and its options.

    Args:
        commands: the subcommands of the ``attnverify`` parser (``add_subparsers``).
    """
    sub = commands.add_parser(
        "import",
        help="convert a PyTorch MultiHead or nn.TransformerEncoder state_dict into "
        "the public .npz, checked against your model's outputs (--expect)",
    )
    sub.add_argument(
        "model",
        help="a torch.save'd state_dict of the authors' MultiHead classifier (.pt), or a Hugging "
        "Face model folder (BERT, DistilBERT, RoBERTa: config.json, weights, tokenizer)",
    )
    sub.add_argument("--out", required=True, metavar="MODEL.npz", help="the .npz to write")
    chosen = sub.add_mutually_exclusive_group()
    chosen.add_argument(
        "--class",
        dest="explained_class",
        type=int,
        default=None,
        metavar="C",
        help="explain this class's logit (required when there are several classes)",
    )
    chosen.add_argument(
        "--contrast", default=None, metavar="C,C'", help="explain the logit difference of classes C and C'"
    )
    sub.add_argument(
        "--cls-id", type=int, default=None, help="token id of CLS (prepended to every text; required for a state_dict)"
    )
    sub.add_argument(
        "--unk-id", type=int, default=None, help="token id of UNK (padding, unknown words; required for a state_dict)"
    )
    sub.add_argument(
        "--max-len", type=int, default=None, help="document length T (the authors use 256; required for a state_dict)"
    )
    sub.add_argument(
        "--probe",
        default=None,
        metavar="PROBE.npz",
        help="a Hugging Face folder of a bare encoder: its linear probe (w, b) on the mean-pooled states",
    )
    sub.add_argument(
        "--pe",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="sinusoidal positional encoding (default: on, as the authors)",
    )
    sub.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scores divided by √d_att (default: on; --no-scale is the authors' SCALE = False)",
    )
    sub.add_argument(
        "--arch",
        choices=("one-layer", "encoder"),
        default="one-layer",
        help="one-layer: the authors' MultiHead (default); encoder: an embedding, torch's "
        "nn.TransformerEncoder (encoder.layers.{l}.…, optional encoder.norm.*) and a linear "
        "classifier",
    )
    sub.add_argument(
        "--heads",
        type=int,
        default=None,
        metavar="K",
        help="encoder: heads per layer (a torch state_dict does not record it)",
    )
    sub.add_argument("--activation", choices=("relu", "gelu"), default="relu", help="encoder: feed-forward activation")
    sub.add_argument("--norm-first", action="store_true", help="encoder: pre-norm layers (torch's norm_first=True)")
    sub.add_argument(
        "--expect",
        default=None,
        metavar="FILE",
        help="your model's outputs: lines 'F ID ID …' (the output, then the document's token ids, CLS "
        "first), or lines 'F' for the documents of --texts; the import is refused when the imported "
        "model's f disagrees (docs/your-model.md, 'Checking an import')",
    )
    sub.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="R",
        help="--expect: largest accepted |f − F| relative to the magnitude of f's terms (default "
        "1e-4, theory.models.import_check.TOLERANCE; 1e-2 for a model run in float16/bfloat16)",
    )
    add_text_options(sub, single=False)


#: what the format cannot express, said by every import
PADDING_NOTE = (
    "note: the imported model attends to every position, UNK padding included (documents are padded to "
    "T = --max-len); a model trained or run with a padding mask (src_key_padding_mask, an attention "
    "mask) computes another f on padded documents, which this format cannot express"
)
SUGGESTION_DOCUMENTS = 8  # documents on which the other option choices are tried


def import_command(args: argparse.Namespace, argv: list[str]) -> int:
    """``attnverify import``: build the model, check it against ``--expect`` (nothing written on a
    disagreement), write it, and say how it was checked or how to check it.

    Args:
        args: the parsed ``import`` options.
        argv: the command line's arguments (not read: the shared signature of the subcommands).

    Returns:
        The exit code, :data:`EXIT_OK` (a bad input raises instead).

    Raises:
        InputError: options of another kind of import, a file that cannot be read, or an imported model whose
            ``f`` disagrees with ``--expect`` beyond ``--tolerance`` (nothing is written then).
        NonFiniteError: the imported model's forward pass overflows on an example document.
    """
    from theory.explainers.finite import FIX, NonFiniteError, overflow_cause
    from theory.models import import_check
    from theory.models.from_torch import check_out, load_state_dict, save_atomically

    check_out(args.out)  # before the (slow) torch import: bad input fails fast
    if Path(args.model).is_dir():
        return _import_folder(args)
    _check_import_options(args)
    state = load_state_dict(args.model)
    build, given, choices = (_encoder_builder if args.arch == "encoder" else _multihead_builder)(args, state)
    model = build(given)
    doc, shown = import_check.example_document(model)
    cause = overflow_cause(model, doc)
    if cause:
        raise NonFiniteError(f"the imported model: {cause} ({shown}); {FIX}; nothing was written")
    expected = _expected(args, model)
    tolerance = import_check.TOLERANCE if args.tolerance is None else args.tolerance
    if expected is not None:
        result = import_check.agreement(model, expected)
        if not result.holds(tolerance):
            raise InputError(_disagreement(result, tolerance, build, given, choices, expected))
    save_atomically(model, args.out)
    print(f"wrote {args.out}: {_summary(model, args)}", file=sys.stderr)
    if expected is not None:
        print(
            f"checked against {expected.path}: the imported model's f agrees with your {len(expected.values)} "
            f"outputs within {tolerance:g} of the magnitude of f's terms; largest difference at {result.worst()}",
            file=sys.stderr,
        )
    else:
        print(
            f"f = {float(model.output(doc[None])[0])!r} on the document {shown} (CLS, words, UNK padding to T = "
            f"{model.T}); compare it with your model's {_explained(args)} on those token ids, or let import compare: "
            "--expect FILE, one line 'F ID ID …' per document (docs/your-model.md, 'Checking an import')",
            file=sys.stderr,
        )
    print(f"attnverify: {PADDING_NOTE}", file=sys.stderr)
    return EXIT_OK


#: the import options that only apply to a state_dict (a Hugging Face folder brings its own), by their defaults
STATE_DICT_ONLY = {
    "cls_id": None,
    "unk_id": None,
    "max_len": None,
    "pe": True,
    "scale": True,
    "arch": "one-layer",
    "heads": None,
    "activation": "relu",
    "norm_first": False,
    "expect": None,
    "tolerance": None,
    "texts": None,
    "vocab": None,
    "oov": None,
    "truncate": False,
    "cls_token": None,
    "unk_token": None,
}


def _import_folder(args) -> int:
    """``attnverify import DIR --out M.npz``: a Hugging Face model folder (with ``--probe``, ``--class``,
    ``--contrast``) written as a self-contained BERT-family ``.npz`` (weights, config, tokenizer;
    docs/file-formats.md), read back by :func:`theory.models.load`."""
    from theory.models.from_torch import save_atomically

    if not (Path(args.model) / "config.json").is_file():
        raise InputError(
            f"{args.model} is a folder; pass the path of a torch.save'd state_dict, or a Hugging Face "
            "model folder (config.json, its weights and its tokenizer)"
        )
    given = [name for name, default in STATE_DICT_ONLY.items() if getattr(args, name, default) != default]
    if given:
        raise InputError(
            f"--{given[0].replace('_', '-')} is an option of a state_dict import; a Hugging Face folder "
            "brings its config and tokenizer"
        )
    model = load_model(args.model, args)
    save_atomically(model, args.out)
    print(f"wrote {args.out}: {model.sizes()}; explains {_explained(args)}", file=sys.stderr)
    return EXIT_OK


def _check_import_options(args) -> None:
    """Refuse options of another architecture, and ``--expect``'s options without ``--expect``."""
    lacking = [f"--{name.replace('_', '-')}" for name in ("cls_id", "unk_id", "max_len") if getattr(args, name) is None]
    if lacking:
        raise InputError(f"importing a state_dict needs {', '.join(lacking)}")
    if args.probe is not None:
        raise InputError("--probe is for a Hugging Face model folder (a bare encoder), not a state_dict")
    if args.arch == "encoder":
        if args.heads is None:
            raise InputError("--arch encoder needs --heads K (the number of heads per layer)")
        if args.contrast is not None or not args.scale:
            raise InputError(
                "--contrast and --no-scale are options of the one-layer model; an encoder explains one "
                "class (--class) and always divides its scores by √d_att (torch)"
            )
    elif args.heads is not None or args.norm_first or args.activation != "relu":
        raise InputError("--heads, --activation and --norm-first are options of --arch encoder")
    flags = [
        f"--{name.replace('_', '-')}"
        for name, default in TEXT_ONLY.items()
        if name != "jsonl" and getattr(args, name) != default
    ]
    if args.expect is None:
        extra = (["--tolerance"] if args.tolerance is not None else []) + (["--texts"] if args.texts else []) + flags
        if extra:
            raise InputError(f"{', '.join(extra)}: only with --expect FILE (your model's outputs)")
    elif args.texts is None and flags:
        raise InputError(f"{', '.join(flags)}: only with --texts FILE (documents given as text)")
    if args.tolerance is not None and not 0 < args.tolerance < 1:
        raise InputError(
            f"--tolerance must be a number between 0 and 1 (a share of the magnitude of f's terms), got "
            f"{args.tolerance}"
        )
    args.oov = args.oov or "error"


def _multihead_builder(args, state):
    """``(build(options) -> Model, the given options, the other values each option may take)`` for the authors'
    MultiHead layout (the options the state_dict does not record)."""
    from theory.models.from_torch import model_from_state_dict

    contrast = None if args.contrast is None else _class_pair(args.contrast)

    def build(options):
        return model_from_state_dict(
            state, cls_id=args.cls_id, unk_id=args.unk_id, max_len=args.max_len, contrast=contrast, **options
        )

    given = {"pe": args.pe, "scale": args.scale, "explained_class": args.explained_class}
    classes = np.shape(state.get("heads.0.classifier.weight"))[:1] if contrast is None else ()
    choices = {
        "pe": [True, False],
        "scale": [True, False],
        "explained_class": list(range(classes[0])) if classes and args.explained_class is not None else [],
    }
    return build, given, choices


def _encoder_builder(args, state):
    """As :func:`_multihead_builder`, for torch's ``nn.TransformerEncoder`` names."""
    from theory.models.encoder import Encoder
    from theory.models.import_encoder import encoder_from_state_dict, head_candidates

    def build(options):
        arrays = encoder_from_state_dict(state, cls_id=args.cls_id, unk_id=args.unk_id, max_len=args.max_len, **options)
        return Encoder.from_arrays(arrays, args.model)

    given = {
        "heads": args.heads,
        "activation": args.activation,
        "norm_first": args.norm_first,
        "pe": args.pe,
        "klass": args.explained_class or 0,
    }
    d = np.shape(state.get("embedding.weight"))[-1:]
    classes = np.shape(state.get("classifier.weight"))[:1]
    choices = {
        "heads": head_candidates(d[0]) if d else [],
        "activation": ["relu", "gelu"],
        "norm_first": [False, True],
        "pe": [True, False],
        "klass": list(range(classes[0])) if classes else [],
    }
    return build, given, choices


def _expected(args, model):
    """The expect file (``None`` without ``--expect``), its documents from the file or from ``--texts``."""
    from theory.models.import_check import expected_with_ids, expected_with_texts
    from theory.models.one_layer import document

    if args.expect is None:
        return None
    if args.texts is None:
        return expected_with_ids(args.expect, model)
    _, encoded = encoded_texts(args, model)
    docs = [document(model, item.tokens, allow_unk=args.oov == "unk") for item in encoded]
    return expected_with_texts(args.expect, docs, args.texts)


def _alternatives(given: dict, choices: dict, most: int = 2) -> list[dict]:
    """The other choices of the options the state_dict does not record that change at most ``most`` of them,
    fewest changes first."""
    from itertools import product

    names = [name for name in given if choices.get(name)]
    options = [dict(zip(names, values)) for values in product(*(choices[name] for name in names))]
    changes = [(sum(option[n] != given[n] for n in names), option) for option in options]
    return [{**given, **option} for count, option in sorted(changes, key=lambda item: item[0]) if 0 < count <= most]


def _flags(given: dict, option: dict) -> str:
    shown = {
        "pe": lambda v: "--pe" if v else "--no-pe",
        "scale": lambda v: "--scale" if v else "--no-scale",
        "activation": lambda v: f"--activation {v}",
        "heads": lambda v: f"--heads {v}",
        "norm_first": lambda v: "--norm-first" if v else "no --norm-first",
        "explained_class": lambda v: f"--class {v}",
        "klass": lambda v: f"--class {v}",
    }
    return " ".join(shown[name](value) for name, value in option.items() if value != given[name])


def _disagreement(result, tolerance: float, build, given: dict, choices: dict, expected) -> str:
    """The refusal: the largest difference, and which other option choice (if any) agrees."""
    from theory.models.import_check import agreement

    bad = int(np.sum(~(result.relative <= tolerance)))  # NaN (an overflow) disagrees
    message = (
        f"the imported model disagrees with your model's outputs in {expected.path}: {bad} of "
        f"{len(expected.values)} documents differ by more than {tolerance:g} of the magnitude of f's terms, "
        f"the largest at {result.worst()}; nothing was written. "
    )
    for option in _alternatives(given, choices):
        try:
            other = build(option)
        except InputError:
            continue
        if agreement(other, expected, SUGGESTION_DOCUMENTS).holds(tolerance):
            return message + (
                f"With {_flags(given, option)} the imported model agrees with your first "
                f"{min(SUGGESTION_DOCUMENTS, len(expected.values))} documents: the state_dict does not "
                "record that choice; import again with it"
            )
    return message + (
        "No other choice of one or two of the options the state_dict does not record agrees either: "
        "check --cls-id, --unk-id and --max-len, that your outputs come from the model in eval mode (no dropout) "
        "on the documents padded to T without a padding mask (which this format cannot express)"
    )


def _summary(model, args) -> str:
    if args.arch == "encoder":
        return (
            f"encoder, L = {model.L}, K = {model.K}, d = {model.d_e}, V = {model.V}, T = {model.T}, "
            f"{'pre' if args.norm_first else 'post'}-norm, {args.activation}, "
            f"{'a' if model.final_norm else 'no'} final norm; explains {_explained(args)}"
        )
    return (
        f"V = {model.V}, d_e = {model.d_e}, K = {model.K}, d_att = {model.d_att}, d_out = {model.d_out}, "
        f"T = {model.T}, pe {'on' if model.pe else 'off'}, scale {'on' if model.scale else 'off'}; explains "
        f"{_explained(args)}"
    )


def _explained(args) -> str:
    if args.contrast is not None:
        a, b = _class_pair(args.contrast)
        return f"logit of class {a} minus class {b}"
    return f"class {args.explained_class or 0}'s logit"


def add_text_options(parser: argparse.ArgumentParser, single: bool) -> None:
    """``--texts`` with ``--vocab``, ``--oov`` and ``--truncate``; with ``single`` also ``--text`` and ``--jsonl``
    (``explain``).

    Args:
        parser: the subcommand's parser (``explain``, ``run`` or ``import``).
        single: also add ``--text`` (one document) and ``--jsonl`` (``explain``).
    """
    if single:
        parser.add_argument("--text", default=None, help="a document as text (needs --vocab); instead of --tokens")
    parser.add_argument(
        "--texts", default=None, metavar="FILE", help="UTF-8 file, one document per line (needs --vocab)"
    )
    parser.add_argument(
        "--vocab",
        default=None,
        metavar="FILE",
        help="UTF-8 file, one token per line, line n = token id n (torchtext: "
        "open('vocab.txt', 'w').write('\\n'.join(vocab.get_itos())))",
    )
    parser.add_argument(
        "--oov",
        default=None,
        choices=("error", "drop", "unk"),
        help="out-of-vocabulary words: error (default), drop them, or map them to UNK (the "
        "authors' behaviour; an unknown word then looks like a removed one)",
    )
    parser.add_argument(
        "--truncate",
        action="store_true",
        help="cut texts longer than T − 1 words (the authors truncate; default: an error)",
    )
    for name in ("cls", "unk"):
        parser.add_argument(
            f"--{name}-token",
            default=None,
            metavar="TOKEN",
            help=f"check that the vocabulary's line at the model's {name.upper()} id is TOKEN (default: not checked)",
        )
    if single:
        parser.add_argument("--jsonl", action="store_true", help="with --texts: one JSON object per line")


#: the options that only apply to documents given as text, by what argparse stores when they are not given
TEXT_ONLY = {"vocab": None, "oov": None, "truncate": False, "cls_token": None, "unk_token": None, "jsonl": False}


def check_options(args: argparse.Namespace) -> None:
    """Refuse options that conflict or that the command would ignore (``explain`` and ``run``), then set the
    defaults left open for that check (``--oov error``, ``--population both``).

    Args:
        args: the parsed ``explain`` or ``run`` options (``command`` says which); ``oov`` and, for ``run``,
            ``population`` are set to their defaults when not given.

    Raises:
        InputError: ``--tokens`` with text options, text options without ``--texts`` or ``--model``, or
            ``--population`` with ``--model``.
    """

    def given(name):
        return hasattr(args, name) and getattr(args, name) != TEXT_ONLY.get(name)

    flags = [f"--{name.replace('_', '-')}" for name in TEXT_ONLY if given(name)]
    if args.command == "explain":
        texts = [flag for flag, value in (("--text", args.text), ("--texts", args.texts)) if value is not None]
        if args.tokens is not None and (texts or flags):
            raise InputError(
                f"--tokens gives word ids, so {', '.join(texts + flags)} would be ignored; give "
                "--tokens, or --text/--texts with --vocab, not both"
            )
    else:
        if args.model is None and (args.texts is not None or flags):
            raise InputError(
                f"{'--texts' if args.texts is not None else flags[0]} needs --model M.npz (the model "
                "the documents are for)"
            )
        if args.texts is None and flags:
            raise InputError(
                f"{', '.join(flags)}: only for --texts FILE (run has no --text); without --texts "
                "run --model draws word sequences from the model's vocabulary, so drop "
                f"{'them' if len(flags) > 1 else 'it'}"
            )
        if args.model is not None and args.population is not None:
            raise InputError(
                f"--population {args.population} is for the suite's own models; with --model the "
                f"population is model:{Path(args.model).stem}: drop --population"
            )
        args.population = args.population or "both"
    args.oov = args.oov or "error"


def encoded_texts(
    args: argparse.Namespace, model: AttentionClassifier
) -> tuple[Vocabulary | None, list[Encoded] | None]:
    """The vocabulary and the documents of ``--text``/``--texts`` (a list of
    :class:`~theory.models.vocabulary.Encoded`), or ``(None, None)`` when neither is given; notes on stderr for
    what the OOV policy and truncation did.  The options were checked by :func:`check_options`.  A model that reads
    texts with its own tokenizer (the BERT family) needs no vocabulary: :func:`piece_texts`.

    Args:
        args: the parsed options (``--text``, ``--texts``, ``--vocab``, ``--oov``, ``--truncate``, ``--cls-token``,
            ``--unk-token``).
        model: the model the texts are for (its ids of CLS and UNK, its length ``T``, its capabilities).

    Returns:
        ``(vocabulary, documents)``: the :class:`~theory.models.vocabulary.Vocabulary` (None for a model with its
        own tokenizer) and the encoded documents in order; ``(None, None)`` without ``--text``/``--texts``.

    Raises:
        InputError: ``--vocab`` without texts, both ``--text`` and ``--texts``, texts without ``--vocab``, or a
            vocabulary or text that cannot be read under the OOV policy.
    """
    from theory.models.vocabulary import encode, load_vocabulary, read_texts
    from theory.sentiment.fixture import vocabulary_tokenizer

    text = getattr(args, "text", None)
    if text is None and args.texts is None:
        if args.vocab is not None:
            raise InputError("--vocab needs --text or --texts")
        return None, None
    if text is not None and args.texts is not None:
        raise InputError("give --text or --texts, not both")
    if PIECES in model.capabilities:
        return None, piece_texts(args, model)
    if args.vocab is None:
        raise InputError(
            f"{'--text' if text is not None else '--texts'} needs --vocab FILE (one token per line, "
            "line n = token id n)"
        )
    vocab = load_vocabulary(args.vocab, model, args.cls_token, args.unk_token, vocabulary_tokenizer(args.vocab))
    encoded = (
        [encode(text, vocab, model, args.oov, args.truncate)]
        if text is not None
        else read_texts(args.texts, vocab, model, args.oov, args.truncate)
    )
    for n, item in enumerate(encoded, 1):
        where = "--text" if text is not None else f"line {n}"
        if item.dropped:
            print(f"attnverify: note: {where}: dropped out-of-vocabulary words {list(item.dropped)}", file=sys.stderr)
        if item.unknown:
            print(
                f"attnverify: warning: {where}: out-of-vocabulary words {list(item.unknown)} mapped to UNK, "
                "the padding token: to every explainer they look like removed words",
                file=sys.stderr,
            )
        if item.truncated:
            print(f"attnverify: note: {where}: {item.truncated} words after T − 1 cut (--truncate)", file=sys.stderr)
    return vocab, encoded


def piece_texts(args, model) -> list[Encoded]:
    """The documents of ``--text``/``--texts`` read by the model's own tokenizer (a ``"word-pieces"`` model, the
    BERT family, docs/theory.md §8): each an :class:`~theory.models.vocabulary.Encoded` of the text and its piece
    ids between the special tokens (checked by the model: a text longer than its maximum length is refused without
    ``--truncate``).

    Args:
        args: the parsed options (``--text`` or ``--texts``, ``--truncate``).
        model: the model.

    Returns:
        The documents, in order.
    """
    from theory.models.vocabulary import Encoded, read_lines

    given = [
        name for name in ("vocab", "oov", "cls_token", "unk_token") if getattr(args, name, None) not in (None, "error")
    ]
    if given:
        raise InputError(f"--{given[0].replace('_', '-')}: {model.noun} reads texts with its own tokenizer; drop it")
    text = getattr(args, "text", None)
    lines = [text] if text is not None else read_lines(args.texts, "texts")
    if not lines:
        raise InputError(f"texts file {args.texts!r} is empty; write one document per line")
    out = []
    for n, line in enumerate(lines, 1):
        where = "--text" if text is not None else f"texts file {args.texts!r} line {n}"
        if not line.strip():
            raise InputError(f"{where} is empty; write one document per line, none empty")
        try:
            doc = model.document(line, truncate=args.truncate)
        except InputError as error:
            raise InputError(f"{where}: {error}") from None
        out.append(Encoded(line, tuple(doc.ids[1 : doc.length + 1].tolist())))
    return out


def add_folder_options(parser: argparse.ArgumentParser) -> None:
    """``--probe``, ``--class`` and ``--contrast`` of ``explain`` and ``run`` for a Hugging Face model folder (or
    its imported ``.npz``): the BERT family's readout and explained output (docs/theory.md §8).

    Args:
        parser: the subcommand's parser (``explain`` or ``run``).
    """
    parser.add_argument(
        "--probe",
        default=None,
        metavar="PROBE.npz",
        help="a Hugging Face folder of a bare encoder: the linear probe on its mean-pooled states "
        "(w (n_classes, d) or (d,), b); the readout becomes mean pooling + the probe",
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--class",
        dest="explained_class",
        type=int,
        default=None,
        metavar="C",
        help="a BERT-family model (folder or imported .npz): explain this class's logit (default 0)",
    )
    chosen.add_argument(
        "--contrast",
        default=None,
        metavar="C,C'",
        help="a BERT-family model: explain the logit difference of classes C and C'",
    )


def load_model(path, args):
    """The model at ``path`` (:func:`theory.models.load`: a ``.npz`` of any family or a Hugging Face folder, with
    ``--probe``), explaining ``--class`` or ``--contrast`` when given.

    Args:
        path: the model file or folder.
        args: the parsed options (``probe``, ``explained_class``, ``contrast``).

    Returns:
        The model.
    """
    from theory.models import load

    model = load(path, getattr(args, "probe", None))
    klass, contrast = getattr(args, "explained_class", None), getattr(args, "contrast", None)
    if klass is None and contrast is None:
        return model
    if PIECES not in model.capabilities:
        raise InputError(
            f"--class/--contrast choose the explained output of a BERT-family model; {model.noun}'s "
            "was fixed when its file was written (attnverify import --class/--contrast)"
        )
    if contrast is not None:
        klass, contrast = _class_pair(contrast)
    return model.replace(klass=klass, contrast=contrast)


def model_digest(path) -> str:
    """The SHA-256 of a model file, or of a model folder's files (their relative names and bytes, in name order).

    Args:
        path: the file or folder.

    Returns:
        The hex digest.
    """
    path = Path(path)
    if not path.is_dir():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def add_model_options(run: argparse.ArgumentParser) -> None:
    """``attnverify run --model M.npz [--texts FILE --vocab V]``: the claims about a given model on the user's.

    Args:
        run: the ``run`` subcommand's parser (``--model`` with the text and folder options).
    """
    run.add_argument(
        "--model",
        default=None,
        metavar="M.npz|DIR",
        help="run the claims about a given model on this model (a .npz, or a Hugging Face model "
        "folder; population model:<file stem>); the report goes to --out (default "
        "reports/model-<stem>/)",
    )
    add_text_options(run, single=False)
    add_folder_options(run)


def given_population(args: argparse.Namespace) -> tuple[Population, list[Encoded]]:
    """The population of ``run --model`` (docs/theory.md §11.3): the user's model and the documents of
    ``--texts``, or, without them, texts Hypothesis draws from the model's vocabulary; refused
    (:func:`theory.running.given.refuse_overflow`) before anything runs when its forward pass overflows.

    Args:
        args: The parsed ``run`` options, checked by :func:`check_options`.

    Returns:
        ``(population, encoded)``: the population ``model:<file stem>``, carrying the file's SHA-256 and the
        options that rebuild it, and the encoded texts (empty without ``--texts``).

    Raises:
        InputError: The model, vocabulary or texts cannot be read, or the forward pass overflows.
    """
    from theory.checking.population import Population
    from theory.running.given import refuse_overflow

    model = load_model(args.model, args)
    vocab, encoded = encoded_texts(args, model)
    encoded = encoded or []
    texts = (
        f" --texts {args.texts}" + (f" --vocab {args.vocab} --oov {args.oov}" if vocab else "") if args.texts else ""
    )
    texts += "".join(
        f" {flag} {value}"
        for flag, value in (("--probe", args.probe), ("--class", args.explained_class), ("--contrast", args.contrast))
        if value is not None
    )
    population = Population(
        f"model:{Path(args.model).stem}",
        model,
        tuple(item.tokens for item in encoded) if encoded else None,
        allow_unk=args.oov == "unk",
        vocabulary=vocab.tokens if vocab else None,
        sha256=model_digest(args.model),
        options=f"--model {args.model}{texts}{' --truncate' if args.truncate else ''}",
    )
    refuse_overflow(population)
    return population, encoded


def output_folder(args: argparse.Namespace) -> Path:
    """Where ``run --model`` writes its report.

    Args:
        args: The parsed ``run`` options.

    Returns:
        ``--out``, or ``reports/model-<stem>/`` when that is the suite's own ``reports/`` (the baseline).
    """
    out = Path(args.out)
    return out / f"model-{Path(args.model).stem}" if out.resolve() == Path("reports").resolve() else out
