"""Built-in model interfaces, one module per library."""

from opsml.interfaces.model._catboost import CatBoostModel
from opsml.interfaces.model._huggingface import HuggingFaceModel, HuggingFaceOnnxArgs
from opsml.interfaces.model._lightgbm import LightGBMModel
from opsml.interfaces.model._lightning import LightningModel
from opsml.interfaces.model._onnx_model import OnnxModel
from opsml.interfaces.model._sklearn import SklearnModel
from opsml.interfaces.model._tensorflow import TensorFlowModel
from opsml.interfaces.model._torch import TorchModel
from opsml.interfaces.model._xgboost import XGBoostModel

__all__ = [
    "CatBoostModel",
    "HuggingFaceModel",
    "HuggingFaceOnnxArgs",
    "LightGBMModel",
    "LightningModel",
    "OnnxModel",
    "SklearnModel",
    "TensorFlowModel",
    "TorchModel",
    "XGBoostModel",
]
