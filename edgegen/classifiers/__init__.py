"""Chest X-ray classifiers: registry of architectures, training, metrics, cards, evaluation."""
