"""minivdt: a readable Video Diffusion Transformer (VDT) and the bouncing-ball world it learns physics from."""

__version__ = "0.1.0"
