"""Fine-tuning the encoder: training examples from benchmark pairs or editor decisions, training, model cards."""
