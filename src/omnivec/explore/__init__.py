"""The Explorer: a zoomable map of a table's embeddings in the browser.

    m = build_map(emb)              # layout, zoom-level labels, clusters, contours, neighbours
    m.xy, m.labels_at(3)            # numpy arrays and dicts for notebooks
    m.save("glove-map")             # static site: open glove-map/index.html

From the command line: ``omnivec explore MODEL -o DIR [--serve]``.
"""

from .build import Map, build_map, compute_neighbors
from .layout import compute_layout, umap_available
from .site import read_manifest, write_site

__all__ = ["Map", "build_map", "compute_layout", "compute_neighbors", "read_manifest",
           "umap_available", "write_site"]
