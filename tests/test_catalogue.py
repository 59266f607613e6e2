"""The committed claim catalogue ``docs/claims.md`` is the one the registry generates, and it leads from each
claim to code that exists."""

import difflib
from importlib import import_module
from pathlib import Path

from theory.claims import all_claims
from theory.reporting.catalogue import catalogue_markdown, implementations
from theory.studies import all_extras

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "claims.md"


def test_committed_catalogue_is_current():
    committed, generated = CATALOGUE.read_text(), catalogue_markdown(all_claims(), all_extras())
    diff = "\n".join(list(difflib.unified_diff(committed.splitlines(), generated.splitlines(), lineterm=""))[:12])
    assert committed == generated, (
        f"docs/claims.md is stale: regenerate it with `attnverify list --format markdown > docs/claims.md`\n{diff}"
    )


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    while module:
        try:
            obj = import_module(module)
            break
        except ModuleNotFoundError:
            module, _, outer = module.rpartition(".")
            name = f"{outer}.{name}"
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_claim_names_code_that_exists():
    for claim in all_claims():
        assert f"`{claim.id}`" in CATALOGUE.read_text()
        theory, reference = implementations(claim.check)
        assert theory, f"{claim.id}: the catalogue finds no theory function in {claim.check.__name__}"
        for dotted in theory + reference:
            assert callable(_resolve(dotted)), dotted
