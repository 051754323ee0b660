"""Options that several commands share, each declared once (the commands differ only where they say so)."""

from __future__ import annotations

import typer

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
ModelsDirOpt = typer.Option(None, "--models-dir", help="Where models live (default: models/ in a checkout, "
                            "else ~/.local/share/forecaster/models; env FORECASTER_MODELS_DIR).")
StartOpt = typer.Option(None, "--start", help="First date of the data, YYYY-MM-DD.")
EndOpt = typer.Option(None, "--end", help="Last date of the data, YYYY-MM-DD.")
ColumnOpt = typer.Option(None, "--column", help="The price column of a wide or long CSV table (e.g. USD, DEXUSEU).")
SeriesOpt = typer.Option(None, "--series", help="The series of a long CSV table (rows whose currency/symbol is this).")
CrossPairsOpt = typer.Option(None, "--cross-pairs", help="Anchored design: the cross-pair model, which also reads these "
                             "pairs' volatility (e.g. majors, or USDJPY,GBPUSD), every pair on the dates all share.")
GateOpt = typer.Option(None, "--gate", help="Anchored design: keep the learnt correction (w > 0) only when the "
                       "combination beats GARCH-t on held-out validation rows with a one-sided DM p below this, "
                       "e.g. 0.05 (default: no gate).")
DistributionOpt = typer.Option(None, "--distribution", help="The forecast distribution. Anchored design: student_t (the "
                               "default: a t with GARCH-t's fitted df) or normal; windowed: none (point), normal or "
                               "student_t (default student_t; none with --quantiles).")


def anchored_family(distribution) -> str:
    """AnchoredConfig.family from --distribution (None: the default); a clear error for what the design lacks."""
    from forecaster.configs import ANCHORED_FAMILIES, AnchoredConfig
    from forecaster.errors import ForecasterError

    if distribution is None:
        return AnchoredConfig.family
    if distribution not in ANCHORED_FAMILIES:
        raise ForecasterError(f"--distribution {distribution}: the anchored design forecasts a distribution, "
                              f"{' or '.join(ANCHORED_FAMILIES)}; a point forecast is the windowed design's (--design windowed)")
    return distribution


def anchored_given(members: int, combine: bool, gate, cross_pairs) -> dict:
    """The anchored design's own options as configs.refuse_other_design reads them: flag -> (value, default)."""
    from forecaster.configs import AnchoredConfig

    return {"--members": (members, AnchoredConfig.members), "--combine/--no-combine": (combine, AnchoredConfig.combine),
            "--gate": (gate, AnchoredConfig.gate), "--cross-pairs": (cross_pairs, None)}
