"""MLP autoencoder and VAE with a masked reconstruction loss and a PCA baseline in the same run.

The network sees the standardised features (missing ones set to 0) together with the mask, and
is scored only on observed entries, so a missing value is never learned as a real zero.

Encoder and decoder each have a linear path plus an MLP residual. The linear paths start at the
PCA solution of the same code size and the residuals' last layers start at zero, so training
starts from the PCA baseline and only has to learn what is nonlinear.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from lightning import LightningModule
from torch import nn

from desivoid_ml.data.normalization import Normalization
from desivoid_ml.models.losses import masked_mse


def mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear layers with GELU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.GELU(), nn.Dropout(dropout)] if dropout else [nn.GELU()]
    return nn.Sequential(*layers)


class AutoencoderModule(LightningModule):
    """kind='ae': deterministic code; kind='vae': Gaussian code, loss + beta * KL."""

    def __init__(
        self,
        n_features: int,
        code_dim: int = 16,
        hidden: list[int] | None = None,
        kind: str = "ae",
        beta: float = 1e-3,
        dropout: float = 0.0,
        optimizer: Callable | None = None,
        scheduler: Callable | None = None,
    ):
        super().__init__()
        if kind not in ("ae", "vae"):
            raise ValueError(f"model.kind must be 'ae' or 'vae', got {kind!r}")
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        hidden = list(hidden or [128, 64])
        code_out = code_dim * 2 if kind == "vae" else code_dim
        self.encoder = mlp([2 * n_features, *hidden, code_out], dropout)
        self.decoder = mlp([code_dim, *reversed(hidden), n_features], dropout)
        self.encoder_linear = nn.Linear(n_features, code_dim, bias=False)
        self.decoder_linear = nn.Linear(code_dim, n_features)
        for residual in (self.encoder, self.decoder):
            nn.init.zeros_(residual[-1].weight)
            nn.init.zeros_(residual[-1].bias)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.normalization: Normalization | None = None
        self.register_buffer("pca_basis", torch.zeros(n_features, 0))
        self.best_val = float("inf")
        self.run_info: dict = {}

    def attach_data(self, normalization: Normalization, pca_basis=None) -> None:
        """Statistics from the DataModule (saved in the checkpoint); PCA starts the linear paths."""
        self.normalization = normalization
        if pca_basis is not None:
            self.pca_basis = torch.as_tensor(pca_basis, dtype=torch.float32)
            self._start_from_pca(self.pca_basis)

    def _start_from_pca(self, basis: torch.Tensor) -> None:
        k = min(basis.shape[1], self.hparams.code_dim)
        with torch.no_grad():
            self.encoder_linear.weight.zero_()
            self.decoder_linear.weight.zero_()
            self.decoder_linear.bias.zero_()
            self.encoder_linear.weight[:k] = basis[:, :k].T
            self.decoder_linear.weight[:, :k] = basis[:, :k]

    def _encode_standardised(
        self, z: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean code, log variance or empty) of standardised rows."""
        out = self.encoder(torch.cat([z, mask], dim=1))
        k = self.hparams.code_dim
        return out[:, :k] + self.encoder_linear(z), out[:, k:]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Standardised reconstruction of a code."""
        return self.decoder_linear(code) + self.decoder(code)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of raw feature rows (NaN = missing): the mean code for a VAE."""
        z, mask = self.normalization.apply(x)
        return self._encode_standardised(z, mask)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def _losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z, mask = self.normalization.apply(x)
        mean, log_var = self._encode_standardised(z, mask)
        code = mean
        losses = {}
        if self.hparams.kind == "vae":
            log_var = log_var.clamp(-10, 10)
            if self.training:
                code = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
            kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
            losses["kl"] = kl / max(len(mean), 1)  # DDP padding batches are empty
        losses["recon_mse"] = masked_mse(self.decode(code), z, mask)
        losses["loss"] = losses["recon_mse"] + self.hparams.beta * losses.get("kl", 0.0)
        losses["pca_recon_mse"] = self._pca_mse(z, mask)
        return losses

    def _pca_mse(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pca_basis.shape[1] == 0:
            return torch.tensor(float("nan"), device=z.device)
        return masked_mse(z @ self.pca_basis @ self.pca_basis.T, z, mask)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        losses = self._losses(batch["x"])
        self.log("train/loss", losses["loss"], prog_bar=True, batch_size=len(batch["x"]))
        return losses["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        losses = self._losses(batch["x"])
        n = len(batch["x"])
        self.log("val/loss", losses["loss"], batch_size=n, sync_dist=True)
        self.log("val/recon_mse", losses["recon_mse"], prog_bar=True, batch_size=n, sync_dist=True)
        if self.pca_basis.shape[1]:
            self.log("val/pca_recon_mse", losses["pca_recon_mse"], batch_size=n, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        current = self.trainer.callback_metrics.get("val/recon_mse")
        if current is not None and not self.trainer.sanity_checking:
            self.best_val = min(self.best_val, float(current))
            self.log("val/recon_mse_best", self.best_val, sync_dist=True)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        losses = self._losses(batch["x"])
        self.log("test/recon_mse", losses["recon_mse"], batch_size=len(batch["x"]), sync_dist=True)

    def predict_step(self, batch: dict, batch_idx: int) -> dict:
        return {**{k: v for k, v in batch.items() if k != "x"}, "code": self.encode(batch["x"])}

    def on_train_epoch_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "set_epoch"):
            datamodule.set_epoch(self.current_epoch)

    def configure_optimizers(self):
        factory = self.optimizer_factory or (lambda params: torch.optim.AdamW(params, lr=1e-3))
        optimizer = factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "monitor": "val/loss"},
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["normalization"] = self.normalization.to_dict() if self.normalization else None
        checkpoint["run_info"] = self.run_info
        checkpoint["best_val"] = self.best_val  # val/recon_mse_best survives a resume

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        basis = checkpoint.get("state_dict", {}).get("pca_basis")
        if basis is not None:
            self.pca_basis = torch.zeros_like(basis)  # its width is only known from the checkpoint
        if checkpoint.get("normalization"):
            self.normalization = Normalization(**checkpoint["normalization"])
        # a resumed run keeps its own config; a checkpoint loaded for inference brings its one
        self.run_info = self.run_info or checkpoint.get("run_info", {})
        self.best_val = float(checkpoint.get("best_val", float("inf")))
