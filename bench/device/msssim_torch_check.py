#!/usr/bin/env python3
"""python3 bench/device/msssim_torch_check.py DIR: checks what msssim_torch_check.js wrote against
PyTorch autograd of a float64 MS-SSIM written after pytorch-msssim (ms_ssim: Gaussian window,
'valid' convolutions, avg_pool2d(kernel 2, padding [H % 2, W % 2]) between scales, relu'd cs at
every scale but the last, relu'd SSIM at the last, prod over scales of v^w, mean over channels);
padding 'same' uses zero-padded convolutions instead. Values: |cuda - torch| <= 1e-5; gradients:
relative L2 <= 1e-4 (cuda and the CPU backend)."""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]
man = json.load(open(os.path.join(d, 'manifest.json')))


def gauss(size, sigma):
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def filt(x, g, same):
    C = x.shape[1]
    pad = (g.numel() // 2) if same else 0
    w1 = g.view(1, 1, 1, -1).repeat(C, 1, 1, 1)
    w2 = g.view(1, 1, -1, 1).repeat(C, 1, 1, 1)
    x = F.conv2d(x, w1, padding=(0, pad), groups=C)
    return F.conv2d(x, w2, padding=(pad, 0), groups=C)


def ssim_cs(X, Y, g, c1, c2, same):
    mu1, mu2 = filt(X, g, same), filt(Y, g, same)
    s11 = filt(X * X, g, same) - mu1 * mu1
    s22 = filt(Y * Y, g, same) - mu2 * mu2
    s12 = filt(X * Y, g, same) - mu1 * mu2
    cs_map = (2 * s12 + c2) / (s11 + s22 + c2)
    ssim_map = ((2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1)) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ms_ssim(X, Y, weights, win, sigma, k1, k2, same):
    g = gauss(win, sigma)
    c1, c2 = k1 ** 2, k2 ** 2
    w = torch.tensor(weights, dtype=torch.float64)
    mcs = []
    for i in range(len(weights)):
        ssim_pc, cs = ssim_cs(X, Y, g, c1, c2, same)
        if i < len(weights) - 1:
            mcs.append(torch.relu(cs))
            padding = [s % 2 for s in X.shape[2:]]
            X = F.avg_pool2d(X, kernel_size=2, padding=padding)
            Y = F.avg_pool2d(Y, kernel_size=2, padding=padding)
    ssim_pc = torch.relu(ssim_pc)
    stack = torch.stack(mcs + [ssim_pc], dim=0)
    return torch.prod(stack ** w.view(-1, 1, 1), dim=0).mean(1)


ok = True
for c in man:
    B, C, H, W = c['batch'], c['channels'], c['height'], c['width']
    rd = lambda s: np.fromfile(os.path.join(d, f"{c['name']}.{s}.f32"), dtype=np.float32).astype(np.float64)
    def nchw(a):
        t = torch.from_numpy(a)
        return t.view(B, C, H, W) if c['layout'] == 'chw' else t.view(B, H, W, C).permute(0, 3, 1, 2)
    X = nchw(rd('x')).clone().requires_grad_(True)
    Y = nchw(rd('y'))
    o = c['opts']
    v = ms_ssim(X, Y, c['weights'], o.get('windowSize', 11), o.get('sigma', 1.5), 0.01, 0.03, o.get('padding', 'same') == 'same')
    v.sum().backward()
    gref = X.grad
    gref = gref if c['layout'] == 'chw' else gref.permute(0, 2, 3, 1)
    gref = gref.contiguous().view(-1).numpy()
    vref = v.detach().numpy()
    for tag in ('', 'cpu_'):
        val, grad = rd(tag + 'value'), rd(tag + 'grad')
        verr = float(np.max(np.abs(val - vref)))
        gerr = float(np.linalg.norm(grad - gref) / np.linalg.norm(gref))
        good = verr <= 1e-5 and gerr <= 1e-4
        ok = ok and good
        print(f"{c['name']:28s} {(tag or 'cuda_')[:-1]:4s} torch {' '.join(f'{x:.7f}' for x in vref)}  max|dv| {verr:.2e}  grad relL2 {gerr:.2e}  {'OK' if good else 'FAIL'}")
    verr = float(np.max(np.abs(rd('value_only') - vref)))  # CUDA, value-only call
    ok = ok and verr <= 1e-5
    print(f"{c['name']:28s} cuda value-only call  max|dv| {verr:.2e}  {'OK' if verr <= 1e-5 else 'FAIL'}")
print('ALL OK' if ok else 'SOME FAILED')
sys.exit(0 if ok else 1)
