"""External oracles for the §6 explainers (docs/theory.md §11.2): the ``shap`` package (Exact, Kernel, Permutation) and
captum (IntegratedGradients, Saliency, InputXGradient, NoiseTunnel, Occlusion, ShapleyValueSampling, Lime).

shap drives the numpy model (:func:`theory.models.one_layer.forward_embedded`) through a custom callable masker
that implements our removal semantics: a 0/1 mask over the ``d`` distinct words becomes the perturbed document
(:func:`reference.explainers.perturb.perturbed_document`, built token by token, independent of the fast
evaluators under test), embedded as ``E[ξ_t] + p_t`` (``p_t`` alone for a removed word under ``zero``).  captum
drives the torch module of the authors' architecture (:mod:`reference.oracles.torch_one_layer`) on the embedded
document, with the baselines ``replace | mask:ID | zero`` (``delete`` moves positions: no captum baseline).

Deterministic methods must agree to ``RTOL`` relative to the magnitude of the terms; samplers within
``Z_MAX`` standard errors (the SE of the same estimator, measured).  The worst figures are printed after the
module (``-s``) and recorded in ``WORST``.
"""

from __future__ import annotations

import numpy as np
import pytest

shap = pytest.importorskip("shap", reason="shap oracle: pip install '.[oracles]'")
torch = pytest.importorskip("torch", reason="captum oracle: pip install '.[oracles]'")
captum_attr = pytest.importorskip("captum.attr", reason="captum oracle: pip install '.[oracles]'")

from reference.explainers.perturb import perturbed_document  # noqa: E402
from reference.oracles.torch_one_layer import AttentionClassifier  # noqa: E402
from theory.checking.compare import RTOL  # noqa: E402
from theory.checking.strategies.models import Case, ModelSpec  # noqa: E402
from theory.claims.removal import magnitude  # noqa: E402
from theory.explainers.ig import integrated_gradients  # noqa: E402
from theory.explainers.lime_inf import patterns  # noqa: E402
from theory.explainers.occlusion import occlusion  # noqa: E402
from theory.explainers.shapley import shapley_exact, shapley_mc  # noqa: E402
from theory.explainers.smoothgrad import smoothgrad  # noqa: E402
from theory.models.one_layer import embed, forward_embedded, positional_encoding  # noqa: E402
from theory.models.one_layer_gradient import gradient  # noqa: E402
from theory.models.perturb import distinct_words, f_perturbed  # noqa: E402
from theory.models.removal import baseline_embeddings  # noqa: E402

Z_MAX = 5.0
# captum 0.9.0 rounds two things to float32 even on float64 inputs: IntegratedGradients casts its quadrature
# weights (``torch.tensor(step_sizes).float()``, integrated_gradients.py) and Occlusion returns float32
# attributions; its figures are compared at float32's unit roundoff instead of RTOL (the worst is printed).
FLOAT32 = 2.0**-23
WORST: dict[str, float] = {}

SPECS = [
    ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=12, T=9, pe=True, score_scale=3.0, seed=11),
    ModelSpec(K=3, d_e=5, d_att=2, d_out=3, V=12, T=8, pe=False, score_scale=1.0, value_scale=10.0, seed=12),
    ModelSpec(K=1, d_e=3, d_att=2, d_out=2, V=10, T=7, pe=True, score_scale=10.0, seed=13),
]
CASES = [Case(SPECS[0], (2, 5, 3, 5, 7, 4)), Case(SPECS[1], (3, 4, 9, 2, 6)), Case(SPECS[2], (2, 3, 4, 5))]
SEMANTICS = ("delete", "replace", "mask:8", "zero")
BASELINES = ("replace", "mask:8", "zero")


def record(name: str, value: float) -> None:
    WORST[name] = max(WORST.get(name, 0.0), float(value))


@pytest.fixture(scope="module", autouse=True)
def print_worst(request):
    yield
    lines = [f"[§6 oracles] worst {name}: {value:.3e}" for name, value in sorted(WORST.items())]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


# --- shap: a masker that implements our removal semantics ------------------------------------------------------


def masker_for(case: Case, semantics: str):
    """``masker(mask, words) -> (1, T·d_e)``: the embedded perturbed document of a 0/1 word mask."""
    model, doc, length = case.model, case.doc, len(case.tokens)
    P = positional_encoding(model.T, model.d_e) if model.pe else np.zeros((model.T, model.d_e))

    def masker(mask, words):
        tokens = perturbed_document(doc, length, [int(b) for b in mask], semantics, model.unk_id)
        rows = [P[t] if token is None else model.E[token] + P[t] for t, token in enumerate(tokens)]
        return np.stack(rows).reshape(1, -1)

    return masker


