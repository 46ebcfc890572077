#!/usr/bin/env python3
"""Single-threaded PyTorch baseline for the ohem benchmarks (bench/).

Measures the usual PyTorch OHEM recipes, float32 on the CPU with one thread:

  rpn       8 images x 8192 anchors, C=2, 25% ignored (-1), keep 256 per image (CE + topk per image + mean)
  cls       4096 x 1000, keep ratio 0.7 (CE + topk + mean)
  seg       NCHW [2,19,512,1024], ~5% ignore (255), HRNet OhemCrossEntropy(thres=0.7, min_kept=100000)
  lm        256 x 32000, keep ratio 0.7 (as cls)
  ssd21     torchvision SSD's classification loss (SSD.compute_loss): 32 images x 8732 anchors, C=21,
            ~1% positive (classes 1..20, 0 background); CE over every anchor, hard negative mining with
            two sorts, 3 negatives per positive per image, sum of the kept / positives
  ssd81     the same with C=81 (COCO)
  roi81     the OHEM paper's RoI head: 2 images x 2000 RoIs, C=81, 25% foreground, keep 64 per image
            (CE + topk per image + mean, as rpn)
  ce_rpn    the cross-entropy alone of 65536 x 2 anchors (reduction='none')
  topk_rpn  torch.topk(k=256, dim=1) alone on [8, 8192] losses
  kth_1e5   torch.kthvalue for the 30%-largest of 1e5 uniform floats
  kth_1e7   the same on 1e7
  dbnet     DBNet's BalanceCrossEntropyLoss on logits: a [16,1,640,640] map, ~10% text, ~2% masked,
            every positive + the 3·P hardest negatives over the batch, (pos_sum + topk_sum)/(P + K)

"forward" is cross-entropy + selection + reduction; "forward_backward" adds .backward() to the
logits (requires_grad), inside the timed region. Each figure is the median over the repetitions, in ms.

Run with Debian's PyTorch:
  /usr/bin/python3 bench/torch/ohem_torch.py [--json] [--only rpn,cls] [--reps N] [--tuned-malloc] [--cpu-time]

--cpu-time times each call by the CPU time of the calling thread (time.thread_time) instead of the
wall clock: with one thread PyTorch runs its kernels on the calling thread, so on a machine shared
with other work the time spent waiting for a core is left out (as `ohem bench -cpu` does).

Memory: with glibc's default malloc, PyTorch's multi-MB temporaries (log-softmax saved for backward, the
gradient) are mmap'ed and unmapped on every call, so the timings include page faults, which dominate
forward_backward for cls/lm/seg. That is what a default PyTorch process does; --tuned-malloc re-runs the
script with MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised so freed memory is reused (compute only),
closer to a caching allocator. The JSON "malloc" field says which one was measured.
"""

import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # ImportError, or a broken install
    sys.stderr.write(
        "ohem_torch.py: cannot import torch (%s: %s) with %s\n"
        "  install PyTorch (Debian: apt-get install python3-torch) and run with /usr/bin/python3\n"
        % (type(e).__name__, e, sys.executable)
    )
    sys.exit(2)

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass  # already set (only possible before any parallel work)

TUNED_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "17179869184",
                    "MALLOC_TOP_PAD_": "268435456"}

SEED = 1
BUDGET_S = 0.75   # time target per measurement (a workload has up to two) -> ~1-2 s per workload
MIN_REPS = 5
MAX_REPS = 10000


def gen(offset=0):
    g = torch.Generator()
    g.manual_seed(SEED + offset)
    return g


# ---------------------------------------------------------------- recipes

def ohem_topk_per_image(logits, targets, images, keep):
    """RPN: per-anchor CE, top `keep` per image, mean of the kept."""
    losses = F.cross_entropy(logits, targets, reduction="none", ignore_index=-1)
    kept, _ = torch.topk(losses.view(images, -1), k=keep, dim=1)
    return kept.mean()


