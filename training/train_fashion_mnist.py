#!/usr/bin/env python3
"""Train framesift's Fashion-MNIST classifier and export it to ONNX.

Reproducible (fixed seeds, deterministic CPU kernels), no downloads: the IDX .gz files are read from
FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist) with a small reader below.

    # = npm run train: the committed model (head, 60 cosine epochs, random erasing, weight average, 1 thread)
    /usr/bin/python3 training/train_fashion_mnist.py
    /usr/bin/python3 training/train_fashion_mnist.py --arch small --epochs 3 --out /tmp/small.onnx
    # the model shipped before (92.39 %)
    /usr/bin/python3 training/train_fashion_mnist.py --arch base --schedule onecycle --epochs 15 \
        --random-erasing 0 --ema 0 --threads 2 --out /tmp/base.onnx
    # a long run on a shared machine: state saved after every epoch; the same command resumes it
    /usr/bin/python3 training/train_fashion_mnist.py --checkpoint /tmp/head.ckpt --out /tmp/head.onnx

The exported graph takes `input` float32 [N,1,28,28] with values pixel/255 (the normalisation lives
inside the graph) and returns `logits` [N,10] and `embedding` [N,128] (the penultimate features, used
to deduplicate this stream). BatchNorm is folded into the convolutions at export (eval mode).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import json
import math
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
# Mean and standard deviation of the Fashion-MNIST training pixels (in [0,1]); applied inside the graph.
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed): magic 0x0000 <type 0x08=uint8> <ndim>, sizes big-endian."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (expected magic 0x00 0x00 0x08 <ndim>)")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise ValueError(f"{path}: expected {expected} data bytes for shape {dims}, found {len(data) - offset}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_split(data_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# Candidate architectures: conv widths per stage; each of the first three stages is its 3x3 convolutions (BN,
# ReLU) followed by a 2x2 max-pool (28 -> 14 -> 7 -> 3); a fourth stage, if any, runs at 3x3 without pooling
# (depth where it is cheapest); then flatten (C x 3 x 3) -> fc 128 (embedding) -> fc 10.
POOLED_STAGES = 3
ARCHS: dict[str, tuple[tuple[int, ...], ...]] = {
    "base": ((16,), (32,), (64,)),
    "small": ((12,), (24,), (48,)),
    "wide": ((24,), (48,), (64,)),
    # a second convolution at 7x7 (the cheapest place to add depth that still sees spatial layout)
    "deep": ((16,), (32,), (64, 64)),
    # wider middle stage plus the extra 7x7 convolution
    "deep-wide": ((16,), (32,), (64, 96)),
    # wider last stage: 128 channels at 7x7 (the 14x14 stage, the costly one, unchanged)
    "wide3": ((16,), (32,), (128,)),
    # base plus a 128-channel convolution at 3x3
    "head": ((16,), (32,), (64,), (128,)),
    # wider last stage plus a 128-channel convolution at 3x3
    "wide3-head": ((16,), (32,), (128,), (128,)),
    # base with a second convolution at 7x7 and a 128-channel convolution at 3x3
    "deep-head": ((16,), (32,), (64, 64), (128,)),
}


class FashionCNN(nn.Module):
    def __init__(self, stages: tuple[tuple[int, ...], ...], embedding_dim: int = 128, dropout: float = 0.25):
        super().__init__()
        self.register_buffer("mean", torch.tensor(PIXEL_MEAN))
        self.register_buffer("std", torch.tensor(PIXEL_STD))
        layers: list[nn.Module] = []
        cin = 1
        for index, stage in enumerate(stages):
            for cout in stage:
                layers.append(conv_bn(cin, cout))
                cin = cout
            if index < POOLED_STAGES:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.embed = nn.Linear(cin * 3 * 3, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x - self.mean) / self.std
        x = self.features(x).flatten(1)
        embedding = F.relu(self.embed(x))
        logits = self.classifier(self.dropout(embedding))
        return logits, embedding


def count_macs(stages: tuple[tuple[int, ...], ...], embedding_dim: int = 128) -> int:
    """Multiply-accumulates per image of FashionCNN (convolutions and linear layers; pools/ReLU excluded)."""
    macs = 0
    cin, size = 1, 28
    for index, stage in enumerate(stages):
        for cout in stage:
            macs += size * size * cout * cin * 9
            cin = cout
        if index < POOLED_STAGES:
            size //= 2
    return macs + cin * 9 * embedding_dim + embedding_dim * 10


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop with 2 px zero padding and random horizontal flip, vectorised over the batch."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    oy = torch.randint(0, 5, (n,), generator=gen)
    ox = torch.randint(0, 5, (n,), generator=gen)
    ar = torch.arange(28)
    rows = (oy[:, None] + ar)[:, :, None]  # n,28,1
    cols = (ox[:, None] + ar)[:, None, :]  # n,1,28
    flip = torch.rand(n, generator=gen) < 0.5
    cols = torch.where(flip[:, None, None], cols.flip(-1), cols)
    out = padded[torch.arange(n)[:, None, None], 0, rows, cols]
    return out.unsqueeze(1)


def random_erase(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Random erasing (Zhong et al., 2020): with probability p per image, one rectangle of 2-25 % of the image,
    aspect ratio 0.3-3.3, replaced by uniform noise; vectorised over the batch."""
    n, _, size, _ = x.shape
    area = (0.02 + 0.23 * torch.rand(n, generator=gen)) * size * size
    log_ratio = math.log(0.3) + (math.log(3.3) - math.log(0.3)) * torch.rand(n, generator=gen)
    h = torch.sqrt(area * torch.exp(log_ratio)).round().clamp(1, size).long()
    w = torch.sqrt(area / torch.exp(log_ratio)).round().clamp(1, size).long()
    y0 = (torch.rand(n, generator=gen) * (size - h + 1)).long()
    x0 = (torch.rand(n, generator=gen) * (size - w + 1)).long()
    ar = torch.arange(size)
    inside_rows = (ar[None, :] >= y0[:, None]) & (ar[None, :] < (y0 + h)[:, None])  # n,size
    inside_cols = (ar[None, :] >= x0[:, None]) & (ar[None, :] < (x0 + w)[:, None])
    chosen = torch.rand(n, generator=gen) < p
    mask = (inside_rows[:, :, None] & inside_cols[:, None, :] & chosen[:, None, None]).unsqueeze(1)
    noise = torch.rand(x.shape, generator=gen)
    return torch.where(mask, noise, x)


