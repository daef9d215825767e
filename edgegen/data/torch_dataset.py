"""ImageSet → torch Dataset of normalised 1-channel tensors, with light CXR-safe augmentation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from edgegen.data.imageset import ImageSet


class ImageTensorDataset(Dataset):
    def __init__(
        self,
        data: ImageSet,
        size: int,
        mean: float,
        std: float,
        augment: bool = False,
        targets: np.ndarray | None = None,
    ) -> None:
        """`targets` replaces the class labels, e.g. float multi-hot findings [N, F] (NaN: unknown)."""
        from edgegen.data.transforms import resize_batch

        self.images = torch.from_numpy(resize_batch(data.images, size)).unsqueeze(1)  # uint8 [N,1,H,W]
        self.labels = torch.from_numpy(
            data.labels.astype(np.int64) if targets is None else np.asarray(targets, np.float32)
        )
        self.mean, self.std = mean, std
        self.augment = None
        if augment:
            from torchvision.transforms import v2

            # Small shifts/rotations and contrast changes only: no flips (anatomy is lateralised).
            self.augment = v2.Compose(
                [
                    v2.RandomAffine(degrees=5, translate=(0.05, 0.05), scale=(0.95, 1.05)),
                    v2.ColorJitter(brightness=0.1, contrast=0.1),
                ]
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[i]
        if self.augment is not None:
            image = self.augment(image)
        x = (image.float() / 255.0 - self.mean) / self.std
        return x, self.labels[i]


def to_model_input(images: np.ndarray, size: int, mean: float, std: float) -> torch.Tensor:
    """uint8 [N,H,W] → float [N,1,size,size] normalised as the classifier expects."""
    from edgegen.data.transforms import resize_batch

    x = torch.from_numpy(resize_batch(images, size)).unsqueeze(1).float() / 255.0
    return (x - mean) / std
