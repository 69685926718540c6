"""Small helpers (paths of shared data, prepared data and weights)."""
