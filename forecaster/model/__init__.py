"""The Mamba forecaster of the product.

    estimator.py  build, fit (one pair or pooled pairs), the location gate, split-conformal calibration:
                  stateless; fitting returns a TrainedModel
    trainer.py    the one training loop (AdamW, schedule, early stopping, resume, DDP)
    device.py     the torch device, seeding, CPU threads, torch.distributed
    inference.py  the network over windows, and the one forecast call (-> ModelForecast)
    anchored.py   the anchored sequence model (design "anchored"): causal volatility inputs, EWMA scale x
                  a learnt bounded correction, trained on long chunks; its members and the GARCH-t combination
    trained.py    TrainedModel: the network and its meta (scalers, calibration, ...), forecast / predict /
                  save / for_pair; load_trained
    checkpoint.py safetensors weights and model.json, written atomically, never executing code on load
    forecast.py   Forecast: the next H bars as a person reads them (prices, intervals, risk summary)
    plots.py      the forecast picture

May import: the ground, mamba, data, probabilistic and evaluation. Nothing of backtest, api or cli.
"""
