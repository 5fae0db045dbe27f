"""Data for the course: the 8x8 digits shipped in the package, toy 2-D sets, batching.

>>> from mytorch.data import load_digits, batches
>>> (X_train, y_train), (X_test, y_test) = load_digits()
>>> for Xb, yb in batches(X_train, y_train, batch_size=64, seed=0):
...     pass

Everything here returns plain numpy arrays; wrap them in ``mytorch.Tensor`` yourself.
"""

from .digits import digits_raw, digits_split, load_digits
from .loader import batches
from .synthetic import moons, spirals

__all__ = ["load_digits", "digits_raw", "digits_split", "batches", "spirals", "moons"]
