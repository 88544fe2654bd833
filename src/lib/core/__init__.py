"""The shared core every chapter uses: seeds, devices, training, checkpoints, style."""

from .checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from .device import describe_device, get_device, torch_threads
from .explorer import (
    EXPLORER_CLASS,
    figure_png,
    frame_explorer,
    has_stack,
    mark_explorer,
    set_titles,
    switcher,
)
from .notebook import glue, in_colab, read_glued, show_source
from .plotting import COLORS, ROLE_COLORS, mark_chance, use_book_style
from .seeding import make_generator, make_rng, seed_everything
from .training import (
    History,
    TrainConfig,
    batches_from_tensors,
    compare_losses,
    count_parameters,
    progress_enabled,
    to_device,
    train,
)

__all__ = [
    "EXPLORER_CLASS",
    "figure_png",
    "frame_explorer",
    "mark_explorer",
    "has_stack",
    "set_titles",
    "switcher",
    "COLORS",
    "ROLE_COLORS",
    "History",
    "checkpoint_path",
    "TrainConfig",
    "batches_from_tensors",
    "compare_losses",
    "count_parameters",
    "describe_device",
    "get_device",
    "glue",
    "in_colab",
    "load_checkpoint",
    "make_generator",
    "make_rng",
    "mark_chance",
    "progress_enabled",
    "read_glued",
    "save_checkpoint",
    "seed_everything",
    "show_source",
    "to_device",
    "torch_threads",
    "train",
    "use_book_style",
]
