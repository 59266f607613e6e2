"""``attnverify explain [MODEL] (--tokens IDS | --text TEXT | --texts FILE) [--method M[,M…] | all] [--json]
[--plot FILE.png] [--html FILE.html]``: one or several documents, one or several methods.

**The model.**  ``MODEL`` is a ``.npz`` file of either family (the §2 model or an encoder, told apart by the file's
``arch``), or a bundled model by name: ``bundled`` (the default when ``MODEL`` is left out: the trained one-layer
sentiment model, ``theory/sentiment/data/sentiment_model.npz``) or ``bundled-encoder`` (the trained 6-layer
encoder, ``sentiment_encoder.npz``).  A bundled model — by name or by its path — reads text with the bundled
vocabulary (``--vocab`` defaults to ``theory/sentiment/data/vocab.txt``) and its corpus's tokenizer (lower-cased
runs of letters: punctuation is not a word of it); its explained output ``f`` is the positive-class logit.

**The methods.**  ``--method`` takes a name, a comma-separated list, or ``all`` (every method defined for the
model's family), and may be repeated; the default is ``all``.  ``--semantics``, ``--samples``, ``--seed``,
``--baseline`` and ``--sigma`` go to the methods that take them and are an error when none of the chosen
methods does.

**The output.** Without ``--json``, a table (:func:`theory.cli.explain_view.table`): one row per position (CLS, then
the words as strings whenever a vocabulary is known), one column per method. ``--json`` prints each explanation as
:meth:`theory.explainers.explanation.Explanation.to_json` gives it (``"scores_of"`` names what ``"scores"`` index:
``"positions"`` or ``"words"``; LayerNorm's exact zeros are flagged ``"exactly_zero"``), with ``"token_strings"``
(the string of each of ``tokens``) and, for word methods, ``"word_strings"`` (of each of ``words``) when a
vocabulary is known, and ``"text"`` for text input: one object for one method, a list for several; ``--jsonl`` (with
``--texts``) one object per line. ``--plot FILE.png`` and ``--html FILE.html`` draw the one document's words shaded
by their scores, one line per method (:mod:`theory.cli.explain_view`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theory.cli import model_options
from theory.errors import InputError
from theory.models.protocol import AttentionClassifier
from theory.models.protocol import Document as ProtocolDocument

EXIT_OK = 0
#: options of ``explain`` that go to the methods, by the name :func:`theory.explainers.registry.explain` takes
METHOD_OPTIONS = ("semantics", "samples", "seed", "baseline", "sigma")


def bundled_models() -> dict[str, tuple[Path, str]]:
    """The bundled models by name: their file and what they are.

    Returns:
        ``{name: (file, what it is)}``: ``bundled`` (the one-layer model) and ``bundled-encoder`` (the encoder),
        their ``.npz`` under ``theory/sentiment/data``.
    """
    from theory.sentiment.encoder_fixture import ENCODER_FILE
    from theory.sentiment.fixture import DATA, MODEL_FILE

    return {"bundled": (DATA / MODEL_FILE, "one-layer model"), "bundled-encoder": (DATA / ENCODER_FILE, "encoder")}


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``explain`` and its options (the module docstring) to the command line.

    Args:
        commands: the subcommands of the ``attnverify`` parser (``add_subparsers``).
    """
    explain = commands.add_parser(
        "explain", help="explain a document with one or several methods (a table, JSON or a picture)"
    )
    explain.add_argument(
        "model",
        nargs="?",
        default="bundled",
        help="model file (.npz of any family, see docs/file-formats.md), a Hugging Face model folder "
        "(BERT, DistilBERT, RoBERTa; --probe for a bare encoder), or bundled (the trained "
        "one-layer sentiment model; the default) or bundled-encoder (the trained 6-layer "
        "encoder)",
    )
    explain.add_argument("--tokens", help="word ids, comma-separated, e.g. 5,9,12,9 (or --text/--texts)")
    explain.add_argument(
        "--method",
        action="append",
        default=None,
        metavar="M[,M…]|all",
        help="explanation method(s): a name, a comma-separated list or all (default: all); may be repeated",
    )
    explain.add_argument(
        "--json", action="store_true", help="print JSON (one object per method; a list for several methods)"
    )
    explain.add_argument(
        "--plot",
        default=None,
        metavar="FILE.png",
        help="draw the words shaded by their scores, one line per method (needs matplotlib: pip install '.[report]')",
    )
    explain.add_argument("--html", default=None, metavar="FILE.html", help="the same picture as an HTML page")
    explain.add_argument(
        "--semantics",
        default=None,
        help="LIME removal semantics: delete (lime 0.2.0.1 with bow=True, then UNK padding; "
        "default) or replace (UNK at the same position, as Eq. (19) assumes); also mask:ID "
        "(token ID at the same position) and zero (token embedding 0, positional encoding kept)",
    )
    explain.add_argument("--baseline", default=None, help="IG baseline: replace (default), mask:ID or zero")
    explain.add_argument("--sigma", type=float, default=None, help="SmoothGrad / C-LIME noise level (default 0.1)")
    explain.add_argument(
        "--samples",
        type=int,
        default=None,
        help="samples of a sampled method (LIME: 5000; refused when the estimated time exceeds 10 "
        "minutes or the memory the machine's)",
    )
    explain.add_argument("--seed", type=int, default=None, help="seed of the sampled methods (default 0)")
    model_options.add_text_options(explain, single=True)
    model_options.add_folder_options(explain)