def numpy_model(case: Case):
    model = case.model

    def f(X):
        return forward_embedded(case.model, np.asarray(X).reshape(-1, model.T, model.d_e)).f

    return f


@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c.spec.seed}")
def test_shap_exact_and_kernel_equal_exact_shapley(case, semantics):
    model, doc, length = case.model, case.doc, len(case.tokens)
    words = distinct_words(doc, length)
    d = words.size
    phi = shapley_exact(model, doc, length, semantics=semantics)
    scale = magnitude(model, doc, semantics)
    exact = shap.explainers.Exact(numpy_model(case), masker_for(case, semantics))(words[None]).values[0]
    error = np.abs(exact - phi).max() / scale
    record("shap Exact vs exact Shapley (relative to the magnitude of the terms)", error)
    assert error <= RTOL
    # KernelExplainer replaces features by a background: the 0/1 representation, background z = 0
    masker = masker_for(case, semantics)
    f = numpy_model(case)
    kernel = shap.KernelExplainer(lambda Z: f(np.concatenate([masker(z, words) for z in Z])), np.zeros((1, d)))
    values = kernel.shap_values(np.ones((1, d)), nsamples=2**d, l1_reg=False, silent=True)[0]
    error = np.abs(values - phi).max() / scale
    record("shap KernelExplainer (full enumeration) vs exact Shapley", error)
    assert error <= 1e-10


@pytest.mark.parametrize("semantics", ("delete", "zero"))
def test_shap_permutation_within_standard_errors(semantics):
    case = CASES[0]
    model, doc, length = case.model, case.doc, len(case.tokens)
    words = distinct_words(doc, length)
    d = words.size
    phi = shapley_exact(model, doc, length, semantics=semantics)
    pairs = 20
    # the SE of an antithetic-permutation estimate with `pairs` pairs, measured with many pairs
    se = shapley_mc(model, doc, length, semantics=semantics, samples=4000, seed=1).stderr * np.sqrt(4000 / pairs)
    explainer = shap.explainers.Permutation(numpy_model(case), masker_for(case, semantics), seed=3)
    values = explainer(words[None], max_evals=pairs * (2 * d + 1)).values[0]
    z = np.abs(values - phi) / np.maximum(se, 1e-15)
    record("shap Permutation |z| vs exact Shapley", z.max())
    assert z.max() <= Z_MAX


# --- captum on the torch module --------------------------------------------------------------------------------


def torch_setup(case: Case, baseline: str):
    model, doc, length = case.model, case.doc, len(case.tokens)
    module = AttentionClassifier.from_npz_arrays(model)
    X = torch.from_numpy(embed(model, doc[None]))
    X0 = torch.from_numpy(baseline_embeddings(model, doc, length, baseline)[None])
    return module, (lambda inputs: module.forward_embedded(inputs)[:, 0]), X, X0


@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c.spec.seed}")
def test_captum_integrated_gradients_and_gradients(case, baseline):
    model, doc, length = case.model, case.doc, len(case.tokens)
    _, f, X, X0 = torch_setup(case, baseline)
    scale = magnitude(model, doc, baseline)
    ours = integrated_gradients(model, doc, length, baseline=baseline, nodes=64)
    ig, delta = captum_attr.IntegratedGradients(f).attribute(
        X, X0, method="gausslegendre", n_steps=64, return_convergence_delta=True
    )
    error = np.abs(ig[0].numpy() - ours.attributions).max() / scale
    record("captum IntegratedGradients (64 Gauss–Legendre nodes, float32 weights) vs ours", error)
    assert error <= FLOAT32
    record("completeness gap |captum delta − ours| / scale", abs(abs(float(delta[0])) - ours.gap) / scale)
    grad = gradient(model, doc).grad[0]
    saliency = captum_attr.Saliency(f).attribute(X, abs=False)[0].detach().numpy()
    ixg = captum_attr.InputXGradient(f).attribute(X)[0].detach().numpy()
    error = max(np.abs(saliency - grad).max(), np.abs(ixg - grad * X[0].detach().numpy()).max()) / scale
    record("captum Saliency / InputXGradient vs closed-form gradient", error)
    assert error <= RTOL


