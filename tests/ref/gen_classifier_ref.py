#!/usr/bin/env python3
"""Golden for the feature classifier's forward pass (model/classifier.c).

Rerun with /usr/bin/python3 tests/ref/gen_classifier_ref.py (PyTorch + NumPy).
Writes under tests/ref/golden/:
  classifier_tiny.safetensors   a tiny randomised model (28x28 input, channels
                                4/6/8, hidden 16, 10 classes) with the metadata
                                classifier_load requires
  classifier_x.npy              inputs (3, 1, 28, 28) in [-1, 1]
  classifier_logits.npy         (3, 10)
  classifier_penultimate.npy    (3, 16)   relu(fc1)
  classifier_spatial.npy        (3, 392)  maxpool(relu(conv3)) flattened (C, H, W)
The torch module below is the reference definition of the architecture.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from dit_torch import save_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "golden")


class Classifier(nn.Module):
    def __init__(self, in_c=1, h=28, w=28, c1=32, c2=64, c3=64, hidden=128, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.fc1 = nn.Linear(c3 * (h // 4) * (w // 4), hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.relu(self.conv2(x))
        spatial = torch.max_pool2d(torch.relu(self.conv3(x)), 2).flatten(1)
        pen = torch.relu(self.fc1(spatial))
        return self.fc2(pen), pen, spatial


def main():
    torch.set_num_threads(1)
    torch.manual_seed(5150)
    os.makedirs(OUT, exist_ok=True)
    cfg = dict(in_c=1, h=28, w=28, c1=4, c2=6, c3=8, hidden=16, num_classes=10)
    model = Classifier(**cfg).eval()
    # Randomise every parameter, biases included, with a scale that keeps the
    # ReLUs about half active at every layer (default init would leave biases tiny).
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 4
            p.copy_(torch.randn_like(p) * (1.5 / fan_in ** 0.5))
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    x[0, :, :4, :] = -1.0  # a flat background band like real images
    with torch.no_grad():
        logits, pen, spatial = model(x)
    meta = {"format": "lazydit-classifier", "in_channels": 1, "height": 28, "width": 28, "c1": cfg["c1"],
            "c2": cfg["c2"], "c3": cfg["c3"], "hidden": cfg["hidden"], "num_classes": cfg["num_classes"]}
    save_safetensors(os.path.join(OUT, "classifier_tiny.safetensors"), model.state_dict(), meta)
    np.save(os.path.join(OUT, "classifier_x.npy"), x.numpy())
    np.save(os.path.join(OUT, "classifier_logits.npy"), logits.numpy())
    np.save(os.path.join(OUT, "classifier_penultimate.npy"), pen.numpy())
    np.save(os.path.join(OUT, "classifier_spatial.npy"), spatial.numpy())
    print("active fraction: penultimate %.2f spatial %.2f" % ((pen > 0).float().mean(), (spatial > 0).float().mean()))


if __name__ == "__main__":
    main()
