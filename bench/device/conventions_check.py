#!/usr/bin/env python3
"""Values of torchmetrics (and pytorch_msssim where installed) on the convention fixtures
(test/fixtures/conventions/images.json, camera.png, camera_noisy.png), for the presets
'torchmetrics' and 'pytorch-msssim': run where torch and torchmetrics are installed (the device
machine), on the CPU in float64. Prints the JSON that test/fixtures/conventions/torchmetrics.json
holds:   python3 bench/device/conventions_check.py FIXTURE_DIR > torchmetrics.json

Also the gradient of torchmetrics' SSIM of gray_u8 with respect to preds, data_range given as a
number (what the library's 'torchmetrics' preset differentiates: the data range held constant).
"""
import base64
import json
import sys

import numpy as np
import torch

DIR = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/conventions'
DT = {'uint8': np.uint8, 'uint16': np.uint16, 'float64': np.float64}


def decode(e):
    a = np.frombuffer(base64.b64decode(e['data']), dtype=np.dtype(DT[e['dtype']]).newbyteorder('<'))
    return a.reshape(e['height'], e['width'], e['channels'])


def formula_pair(h, w, c):
    i, j, k = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing='ij')
    x = (i * 7 + j * 13 + k * 31 + ((i * j) % 17) * 5) % 256
    y = np.clip(x + (i * 31 + j * 17 + k * 7) % 23 - 11, 0, 255)
    return x.astype(np.uint8), y.astype(np.uint8)


def nchw(a):
    return torch.from_numpy(np.ascontiguousarray(a.astype(np.float64).transpose(2, 0, 1)))[None]


def main():
    out = {'torch': torch.__version__}
    pairs = {}
    with open(f'{DIR}/images.json') as f:
        for name, p in json.load(f).items():
            pairs[name] = formula_pair(p['height'], p['width'], p['channels']) if p.get('formula') else (decode(p['x']), decode(p['y']))
    try:
        from skimage.io import imread
        pairs['camera'] = (imread(f'{DIR}/camera_noisy.png')[..., None], imread(f'{DIR}/camera.png')[..., None])
    except Exception as e:  # noqa: BLE001
        out['camera_error'] = repr(e)
    values = {}
    import torchmetrics
    from torchmetrics.functional import structural_similarity_index_measure as tm_ssim
    out['torchmetrics'] = torchmetrics.__version__
    try:
        import pytorch_msssim
        out['pytorch_msssim'] = getattr(pytorch_msssim, '__version__', 'installed')
    except Exception as e:  # noqa: BLE001
        pytorch_msssim = None
        out['pytorch_msssim'] = f'not installed ({e.__class__.__name__})'
    for name, (x, y) in pairs.items():
        px, ty = nchw(x), nchw(y)
        v = {}
        try:
            v['torchmetrics'] = float(tm_ssim(px, ty))  # data_range=None: max(range of preds, range of target)
            v['torchmetrics_255'] = float(tm_ssim(px, ty, data_range=255.0))
            if pytorch_msssim is not None:
                v['pytorch-msssim'] = float(pytorch_msssim.ssim(px, ty, data_range=255, size_average=True))
        except Exception as e:  # noqa: BLE001
            v['error'] = repr(e)
        values[name] = v
    out['values'] = values
    try:
        x, y = pairs['gray_u8']
        px = nchw(x).requires_grad_(True)
        ty = nchw(y)
        dr = float(max(px.max() - px.min(), ty.max() - ty.min()))
        tm_ssim(px, ty, data_range=dr).backward()
        g = px.grad[0].permute(1, 2, 0).contiguous().detach().numpy().astype('<f8')
        out['gray_u8_gradient'] = {'dataRange': dr, 'shape': list(g.shape), 'data': base64.b64encode(g.tobytes()).decode()}
    except Exception as e:  # noqa: BLE001
        out['gradient_error'] = repr(e)
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
