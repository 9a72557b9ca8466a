"""Datasets: the registry of named datasets (real roots from the user's config) and the synthetic world."""
