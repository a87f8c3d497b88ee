"""A tool module, not a lesson: the progress bar of every training and sampling loop (lessons 4-8), tqdm.auto
refreshed at most once a second.

Why not plain tqdm: in a notebook every refresh of a tqdm.auto bar is a widget message on the kernel's output
channel. A cell that refreshes a few thousand times (tqdm's default is up to 10 times a second, plus one per
`set_postfix`) overflows that channel's queue; the kernel then drops messages, and nbval (the lessons' test
runner) stops the lesson with "Timeout of 5 seconds exceeded waiting for output". This happened on a GPU, where a
lesson's training loops run fast. One refresh a second is plenty to watch a run.
"""

from tqdm.auto import tqdm

MIN_INTERVAL_S = 1.0  # seconds between two refreshes of a bar


def progress_bar(iterable=None, **kwargs) -> tqdm:
    """tqdm.auto(iterable, **kwargs) that refreshes at most every MIN_INTERVAL_S seconds. Use
    `bar.set_postfix(..., refresh=False)` so that postfix updates wait for the next refresh too."""
    kwargs.setdefault("mininterval", MIN_INTERVAL_S)
    return tqdm(iterable, **kwargs)
