"""Video: shot boundaries, sampling inside shots, per-shot aggregation, sidecars and exports."""