@dataclass(frozen=True)
class Document:
    """A document to explain as the command line gives it: its word ids, and its text when it was given as text
    (the model reads it into a :class:`theory.models.protocol.Document` when it is explained; a model that reads
    texts with its own tokenizer, the BERT family, has read it already: ``read``)."""

    tokens: tuple[int, ...]
    text: str | None = None
    read: ProtocolDocument | None = None  # the model's own reading of the text (a model with a tokenizer)


def load(args: argparse.Namespace) -> tuple[AttentionClassifier, str | None]:
    """The model of ``args.model`` (a bundled name, a file of any family or a Hugging Face folder:
    :func:`theory.cli.model_options.load_model`) and, for a bundled model, what it is (``"one-layer model"``,
    ``"encoder"``), None otherwise.

    Args:
        args: the parsed ``explain`` options (``model``, and ``--probe``, ``--class``, ``--contrast``).

    Returns:
        ``(model, kind)``: the model, and what a bundled model is (also when given by its path) or None.

    Raises:
        InputError: the file or folder cannot be read as a model.
    """
    bundled = bundled_models()
    path = bundled[args.model][0] if args.model in bundled else Path(args.model)
    kind = next(
        (what for known, what in bundled.values() if path.is_file() and path.resolve() == known.resolve()), None
    )
    return model_options.load_model(path, args), kind


def documents(
    args: argparse.Namespace, model: AttentionClassifier, is_bundled: bool
) -> tuple[list[Document], tuple[str, ...] | None]:
    """The documents of ``--tokens``, ``--text`` or ``--texts``, and the vocabulary's token strings when one is
    known (given with ``--vocab``, or the bundled one).

    Args:
        args: the parsed ``explain`` options, checked by :func:`theory.cli.model_options.check_options` (a
            bundled model's ``--vocab`` is set here to the bundled vocabulary for text input).
        model: the model the documents are for.
        is_bundled: whether the model is a bundled one (it then reads text with the bundled vocabulary).

    Returns:
        ``(docs, strings)``: the documents in order, and the token string of each id (indexed by id), or None
        when no vocabulary is known (word ids given, or a model with its own tokenizer).

    Raises:
        InputError: no document is given, ``--tokens`` is not a list of integers, ``--jsonl`` without ``--texts``,
            or a text cannot be read (vocabulary, out-of-vocabulary words, length).
    """
    from theory.models.vocabulary import load_vocabulary

    if is_bundled and args.vocab is None:
        from theory.sentiment.fixture import DATA, VOCAB_FILE

        if args.text is not None or args.texts is not None:
            args.vocab = str(DATA / VOCAB_FILE)
        elif args.tokens is not None:  # word ids given: the bundled vocabulary only names them
            return _tokens(args), load_vocabulary(DATA / VOCAB_FILE, model).tokens
    if args.tokens is not None:
        return _tokens(args), None
    vocab, encoded = model_options.encoded_texts(args, model)
    if encoded is None:
        raise InputError("give the document: --tokens IDS, --text TEXT or --texts FILE (with --vocab)")
    if args.jsonl and args.texts is None:
        raise InputError("--jsonl is for --texts FILE (use --json with --text)")
    if vocab is None:  # the model read the texts with its own tokenizer: it reads them again, into its words
        return [
            Document(item.tokens, item.text, model.document(item.text, truncate=args.truncate)) for item in encoded
        ], None
    return [Document(item.tokens, item.text) for item in encoded], vocab.tokens


def _tokens(args) -> list[Document]:
    try:
        tokens = [int(part) for part in args.tokens.split(",")] if args.tokens.strip() else []
    except ValueError:
        raise InputError(f"--tokens {args.tokens!r} is not a comma-separated list of integer word ids") from None
    return [Document(tuple(tokens))]


def unknown_words(model: AttentionClassifier, doc: ProtocolDocument | None) -> list[str]:
    """The words of a document read by the model's own tokenizer that have an ``[UNK]`` piece: the model cannot
    tell them apart from each other or from a word removed under ``unk`` (its perturbation explainers then give
    such a word score 0 under that semantics).

    Args:
        model: the model.
        doc: what :func:`documents` read for it (a document whose words span pieces, or None for word ids).

    Returns:
        The distinct words, in order of first appearance (empty for a model without its own tokenizer).
    """
    if doc is None or doc.names is None:
        return []
    at_unk = np.flatnonzero(doc.ids[1 : doc.length + 1] == model.unk_id)
    return [doc.names[k] for k in sorted(set(doc.word_of[at_unk].tolist()))]


