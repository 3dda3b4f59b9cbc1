"""Learning from editors: calibrated confidence, duplicate-question clusters, freshness, retraining.

Serving needs numpy only: calibrators are JSON artefacts evaluated with numpy; scikit-learn and
matplotlib (the `learn` extra) are imported only where a model is fitted or a plot is drawn.
"""
