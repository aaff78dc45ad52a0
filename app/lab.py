"""EBT Explorer's research lab (Streamlit): checkpoints and their training curves, one thinking
run up close, thinking-budget experiments (perplexity vs steps and vs N, ID vs OOD), energy-vs-
loss calibration and the energy as a verifier, and denoising PSNR vs network passes.

    streamlit run app/lab.py
    EBT_CHECKPOINTS=/my/checkpoints streamlit run app/lab.py

Same records and figure builders as the Gradio app (the app/figures/ package); every number is
computed live on small held-out batches by the study's public API (`ebt_core.study`), cached per
setting.
"""

import streamlit as st

import ebt_core as ebt
from app import export, figures
from app.runtime import baseline_name
from ebt_core import study

VIEWS = ("Checkpoints", "Think", "Thinking budget", "Calibration", "Denoising")
ARITH_LEVELS = {"digits 3": (3, 3), "digits 4": (4, 4), "digits 5": (5, 5)}
DIT_PASSES = {"1": 1, "2": 2, "5": 5, "10": 10, "25": 25, "50": 50, "every timestep": None}


# ---- cached models, data and records --------------------------------------------------------
@st.cache_resource(show_spinner="Loading checkpoint…")
def get_model(name: str):
    return ebt.load(ebt.checkpoints_dir() / name)


@st.cache_resource(show_spinner="Building corpus…")
def get_text_corpus(name: str):
    return study.get_corpus(name)


def splits_of(checkpoint: str) -> list[str]:
    corpus = get_model(checkpoint).recipe.get("corpus", "")
    return ["id", "ood", *ARITH_LEVELS] if corpus == "arith" else ["id", "ood"]


def eval_batch(checkpoint: str, split: str, rows: int):
    model = get_model(checkpoint)
    corpus = get_text_corpus(model.recipe.get("corpus", "arith"))
    length = model.recipe.get("length", 64)
    if split in ARITH_LEVELS:
        return corpus.eval_batch("id", rows, length, seed=4321, digits=ARITH_LEVELS[split])
    return corpus.eval_batch(split, rows, length, seed=4321)


@st.cache_data(show_spinner=False, max_entries=64)
def descent_record(checkpoint: str, split: str, rows: int, steps: int, samples: int):
    """DescentStats of a small held-out batch, and the Transformer++ perplexity on it."""
    ids, mask = eval_batch(checkpoint, split, rows)
    stats = study.descent_stats(get_model(checkpoint), ids, mask, steps, samples)
    base = baseline_name(checkpoint, ebt.available("transformer"))
    tf = study.ppl(study.transformer_nll(get_model(base), ids, mask)) if base else None
    return stats, tf


@st.cache_data(show_spinner=False, max_entries=16)
def verifier_record(checkpoint: str, split: str, n: int):
    """(final energies, wrong) of greedy arith answers, up to each answer's first mistake."""
    corpus = get_text_corpus("arith")
    digits = ARITH_LEVELS.get(split, (1, 3) if split == "id" else (4, 5))
    examples = corpus.examples("id" if split == "id" else "ood", n, seed=99, digits=digits)
    runs = study.think_examples(get_model(checkpoint), examples)
    return study.verifier_tokens(runs, examples)


@st.cache_data(show_spinner=False, max_entries=16)
def passes_record(photo: str, level: float, crop: int, ebt_steps: int, dit_passes: tuple):
    image = study.load_photo(photo)[40 : 40 + crop, 60 : 60 + crop]
    return study.psnr_vs_passes(
        get_model("image-ebt"), get_model("image-dit"), image, level, ebt_steps, dit_passes
    )


@st.cache_data(show_spinner="Thinking…", max_entries=32)
def think_run(checkpoint: str, prompt: str, steps: int, samples: int, seed: int, new_tokens: int):
    cfg = ebt.ThinkConfig(steps=steps, samples=samples, seed=seed)
    return ebt.think(get_model(checkpoint), prompt, cfg, max_new_tokens=new_tokens)