def ssd_classification_loss(cls_logits, cls_targets, num_foreground, neg_to_pos_ratio=3):
    """torchvision's SSD.compute_loss (torchvision/models/detection/ssd.py), the classification part:
    cls_logits [images, anchors, C], cls_targets [images, anchors] (0: background), num_foreground the
    number of positives in the batch (counted by compute_loss while matching, before this part)."""
    # Calculate classification loss
    num_classes = cls_logits.size(-1)
    cls_loss = F.cross_entropy(cls_logits.view(-1, num_classes), cls_targets.view(-1), reduction="none").view(
        cls_targets.size()
    )

    # Hard Negative Sampling
    foreground_idxs = cls_targets > 0
    num_negative = neg_to_pos_ratio * foreground_idxs.sum(1, keepdim=True)
    negative_loss = cls_loss.clone()
    negative_loss[foreground_idxs] = -float("inf")  # use -inf to detect positive values that creeped in the sample
    values, idx = negative_loss.sort(1, descending=True)
    background_idxs = idx.sort(1)[1] < num_negative

    N = max(1, num_foreground)
    return (cls_loss[foreground_idxs].sum() + cls_loss[background_idxs].sum()) / N


def ohem_topk_ratio(logits, targets, ratio):
    """Classification / LM: per-sample CE, top int(ratio*N), mean of the kept."""
    losses = F.cross_entropy(logits, targets, reduction="none")
    k = max(1, int(ratio * losses.numel()))
    kept, _ = torch.topk(losses, k=k)
    return kept.mean()


class OhemCrossEntropy(nn.Module):
    """HRNet-Semantic-Segmentation lib/core/criterion.py OhemCrossEntropy (upsampling omitted:
    score and target already have the same size)."""

    def __init__(self, ignore_label=-1, thres=0.7, min_kept=100000, weight=None):
        super(OhemCrossEntropy, self).__init__()
        self.thresh = thres
        self.min_kept = max(1, min_kept)
        self.ignore_label = ignore_label
        self.criterion = nn.CrossEntropyLoss(weight=weight, ignore_index=ignore_label, reduction="none")

    def forward(self, score, target):
        pred = F.softmax(score, dim=1)
        pixel_losses = self.criterion(score, target).contiguous().view(-1)
        mask = target.contiguous().view(-1) != self.ignore_label

        tmp_target = target.clone()
        tmp_target[tmp_target == self.ignore_label] = 0
        pred = pred.gather(1, tmp_target.unsqueeze(1))
        pred, ind = pred.contiguous().view(-1,)[mask].contiguous().sort()
        min_value = pred[min(self.min_kept, pred.numel() - 1)]
        threshold = max(min_value, self.thresh)

        pixel_losses = pixel_losses[mask][ind]
        pixel_losses = pixel_losses[pred < threshold]
        return pixel_losses.mean()


# ---------------------------------------------------------------- timing

CLOCK = time.perf_counter  # time.thread_time with --cpu-time


def measure(fn, reps=None, setup=None):
    """Median time of fn() in ms (CLOCK: wall or thread CPU time). setup() (untimed) runs before every call."""
    def once():
        if setup is not None:
            setup()
        t0 = CLOCK()
        fn()
        return CLOCK() - t0

    first = once()            # warm-up (allocator, lazy init)
    est = min(first, once())  # second warm-up, estimate
    if reps is None:
        reps = int(BUDGET_S / max(est, 1e-7))
        reps = max(MIN_REPS, min(MAX_REPS, reps))
    times = [once() for _ in range(reps)]
    return statistics.median(times) * 1e3, reps


def loss_workload(make_inputs, loss_fn, reps):
    logits, targets = make_inputs()
    logits_g = logits.clone().requires_grad_(True)

    def fwd():
        loss_fn(logits, targets)

    def fwd_bwd():
        loss_fn(logits_g, targets).backward()

    def clear_grad():
        logits_g.grad = None

    f_ms, f_reps = measure(fwd, reps)
    fb_ms, fb_reps = measure(fwd_bwd, reps, setup=clear_grad)
    return {"forward_ms": f_ms, "forward_backward_ms": fb_ms}, max(f_reps, fb_reps)


def rows(n, c, offset, ignore=0.0):
    g = gen(offset)
    logits = torch.randn(n, c, generator=g, dtype=torch.float32)
    targets = torch.randint(0, c, (n,), generator=g, dtype=torch.int64)
    if ignore > 0:
        targets[torch.rand(n, generator=g) < ignore] = -1  # an RPN's neutral anchors
    return logits, targets


