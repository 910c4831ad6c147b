"""Interfaces refuse keyword arguments they do not take, naming the nearest valid one (Python
names none), and subclasses that take ``**kwargs`` keep taking anything."""

from __future__ import annotations

from typing import Any

import pytest

from opsml import ModelInterface
from opsml.data import DataInterface, NumpyData
from opsml.errors import UnknownArgumentError


def test_data_interface_refuses_a_misspelled_argument() -> None:
    with pytest.raises(
        UnknownArgumentError,
        match=r"^NumpyData\(\) got an unexpected argument "
        r"'dta'; did you mean 'data'\?$",
    ):
        NumpyData(dta=None)


def test_model_interface_refuses_a_misspelled_argument() -> None:
    with pytest.raises(UnknownArgumentError, match=r"'sample_dat'; did you mean 'sample_data'\?"):
        ModelInterface(sample_dat=None)


def test_unknown_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        DataInterface(datasplits=None)


def test_subclass_with_var_keywords_takes_anything() -> None:
    class Custom(ModelInterface):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__()
            self.extra = kwargs

    assert Custom(anything=1).extra == {"anything": 1}
