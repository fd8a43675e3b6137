"""The model file: container, key index, storage dtypes, importers and exporters."""
