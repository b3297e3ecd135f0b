"""Compares cuda-ssim's 'valid' SSIM with scikit-image's structural_similarity configured as
Wang et al. (gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1).
Input: the folder crosscheck.js wrote. Exits 1 if any difference exceeds 1e-5."""
import json
import sys

import numpy as np
from skimage.metrics import structural_similarity

folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/crosscheck"
cases = json.load(open(f"{folder}/cases.json"))
worst = 0.0
for c in cases:
    shape = (c["height"], c["width"], c["channels"])
    x = np.fromfile(f"{folder}/x{c['index']}.f32", dtype=np.float32).reshape(shape).astype(np.float64)
    y = np.fromfile(f"{folder}/y{c['index']}.f32", dtype=np.float32).reshape(shape).astype(np.float64)
    ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=1.0, channel_axis=2)
    for backend, value in c["values"].items():
        diff = abs(value - ref)
        worst = max(worst, diff)
        print(f"{c['height']}x{c['width']}x{c['channels']} {backend:5s} cuda-ssim {value:.8f} scikit-image {ref:.8f} |diff| {diff:.2e}")
print(f"worst |diff| vs scikit-image: {worst:.2e}")
sys.exit(0 if worst <= 1e-5 else 1)