@pytest.mark.parametrize("baseline", ("mask:8", "zero"))
def test_captum_occlusion_and_shapley_sampling(baseline):
    case = CASES[2]  # four distinct words, each once: a word is a position
    model, doc, length = case.model, case.doc, len(case.tokens)
    _, f, X, X0 = torch_setup(case, baseline)
    scale = magnitude(model, doc, baseline)
    occ = (
        captum_attr.Occlusion(f)
        .attribute(X, sliding_window_shapes=(1, model.d_e), strides=(1, model.d_e), baselines=X0)[0]
        .detach()
        .numpy()
    )
    error = np.abs(occ[1 : length + 1, 0] - occlusion(model, doc, length, semantics=baseline)).max() / scale
    record("captum Occlusion (float32 output) vs closed-form occlusion", error)
    assert error <= FLOAT32
    # ShapleyValueSampling: groups = the words (CLS and padding in a dummy group whose baseline is the input)
    mask = torch.full(X.shape, length, dtype=torch.long)
    for t in range(1, length + 1):
        mask[0, t] = t - 1
    phi = shapley_exact(model, doc, length, semantics=baseline)
    runs = []
    for seed in range(8):
        torch.manual_seed(seed)
        runs.append(
            captum_attr.ShapleyValueSampling(f)
            .attribute(X, X0, feature_mask=mask, n_samples=50)[0, 1 : length + 1, 0]
            .numpy()
        )
    runs = np.array(runs)
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    z = np.abs(runs.mean(axis=0) - phi) / np.maximum(se, 1e-15)
    record("captum ShapleyValueSampling |z| vs exact Shapley", z.max())
    assert z.max() <= Z_MAX


def test_captum_noise_tunnel_is_smoothgrad():
    case = CASES[0]
    model, doc = case.model, case.doc
    _, f, X, _ = torch_setup(case, "replace")
    sigma, n = 0.3, 2000
    torch.manual_seed(0)
    nt = captum_attr.NoiseTunnel(captum_attr.Saliency(f))
    mean = nt.attribute(X, nt_type="smoothgrad", nt_samples=n, stdevs=sigma, abs=False)[0].detach().numpy()
    torch.manual_seed(0)
    square = nt.attribute(X, nt_type="smoothgrad_sq", nt_samples=n, stdevs=sigma, abs=False)[0].detach().numpy()
    captum_se = np.sqrt(np.maximum(square - mean**2, 0) / (n - 1))
    ours = smoothgrad(model, doc, sigma=sigma, samples=4000, seed=0)
    z = np.abs(mean - ours.mean) / np.sqrt(captum_se**2 + ours.stderr**2 + 1e-300)
    record("captum NoiseTunnel(Saliency) |z| vs our SmoothGrad", z.max())
    assert z.max() <= Z_MAX + 1.0  # T·d_e = 36 z-scores: allow the maximum of 36 normals a little more room


@pytest.mark.parametrize("baseline", ("zero",))
def test_captum_lime_converges_to_its_population(baseline):
    """captum's Lime with an unweighted linear surrogate and its default Bernoulli(1/2) perturbations: the
    population is the least-squares fit over all 2^d patterns (each equally likely), computed here from the
    fast evaluators; captum's sampled fits agree within Z_MAX standard errors (between-seed spread)."""
    from captum._utils.models.linear_model import SkLearnLinearRegression

    case = CASES[2]
    model, doc, length = case.model, case.doc, len(case.tokens)
    _, f, X, X0 = torch_setup(case, baseline)
    d = length
    Z = patterns(d)
    y = f_perturbed(model, doc, length, Z, baseline)
    population = np.linalg.lstsq(np.hstack([np.ones((2**d, 1)), Z]), y, rcond=None)[0][1:]
    mask = torch.full(X.shape, d, dtype=torch.long)
    for t in range(1, length + 1):
        mask[0, t] = t - 1
    runs = []
    for seed in range(8):
        torch.manual_seed(seed)
        lime = captum_attr.Lime(
            f, interpretable_model=SkLearnLinearRegression(), similarity_func=lambda *args, **kwargs: 1.0
        )
        runs.append(lime.attribute(X, baselines=X0, feature_mask=mask, n_samples=400)[0, 1 : length + 1, 0].numpy())
    runs = np.array(runs)
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    z = np.abs(runs.mean(axis=0) - population) / np.maximum(se, 1e-15)
    record("captum Lime (unweighted, Bernoulli) |z| vs its exact population", z.max())
    assert z.max() <= Z_MAX
