"""The GAN generator family: a class- and finding-conditional StyleGAN2-style generator for CXRs,
its discriminator, differentiable augmentation, resumable training and the saved model folder.
Its export component lives in edgegen/export/components/generator.py; it runs through the same
runners, `generate`, `bench` and `study` as the diffusion models."""
