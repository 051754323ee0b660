"""Which models a backtest runs: the Mamba model (saved, or trained in the folds) beside the baselines
and, unless left out, the risk models (historical volatility, EWMA, GARCH(1,1)-t, GJR-GARCH(1,1)-t) whose forecast
distributions the Mamba model's is scored against.

Shared by `forecaster backtest` and the demo, so that both compare the same line-up and reconcile
the horizon and lookback the same way. The random walk comes first: every other row is read against it.
"""

from __future__ import annotations

from typing import Optional

from forecaster.backtest.baselines import default_baselines
from forecaster.backtest.neural import AnchoredMambaModel, MambaModel
from forecaster.configs import ANCHORED, DESIGNS, AnchoredConfig, DataConfig, ModelConfig, TrainConfig
from forecaster.data import PriceSeries
from forecaster.errors import ForecasterError
from forecaster.model.anchored_trained import AnchoredTrained
from forecaster.model.trained import TrainedModel
from forecaster.probabilistic.contract import BacktestModel
from forecaster.probabilistic.risk import default_risk_models


def lineup(series: PriceSeries, *, saved: Optional[TrainedModel] = None, data: Optional[DataConfig] = None,
           model: Optional[ModelConfig] = None, train: Optional[TrainConfig] = None, mamba: bool = True,
           horizon: Optional[int] = None, lookback: Optional[int] = None, risk: bool = True,
           design: str = DESIGNS[0], anchored: Optional[AnchoredConfig] = None) -> list[BacktestModel]:
    """The models of a backtest, the random walk first.

    saved: a saved model (api.load; a global model's member for the series' pair), backtested as it is (its own horizon and lookback; a different
    horizon or lookback asked for is an error). Otherwise, unless mamba is False, a Mamba model
    trained in the folds: design "anchored" (the default: AnchoredMambaModel with `anchored`, its horizon
    replaced by the one given, as "mamba" (the combination with GARCH-t) and "mamba_raw" (the anchored
    ensemble alone)) or "windowed" (MambaModel with `data` (DataConfig() by default, its horizon and
    lookback replaced by the ones given), `model` and `train`). risk: add the risk models
    (probabilistic.risk.default_risk_models).
    """
    if design not in DESIGNS:
        raise ForecasterError(f"design {design!r} unknown: accepted {', '.join(DESIGNS)}")
    if saved is not None and not mamba:
        raise ForecasterError("a saved model and 'baselines only' contradict each other: give one")
    models = []
    if isinstance(saved, AnchoredTrained):  # forecaster train --design anchored: its own horizon, no lookback
        net = AnchoredMambaModel.from_saved(saved, series)
        if horizon is not None and horizon != net.horizon:
            raise ForecasterError(f"horizon {horizon} differs from the saved model's {net.horizon}: drop the option or retrain")
        if lookback is not None:
            raise ForecasterError(f"the saved model {saved.name!r} is an anchored model, which reads no lookback "
                                  "window: drop --lookback")
        models += [net, net.raw(f"mamba_raw:{saved.name}")] if net.config.combine else [net]
        horizon = net.horizon
    elif saved is not None:
        net = MambaModel.from_saved(saved, series)
        for option, value, own in (("horizon", horizon, net.data_config.horizon),
                                   ("lookback", lookback, net.data_config.lookback)):
            if value is not None and value != own:
                raise ForecasterError(f"{option} {value} differs from the saved model's {own}: drop the option or retrain")
        models.append(net)
        horizon = net.data_config.horizon
    else:
        data = data or DataConfig()
        overrides = {k: v for k, v in (("horizon", horizon), ("lookback", lookback)) if v is not None}
        data = DataConfig.from_dict({**data.to_dict(), **overrides})
        horizon = data.horizon
        if mamba and design == ANCHORED:
            net = AnchoredMambaModel(AnchoredConfig.from_dict({**(anchored or AnchoredConfig()).to_dict(),
                                                              "horizon": horizon}))
            models += net.with_raw()
        elif mamba:
            models.append(MambaModel(data, model, train))
    models += default_baselines(horizon)
    if risk:
        models += default_risk_models(horizon)
    return sorted(models, key=lambda m: m.name != "random_walk")