# ---- views ----------------------------------------------------------------------------------
def checkpoints_ui() -> None:
    names = ebt.available()
    if not names:
        st.warning(f"No checkpoints in {ebt.checkpoints_dir()}.")
        return
    name = st.selectbox("Checkpoint", names, key="ckpt_name")
    model = get_model(name)
    rows = ebt.read_metrics(name)
    st.caption(figures.summarize_training(rows, name))
    if rows:
        left, right = st.columns(2)
        left.plotly_chart(figures.training_curves(rows, name, "id"), key="ckpt_id")
        right.plotly_chart(figures.training_curves(rows, name, "ood"), key="ckpt_ood")
        st.plotly_chart(figures.loss_curve(rows, name), key="ckpt_loss")
    with st.expander("Architecture and training recipe"):
        st.json({"model": model.config.to_dict(), "recipe": model.recipe})


def text_ebt_ui(key: str) -> str | None:
    names = ebt.available("text-ebt")
    if not names:
        st.warning(f"No text EBT checkpoints in {ebt.checkpoints_dir()}.")
        return None
    default = names.index("arith-ebt") if "arith-ebt" in names else 0
    return st.selectbox("Text EBT", names, index=default, key=key)


def think_ui() -> None:
    name = text_ebt_ui("think_ckpt")
    if name is None:
        return
    cols = st.columns(5)
    prompt = cols[0].text_input("Prompt", "12+35=", key="think_prompt")
    steps = cols[1].number_input("Steps", 1, 64, 2 * get_model(name).think_defaults.steps)
    samples = cols[2].number_input("Samples N", 1, 16, 4)
    new_tokens = cols[3].number_input("New characters", 1, 32, 4)
    seed = cols[4].number_input("Seed", 0, 10_000, 0)
    opened = st.file_uploader(
        "…or open a run exported from the app (Download JSON, /export_json)", type="json"
    )
    try:
        if opened is not None:
            run = export.read_run_json(opened.getvalue())
        else:
            run = think_run(name, prompt, int(steps), int(samples), int(seed), int(new_tokens))
    except ValueError as err:
        st.error(str(err))
        return
    st.html(figures.token_strip(run))
    token = st.slider("Token", 0, len(run.tokens) - 1, 0, key="think_token")
    tok = run.tokens[token]
    step = st.slider("Step", 0, max(1, tok.steps_used), tok.steps_used, key="think_step")
    step = min(step, tok.steps_used)
    left, right = st.columns(2)
    left.plotly_chart(figures.energy_curves(run, token, step), key="think_curves")
    right.plotly_chart(figures.topk_bars(run, token, step), key="think_topk")
    st.caption(
        f"{figures.summarize_curves(run, token, step)} {figures.summarize_table(run, token)}"
    )
    st.dataframe(
        [dict(zip(figures.BEST_OF_N_HEADERS, r)) for r in figures.best_of_n_table(run, token)]
    )


def batch_ui(name: str, prefix: str) -> tuple[list[str], int, int, int]:
    """Splits, rows, steps and samples of a held-out batch experiment."""
    options = splits_of(name)
    cols = st.columns(4)
    splits = cols[0].multiselect("Splits", options, ["id", "ood"], key=f"{prefix}_splits")
    rows = cols[1].slider("Rows (64 characters each)", 2, 64, 8, key=f"{prefix}_rows")
    default = get_model(name).think_defaults.steps
    steps = cols[2].slider("Max steps", 1, 16, 2 * default, key=f"{prefix}_steps")
    samples = cols[3].slider("Candidates N", 1, 8, 4, key=f"{prefix}_samples")
    return splits, rows, steps, samples


def budget_ui() -> None:
    name = text_ebt_ui("budget_ckpt")
    if name is None:
        return
    splits, rows, steps, samples = batch_ui(name, "budget")
    by_steps, by_n, baselines = {}, {}, {}
    progress = st.progress(0.0, text="Thinking…")
    for i, split in enumerate(splits):
        stats, baselines[split] = descent_record(name, split, rows, steps, samples)
        by_steps[split] = [study.ppl(stats.mean_nll(s)) for s in range(1, steps + 1)]
        by_n[split] = [study.ppl(stats.best_of_n_nll(n)) for n in range(1, samples + 1)]
        progress.progress((i + 1) / len(splits), text=f"{split} done")
    progress.empty()
    if not splits:
        st.info("Pick at least one split.")
        return
    default = get_model(name).think_defaults.steps
    left, right = st.columns(2)
    left.plotly_chart(figures.ppl_vs_steps(by_steps, baselines, default), key="chart_budget_steps")
    right.plotly_chart(figures.ppl_vs_samples(by_n, steps), key="chart_budget_n")
    st.caption(figures.summarize_budget(by_steps, by_n))