RPN_IMAGES, RPN_ANCHORS, RPN_KEEP, RPN_IGNORE = 8, 8192, 256, 0.25


def w_rpn(reps):
    return loss_workload(lambda: rows(RPN_IMAGES * RPN_ANCHORS, 2, 10, RPN_IGNORE),
                         lambda x, t: ohem_topk_per_image(x, t, RPN_IMAGES, RPN_KEEP), reps)


def w_cls(reps):
    return loss_workload(lambda: rows(4096, 1000, 20), lambda x, t: ohem_topk_ratio(x, t, 0.7), reps)


def w_lm(reps):
    return loss_workload(lambda: rows(256, 32000, 40), lambda x, t: ohem_topk_ratio(x, t, 0.7), reps)


SSD_IMAGES, SSD_ANCHORS, SSD_POSITIVE = 32, 8732, 0.01


def ssd(c, offset):
    def run(reps):
        def make():
            g = gen(offset)
            logits = torch.randn(SSD_IMAGES, SSD_ANCHORS, c, generator=g, dtype=torch.float32)
            targets = torch.randint(1, c, (SSD_IMAGES, SSD_ANCHORS), generator=g, dtype=torch.int64)
            targets[torch.rand(SSD_IMAGES, SSD_ANCHORS, generator=g) >= SSD_POSITIVE] = 0  # background
            return logits, targets

        inputs = make()
        num_foreground = int((inputs[1] > 0).sum())
        return loss_workload(lambda: inputs, lambda x, t: ssd_classification_loss(x, t, num_foreground), reps)
    return run


ROI_IMAGES, ROI_ROIS, ROI_KEEP, ROI_FOREGROUND = 2, 2000, 64, 0.25


def w_roi81(reps):
    def make():
        g = gen(90)
        n = ROI_IMAGES * ROI_ROIS
        logits = torch.randn(n, 81, generator=g, dtype=torch.float32)
        targets = torch.randint(1, 81, (n,), generator=g, dtype=torch.int64)
        targets[torch.rand(n, generator=g) >= ROI_FOREGROUND] = 0  # background RoIs
        return logits, targets

    return loss_workload(make, lambda x, t: ohem_topk_per_image(x, t, ROI_IMAGES, ROI_KEEP), reps)


def w_seg(reps):
    def make():
        g = gen(30)
        n, c, h, w = 2, 19, 512, 1024
        logits = torch.randn(n, c, h, w, generator=g, dtype=torch.float32)
        targets = torch.randint(0, c, (n, h, w), generator=g, dtype=torch.int64)
        ignore = torch.rand(n, h, w, generator=g) < 0.05
        targets[ignore] = 255
        return logits, targets

    crit = OhemCrossEntropy(ignore_label=255, thres=0.7, min_kept=100000)
    # the seg workload is large (20M logits): keep its repetitions modest
    return loss_workload(make, lambda x, t: crit(x, t), reps if reps is not None else MIN_REPS)


def w_ce_rpn(reps):
    logits, targets = rows(RPN_IMAGES * RPN_ANCHORS, 2, 10, RPN_IGNORE)
    ms, r = measure(lambda: F.cross_entropy(logits, targets, reduction="none", ignore_index=-1), reps)
    return {"ms": ms}, r


def w_topk_rpn(reps):
    logits, targets = rows(RPN_IMAGES * RPN_ANCHORS, 2, 10, RPN_IGNORE)
    losses = F.cross_entropy(logits, targets, reduction="none", ignore_index=-1).view(RPN_IMAGES, RPN_ANCHORS).contiguous()
    ms, r = measure(lambda: torch.topk(losses, k=RPN_KEEP, dim=1), reps)
    return {"ms": ms}, r


def kth(n, offset):
    def run(reps):
        x = torch.rand(n, generator=gen(offset), dtype=torch.float32)
        k = int(0.3 * n)       # k-th largest ...
        kk = n - k + 1         # ... is the (n-k+1)-th smallest
        ms, r = measure(lambda: torch.kthvalue(x, kk), reps)
        return {"ms": ms}, r
    return run


DB_IMAGES, DB_H, DB_W = 16, 640, 640


