"""The command-line options of the user's-model path (docs/theory.md §11.3): ``attnverify import`` and the ``--text``,
``--texts``, ``--vocab``, ``--oov``, ``--truncate`` and ``--model`` options of ``explain`` and ``run``.  Kept
out of :mod:`theory.suite.cli` so that the shared parser only calls in here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from theory.errors import InputError

EXIT_OK = 0


def _class_pair(text: str) -> tuple[int, int]:
    try:
        a, b = (int(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"--contrast {text!r} must be two class indices C,C' (e.g. 1,0)") from None
    return a, b


def add_import_parser(commands) -> None:
    sub = commands.add_parser("import", help="convert a PyTorch MultiHead state_dict into the public .npz")
    sub.add_argument("model", help="a torch.save'd state_dict of the authors' MultiHead classifier (.pt)")
    sub.add_argument("--out", required=True, metavar="MODEL.npz", help="the .npz to write")
    chosen = sub.add_mutually_exclusive_group()
    chosen.add_argument("--class", dest="explained_class", type=int, default=None, metavar="C",
                        help="explain this class's logit (required when there are several classes)")
    chosen.add_argument("--contrast", default=None, metavar="C,C'",
                        help="explain the logit difference of classes C and C'")
    sub.add_argument("--cls-id", type=int, required=True, help="token id of CLS (prepended to every text)")
    sub.add_argument("--unk-id", type=int, required=True, help="token id of UNK (padding, unknown words)")
    sub.add_argument("--max-len", type=int, required=True, help="document length T (the authors use 256)")
    sub.add_argument("--pe", action=argparse.BooleanOptionalAction, default=True,
                     help="sinusoidal positional encoding (default: on, as the authors)")
    sub.add_argument("--scale", action=argparse.BooleanOptionalAction, default=True,
                     help="scores divided by √d_att (default: on; --no-scale is the authors' SCALE = False)")
    sub.add_argument("--arch", choices=("one-layer", "encoder"), default="one-layer",
                     help="one-layer: the authors' MultiHead (default); encoder: an embedding, torch's "
                          "nn.TransformerEncoder (encoder.layers.{l}.…) and a linear classifier")
    sub.add_argument("--heads", type=int, default=None, metavar="K",
                     help="encoder: heads per layer (a torch state_dict does not record it)")
    sub.add_argument("--activation", choices=("relu", "gelu"), default="relu", help="encoder: feed-forward activation")
    sub.add_argument("--norm-first", action="store_true", help="encoder: pre-norm layers (torch's norm_first=True)")


def import_command(args, argv) -> int:
    from theory.models.from_torch import import_model

    if args.arch == "encoder":
        return _import_encoder(args)
    if args.heads is not None or args.norm_first or args.activation != "relu":
        raise InputError("--heads, --activation and --norm-first are options of --arch encoder")
    contrast = None if args.contrast is None else _class_pair(args.contrast)
    model = import_model(args.model, args.out, cls_id=args.cls_id, unk_id=args.unk_id, max_len=args.max_len,
                         pe=args.pe, scale=args.scale, explained_class=args.explained_class, contrast=contrast)
    what = (f"class {args.explained_class}" if contrast is None and args.explained_class is not None
            else f"logit of class {contrast[0]} minus class {contrast[1]}" if contrast else "class 0")
    print(f"wrote {args.out}: V = {model.V}, d_e = {model.d_e}, K = {model.K}, d_att = {model.d_att}, "
          f"d_out = {model.d_out}, T = {model.T}, pe {'on' if model.pe else 'off'}, scale "
          f"{'on' if model.scale else 'off'}; explains {what}", file=sys.stderr)
    return EXIT_OK


def _import_encoder(args) -> int:
    """``import --arch encoder``: torch's ``nn.TransformerEncoder`` classifier → the encoder ``.npz``."""
    from theory.models.encoder import Encoder
    from theory.models.from_torch import load_state_dict, save_atomically
    from theory.models.import_encoder import encoder_from_state_dict

    if args.heads is None:
        raise InputError("--arch encoder needs --heads K (the number of heads per layer)")
    if args.contrast is not None or not args.scale:
        raise InputError("--contrast and --no-scale are options of the one-layer model; an encoder explains one "
                         "class (--class) and always divides its scores by √d_att (torch)")
    if Path(args.out).suffix != ".npz":
        raise InputError(f"--out {args.out!r} must end in .npz")
    arrays = encoder_from_state_dict(load_state_dict(args.model), heads=args.heads, cls_id=args.cls_id,
                                     unk_id=args.unk_id, max_len=args.max_len, klass=args.explained_class or 0,
                                     pe=args.pe, activation=args.activation, norm_first=args.norm_first)
    model = Encoder.from_arrays(arrays, args.model)
    save_atomically(model, args.out)
    print(f"wrote {args.out}: encoder, L = {model.L}, K = {args.heads}, d = {model.d_e}, V = {model.V}, "
          f"T = {model.T}, {'pre' if args.norm_first else 'post'}-norm, {args.activation}; explains class "
          f"{args.explained_class or 0}", file=sys.stderr)
    return EXIT_OK