def calibration_ui() -> None:
    name = text_ebt_ui("cal_ckpt")
    if name is None:
        return
    splits, rows, steps, _ = batch_ui(name, "cal")
    split = st.radio("Split", splits or ["id"], horizontal=True, key="cal_split")
    with st.spinner("Descending…"):
        stats, _ = descent_record(name, split, rows, steps, 1)
    pairs = [stats.calibration(s) for s in range(steps + 1)]
    rhos = [study.spearman(e, n) for e, n in pairs]
    step = st.slider("Descent step", 0, steps, steps, key="cal_step")
    energy, nll = pairs[step]
    left, right = st.columns(2)
    left.plotly_chart(
        figures.calibration_scatter(energy.tolist(), nll.tolist(), step, rhos[step]),
        key="cal_scatter",
    )
    means = ([float(e.mean()) for e, _ in pairs], [float(n.mean()) for _, n in pairs])
    right.plotly_chart(figures.calibration_trend(rhos, *means), key="cal_trend")
    auroc = None
    if get_model(name).recipe.get("corpus") == "arith":
        n = st.slider("Arithmetic prompts for the verifier view", 4, 100, 20, key="cal_examples")
        with st.spinner("Thinking on held-out sums…"):
            energy, wrong = verifier_record(name, split, n)
        auroc = study.auroc(energy, wrong)
        st.plotly_chart(
            figures.energy_hist(energy[~wrong].tolist(), energy[wrong].tolist(), auroc),
            key="cal_hist",
        )
    counts = (int((~wrong).sum()), int(wrong.sum())) if auroc is not None else (None, None)
    st.caption(figures.summarize_calibration(rhos, auroc, *counts))


def denoise_ui() -> None:
    if not {"image-ebt", "image-dit"} <= set(ebt.available("image")):
        st.warning("Needs the image-ebt and image-dit checkpoints.")
        return
    cols = st.columns(5)
    photo = cols[0].selectbox("Held-out photo", study.HELDOUT_IMAGES, key="dn_photo")
    level = cols[1].slider("Noise level (0.1 = ID)", 0.02, 0.4, 0.2, 0.01, key="dn_level")
    crop = cols[2].select_slider("Crop", [32, 48, 64, 96], 48, key="dn_crop")
    ebt_steps = cols[3].slider("EBT steps", 1, 8, 4, key="dn_steps")
    chosen = cols[4].multiselect(
        "DiT passes", list(DIT_PASSES), ["1", "5", "25", "every timestep"], key="dn_passes"
    )
    if not chosen:
        st.info("Pick at least one DiT pass count.")
        return
    with st.spinner("Denoising…"):
        curve = passes_record(photo, level, crop, ebt_steps, tuple(DIT_PASSES[c] for c in chosen))
    curves = {
        "image-ebt": (curve.ebt_passes, curve.ebt_psnr),
        "image-dit": (curve.dit_passes, curve.dit_psnr),
    }
    st.plotly_chart(figures.psnr_passes(curves, curve.noisy), key="dn_curve")
    st.caption(figures.summarize_passes(curves, curve.noisy))
    clean = study.load_photo(photo)[40 : 40 + crop, 60 : 60 + crop]
    st.image(
        [curve.frames["noisy"], curve.frames["ebt"], curve.frames["dit"], clean],
        caption=[
            "noisy",
            f"EBT, {ebt_steps} steps",
            f"DiT, {curve.dit_passes[-1]} passes",
            "clean",
        ],
        width=160,
        clamp=True,
    )


def main() -> None:
    st.set_page_config(page_title="EBT lab", layout="wide")
    st.title("EBT Explorer — research lab")
    view = st.sidebar.radio("View", VIEWS, key="view")
    st.sidebar.caption(f"Checkpoints: {ebt.checkpoints_dir()}")
    {
        "Checkpoints": checkpoints_ui,
        "Think": think_ui,
        "Thinking budget": budget_ui,
        "Calibration": calibration_ui,
        "Denoising": denoise_ui,
    }[view]()


main()
