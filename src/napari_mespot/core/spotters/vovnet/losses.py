"""The three losses of eq. 6–11, each written out so it can be checked by hand.

- Focal loss (eq. 6–8) on every class score of every position: −w·(1 − p_t)^γ·log p_t with
  p_t = p and w = α for a positive, p_t = 1 − p and w = 1 − α for a negative (α = 0.25, γ = 2).
- Smooth L1 (eq. 9) on the onset/offset distances of the positive positions:
  ½x² when |x| < 1, |x| − ½ otherwise.
- 1-D IoU loss (eq. 10) on the positives' segments. Eq. 10 writes the IoU itself; what is
  minimised is 1 − IoU (the IoU is to be maximised), which is what we use.

Eq. 11 sums them unweighted. The classification term is summed over all positions and every
term is divided by the number of positives, so a window with many expressions does not weigh
more than one with few (RetinaNet / ActionFormer normalisation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ALPHA = 0.25
GAMMA = 2.0


def focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = ALPHA, gamma: float = GAMMA
) -> torch.Tensor:
    """Element-wise eq. 6–8 for sigmoid ``logits`` and 0/1 ``targets`` of the same shape."""
    p = torch.sigmoid(logits)
    p_t = torch.where(targets > 0.5, p, 1 - p)
    w = torch.where(targets > 0.5, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha))
    # log p_t from the logits, stable where p_t underflows
    log_p_t = -F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return -w * (1 - p_t) ** gamma * log_p_t


def smooth_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Element-wise eq. 9 of x = pred − target."""
    x = (pred - target).abs()
    return torch.where(x < 1, 0.5 * x**2, x - 0.5)


def iou_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """1 − IoU of segments (…, 2) given as (start, end), per segment (eq. 10)."""
    inter = (torch.minimum(pred[..., 1], target[..., 1]) - torch.maximum(pred[..., 0], target[..., 0])).clamp(
        min=0
    )
    union = (pred[..., 1] - pred[..., 0]) + (target[..., 1] - target[..., 0]) - inter
    return 1 - inter / union.clamp(min=eps)


def detection_loss(
    logits: torch.Tensor,
    dists: torch.Tensor,
    cls_targets: torch.Tensor,
    reg_targets: torch.Tensor,
    positive: torch.Tensor,
    valid: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Eq. 11 over a batch: ``logits``/``cls_targets`` (B, P, 2), ``dists``/``reg_targets``
    (B, P, 2) in stride units, ``positive`` and ``valid`` (B, P) masks (``valid`` excludes the
    padding after a video's end). Returns the three terms and their sum ``total``.
    """
    norm = positive.sum().clamp(min=1).float()
    focal = (focal_loss(logits.float(), cls_targets) * valid[..., None]).sum() / norm
    if positive.any():
        p, t = dists[positive].float(), reg_targets[positive]
        l1 = smooth_l1(p, t).sum() / norm
        # segments around the position's centre (0): (−onset distance, +offset distance)
        seg_p = torch.stack([-p[:, 0], p[:, 1]], dim=1)
        seg_t = torch.stack([-t[:, 0], t[:, 1]], dim=1)
        iou = iou_loss(seg_p, seg_t).sum() / norm
    else:
        l1 = iou = dists.sum() * 0.0
    return {"focal": focal, "l1": l1, "iou": iou, "total": focal + l1 + iou}