def add_text_options(parser, single: bool) -> None:
    """``--texts`` with ``--vocab``, ``--oov`` and ``--truncate``; with ``single`` also ``--text`` and ``--jsonl``
    (``explain``)."""
    if single:
        parser.add_argument("--text", default=None, help="a document as text (needs --vocab); instead of --tokens")
    parser.add_argument("--texts", default=None, metavar="FILE",
                        help="UTF-8 file, one document per line (needs --vocab)")
    parser.add_argument("--vocab", default=None, metavar="FILE",
                        help="UTF-8 file, one token per line, line n = token id n (torchtext: "
                             "open('vocab.txt', 'w').write('\\n'.join(vocab.get_itos())))")
    parser.add_argument("--oov", default=None, choices=("error", "drop", "unk"),
                        help="out-of-vocabulary words: error (default), drop them, or map them to UNK (the "
                             "authors' behaviour; an unknown word then looks like a removed one)")
    parser.add_argument("--truncate", action="store_true",
                        help="cut texts longer than T − 1 words (the authors truncate; default: an error)")
    for name in ("cls", "unk"):
        parser.add_argument(f"--{name}-token", default=None, metavar="TOKEN",
                            help=f"check that the vocabulary's line at the model's {name.upper()} id is TOKEN "
                                 "(default: not checked)")
    if single:
        parser.add_argument("--jsonl", action="store_true", help="with --texts: one JSON object per line")


#: the options that only apply to documents given as text, by what argparse stores when they are not given
TEXT_ONLY = {"vocab": None, "oov": None, "truncate": False, "cls_token": None, "unk_token": None, "jsonl": False}


def check_options(args) -> None:
    """Refuse options that conflict or that the command would ignore (``explain`` and ``run``), then set the
    defaults left open for that check (``--oov error``, ``--population both``)."""
    def given(name):
        return hasattr(args, name) and getattr(args, name) != TEXT_ONLY.get(name)
    flags = [f"--{name.replace('_', '-')}" for name in TEXT_ONLY if given(name)]
    if args.command == "explain":
        texts = [flag for flag, value in (("--text", args.text), ("--texts", args.texts)) if value is not None]
        if args.tokens is not None and (texts or flags):
            raise InputError(f"--tokens gives word ids, so {', '.join(texts + flags)} would be ignored; give "
                             "--tokens, or --text/--texts with --vocab, not both")
    else:
        if args.model is None and (args.texts is not None or flags):
            raise InputError(f"{'--texts' if args.texts is not None else flags[0]} needs --model M.npz (the model "
                             "the documents are for)")
        if args.texts is None and flags:
            raise InputError(f"{', '.join(flags)}: only for --texts FILE (run has no --text); without --texts "
                             "run --model draws word sequences from the model's vocabulary, so drop "
                             f"{'them' if len(flags) > 1 else 'it'}")
        if args.model is not None and args.population is not None:
            raise InputError(f"--population {args.population} is for the suite's own models; with --model the "
                             f"population is model:{Path(args.model).stem}: drop --population")
        args.population = args.population or "both"
    args.oov = args.oov or "error"


def encoded_texts(args, model):
    """The vocabulary and the documents of ``--text``/``--texts`` (a list of
    :class:`~theory.models.vocabulary.Encoded`), or ``(None, None)`` when neither is given; notes on stderr for
    what the OOV policy and truncation did.  The options were checked by :func:`check_options`."""
    from theory.models.vocabulary import encode, load_vocabulary, read_texts
    from theory.sentiment.fixture import vocabulary_tokenizer

    text = getattr(args, "text", None)
    if text is None and args.texts is None:
        if args.vocab is not None:
            raise InputError("--vocab needs --text or --texts")
        return None, None
    if text is not None and args.texts is not None:
        raise InputError("give --text or --texts, not both")
    if args.vocab is None:
        raise InputError(f"{'--text' if text is not None else '--texts'} needs --vocab FILE (one token per line, "
                         "line n = token id n)")
    vocab = load_vocabulary(args.vocab, model, args.cls_token, args.unk_token, vocabulary_tokenizer(args.vocab))
    encoded = ([encode(text, vocab, model, args.oov, args.truncate)] if text is not None
               else read_texts(args.texts, vocab, model, args.oov, args.truncate))
    for n, item in enumerate(encoded, 1):
        where = "--text" if text is not None else f"line {n}"
        if item.dropped:
            print(f"attnverify: note: {where}: dropped out-of-vocabulary words {list(item.dropped)}", file=sys.stderr)
        if item.unknown:
            print(f"attnverify: warning: {where}: out-of-vocabulary words {list(item.unknown)} mapped to UNK, "
                  "the padding token: to every explainer they look like removed words", file=sys.stderr)
        if item.truncated:
            print(f"attnverify: note: {where}: {item.truncated} words after T − 1 cut (--truncate)", file=sys.stderr)
    return vocab, encoded


def add_model_options(run) -> None:
    """``attnverify run --model M.npz [--texts FILE --vocab V]``: the claims about a given model on the user's."""
    run.add_argument("--model", default=None, metavar="M.npz",
                     help="run the claims about a given model on this model (population model:<file stem>); "
                          "the report goes to --out (default reports/model-<stem>/)")
    add_text_options(run, single=False)
