"""The command-line options of the user's-model path (THEORY.md §7): ``attnverify import`` and the ``--text``,
``--texts``, ``--vocab``, ``--oov``, ``--truncate`` and ``--model`` options of ``explain`` and ``run``.  Kept
out of :mod:`theory.suite.cli` so that the shared parser only calls in here."""

from __future__ import annotations

import argparse
import sys

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
    sub.add_argument("--out", required=True, help="the .npz to write")
    chosen = sub.add_mutually_exclusive_group()
    chosen.add_argument("--class", dest="explained_class", type=int, default=None,
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


def import_command(args, argv) -> int:
    from theory.models.from_torch import import_model

    contrast = None if args.contrast is None else _class_pair(args.contrast)
    model = import_model(args.model, args.out, cls_id=args.cls_id, unk_id=args.unk_id, max_len=args.max_len,
                         pe=args.pe, scale=args.scale, explained_class=args.explained_class, contrast=contrast)
    what = (f"class {args.explained_class}" if contrast is None and args.explained_class is not None
            else f"logit of class {contrast[0]} minus class {contrast[1]}" if contrast else "class 0")
    print(f"wrote {args.out}: V = {model.V}, d_e = {model.d_e}, K = {model.K}, d_att = {model.d_att}, "
          f"d_out = {model.d_out}, T = {model.T}, pe {'on' if model.pe else 'off'}, scale "
          f"{'on' if model.scale else 'off'}; explains {what}", file=sys.stderr)
    return EXIT_OK
