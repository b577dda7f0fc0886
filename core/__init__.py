"""MLP Studio's engine: data, models, training, metrics and export. Never imports Qt."""
