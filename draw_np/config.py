"""What every model's config shares: checked integer fields, the image shape, a dict round trip.

A model's config is a frozen dataclass of integers (and flags) that says its shape; it goes
into every checkpoint as a dict (``to_dict``) and comes back from one (``from_dict``), so a
config read from a file is checked exactly like one typed in. :class:`ModelConfig` is the mixin
that does this for :class:`draw_np.model.DRAWConfig` and
:class:`draw_np.classifier.ClassifierConfig`: each declares its bounds, the mixin checks every
field against them in one place.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from .validate import is_integer


class ModelConfig:
    """Mixin for a frozen dataclass config with fields ``H``, ``W``, ``channels`` and others.

    Subclasses set :attr:`LIMITS` (field -> the largest value draw_np supports: far beyond any
    model of the paper, so that a mistyped or crafted config, ``T = 10^9`` in a checkpoint, is
    refused in one line instead of exhausting the machine's memory when the model first runs),
    and may set :attr:`LEAST` (field -> smallest value, default 1) and :attr:`FLAGS` (fields
    that are True or False), and call :meth:`check_fields` first in ``__post_init__``.
    """
    LIMITS: ClassVar[dict] = {}
    LEAST: ClassVar[dict] = {}
    FLAGS: ClassVar[tuple] = ()

    def check_fields(self) -> None:
        """Every field an integer within its bounds (NumPy integers are stored as ints, so
        ``to_dict`` stays JSON-able), every flag a bool; a ``ValueError`` naming the field."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self.FLAGS:
                if not isinstance(value, bool):
                    raise ValueError(f"{f.name} must be True or False, got {value!r}")
                continue
            least = self.LEAST.get(f.name, 1)
            if not is_integer(value) or value < least:
                raise ValueError(f"{f.name} must be an integer >= {least}, got {value!r}")
            if value > self.LIMITS[f.name]:
                raise ValueError(f"{f.name} = {value} is larger than draw_np supports "
                                 f"(at most {self.LIMITS[f.name]})")
            object.__setattr__(self, f.name, int(value))

    @property
    def image_shape(self) -> tuple:
        """The shape of one input image: (H, W) when grey, else (C, H, W)."""
        return (self.H, self.W) if self.channels == 1 else (self.channels, self.H, self.W)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """The config of :meth:`to_dict`; fields a dict lacks take their defaults (a DRAW
        config from before ``channels`` existed is grey), unknown fields are refused."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**d)