def method_options(args: argparse.Namespace, methods: list[str]) -> dict[str, dict]:
    """Each method's options from the command line: an option goes to the methods that take it; one that none of
    the chosen methods takes is an error (with a single method, the error names who takes it).

    Args:
        args: the parsed ``explain`` options (those of :data:`METHOD_OPTIONS` that were given).
        methods: the chosen methods' names (:data:`theory.explainers.registry.METHODS`).

    Returns:
        ``{method: {option: value}}`` for every chosen method (a single method gets every given option; its
        explainer refuses one it does not take).

    Raises:
        InputError: an option given applies to none of several chosen methods.
    """
    from theory.explainers.registry import METHODS

    given = {key: getattr(args, key) for key in METHOD_OPTIONS if getattr(args, key) is not None}
    if len(methods) == 1:  # explain() says which methods take an option the method does not
        return {methods[0]: given}
    for key in given:
        if not any(key in METHODS[method].options for method in methods):
            takers = sorted(name for name, method in METHODS.items() if key in method.options)
            raise InputError(
                f"--{key} applies to none of the chosen methods ({', '.join(methods)}); it applies to "
                f"{', '.join(takers)}"
            )
    return {
        method: {key: value for key, value in given.items() if key in METHODS[method].options} for method in methods
    }


def _named(result: dict, strings, text) -> dict:
    """``result`` with the strings of its token and word ids and the text, when known."""
    named = dict(result)
    if text is not None:
        named["text"] = text
    if strings is not None:
        named["token_strings"] = [strings[i] for i in result["tokens"]]
        if "words" in result:
            named["word_strings"] = [strings[i] for i in result["words"]]
    return named


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """``attnverify explain``: every explanation computed before anything is printed or written (a bad line of
    ``--texts`` or a refused method leaves no partial output).

    Args:
        args: the parsed ``explain`` options.
        argv: the command line's arguments (not read: the shared signature of the subcommands).

    Returns:
        The exit code, :data:`EXIT_OK` (a bad input raises instead).

    Raises:
        InputError: conflicting or unusable options, a model or document that cannot be read, a method that
            refuses the model, or a picture that cannot be written.
    """
    from theory.cli import explain_view
    from theory.explainers.registry import explain, method_names

    model_options.check_options(args)
    for option, suffix in (("plot", ".png"), ("html", ".html")):
        target = getattr(args, option)
        if target is not None and Path(target).suffix.lower() != suffix:
            raise InputError(f"--{option} {target!r} must end in {suffix}")
    if (args.plot or args.html) and args.texts is not None:
        raise InputError("--plot and --html draw one document; give it with --text or --tokens")
    if args.plot:
        explain_view.require_matplotlib()
    model, bundled = load(args)
    methods = method_names(model, args.method or ["all"])
    options = method_options(args, methods)
    docs, strings = documents(args, model, bundled is not None)
    for n, doc in enumerate(docs, 1):
        unknown, words = unknown_words(model, doc.read), 0 if doc.read is None else len(doc.read.words)
        if unknown:
            where = f"line {n}: " if args.texts is not None else ""
            every = " — every word: the explanations cannot tell the words apart" if len(unknown) == words else ""
            listed = ", ".join(repr(w) for w in unknown[:8]) + (" …" if len(unknown) > 8 else "")
            print(
                f"note: {where}{len(unknown)} of {words} distinct words are outside the model's vocabulary and read as "
                f"[UNK] ({listed}){every}",
                file=sys.stderr,
            )
    results = [
        [
            _named(
                explain(
                    model, doc.read or doc.tokens, method, allow_unk=args.oov == "unk", **options[method]
                ).to_json(),
                strings,
                doc.text,
            )
            for method in methods
        ]
        for doc in docs
    ]
    what = (
        f"the bundled {bundled}'s positive-class logit"
        if bundled is not None
        else f"the output of {Path(args.model).name}"
    )
    for target, write in ((args.plot, explain_view.write_png), (args.html, explain_view.write_html)):
        if target:
            try:
                write(results[0], target, what)
            except OSError as error:
                raise InputError(f"cannot write {target!r} ({error.strerror or error})") from None
    for n, (doc, explained) in enumerate(zip(docs, results), 1):
        if args.jsonl:
            for result in explained:
                print(json.dumps(result))
        elif args.json:
            print(json.dumps(explained[0] if len(explained) == 1 else explained))
        else:
            if args.texts is not None:
                print(f"line {n}: {doc.text}")
            print(explain_view.table(explained, what))
    return EXIT_OK
