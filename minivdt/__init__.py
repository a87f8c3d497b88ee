"""minivdt: a readable Video Diffusion Transformer (VDT) and the bouncing-ball world it learns physics from.

Read the library in the order of the course; each module's docstring names its lesson:

1. world.py, physics.py,         the bouncing-ball world: scenarios,       notebooks/01_world.ipynb
   render.py, data.py             physics, renderer, clips
2. tokens.py                     patches, sin-cos position embeddings      notebooks/02_patchify_embeddings.ipynb
3. attention.py                  attention in space, in time, jointly      notebooks/03_attention.ipynb
4. diffusion.py                  noising, the masked loss, sampling        notebooks/04_diffusion.ipynb
5. model.py, train_config.py,    the VDT, what a training run is, and      notebooks/05_vdt_block.ipynb
   training.py                    its training loop
6. model.py (cond_mode)          conditioning on the given frames          notebooks/06_conditioning.ipynb
7. masks.py                      one model, every task: mask modeling      notebooks/07_mask_modeling.ipynb
8. metrics.py, baselines.py      scoring physics; what VDT must beat       notebooks/08_physics_prediction.ipynb

Beside them: course.py and exercises/ (notebook helpers), viz.py (videos and grids), tokenizer.py (an optional
latent autoencoder), progress.py (progress bars a notebook can take), and the tools checkpoints.py (safe saving and
loading), cards.py (the model card of an exported model) and checks.py (argument checks).
Applications built on the library live in apps/: the `minivdt` command (apps/cli.py), the demo (apps/demo.py)
and the benchmarks (apps/bench/).
"""

__version__ = "0.1.0"
