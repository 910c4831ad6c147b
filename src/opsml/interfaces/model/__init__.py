"""Built-in model interfaces, one module per library."""

from opsml.interfaces.model._sklearn import SklearnModel

__all__ = ["SklearnModel"]
