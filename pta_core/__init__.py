"""pta_core: Purify-then-Align multimodal human sensing in pure Python + PyTorch (never imports ROS)."""

__version__ = "0.1.0"
