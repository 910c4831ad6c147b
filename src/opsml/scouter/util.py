"""Turning a request model into Scouter ``Features`` (OpsML 3's ``opsml.scouter.util``, from
scouter-ml): ``FeatureMixin`` and the ``convert_to_features`` class decorator."""

from opsml._compat import scouter_required

with scouter_required():
    from scouter.util import FeatureMixin, convert_to_features, get_base_type

__all__ = ["FeatureMixin", "convert_to_features", "get_base_type"]
