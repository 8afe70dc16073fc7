"""``airtwin finetune``: the site-specific protocol's tables and report (see :mod:`airtwin.model.finetune`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from airtwin.config import to_dict, write_atomic, write_json
from airtwin.evaluation.offline import compare, markdown
from airtwin.model.config import FinetuneConfig
from airtwin.model.finetune import site_samples


def run_site_protocol(cfg: FinetuneConfig, log=print) -> dict:
    """Run the protocol and write ``results.json`` (values, intervals, comparisons) and ``report.md``."""
    raw = site_samples(cfg, log)
    out = Path(cfg.out)
    tables = {}
    lines = [f"# Site-specific protocol: {cfg.scenario}", "",
             f"{cfg.samples} drops traced; location split: {raw['split']['train']} training and "
             f"{raw['split']['test']} test drops (squares of {cfg.cell_m:g} m, {cfg.guard_m:g} m guard). "
             f"Fine-tuning: {cfg.steps} steps of LoRA, prefix prompts and heads"
             + (f", {cfg.finetunes} times per size with fine-tune seeds that redraw the batches alone; a row 'mean of "
                f"{cfg.finetunes} fine-tunes' pools them, its intervals over the test drops and the fine-tunes"
                if cfg.finetunes > 1 else "") + ". Values [95 % bootstrap interval].", ""]
    for n, entry in sorted(raw["sizes"].items(), key=lambda kv: int(kv[0])):
        models = {k: {m: np.asarray(v) for m, v in s.items()} for k, s in entry["models"].items()}
        baselines = {k: {m: np.asarray(v) for m, v in s.items()} for k, s in entry["baselines"].items()}
        tables[str(n)] = compare(models, baselines, pooled=entry.get("pooled"), seed=cfg.seed)
        lines += [f"## {n} site training drops", "", *markdown(tables[str(n)]), ""]
    if tables:
        from airtwin.evaluation.plots import offline_comparison

        largest = max(tables, key=int)
        figures = offline_comparison(tables[largest], out, prefix=f"site_{largest}")
        lines += ["## Figures", "", *[f"![{f.stem}]({f.name})" for f in figures], ""]
    result = {"config": to_dict(cfg), "split": raw["split"], "sizes": tables}
    write_json(out / "results.json", result)
    write_atomic(out / "report.md", "\n".join(lines).encode())
    log(f"wrote {out / 'report.md'}")
    return result
