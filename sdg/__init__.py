"""sdg: simulation -> annotated, augmented VLM training data, on Ray."""
__version__ = "0.1.0"