def balance_bce(logits, gt, mask, negative_ratio=3.0, eps=1e-6):
    """MhLiao/DB decoders/balance_cross_entropy_loss.py BalanceCrossEntropyLoss, on logits
    (binary_cross_entropy_with_logits instead of binary_cross_entropy on probabilities)."""
    positive = (gt * mask).byte()
    negative = ((1 - gt) * mask).byte()
    positive_count = int(positive.float().sum())
    negative_count = min(int(negative.float().sum()), int(positive_count * negative_ratio))
    loss = F.binary_cross_entropy_with_logits(logits, gt, reduction="none")
    positive_loss = loss * positive.float()
    negative_loss = loss * negative.float()
    negative_loss, _ = negative_loss.view(-1).topk(negative_count)
    return (positive_loss.sum() + negative_loss.sum()) / (positive_count + negative_count + eps)


def w_dbnet(reps):
    def make():
        g = gen(80)
        logits = torch.randn(DB_IMAGES, 1, DB_H, DB_W, generator=g, dtype=torch.float32)
        u = torch.rand(DB_IMAGES, 1, DB_H, DB_W, generator=g)
        gt = (u >= 0.9).float()                  # ~10% text
        mask = (torch.rand(DB_IMAGES, 1, DB_H, DB_W, generator=g) >= 0.02).float()  # ~2% masked
        return logits, (gt, mask)

    # 6.5M pixels: keep the repetitions modest, as for seg
    return loss_workload(make, lambda x, t: balance_bce(x, t[0], t[1]), reps if reps is not None else MIN_REPS)


WORKLOADS = [
    ("rpn", w_rpn),
    ("cls", w_cls),
    ("seg", w_seg),
    ("lm", w_lm),
    ("ssd21", ssd(21, 70)),
    ("ssd81", ssd(81, 80)),
    ("roi81", w_roi81),
    ("ce_rpn", w_ce_rpn),
    ("topk_rpn", w_topk_rpn),
    ("kth_1e5", kth(100000, 50)),
    ("kth_1e7", kth(10000000, 60)),
    ("dbnet", w_dbnet),
]


def main():
    names = [n for n, _ in WORKLOADS]
    ap = argparse.ArgumentParser(description="Single-threaded PyTorch OHEM baselines (median ms).")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--only", default="", help="comma-separated workloads: " + ",".join(names))
    ap.add_argument("--reps", type=int, default=None, help="repetitions per measurement (default: ~0.75 s each, >= 5)")
    ap.add_argument("--tuned-malloc", action="store_true",
                    help="re-exec with glibc malloc tuned to reuse freed memory (no per-call page faults)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time by the calling thread's CPU time, not the wall clock")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.thread_time

    tuned = all(os.environ.get(k) == v for k, v in TUNED_MALLOC_ENV.items())
    if args.tuned_malloc and not tuned:
        env = dict(os.environ)
        env.update(TUNED_MALLOC_ENV)
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)  # glibc reads these at start

    selected = names
    if args.only:
        selected = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in selected if s not in names]
        if unknown:
            ap.error("unknown workload(s) %s; choose from %s" % (",".join(unknown), ",".join(names)))
    if args.reps is not None and args.reps < 1:
        ap.error("--reps must be >= 1")

    results, reps_used = {}, {}
    for name, fn in WORKLOADS:
        if name not in selected:
            continue
        torch.manual_seed(SEED)
        results[name], reps_used[name] = fn(args.reps)

    if args.json:
        print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                          "malloc": "tuned" if tuned else "default",
                          "clock": "thread" if args.cpu_time else "wall", "results": results}))
        return

    print("PyTorch %s, %d thread(s), float32, median ms (%s time), %s malloc"
          % (torch.__version__, torch.get_num_threads(), "thread CPU" if args.cpu_time else "wall",
             "tuned" if tuned else "default"))
    print("%-10s %12s %18s %6s" % ("workload", "forward", "forward_backward", "reps"))
    for name in selected:
        r = results[name]
        if "ms" in r:
            print("%-10s %12.3f %18s %6d" % (name, r["ms"], "-", reps_used[name]))
        else:
            print("%-10s %12.3f %18.3f %6d" % (name, r["forward_ms"], r["forward_backward_ms"], reps_used[name]))


if __name__ == "__main__":
    main()