class WeightAverage:
    """Exponential moving average of the weights and BatchNorm statistics (the model evaluated and exported
    when --ema is on); the decay ramps up over the first steps so the average does not start from noise."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.steps = 0
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                self.state[key].mul_(d).add_(value.detach(), alpha=1 - d)
            else:
                self.state[key].copy_(value)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        logits, _ = model(x[i : i + batch])
        correct += int((logits.argmax(1) == y[i : i + batch]).sum())
    return correct / len(x)


def export_onnx(model: nn.Module, out: Path, opset: int) -> None:
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model,
        dummy,
        str(out),
        input_names=["input"],
        output_names=["logits", "embedding"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=opset,
        do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,  # folds BatchNorm into the preceding convolutions
    )


# The arguments a checkpoint must share with the run that resumes it (everything that shapes the weights).
CHECKPOINT_KEYS = (
    "arch", "epochs", "batch_size", "lr", "schedule", "warmup_epochs", "weight_decay", "label_smoothing",
    "dropout", "seed", "train_limit", "random_erasing", "ema",
)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically (temporary file, then rename), so an interrupted save leaves the previous epoch's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, args: argparse.Namespace) -> dict:
    state = torch.load(path)
    recorded = state.get("args", {})
    wanted = {key: getattr(args, key) for key in CHECKPOINT_KEYS}
    if recorded != wanted:
        differ = sorted(k for k in CHECKPOINT_KEYS if recorded.get(k) != wanted[k])
        raise SystemExit(
            f"{path}: checkpoint of a different run (differs in {', '.join(differ)}); "
            "expected the arguments it was written with, or delete it to start over"
        )
    return state


def averaged_model(model: nn.Module, average: WeightAverage) -> nn.Module:
    """A copy of the model holding the averaged weights."""
    averaged = copy.deepcopy(model)
    averaged.load_state_dict(average.state)
    return averaged


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("FASHION_MNIST_DIR", DEFAULT_DATA_DIR))
    parser.add_argument("--arch", choices=sorted(ARCHS), default="head")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=4e-3, help="peak learning rate")
    parser.add_argument(
        "--schedule",
        choices=["onecycle", "cosine"],
        default="cosine",
        help="cosine (linear warm-up, then cosine decay to 0; the committed model) or onecycle (25%% warm-up)",
    )
    parser.add_argument("--warmup-epochs", type=float, default=1.0, help="cosine schedule: linear warm-up epochs")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.25, help="dropout before the classifier (training only)")
    parser.add_argument(
        "--random-erasing", type=float, default=0.5, help="probability of random erasing per image (0: off)"
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=0.999,
        help="decay of an exponential moving average of the weights, evaluated and exported instead of the "
        "last weights (0: off)",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--threads", type=int, default=1, help="PyTorch threads (the committed model: 1; another count may round differently)"
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="save the training state here after every epoch and resume from it if it exists "
        "(the resumed run writes the same ONNX file as an uninterrupted one)",
    )
    parser.add_argument(
        "--train-limit",
        type=int,
        default=0,
        help="train on the first N training images only (0: all 60,000; for quick checks of the script)",
    )
    parser.add_argument("--progress", type=int, default=0, help="print a progress line every N steps (0: off)")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "models" / "fashion-mnist-cnn.onnx")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="training report JSON (default: beside --out, <name>.training.json)",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    data_dir = Path(args.data_dir)
    x_train, y_train = load_split(data_dir, "train")
    if args.train_limit > 0:
        x_train, y_train = x_train[: args.train_limit], y_train[: args.train_limit]
    x_test, y_test = load_split(data_dir, "test")
    widths = ARCHS[args.arch]
    model = FashionCNN(widths, dropout=args.dropout)
    params = sum(p.numel() for p in model.parameters())
    macs = count_macs(widths)
    print(f"arch={args.arch} widths={widths} params={params} macs/image={macs}", flush=True)

    history: list[dict] = []
    if args.epochs > 0:
        gen = torch.Generator().manual_seed(args.seed)
        steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        total_steps = args.epochs * steps_per_epoch
        warmup_steps = max(1, int(args.warmup_epochs * steps_per_epoch))

        def lr_factor(step: int) -> float:
            # linear warm-up, then cosine decay to zero over the remaining steps
            if step < warmup_steps:
                return (step + 1) / warmup_steps
            progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
            return 0.5 * (1.0 + math.cos(math.pi * progress))

        if args.schedule == "cosine":
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
        else:
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.25
            )
        loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
        average = WeightAverage(model, args.ema) if args.ema > 0 else None
        first_epoch = 1
        if args.checkpoint and args.checkpoint.exists():
            state = load_checkpoint(args.checkpoint, args)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torchRng"])  # dropout draws from the global generator
            history = state["history"]
            if average is not None:
                average.state, average.steps = state["ema"], state["emaSteps"]
            first_epoch = len(history) + 1
            print(f"resumed from {args.checkpoint} after epoch {len(history)}", flush=True)
        for epoch in range(first_epoch, args.epochs + 1):
            started = time.time()
            model.train()
            order = torch.randperm(len(x_train), generator=gen)
            total_loss = 0.0
            for i in range(0, len(order), args.batch_size):
                idx = order[i : i + args.batch_size]
                xb = augment(x_train[idx], gen)
                if args.random_erasing > 0:
                    xb = random_erase(xb, args.random_erasing, gen)
                logits, _ = model(xb)
                loss = loss_fn(logits, y_train[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                if average is not None:
                    average.update(model)
                total_loss += float(loss) * len(idx)
                step = i // args.batch_size + 1
                if args.progress and step % args.progress == 0:
                    print(f"  epoch {epoch} step {step}/{steps_per_epoch} {time.time() - started:.0f} s", flush=True)
            test_acc = evaluate(model, x_test, y_test)
            entry = {
                "epoch": epoch,
                "trainLoss": round(total_loss / len(x_train), 5),
                "testAccuracy": test_acc,
                "seconds": round(time.time() - started, 1),
            }
            if average is not None:
                entry["averageTestAccuracy"] = evaluate(averaged_model(model, average), x_test, y_test)
            history.append(entry)
            print(json.dumps(entry), flush=True)
            if args.checkpoint:
                save_checkpoint(
                    args.checkpoint,
                    {
                        "args": {key: getattr(args, key) for key in CHECKPOINT_KEYS},
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "generator": gen.get_state(),
                        "torchRng": torch.get_rng_state(),
                        **({"ema": average.state, "emaSteps": average.steps} if average is not None else {}),
                        "history": history,
                    },
                )

    if args.epochs > 0 and average is not None:
        model = averaged_model(model, average)
    export_onnx(model, args.out, args.opset)
    digest = sha256_of(args.out)
    report = {
        "arch": args.arch,
        "widths": widths,
        "parameters": params,
        "macsPerImage": macs,
        "recipe": {
            "epochs": args.epochs,
            "batchSize": args.batch_size,
            "optimizer": "AdamW",
            "peakLr": args.lr,
            "schedule": (
                f"linear warm-up {args.warmup_epochs} epoch(s), then cosine decay to 0"
                if args.schedule == "cosine"
                else "OneCycle (pct_start 0.25)"
            ),
            "weightDecay": args.weight_decay,
            "labelSmoothing": args.label_smoothing,
            "dropout": args.dropout,
            "augmentation": "random crop 28 from 2px zero padding, horizontal flip p=0.5"
            + (f", random erasing p={args.random_erasing}" if args.random_erasing > 0 else ""),
            **({"weightAverage": f"EMA decay {args.ema} (exported)"} if args.ema > 0 else {}),
            **({"trainImages": len(x_train)} if args.train_limit > 0 else {}),
            "seed": args.seed,
            "threads": args.threads,
            "torch": torch.__version__,
        },
        "torchTestAccuracy": (
            history[-1].get("averageTestAccuracy", history[-1]["testAccuracy"]) if history else None
        ),
        "history": history,
        "onnx": {"file": args.out.name, "opset": args.opset, "sha256": digest, "bytes": args.out.stat().st_size},
    }
    report_path = args.report or args.out.with_suffix(".training.json")
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out} sha256={digest} and {report_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
